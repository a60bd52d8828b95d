"""The one row lock every service takes before changing a row another process may change too.

``row_lock`` is ``SELECT … FOR UPDATE OF`` the model's own table: rows joined in with
``select_related`` are read, not locked. It holds until the caller's transaction ends (a no-op on
SQLite, whose write transactions run one at a time already: ``transaction_mode=IMMEDIATE``).

Lock order, so that two transactions never wait for each other: a counselor's ``StaffProfile``
before any of their consultations (``counselor_lose`` and the call services), and consultations
one at a time. The routing pass has a lock of its own (``DispatchLock``, in ``routing.py``).
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from ..errors import NotFound
from ..models import Consultation, StaffProfile

M = TypeVar("M", bound=Model)


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
