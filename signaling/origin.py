"""Which web pages may open a Loket WebSocket: the site's own origin, or one listed in full.

Channels' ``AllowedHostsOriginValidator`` compares only the Origin's host with ALLOWED_HOSTS, so a
page on the same host but another port (another service on the machine) or in another scheme
(http:// next to an https:// site) could open a socket with the visitor's staff session. Here an
Origin is accepted only when its scheme, host and port all equal the site's own origin, which is
the request's Host header (itself one of ALLOWED_HOSTS) in the scheme the site is served in
(https with LOKET_TLS, else http), or when it equals an entry of LOKET_ALLOWED_ORIGINS. A missing
or opaque (``null``) Origin is refused. Refusal is a close before accept: the handshake answers 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalise(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin like ``https://host[:port]``; None if it is not one."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the handshake's Origin may open a socket on this site (see the module doc)."""
    raw_origin = _header(scope, b"origin")
    if raw_origin is None:
        return False
    origin = _normalise(raw_origin)
    if origin is None:
        return False
    if origin in {_normalise(allowed) for allowed in settings.LOKET["ALLOWED_ORIGINS"]}:
        return True
    host = _header(scope, b"host")
    if not host:
        return False
    domain, _port = split_domain_port(host.lower())
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if settings.LOKET["TLS"] else "http"
    return origin == _normalise(f"{scheme}://{host}")


class SiteOriginValidator:
    """ASGI middleware: WebSocket handshakes from any other origin are refused (403)."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.denier = WebsocketDenier.as_asgi()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await self.denier(scope, receive, send)
        return await self.application(scope, receive, send)
