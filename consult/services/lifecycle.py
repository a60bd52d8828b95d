"""A consultation's life: join, offer answers, end, transfer, requeue, abandon.

Calls are in ``video.py``; ending or releasing a consultation ends its call here too.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import events
from ..contact import contact_clean
from ..errors import Forbidden, InvalidInput, InvalidState, NotFound
from ..models import (
    HELD_STATUSES,
    OPEN_STATUSES,
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    DeclinedOffer,
    EndedBy,
    Language,
    Mode,
    NoteKind,
    Outcome,
    StaffProfile,
    StaffRole,
)
from ..selectors import topic_active_get
from .applicants import applicant_contact_check_free
from .notes import note_record
from .office import office_check_accepting
from .routing import publish_consultation_state, queue_dispatch
from .tokens import applicant_token_issue, new_token_nonce
from .transcript import consultation_lock, system_event_add
from .video import CALL_FIELDS, call_close


def consultation_join(
    *,
    name: str,
    phone: str = "",
    email: str = "",
    topic_code: str,
    mode: str = Mode.CHAT,
    language: str = Language.ID,
    applicant_grace_seconds: int,
) -> tuple[Consultation, str]:
    """Put a new applicant in the queue; returns the consultation and its applicant token."""
    office_check_accepting()
    name, phone, email = contact_clean(name=name, phone=phone, email=email, email_required=False)
    if mode not in Mode.values:
        raise InvalidInput("mode must be chat or video.")
    if language not in Language.values:
        raise InvalidInput("language must be id or en.")
    topic = topic_active_get(code=topic_code)
    now = timezone.now()
    with transaction.atomic():
        applicant_contact_check_free(phone=phone, email=email)
        consultation = Consultation.objects.create(
            topic=topic,
            applicant_name=name,
            applicant_phone=phone,
            applicant_email=email,
            language=language,
            mode=mode,
            queued_at=now,
            token_nonce=new_token_nonce(),
            # Until the applicant's socket connects, the same grace as after a drop applies.
            applicant_grace_deadline=now + timedelta(seconds=applicant_grace_seconds),
        )
        system_event_add(consultation, event="joined", data={"topic": topic.code, "mode": mode})
    queue_dispatch(topic_ids=[topic.pk])
    return consultation, applicant_token_issue(consultation=consultation)


def _release_to_queue(
    consultation: Consultation, *, front: bool, event: str | None, reason: str
) -> None:
    """Put a held consultation (locked by the caller) back in the queue; the caller then runs
    ``queue_dispatch`` with the counselor and the topic."""
    previous = consultation.counselor_id
    was_active = consultation.status == ConsultationStatus.ACTIVE
    call_close(consultation, reason=reason)
    consultation.status = ConsultationStatus.WAITING
    consultation.counselor = None
    consultation.offered_at = None
    consultation.offer_expires_at = None
    consultation.accepted_at = None
    if front or was_active:
        consultation.priority = 1
        consultation.queued_at = timezone.now()
    consultation.save(
        update_fields=[
            "status",
            "counselor",
            "offered_at",
            "offer_expires_at",
            "accepted_at",
            "priority",
            "queued_at",
            *CALL_FIELDS,
        ]
    )
    if event:
        system_event_add(consultation, event=event, data={"reason": reason})
    publish_consultation_state(consultation, previous_counselor_id=previous)


def _held_by(consultation: Consultation, staff: StaffProfile) -> None:
    if consultation.counselor_id != staff.pk:
        raise Forbidden()


def offer_accept(*, staff: StaffProfile, consultation_id: int) -> Consultation:
    """The counselor takes the consultation offered to them."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        now = timezone.now()
        if consultation.counselor_id != staff.pk:
            # An offer that lapsed (or that this counselor declined or handed on) has gone back to
            # the queue or to a colleague: they had it, so they may learn it is no longer theirs.
            # Anyone else learns nothing about the consultation.
            if DeclinedOffer.objects.filter(consultation=consultation, counselor=staff).exists():
                raise InvalidState("The offer has expired.")
            raise Forbidden()
        if consultation.status != ConsultationStatus.OFFERED:
            raise InvalidState()
        if consultation.offer_expires_at is not None and consultation.offer_expires_at <= now:
            # Past its deadline, even if the sweeper has not re-offered it yet.
            raise InvalidState("The offer has expired.")
        consultation.status = ConsultationStatus.ACTIVE
        consultation.accepted_at = now
        consultation.first_accepted_at = consultation.first_accepted_at or now
        consultation.offer_expires_at = None
        consultation.target_counselor = None
        consultation.save(
            update_fields=[
                "status",
                "accepted_at",
                "first_accepted_at",
                "offer_expires_at",
                "target_counselor",
            ]
        )
        system_event_add(
            consultation, event="counselor_joined", data={"counselor": staff.display_name}
        )
        publish_consultation_state(consultation)
    return consultation


