"""WebRTC on the server.

``precheck`` (the pre-call check service: offer, answer, limits, the end of a check), ``check``
(one check's peer, its echo and counting of media), ``report`` (its measurements), ``verdict``
(what a measurement means; pure), ``ice`` (the host addresses the server's own peers offer) and
``turn`` (the ICE servers and short-lived TURN credentials handed to browsers). It may import
aiortc, av, django settings and ``consult.errors``; never models, services or selectors (the
API in ``consult.api`` records what a check found).
"""
