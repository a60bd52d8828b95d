"""ICE server configuration for browsers: STUN URLs and short-lived TURN credentials.

TURN credentials follow the coturn "shared secret" scheme (the TURN REST API draft,
``use-auth-secret`` / ``static-auth-secret`` in coturn)::

    username   = "<expiry unix timestamp>:<participant id>"
    credential = base64(HMAC-SHA1(key=secret, msg=username))

coturn recomputes the HMAC with the same secret and refuses the allocation once the timestamp in
the username lies in the past, so nothing has to be stored on either side. The participant id
only makes the usernames distinguishable in coturn's logs; it must not contain ``:`` (coturn's
default separator) and should not be personal data.

Settings (``settings.LOKET``, read and validated once in config/settings.py from the
environment variables of the same name with ``LOKET_`` in front; README, Configuration):

* ``STUN_URLS: list[str]``  ``stun:``/``stuns:`` URLs
* ``TURN_URLS: list[str]``  ``turn:``/``turns:`` URLs
* ``TURN_SECRET: str``      coturn's ``static-auth-secret`` (required when TURN URLs are set)
* ``TURN_TTL_SECONDS: int`` credential lifetime (see docs/VIDEO.md)

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


def ice_servers_for(*, participant_id: str) -> list[dict[str, Any]]:
    """The ``iceServers`` list for one participant's ``RTCPeerConnection``, from settings.

    STUN entries carry only ``urls``; the TURN entry carries a freshly minted credential (see
    :func:`turn_credentials_mint`). Returns ``[]`` when neither STUN nor TURN URLs are configured.
    (A TURN URL without a secret, or a URL of the wrong scheme, stops the process at start-up.)
    """
    stun_urls: list[str] = settings.LOKET["STUN_URLS"]
    turn_urls: list[str] = settings.LOKET["TURN_URLS"]
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls:
        servers.append(
            turn_credentials_mint(
                participant_id=participant_id,
                secret=settings.LOKET["TURN_SECRET"],
                ttl_seconds=settings.LOKET["TURN_TTL_SECONDS"],
                urls=turn_urls,
            )
        )
    return servers