def offer_decline(*, staff: StaffProfile, consultation_id: int) -> None:
    """The counselor passes; the consultation keeps its place and goes to someone else."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        _held_by(consultation, staff)
        if consultation.status != ConsultationStatus.OFFERED:
            raise InvalidState()
        DeclinedOffer.objects.create(consultation=consultation, counselor=staff, at=timezone.now())
        _release_to_queue(consultation, front=False, event=None, reason="declined")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=[consultation.topic_id])


def offer_expire(*, consultation_id: int) -> bool:
    """An offer nobody answered in time: re-offer it and set the silent counselor away."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        now = timezone.now()
        if (
            consultation.status != ConsultationStatus.OFFERED
            or consultation.offer_expires_at is None
            or consultation.offer_expires_at > now
            or consultation.counselor is None
        ):
            return False
        staff = consultation.counselor
        DeclinedOffer.objects.create(consultation=consultation, counselor=staff, at=now)
        _release_to_queue(consultation, front=False, event=None, reason="offer_timeout")
        _status_set(staff, CounselorStatus.AWAY, reason="offer_timeout")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=[consultation.topic_id])
    return True


def consultation_end(
    *,
    consultation_id: int,
    ended_by: str,
    staff: StaffProfile | None = None,
    reason: str = "",
    outcome: str = "",
) -> Consultation:
    """End a consultation (by its counselor or its applicant); a counselor may give the outcome."""
    reason = (reason or "")[:40]
    if outcome and (ended_by != EndedBy.COUNSELOR or outcome not in Outcome.values):
        raise InvalidInput("outcome must be one of " + ", ".join(Outcome.values) + ".")
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        if ended_by == EndedBy.COUNSELOR:
            if staff is None:
                raise Forbidden()
            _held_by(consultation, staff)
            if consultation.status != ConsultationStatus.ACTIVE:
                raise InvalidState()
        elif consultation.status not in OPEN_STATUSES:
            raise InvalidState()
        was_waiting = consultation.status == ConsultationStatus.WAITING
        holder = None if was_waiting else consultation.counselor_id
        consultation.outcome = outcome
        _finish(
            consultation,
            status=ConsultationStatus.ENDED
            if consultation.status == ConsultationStatus.ACTIVE
            else ConsultationStatus.ABANDONED,
            ended_by=ended_by,
            reason=reason or outcome or ("answered" if ended_by == EndedBy.COUNSELOR else "left"),
        )
    # A waiting one leaves its queue; a held one frees its counselor's place in all their topics.
    queue_dispatch(counselor_ids=[holder], topic_ids=[consultation.topic_id] if was_waiting else [])
    return consultation


def _finish(consultation: Consultation, *, status: str, ended_by: str, reason: str) -> None:
    call_close(consultation, reason="consultation_ended")
    consultation.status = status
    consultation.ended_at = timezone.now()
    consultation.ended_by = ended_by
    consultation.end_reason = reason
    consultation.offer_expires_at = None
    consultation.applicant_grace_deadline = None
    consultation.save(
        update_fields=[
            "status",
            "ended_at",
            "ended_by",
            "end_reason",
            "outcome",
            "offer_expires_at",
            "applicant_grace_deadline",
            *CALL_FIELDS,
        ]
    )
    system_event_add(
        consultation,
        event="ended" if status == ConsultationStatus.ENDED else "abandoned",
        data={"by": ended_by, "reason": reason},
    )
    publish_consultation_state(consultation)


