"""The consumers' bridge to the domain: each function runs one service or selector in Django's
database thread and returns plain data. No business rule lives here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from consult.errors import Forbidden, InvalidState
from consult.models import (
    AuthorRole,
    ConnectionRole,
    Consultation,
    ConsultationStatus,
    EndedBy,
    StaffProfile,
)
from consult.payloads import consultation_payload, entry_payload, note_payload
from consult.runtime import SERVER_ID
from consult.selectors import board, consultations, queue
from consult.selectors import knowledge as tools_selectors
from consult.selectors import transcript as transcript_selectors
from consult.services import (
    calls,
    knowledge,
    notes,
    offers,
    presence,
    sessions,
    transcript,
)
from consult.services import consultations as lifecycle
from consult.services.tokens import applicant_token_verify

REPLAY_PAGE = 500


@database_sync_to_async
def entries_after(*, consultation_id: int, after_seq: int) -> list[dict[str, Any]]:
    consultation = Consultation.objects.only("public_id").get(pk=consultation_id)
    public_id = str(consultation.public_id)
    return [
        entry_payload(entry, public_id=public_id)
        for entry in transcript_selectors.entries_after(
            consultation_id=consultation_id, after_seq=after_seq, limit=REPLAY_PAGE
        )
    ]


@database_sync_to_async
def applicant_open(*, token: str, channel_name: str) -> dict[str, Any]:
    """Verify the token and record the connection; the applicant's view of the consultation."""
    consultation = applicant_token_verify(token=token)
    connection_id = None
    if consultation.is_open:
        connection_id = presence.connection_open(
            role=ConnectionRole.APPLICANT,
            server_id=SERVER_ID,
            channel_name=channel_name,
            consultation=consultation,
        ).pk
    return {
        "connection_id": connection_id,
        "consultation_id": consultation.pk,
        "topic_id": consultation.topic_id,
        "state": consultation_payload(consultation, for_staff=False),
    }


@database_sync_to_async
def queue_position(*, consultation_id: int) -> dict[str, Any] | None:
    consultation = Consultation.objects.select_related("topic").get(pk=consultation_id)
    return queue.queue_position(consultation=consultation)


@database_sync_to_async
def consultation_topic(*, consultation_id: int) -> int:
    return int(Consultation.objects.values_list("topic_id", flat=True).get(pk=consultation_id))


@database_sync_to_async
def staff_open(*, user: Any, channel_name: str) -> dict[str, Any] | None:
    """The staff member behind an authenticated session, with what they hold and watch."""
    staff = StaffProfile.objects.filter(user=user, user__is_active=True).first()
    if staff is None:
        return None
    connection_id = None
    held: list[Consultation] = []
    if staff.is_counselor:
        connection_id = presence.connection_open(
            role=ConnectionRole.COUNSELOR,
            server_id=SERVER_ID,
            channel_name=channel_name,
            staff=staff,
        ).pk
        held = consultations.staff_consultations(staff=staff)
        topic_ids = list(staff.topics.values_list("pk", flat=True))
    else:
        topic_ids = [t.pk for t in queue.topics_active()]
    snapshots = [queue.queue_snapshot(topic_id=topic_id) for topic_id in topic_ids]
    return {
        "staff": staff,
        "connection_id": connection_id,
        "held": [(c.pk, c.topic_id, consultation_payload(c, for_staff=True)) for c in held],
        "topic_ids": topic_ids,
        "snapshots": snapshots,
    }


@database_sync_to_async
def connection_close(*, connection_id: Any) -> None:
    presence.connection_close(connection_id=connection_id)


@database_sync_to_async
def board_snapshot() -> dict[str, Any]:
    """The supervisor's board (``board`` frame)."""
    return board.board_snapshot()


@database_sync_to_async
def chat_append(
    *, consultation_id: int, role: str, staff: StaffProfile | None, text: str, client_msg_id: str
) -> tuple[dict[str, Any], bool]:
    entry, created = transcript.transcript_append(
        consultation_id=consultation_id,
        author_role=AuthorRole.COUNSELOR if role == "counselor" else AuthorRole.APPLICANT,
        author=staff if role == "counselor" else None,
        text=text,
        client_msg_id=client_msg_id,
    )
    return entry_payload(entry, public_id=str(entry.consultation.public_id)), created


@database_sync_to_async
def read_mark(*, consultation_id: int, role: str, seq: int) -> None:
    transcript.read_mark(consultation_id=consultation_id, reader_role=role, seq=seq)


@database_sync_to_async
def rtc_participant_check(*, consultation_id: int, role: str, staff: StaffProfile | None) -> None:
    """Only the two participants of an active consultation may signal a call."""
    row = Consultation.objects.filter(pk=consultation_id).values("status", "counselor_id").first()
    if row is None:
        raise Forbidden()
    if role == "counselor" and (staff is None or row["counselor_id"] != staff.pk):
        raise Forbidden()
    if role not in ("counselor", "applicant"):
        raise Forbidden()
    if row["status"] != ConsultationStatus.ACTIVE:
        raise InvalidState()


_CALL_SERVICES: dict[str, Callable[..., Any]] = {
    "call.start": calls.call_start,
    "call.request": calls.call_request,
    "call.accept": calls.call_accept,
    "call.decline": calls.call_decline,
    "call.state": calls.call_state_report,
    "call.end": calls.call_end,
}


