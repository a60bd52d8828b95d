"""ICE server configuration for browsers: STUN URLs and short-lived TURN credentials.

TURN credentials follow the coturn "shared secret" scheme (the TURN REST API draft,
``use-auth-secret`` / ``static-auth-secret`` in coturn)::

    username   = "<expiry unix timestamp>:<participant id>"
    credential = base64(HMAC-SHA1(key=secret, msg=username))

coturn recomputes the HMAC with the same secret and refuses the allocation once the timestamp in
the username lies in the past, so nothing has to be stored on either side. The participant id
only makes the usernames distinguishable in coturn's logs; it must not contain ``:`` (coturn's
default separator) and should not be personal data.

Settings (read with ``getattr`` and defaults, so a missing setting means "not configured"):

* ``LOKET_STUN_URLS: list[str]``  ``stun:``/``stuns:`` URLs (default ``[]``)
* ``LOKET_TURN_URLS: list[str]``  ``turn:``/``turns:`` URLs (default ``[]``)
* ``LOKET_TURN_SECRET: str``      coturn's ``static-auth-secret`` (required when TURN URLs are set)
* ``LOKET_TURN_TTL_SECONDS: int`` credential lifetime (default 300; see docs/VIDEO.md)

With both lists empty :func:`ice_servers_for` returns ``[]``: browsers then use host candidates
only and contact no STUN/TURN server at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_TURN_TTL_SECONDS = 300
_STUN_SCHEMES = ("stun:", "stuns:")
_TURN_SCHEMES = ("turn:", "turns:")


def turn_credentials_mint(
    *,
    participant_id: str,
    secret: str,
    ttl_seconds: int,
    urls: list[str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Mint a TURN credential valid for ``ttl_seconds`` from ``now`` (default: the current time).

    Returns an ``RTCIceServer``-shaped dict plus ``ttl``::

        {"urls": [...], "username": "<expiry>:<participant_id>", "credential": "...", "ttl": ttl}

    ``now`` must be timezone-aware. Raises ``ValueError`` on an empty secret or participant id, a
    participant id containing ``:``, a non-positive TTL, or no URLs.
    """
    if not secret:
        raise ValueError("TURN secret must not be empty")
    if not participant_id or ":" in participant_id:
        raise ValueError("participant_id must be non-empty and must not contain ':'")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be a positive integer")
    if not urls:
        raise ValueError("at least one TURN URL is required")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")

    expiry = int(now.timestamp()) + ttl_seconds
    username = f"{expiry}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {
        "urls": list(urls),
        "username": username,
        "credential": base64.b64encode(digest).decode("ascii"),
        "ttl": ttl_seconds,
    }


def _url_list(name: str, schemes: tuple[str, ...]) -> list[str]:
    value = getattr(settings, name, [])
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    urls = [str(url).strip() for url in value if str(url).strip()]
    for url in urls:
        if not url.lower().startswith(schemes):
            raise ImproperlyConfigured(f"{name} entries must start with {' or '.join(schemes)}")
    return urls


def ice_servers_for(*, participant_id: str) -> list[dict[str, Any]]:
    """The ``iceServers`` list for one participant's ``RTCPeerConnection``, from settings.

    STUN entries carry only ``urls``; the TURN entry carries a freshly minted credential (see
    :func:`turn_credentials_mint`). Returns ``[]`` when neither STUN nor TURN URLs are configured.
    Raises ``ImproperlyConfigured`` on TURN URLs without a secret or on URLs of the wrong scheme.
    """
    stun_urls = _url_list("LOKET_STUN_URLS", _STUN_SCHEMES)
    turn_urls = _url_list("LOKET_TURN_URLS", _TURN_SCHEMES)
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": stun_urls})
    if turn_urls:
        secret = getattr(settings, "LOKET_TURN_SECRET", "") or ""
        if not secret:
            raise ImproperlyConfigured("LOKET_TURN_URLS is set but LOKET_TURN_SECRET is empty")
        ttl = int(getattr(settings, "LOKET_TURN_TTL_SECONDS", DEFAULT_TURN_TTL_SECONDS))
        servers.append(
            turn_credentials_mint(
                participant_id=participant_id, secret=secret, ttl_seconds=ttl, urls=turn_urls
            )
        )
    return servers