def consultation_transfer(
    *,
    staff: StaffProfile,
    consultation_id: int,
    topic_code: str | None = None,
    counselor_id: int | None = None,
    note: str = "",
) -> Consultation:
    """Send an active consultation to another topic or colleague, at the front of the queue."""
    if not topic_code and counselor_id is None:
        raise InvalidInput("Give a topic or a counselor to transfer to.")
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        _held_by(consultation, staff)
        if consultation.status != ConsultationStatus.ACTIVE:
            raise InvalidState()
        data: dict[str, object] = {"from": staff.display_name}
        old_topic = consultation.topic_id
        if topic_code:
            topic = topic_active_get(code=topic_code)
            consultation.topic = topic
            consultation.save(update_fields=["topic"])
            data["topic"] = topic.code
        if counselor_id is not None:
            target = StaffProfile.objects.filter(pk=counselor_id, role=StaffRole.COUNSELOR).first()
            if target is None or target.pk == staff.pk:
                raise NotFound("No such colleague.")
            consultation.target_counselor = target
            consultation.save(update_fields=["target_counselor"])
            data["counselor"] = target.display_name
        # The applicant receives the transferred event: the note goes to staff only.
        system_event_add(consultation, event="transferred", data=data)
        if note.strip():
            note_record(consultation, author=staff, text=note.strip()[:500], kind=NoteKind.TRANSFER)
        # The counselor handing it on must not be offered it straight back (cooldown as a decline).
        DeclinedOffer.objects.create(consultation=consultation, counselor=staff, at=timezone.now())
        _release_to_queue(consultation, front=True, event=None, reason="transferred")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=[old_topic, consultation.topic_id])
    return consultation


def _status_set(staff: StaffProfile, status: str, *, reason: str = "") -> None:
    """Store and announce the status; the caller runs ``queue_dispatch`` with the counselor."""
    StaffProfile.objects.filter(pk=staff.pk).update(status=status)
    staff.status = status
    events.publish(
        [events.group_staff(staff.pk), events.GROUP_SUPERVISORS],
        {
            "type": "counselor.status",
            "counselor_id": staff.pk,
            "counselor_name": staff.display_name,
            "status": status,
            "reason": reason or None,
        },
        audience=events.AUDIENCE_STAFF,
    )


def counselor_status_set(*, staff: StaffProfile, status: str) -> None:
    """The counselor says whether they take new consultations."""
    if not staff.is_counselor:
        raise Forbidden()
    if status not in CounselorStatus.values:
        raise InvalidInput("status must be available, away or offline.")
    with transaction.atomic():
        _status_set(staff, status)
    queue_dispatch(counselor_ids=[staff.pk])


def counselor_lose(*, staff_id: int) -> int:
    """The counselor is gone (grace passed or lease lapsed): requeue what they held."""
    with transaction.atomic():
        staff = StaffProfile.objects.select_for_update().filter(pk=staff_id).first()
        if staff is None:
            return 0
        held = list(
            Consultation.objects.filter(counselor=staff, status__in=HELD_STATUSES).values_list(
                "pk", flat=True
            )
        )
        requeued_topics: list[int] = []
        for consultation_id in held:
            consultation = consultation_lock(consultation_id=consultation_id)
            if consultation.counselor_id != staff.pk:
                continue
            requeued_topics.append(consultation.topic_id)
            if consultation.status == ConsultationStatus.ACTIVE:
                _release_to_queue(
                    consultation, front=True, event="requeued", reason="counselor_disconnected"
                )
            else:
                _release_to_queue(consultation, front=False, event=None, reason="counselor_lost")
        StaffProfile.objects.filter(pk=staff.pk).update(grace_deadline=None)
        if staff.status != CounselorStatus.OFFLINE:
            _status_set(staff, CounselorStatus.OFFLINE, reason="disconnected")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=requeued_topics)
    return len(held)


def applicant_abandon(*, consultation_id: int) -> bool:
    """The applicant's grace period passed with no connection: the consultation is abandoned."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        deadline = consultation.applicant_grace_deadline
        if (
            consultation.status not in OPEN_STATUSES
            or deadline is None
            or deadline > timezone.now()
        ):
            return False
        was_waiting = consultation.status == ConsultationStatus.WAITING
        holder = None if was_waiting else consultation.counselor_id
        _finish(
            consultation,
            status=ConsultationStatus.ABANDONED,
            ended_by=EndedBy.SYSTEM,
            reason="applicant_disconnected",
        )
    queue_dispatch(counselor_ids=[holder], topic_ids=[consultation.topic_id] if was_waiting else [])
    return True
