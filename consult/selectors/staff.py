"""Reads of staff: who a logged-in user is as staff."""

from __future__ import annotations

from ..models import StaffProfile


def staff_of_user(*, user_id: int) -> StaffProfile | None:
    """The staff profile of the user ``user_id``; None for a user who is not staff."""
    return StaffProfile.objects.filter(user_id=user_id).first()
