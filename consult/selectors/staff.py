"""Reads of staff: who a logged-in user is as staff, and the counselors."""

from __future__ import annotations

from ..models import StaffProfile, StaffRole


def staff_of_user(*, user_id: int) -> StaffProfile | None:
    """The staff profile of the user ``user_id``; None for a user who is not staff."""
    return StaffProfile.objects.filter(user_id=user_id).first()


def counselors_all() -> list[StaffProfile]:
    """Every counselor, by display name (a search filter: closed consultations keep theirs)."""
    return list(
        StaffProfile.objects.filter(role=StaffRole.COUNSELOR).order_by("display_name", "pk")
    )
