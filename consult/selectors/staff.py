"""Reads of staff: who a logged-in user is as staff, and the counselors."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import StaffProfile, StaffRole


def staff_of_user(*, user_id: int) -> StaffProfile | None:
    """The staff profile of the user ``user_id``; None for a user who is not staff."""
    return StaffProfile.objects.filter(user_id=user_id).first()


def counselors_all() -> list[StaffProfile]:
    """Every counselor, by display name (a search filter: closed consultations keep theirs)."""
    return list(
        StaffProfile.objects.filter(role=StaffRole.COUNSELOR).order_by("display_name", "pk")
    )


def staff_topic_ids(*, staff_ids: Iterable[int]) -> set[int]:
    """The topics whose queues these counselors serve."""
    return set(
        StaffProfile.topics.through.objects.filter(staffprofile_id__in=list(staff_ids)).values_list(
            "topic_id", flat=True
        )
    )