@database_sync_to_async
def call_change(
    *, kind: str, consultation_id: int, role: str, staff: StaffProfile | None, **fields: Any
) -> None:
    """Run the call service for a ``call.*`` frame; the service checks who may do it."""
    _CALL_SERVICES[kind](
        consultation_id=consultation_id,
        by_role=role,
        staff=staff if role == "counselor" else None,
        **fields,
    )


@database_sync_to_async
def applicant_leave(*, consultation_id: int) -> None:
    lifecycle.consultation_end(
        consultation_id=consultation_id, ended_by=EndedBy.APPLICANT, reason="left"
    )


@database_sync_to_async
def status_set(*, staff: StaffProfile, status: str) -> None:
    presence.counselor_status_set(staff=staff, status=status)


@database_sync_to_async
def staff_status(*, staff_id: int) -> str:
    return str(StaffProfile.objects.values_list("status", flat=True).get(pk=staff_id))


@database_sync_to_async
def offer_accept(
    *, staff: StaffProfile, consultation_id: int | None, public_id: str | None = None
) -> None:
    """Accept an offer; a consultation the connection no longer follows is found by its public
    id (an unknown one is forbidden, like one never offered)."""
    if consultation_id is None:
        consultation_id = (
            Consultation.objects.filter(public_id=public_id).values_list("pk", flat=True).first()
            if public_id and _is_uuid(public_id)
            else None
        )
        if consultation_id is None:
            raise Forbidden()
    offers.offer_accept(staff=staff, consultation_id=consultation_id)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@database_sync_to_async
def offer_decline(*, staff: StaffProfile, consultation_id: int) -> None:
    offers.offer_decline(staff=staff, consultation_id=consultation_id)


@database_sync_to_async
def consultation_end(
    *, staff: StaffProfile, consultation_id: int, reason: str, outcome: str | None
) -> None:
    lifecycle.consultation_end(
        consultation_id=consultation_id,
        ended_by=EndedBy.COUNSELOR,
        staff=staff,
        reason=reason,
        outcome=outcome or "",
    )


@database_sync_to_async
def kb_insert(
    *,
    staff: StaffProfile,
    consultation_id: int,
    article_id: int,
    section: str | None,
    client_msg_id: str,
) -> tuple[dict[str, Any], bool]:
    entry, created = knowledge.knowledge_insert(
        staff=staff,
        consultation_id=consultation_id,
        article_id=article_id,
        section=section,
        client_msg_id=client_msg_id,
    )
    return entry_payload(entry, public_id=str(entry.consultation.public_id)), created


@database_sync_to_async
def note_add(*, staff: StaffProfile, consultation_id: int, text: str) -> None:
    notes.note_add(staff=staff, consultation_id=consultation_id, text=text)


@database_sync_to_async
def notes_for_holder(*, staff_id: int, consultation_id: int) -> list[dict[str, Any]]:
    """The internal notes of a consultation, only while ``staff_id`` holds it."""
    consultation = (
        Consultation.objects.filter(
            pk=consultation_id,
            counselor_id=staff_id,
            status__in=(ConsultationStatus.OFFERED, ConsultationStatus.ACTIVE),
        )
        .only("public_id")
        .first()
    )
    if consultation is None:
        return []
    public_id = str(consultation.public_id)
    return [
        note_payload(note, public_id=public_id)
        for note in tools_selectors.notes_of(consultation_id=consultation_id)
    ]


@database_sync_to_async
def consultation_transfer(
    *,
    staff: StaffProfile,
    consultation_id: int,
    topic: str | None,
    counselor_id: int | None,
    note: str,
) -> None:
    lifecycle.consultation_transfer(
        staff=staff,
        consultation_id=consultation_id,
        topic_code=topic,
        counselor_id=counselor_id,
        note=note,
    )


@database_sync_to_async
def held_by(*, staff_id: int, consultation_id: int) -> tuple[bool, int]:
    """Whether the counselor holds the consultation now, and its topic."""
    row = (
        Consultation.objects.filter(pk=consultation_id)
        .values("counselor_id", "status", "topic_id")
        .first()
    )
    if row is None:
        return False, 0
    held = row["counselor_id"] == staff_id and row["status"] in (
        ConsultationStatus.OFFERED,
        ConsultationStatus.ACTIVE,
    )
    return held, int(row["topic_id"])


@database_sync_to_async
def consultation_sync_marks(*, consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Version and last sequence number of each consultation (what a resync compares)."""
    return consultations.consultation_sync_marks(consultation_ids=consultation_ids)


@database_sync_to_async
def counselor_sync_marks(
    *, staff_id: int, followed_ids: list[int]
) -> tuple[str, dict[int, tuple[int, int, bool]]]:
    return consultations.counselor_sync_marks(staff_id=staff_id, followed_ids=followed_ids)


@database_sync_to_async
def consultation_state(*, consultation_id: int, for_staff: bool) -> dict[str, Any]:
    """The consultation's ``consultation.state`` frame as it is now."""
    consultation = Consultation.objects.select_related("topic", "counselor").get(pk=consultation_id)
    return consultation_payload(consultation, for_staff=for_staff)


@database_sync_to_async
def queue_snapshots(*, topic_ids: list[int]) -> list[dict[str, Any]]:
    return [queue.queue_snapshot(topic_id=topic_id) for topic_id in topic_ids]


@database_sync_to_async
def staff_session_valid(*, session_key: str | None, user_id: int) -> bool:
    return sessions.staff_session_valid(session_key=session_key, user_id=user_id)
