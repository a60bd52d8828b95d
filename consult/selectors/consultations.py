"""Reads of consultations: what a staff member may see or holds, a consultation's state frame,
the resync marks, and the one copy of each rule about who acts on a consultation:

* held by this counselor (``consultation_is_held``; ``consultation_holder_check`` with the
  reason): the consultation is offered to them or active with them (``HELD_STATUSES``);
* who may take part in its call, WebRTC signaling included (``call_participant_check``): its
  applicant (bound to it by their token) or the counselor holding it, while it is active;
* what a pre-call connection check is for (``precheck_consultation_check``): an open video
  consultation.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from typing import Protocol

from django.db.models import Q, Value

from ..contact import phone_spellings
from ..errors import Forbidden, InvalidState, NotFound
from ..events.frames import ConsultationState
from ..models import (
    HELD_STATUSES,
    OPEN_STATUSES,
    AuthorRole,
    Consultation,
    ConsultationStatus,
    Mode,
    StaffProfile,
    TranscriptEntry,
)


class Holding(Protocol):
    """What the rules read of a consultation (a model instance, or one loaded with ``only``)."""

    @property
    def counselor_id(self) -> int | None: ...

    @property
    def status(self) -> str: ...


def consultation_is_held(*, counselor_id: int | None, status: str, staff_id: int | None) -> bool:
    """The rule "held by this counselor": offered to them or active with them, now."""
    return staff_id is not None and counselor_id == staff_id and status in HELD_STATUSES


def consultation_counselor_check(consultation: Holding, *, staff_id: int | None) -> None:
    """Forbidden unless ``staff_id`` is the consultation's counselor: anyone else learns nothing
    of it, not even its state."""
    if staff_id is None or consultation.counselor_id != staff_id:
        raise Forbidden()


def consultation_holder_check(
    consultation: Holding, *, staff_id: int | None, statuses: Collection[str] = HELD_STATUSES
) -> None:
    """The held rule with its reason, for a counselor acting on the consultation: Forbidden
    unless they are its counselor, then InvalidState unless its status is one of ``statuses``
    (the held statuses, or the one of them the action needs). A counselor who held it before
    (it has ended, say) learns that it is no longer in that state."""
    consultation_counselor_check(consultation, staff_id=staff_id)
    if consultation.status not in statuses:
        raise InvalidState()


def call_participant_check(
    consultation: Holding, *, role: str, staff_id: int | None, inactive: str | None = None
) -> None:
    """The rule "who may take part in the consultation's call" (call changes, WebRTC signaling,
    ICE servers): its applicant (whose connection or request its token binds to it) or its
    counselor, and only while it is active (InvalidState, with ``inactive`` as the message if
    given). Forbidden comes before any state check."""
    if role == AuthorRole.COUNSELOR:
        consultation_counselor_check(consultation, staff_id=staff_id)
    elif role != AuthorRole.APPLICANT:
        raise Forbidden()
    if consultation.status != ConsultationStatus.ACTIVE:
        raise InvalidState(inactive)


def precheck_consultation_check(consultation: Consultation) -> None:
    """The rule "a pre-call connection check is for an open video consultation" (InvalidState
    otherwise), checked before a check starts."""
    if consultation.status not in OPEN_STATUSES or consultation.mode != Mode.VIDEO:
        raise InvalidState("A connection check is for an open video consultation.")


def rtc_participant_check(
    *, consultation_id: int, role: str, staff: StaffProfile | None = None
) -> None:
    """``call_participant_check`` for a WebRTC signaling frame (unknown: Forbidden)."""
    consultation = Consultation.objects.filter(pk=consultation_id).only("status", "counselor_id")
    row = consultation.first()
    if row is None:
        raise Forbidden()
    call_participant_check(row, role=role, staff_id=staff.pk if staff else None)


def consultation_held_by(*, staff_id: int, consultation_id: int) -> tuple[bool, int]:
    """Whether the counselor holds the consultation now, and its topic (0 if there is none)."""
    row = (
        Consultation.objects.filter(pk=consultation_id)
        .values("counselor_id", "status", "topic_id")
        .first()
    )
    if row is None:
        return False, 0
    held = consultation_is_held(
        counselor_id=row["counselor_id"], status=row["status"], staff_id=staff_id
    )
    return held, int(row["topic_id"])


def consultation_id_by_public(*, public_id: str | None) -> int | None:
    """The internal id of the consultation clients know by ``public_id`` (None if there is none)."""
    if not public_id or not _is_uuid(public_id):
        return None
    pk: int | None = (
        Consultation.objects.filter(public_id=public_id).values_list("pk", flat=True).first()
    )
    return pk


def consultation_get_by_public(*, public_id: str) -> Consultation:
    """The consultation clients know by ``public_id``; NotFound if there is none."""
    consultation = (
        Consultation.objects.filter(public_id=public_id).first() if _is_uuid(public_id) else None
    )
    if consultation is None:
        raise NotFound()
    return consultation


def consultation_for_viewer(
    *, consultation_id: int, public_id: str, token_nonce: str
) -> Consultation | None:
    """The consultation a signed view cookie names (with its topic and counselor), if it is the
    one at ``public_id`` and its token has not been replaced since (same nonce); None otherwise."""
    consultation = (
        Consultation.objects.select_related("topic", "counselor").filter(pk=consultation_id).first()
    )
    if (
        consultation is None
        or str(consultation.public_id) != public_id
        or not secrets.compare_digest(consultation.token_nonce, token_nonce)
    ):
        return None
    return consultation


def consultation_open_for_contact(*, phone: str, email: str) -> Consultation | None:
    """The latest open consultation of this (cleaned) phone or e-mail address, if any (only its
    id and applicant grace deadline loaded)."""
    same = Q()
    if phone:
        same |= Q(applicant_phone__in=phone_spellings(phone))
    if email:
        same |= Q(applicant_email__iexact=email)
    if not same:
        return None
    return (
        Consultation.objects.filter(same, status__in=OPEN_STATUSES)
        .only("pk", "applicant_grace_deadline")
        .order_by("-created_at")
        .first()
    )


def consultation_topic(*, consultation_id: int) -> int:
    """The consultation's topic now (a transfer changes it)."""
    return int(Consultation.objects.values_list("topic_id", flat=True).get(pk=consultation_id))


def consultation_state(*, consultation_id: int, for_staff: bool) -> ConsultationState:
    """The consultation's ``consultation.state`` frame as it is now."""
    consultation = Consultation.objects.select_related("topic", "counselor").get(pk=consultation_id)
    return ConsultationState.of(consultation, for_staff=for_staff)


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
            held = consultation_is_held(
                counselor_id=counselor_id, status=row_status, staff_id=staff_id
            )
            marks[int(pk)] = (int(version), int(last_seq), held)
    return status, marks
