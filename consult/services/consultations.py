"""A consultation's life: join (with the one-open-consultation-per-contact rule), end,
transfer, requeue, abandon.

One open consultation per applicant contact: someone who joins a second time with the same phone
or e-mail address while the first consultation is still open is refused (``already_queued``), so
one person (or one script reusing one contact) cannot fill the queue. The usual second join is a
person who lost their page: the refusal says when the place they left is released (the applicant
grace period), after which joining works again.

Offers are in ``offers.py``, calls in ``calls.py``; ending or releasing a consultation ends its
call here too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..contact import contact_clean, contact_keys
from ..errors import AlreadyQueued, Forbidden, InvalidInput, InvalidState, NotFound
from ..events import publish
from ..models import (
    OPEN_STATUSES,
    Consultation,
    ConsultationStatus,
    DeclinedOffer,
    EndedBy,
    Language,
    Mode,
    NoteKind,
    Outcome,
    StaffProfile,
    StaffRole,
)
from ..selectors.consultations import consultation_holder_check, consultation_open_for_contact
from ..selectors.topics import topic_active_get
from .calls import CALL_FIELDS, call_close
from .locking import consultation_lock, contacts_lock
from .notes import note_record
from .office import office_check_accepting
from .records import consultation_seal
from .routing import queue_dispatch
from .tokens import applicant_token_issue, new_token_nonce
from .transcript import system_event_add

log = logging.getLogger(__name__)


def _released_in(deadline: datetime | None) -> int | None:
    """Seconds until the sweeper abandons a consultation whose applicant left at ``deadline``."""
    if deadline is None:
        return None
    left = (deadline - timezone.now()).total_seconds() + settings.LOKET["SWEEP_INTERVAL"]
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
    contacts_lock(keys=keys)
    held = consultation_open_for_contact(phone=phone, email=email)
    if held is not None:
        raise AlreadyQueued(retry_after=_released_in(held.applicant_grace_deadline))


def consultation_join(
    *,
    name: str,
    phone: str = "",
    email: str = "",
    topic_code: str,
    mode: str = Mode.CHAT,
    language: str = Language.ID,
    applicant_grace_seconds: int | None = None,
) -> tuple[Consultation, str]:
    """Put a new applicant in the queue; returns the consultation and its applicant token.

    Until the applicant's socket connects, the grace period after a drop applies:
    ``applicant_grace_seconds``, by default ``LOKET_APPLICANT_GRACE``.
    """
    if applicant_grace_seconds is None:
        applicant_grace_seconds = settings.LOKET["APPLICANT_GRACE"]
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


def consultation_release(
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
    publish.consultation_changed(consultation, previous_counselor_id=previous)


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
            consultation_holder_check(
                consultation, staff_id=staff.pk, statuses=(ConsultationStatus.ACTIVE,)
            )
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
    last = system_event_add(
        consultation,
        event="ended" if status == ConsultationStatus.ENDED else "abandoned",
        data={"by": ended_by, "reason": reason},
    )
    # The transcript is complete: sealed in this transaction (docs/RECORDS.md). If sealing
    # fails (the key file cannot be read, say), the consultation still ends, unsealed: the
    # sweeper's ``seal_pending`` seals it on a later pass, and ``transcript_verify`` reports it
    # until then.
    try:
        with transaction.atomic():
            consultation_seal(consultation, last_seq=last.seq, head=last.hash)
    except Exception:
        consultation.sealed_at = None
        log.exception("sealing a consultation that ended failed; the sweeper retries")
    publish.consultation_changed(consultation)


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
        consultation_holder_check(
            consultation, staff_id=staff.pk, statuses=(ConsultationStatus.ACTIVE,)
        )
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
        consultation_release(consultation, front=True, event=None, reason="transferred")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=[old_topic, consultation.topic_id])
    return consultation


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
