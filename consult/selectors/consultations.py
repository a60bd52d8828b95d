"""Reads of consultations: what a staff member may see or holds, the resync marks, and the one
copy of each rule about who acts on a consultation (held by this counselor, who may take part in
its call)."""

from __future__ import annotations

from django.db.models import Q, Value

from ..errors import Forbidden, NotFound
from ..models import (
    HELD_STATUSES,
    Consultation,
    StaffProfile,
    TranscriptEntry,
)


def staff_consultations(*, staff: StaffProfile) -> list[Consultation]:
    """The consultations a counselor holds now (offered to them or active)."""
    return list(
        Consultation.objects.filter(counselor=staff, status__in=HELD_STATUSES)
        .select_related("topic", "counselor")
        .order_by("offered_at")
    )


def consultation_for_staff(*, staff: StaffProfile, public_id: str) -> Consultation:
    """A consultation a staff member may see: supervisors any, counselors only their own."""
    consultation = (
        Consultation.objects.select_related("topic", "counselor")
        .filter(public_id=public_id)
        .first()
        if _is_uuid(public_id)
        else None
    )
    if consultation is None:
        raise NotFound()
    if staff.is_supervisor:
        return consultation
    if consultation.counselor_id == staff.pk:
        return consultation
    if TranscriptEntry.objects.filter(consultation=consultation, author=staff).exists():
        # They took part before a transfer: their own messages are part of their record.
        return consultation
    raise Forbidden()


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def consultation_sync_marks(*, consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each consultation's state version and last sequence number (one query, for resync)."""
    return {
        pk: (version, last_seq)
        for pk, version, last_seq in Consultation.objects.filter(
            pk__in=consultation_ids
        ).values_list("pk", "version", "last_seq")
    }


def counselor_sync_marks(
    *, staff_id: int, followed_ids: list[int]
) -> tuple[str, dict[int, tuple[int, int, bool]]]:
    """A counselor's status, and for what they hold or follow: version, last seq, held now.

    One query (the status rides along as a row with id 0), since it runs before every pong.
    """
    consultations = Consultation.objects.filter(
        Q(pk__in=followed_ids) | Q(counselor_id=staff_id, status__in=HELD_STATUSES)
    ).values_list("pk", "version", "last_seq", "counselor_id", "status")
    status_row = (
        StaffProfile.objects.filter(pk=staff_id)
        .annotate(row_id=Value(0), row_version=Value(0), row_seq=Value(0), row_holder=Value(0))
        .values_list("row_id", "row_version", "row_seq", "row_holder", "status")
    )
    status = ""
    marks: dict[int, tuple[int, int, bool]] = {}
    for pk, version, last_seq, counselor_id, row_status in consultations.union(
        status_row, all=True
    ):
        if pk == 0:
            status = str(row_status)
        else:
            held = counselor_id == staff_id and row_status in HELD_STATUSES
            marks[int(pk)] = (int(version), int(last_seq), held)
    return status, marks
