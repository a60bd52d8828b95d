"""The JSON HTTP API, one module per resource; ``http`` is the one helper they share.

An endpoint reads the request, calls one service (writes) or selector (reads), and shapes the
answer; ``DomainError`` becomes the JSON error through ``http.error_response``. No ORM queries and
no business rules live here. It may import ``consult.services``, ``consult.selectors``,
``consult.guard``, ``consult.rtc``, ``consult.errors``, payload shapes and django; only
``config.urls`` imports it (and the pages, for ``http``).
"""
