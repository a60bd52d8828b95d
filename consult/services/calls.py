"""Video calls between the two participants of an active consultation, and the pre-call check's
verdict.

Consent: in a chat consultation a call is asked for (``call_request``) by either side and starts
only when the other side accepts it (``call_accept``); it can also be declined or withdrawn
(``call_decline``), or it lapses (``call_request_expire``). A video consultation was agreed to by
both sides already (the applicant chose video in the join form, the counselor accepted the offer
of a video consultation), so there a request starts the call at once, and so does ``call_start``.

Capacity: a counselor in a call has no room for new consultations (routing counts ``in_call``),
and takes one call at a time.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..errors import Forbidden, InvalidInput, InvalidState, NotFound, OverCapacity
from ..events import publish
from ..models import AuthorRole, Consultation, ConsultationStatus, Mode, StaffProfile
from ..selectors.consultations import call_participant_check
from .locking import consultation_lock
from .routing import queue_dispatch
from .transcript import system_event_add

CALL_STATES = ("connected", "reconnecting", "failed")
PRECHECK_VERDICTS = ("ready", "audio_only", "connection_problem")

# Every call field, for ``save(update_fields=...)`` in services that end or release a consultation.
CALL_FIELDS = [
    "in_call",
    "call_started_at",
    "call_audio_only",
    "call_state",
    "call_requested_by",
    "call_requested_audio_only",
    "call_request_expires_at",
]


def _call_lock(*, consultation_id: int, by_role: str, staff: StaffProfile | None) -> Consultation:
    """Lock the consultation for a call change by one of its two participants.

    The counselor's row is locked first (the order ``counselor_lose`` uses), so two of their
    consultations cannot both start a call at once. The applicant's connection is bound to its
    consultation by its token; a counselor must hold the consultation. Forbidden comes before any
    state check, so others learn nothing of the consultation.
    """
    try:
        consultation = consultation_lock(consultation_id=consultation_id, counselor_first=True)
    except NotFound:
        raise Forbidden() from None
    call_participant_check(consultation, role=by_role, staff_id=staff.pk if staff else None)
    return consultation


def _counselor_free_for_call(consultation: Consultation) -> None:
    busy = (
        Consultation.objects.filter(
            counselor_id=consultation.counselor_id, status=ConsultationStatus.ACTIVE, in_call=True
        )
        .exclude(pk=consultation.pk)
        .exists()
    )
    if busy:
        raise OverCapacity("The counselor is in another call.")


def _request_clear(consultation: Consultation) -> None:
    consultation.call_requested_by = ""
    consultation.call_requested_audio_only = False
    consultation.call_request_expires_at = None


def _request_pending(consultation: Consultation) -> bool:
    """A request that has not lapsed (one past its deadline counts as gone even before the
    sweeper records it)."""
    deadline = consultation.call_request_expires_at
    return bool(consultation.call_requested_by) and (deadline is None or deadline > timezone.now())


def _call_open(consultation: Consultation, *, by_role: str, audio_only: bool) -> None:
    """Start the call on the locked consultation; ``by_role`` is who asked for it."""
    _counselor_free_for_call(consultation)
    _request_clear(consultation)
    consultation.in_call = True
    consultation.call_started_at = timezone.now()
    consultation.call_audio_only = audio_only
    consultation.call_state = ""
    system_event_add(
        consultation, event="call_started", data={"by": by_role, "audio_only": audio_only}
    )
    # The call takes the counselor's whole capacity: their topics' free places change.
    publish.queues_changed(counselor_ids=[consultation.counselor_id])


def call_close(consultation: Consultation, *, reason: str) -> None:
    """End the call (if any) and drop a pending request on the locked consultation; the caller
    saves ``CALL_FIELDS``."""
    _request_clear(consultation)
    if not consultation.in_call:
        return
    started = consultation.call_started_at
    duration = (timezone.now() - started).total_seconds() if started else 0.0
    system_event_add(
        consultation,
        event="call_ended",
        data={
            "reason": reason,
            "duration_seconds": round(duration, 1),
            "audio_only": consultation.call_audio_only,
        },
    )
    consultation.in_call = False
    consultation.call_started_at = None
    consultation.call_audio_only = False
    consultation.call_state = ""


def _save_and_publish(consultation: Consultation) -> None:
    consultation.save(update_fields=CALL_FIELDS)
    publish.consultation_changed(consultation)


def call_start(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None = None, audio_only: bool
) -> Consultation:
    """Start a call in a video consultation directly (both sides agreed to video already)."""
    with transaction.atomic():
        consultation = _call_lock(consultation_id=consultation_id, by_role=by_role, staff=staff)
        if consultation.in_call:
            return consultation
        if consultation.mode != Mode.VIDEO:
            raise InvalidState("In a chat consultation, ask for a call with call.request.")
        _call_open(consultation, by_role=by_role, audio_only=audio_only)
        _save_and_publish(consultation)
    return consultation


def call_request(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None = None, audio_only: bool
) -> Consultation:
    """Ask the other participant for a call (``call_requested``).

    In a video consultation the call starts at once. When the other side has asked already, this
    request accepts theirs (both want the call). Asking again while one's own request is pending
    changes nothing.
    """
    with transaction.atomic():
        consultation = _call_lock(consultation_id=consultation_id, by_role=by_role, staff=staff)
        if consultation.in_call:
            raise InvalidState("A call is already in progress.")
        if consultation.mode == Mode.VIDEO:
            _call_open(consultation, by_role=by_role, audio_only=audio_only)
        elif _request_pending(consultation):
            if consultation.call_requested_by == by_role:
                return consultation
            _call_open(
                consultation,
                by_role=consultation.call_requested_by,
                audio_only=consultation.call_requested_audio_only or audio_only,
            )
        else:
            if consultation.call_requested_by:
                _request_lapse(consultation)
            if by_role == AuthorRole.COUNSELOR:
                _counselor_free_for_call(consultation)
            consultation.call_requested_by = by_role
            consultation.call_requested_audio_only = audio_only
            consultation.call_request_expires_at = timezone.now() + timedelta(
                seconds=settings.LOKET["CALL_REQUEST_TIMEOUT"]
            )
            system_event_add(
                consultation,
                event="call_requested",
                data={"by": by_role, "audio_only": audio_only},
            )
        _save_and_publish(consultation)
    return consultation


def call_accept(
    *,
    consultation_id: int,
    by_role: str,
    staff: StaffProfile | None = None,
    audio_only: bool = False,
) -> Consultation:
    """Accept the other participant's pending request: the call starts (``call_started``).

    The call is audio-only when either side asked for that.
    """
    with transaction.atomic():
        consultation = _call_lock(consultation_id=consultation_id, by_role=by_role, staff=staff)
        if consultation.in_call or not _request_pending(consultation):
            raise InvalidState("There is no call request to accept.")
        if consultation.call_requested_by == by_role:
            raise InvalidState("The other side accepts your request.")
        _call_open(
            consultation,
            by_role=consultation.call_requested_by,
            audio_only=consultation.call_requested_audio_only or audio_only,
        )
        _save_and_publish(consultation)
    return consultation


def call_decline(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None = None
) -> Consultation:
    """Decline the other side's pending request, or withdraw one's own (``call_declined``)."""
    with transaction.atomic():
        consultation = _call_lock(consultation_id=consultation_id, by_role=by_role, staff=staff)
        if consultation.in_call or not _request_pending(consultation):
            raise InvalidState("There is no call request to decline.")
        data: dict[str, object] = {"by": by_role}
        if consultation.call_requested_by == by_role:
            data["withdrawn"] = True
        _request_clear(consultation)
        system_event_add(consultation, event="call_declined", data=data)
        _save_and_publish(consultation)
    return consultation


def _request_lapse(consultation: Consultation) -> None:
    system_event_add(
        consultation,
        event="call_request_expired",
        data={"by": consultation.call_requested_by},
    )
    _request_clear(consultation)


def call_request_expire(*, consultation_id: int) -> bool:
    """A request nobody answered in time lapses (``call_request_expired``); for the sweeper."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        deadline = consultation.call_request_expires_at
        if not consultation.call_requested_by or deadline is None or deadline > timezone.now():
            return False
        _request_lapse(consultation)
        _save_and_publish(consultation)
    return True


