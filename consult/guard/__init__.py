"""The HTTP edge: what every request meets before a view does its work.

``address`` (the client's address behind trusted proxies), ``throttle`` (rate limits on joining
and offline questions), ``lockout`` (django-axes hooks for staff logins) and ``middleware``
(``Cache-Control: no-store``). It may import django, ``consult.contact`` and ``consult.errors``;
never services, selectors or models.
"""
