"""The one row lock every service takes before changing a row another process may change too.

``row_lock`` is ``SELECT … FOR UPDATE OF`` the model's own table: rows joined in with
``select_related`` are read, not locked. It holds until the caller's transaction ends (a no-op on
SQLite, whose write transactions run one at a time already: ``transaction_mode=IMMEDIATE``).

Joining takes one more kind of lock: a transaction-scoped advisory lock per applicant contact
(``contacts_lock``), since the rows it must not race on do not exist yet.

Lock order, so that two transactions never wait for each other: a counselor's ``StaffProfile``
before any of their consultations (``counselor_lose`` and the call services), and consultations
one at a time. The routing pass has a lock of its own (``DispatchLock``, in ``routing.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

from ..errors import NotFound
from ..models import Consultation, StaffProfile

M = TypeVar("M", bound=Model)

# The first half of the PostgreSQL advisory lock's two-part key: "one contact joining".
_CONTACT_LOCK_CLASS = 0x4C4B_0001 & 0x7FFF_FFFF


def row_lock(rows: QuerySet[M]) -> M | None:
    """Lock the first row of ``rows`` for the rest of the transaction; None if there is none."""
    return rows.select_for_update(of=("self",)).first()


def staff_lock(*, staff_id: int) -> StaffProfile | None:
    """Lock a staff member's row (before any of their consultations)."""
    return row_lock(StaffProfile.objects.filter(pk=staff_id))


def consultation_lock(*, consultation_id: int, counselor_first: bool = False) -> Consultation:
    """Lock one consultation row (loaded with its topic and counselor), or NotFound.

    ``counselor_first`` locks the row of the counselor holding it before it (the order
    ``counselor_lose`` uses), so two of one counselor's consultations cannot change their
    counselor's load at once (e.g. both start a call).
    """
    if counselor_first:
        counselor_id = (
            Consultation.objects.filter(pk=consultation_id)
            .values_list("counselor_id", flat=True)
            .first()
        )
        if counselor_id is not None:
            staff_lock(staff_id=counselor_id)
    consultation = row_lock(
        Consultation.objects.select_related("topic", "counselor").filter(pk=consultation_id)
    )
    if consultation is None:
        raise NotFound()
    return consultation


def contacts_lock(*, keys: Iterable[str]) -> None:
    """Take one transaction lock per applicant contact key (PostgreSQL), so two joins with one
    contact at the same moment run one after the other; SQLite runs every write transaction
    alone already (``BEGIN IMMEDIATE``)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # Sorted, so two joins naming the same two contacts cannot wait for each other.
        for key in sorted(keys):
            lock = zlib.crc32(key.encode()) & 0x7FFF_FFFF
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_CONTACT_LOCK_CLASS, lock])
