"""One open consultation per applicant contact: the rule joining the queue keeps.

Someone who joins a second time with the same phone or e-mail address while the first
consultation is still open is refused (``already_queued``), so one person (or one script reusing
one contact) cannot fill the queue. The usual second join is a person who lost their page: the
refusal says when the place they left is released (the applicant grace period), after which
joining works again.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from ..contact import contact_keys, phone_spellings
from ..errors import AlreadyQueued
from ..models import OPEN_STATUSES, Consultation

# The first half of the PostgreSQL advisory lock's two-part key: "one contact joining".
_LOCK_CLASS = 0x4C4B_0001 & 0x7FFF_FFFF


def _released_in(deadline: datetime | None) -> int | None:
    """Seconds until the sweeper abandons a consultation whose applicant left at ``deadline``."""
    if deadline is None:
        return None
    left = (deadline - timezone.now()).total_seconds() + float(settings.LOKET["SWEEP_INTERVAL"])
    return max(1, int(left + 0.999))


def applicant_contact_check_free(*, phone: str, email: str) -> None:
    """Inside the join's transaction: AlreadyQueued if the (cleaned) phone or e-mail address has
    an open consultation.

    On PostgreSQL a transaction lock per contact comes first, so two joins with one contact at the
    same moment are taken one after the other and the second sees the first; SQLite runs every
    write transaction alone already (``BEGIN IMMEDIATE``).
    """
    keys = contact_keys(phone=phone, email=email)
    if not keys:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Sorted, so two joins naming the same two contacts cannot wait for each other.
            for key in sorted(keys):
                lock = zlib.crc32(key.encode()) & 0x7FFF_FFFF
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, lock])
    same = Q()
    if phone:
        same |= Q(applicant_phone__in=phone_spellings(phone))
    if email:
        same |= Q(applicant_email__iexact=email)
    held = (
        Consultation.objects.filter(same, status__in=OPEN_STATUSES)
        .only("pk", "applicant_grace_deadline")
        .order_by("-created_at")
        .first()
    )
    if held is not None:
        raise AlreadyQueued(retry_after=_released_in(held.applicant_grace_deadline))