def call_state_report(
    *,
    consultation_id: int,
    by_role: str,
    staff: StaffProfile | None = None,
    state: str,
    audio_only: bool | None = None,
) -> bool:
    """A participant reports the call's connection state; returns whether an event was recorded.

    ``connected`` records ``call_connected``; ``reconnecting`` and ``failed`` record
    ``call_reconnecting`` (the clients restart ICE or rebuild the connection; a call that cannot
    be saved is hung up). A state is recorded only when it differs from the last one recorded,
    whichever side reports it. ``audio_only`` (camera turned off or on) is stored for
    ``call_ended`` without an event of its own.
    """
    if state not in CALL_STATES:
        raise InvalidInput("state must be connected, reconnecting or failed.")
    recorded = "connected" if state == "connected" else "reconnecting"
    with transaction.atomic():
        consultation = _call_lock(consultation_id=consultation_id, by_role=by_role, staff=staff)
        if not consultation.in_call:
            raise InvalidState("There is no call in progress.")
        changed = False
        if audio_only is not None and audio_only != consultation.call_audio_only:
            consultation.call_audio_only = audio_only
            changed = True
        if recorded != consultation.call_state:
            consultation.call_state = recorded
            data: dict[str, object] = {"by": by_role, "audio_only": consultation.call_audio_only}
            if state == "failed":
                data["reason"] = "failed"
            system_event_add(consultation, event=f"call_{recorded}", data=data)
            consultation.save(update_fields=["call_state", "call_audio_only"])
            return True
        if changed:
            consultation.save(update_fields=["call_audio_only"])
    return False


def call_end(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None = None
) -> Consultation:
    """Hang up (``call_ended`` with its duration); the chat goes on. No call: nothing happens."""
    with transaction.atomic():
        consultation = _call_lock(consultation_id=consultation_id, by_role=by_role, staff=staff)
        if not consultation.in_call:
            return consultation
        call_close(consultation, reason=f"hangup_{by_role}")
        _save_and_publish(consultation)
    # The counselor's capacity is free again.
    queue_dispatch(counselor_ids=[consultation.counselor_id])
    return consultation


def precheck_result_record(*, consultation_id: int, verdict: str, reasons: list[str]) -> bool:
    """Store the applicant's pre-call check verdict for the counselor; returns whether it changed.

    Only a changed verdict is written and published, so a client polling its report does not
    flood staff with state frames.
    """
    if verdict not in PRECHECK_VERDICTS:
        raise InvalidInput("Unknown verdict.")
    reasons = [str(r)[:40] for r in reasons][:20]
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        if (consultation.precheck_verdict, consultation.precheck_reasons) == (verdict, reasons):
            return False
        consultation.precheck_verdict = verdict
        consultation.precheck_reasons = reasons
        consultation.precheck_at = timezone.now()
        consultation.save(update_fields=["precheck_verdict", "precheck_reasons", "precheck_at"])
        publish.consultation_changed(consultation)
    return True
