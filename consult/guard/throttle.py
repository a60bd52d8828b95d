"""Rate limits on what anyone may do without an account: joining the queue and leaving an
offline question, counted per client address and per contact (phone, e-mail address).

The counters are django-ratelimit's, in Django's cache (Redis when ``REDIS_URL`` is set, shared by
every process). Each counter is keyed by a keyed hash of the address or contact
(``client_key``), and django-ratelimit hashes that again into the cache key: no address or contact
is stored. A window is fixed (``COUNT`` per ``SECONDS``, each key's window starting at its own
offset); the answer to a refused request says when the window ends (``Retry-After``).

When the cache does not answer, the limits fail open: a Redis outage must not turn every
applicant away (chat keeps working without Redis), and the rule that matters most, one open
consultation per contact, is kept by the database. The outage is logged once, not per request.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from ..contact import contact_keys
from ..errors import RateLimited
from .address import client_address, client_key

log = logging.getLogger(__name__)

_outage = threading.Event()


def _count(request: HttpRequest, *, group: str, value: str, limit: tuple[int, int]) -> None:
    """Count one request against ``value`` in ``group``; RateLimited when over ``limit``."""
    key = client_key(value)
    try:
        usage = get_usage(
            request, group=group, key=lambda _group, _request: key, rate=limit, increment=True
        )
    except Exception:  # any failure of the cache backend (connection refused, timeout...)
        if not _outage.is_set():
            _outage.set()
            log.warning("rate-limit cache unavailable: limits are not applied until it is back")
        return
    if _outage.is_set():
        _outage.clear()
        log.warning("rate-limit cache available again: limits apply")
    if usage is not None and usage["should_limit"]:
        raise RateLimited(retry_after=int(usage["time_left"]))


def _throttle(request: HttpRequest, *, action: str, phone: str, email: str) -> None:
    limits = settings.LOKET["LIMITS"]
    address = client_address(request)
    # No address at all (Daphne on a Unix socket gives none): counting "" would put every
    # applicant in one bucket; the per-contact limits still apply.
    if address:
        _count(
            request,
            group=f"{action}-address",
            value=address,
            limit=limits[f"{action.upper()}_PER_ADDRESS"],
        )
    for contact in contact_keys(phone=phone, email=email):
        _count(
            request,
            group=f"{action}-contact",
            value=contact,
            limit=limits[f"{action.upper()}_PER_CONTACT"],
        )


def throttle_join(request: HttpRequest, *, phone: str, email: str) -> None:
    """Count a join (POST /api/consultations); RateLimited when its address or contact is over
    its limit (``LOKET_JOIN_LIMIT_ADDRESS``, ``LOKET_JOIN_LIMIT_CONTACT``)."""
    _throttle(request, action="join", phone=phone, email=email)


def throttle_offline_question(request: HttpRequest, *, phone: str, email: str) -> None:
    """Count an offline question (POST /api/offline-questions); RateLimited when over
    ``LOKET_OFFLINE_LIMIT_ADDRESS`` or ``LOKET_OFFLINE_LIMIT_CONTACT``."""
    _throttle(request, action="offline", phone=phone, email=email)
