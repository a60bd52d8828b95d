"""Transitional: the old names of ``signaling/bridge.py``, kept only until the consumers call
the bridge directly (then this module goes). No query and no rule here either."""

from __future__ import annotations

from typing import Any

from .bridge import (
    REPLAY_PAGE,
    board_snapshot,
    call_accept,
    call_decline,
    call_end,
    call_request,
    call_start,
    call_state_report,
    connection_close,
    consultation_held_by,
    consultation_state,
    consultation_sync_marks,
    consultation_topic,
    counselor_sync_marks,
    entries_after,
    knowledge_insert,
    note_add,
    notes_for_holder,
    offer_accept,
    offer_decline,
    queue_position,
    queue_snapshots,
    staff_session_valid,
    transcript_append,
    transcript_read_mark,
)
from .bridge import applicant_connection_open as _applicant_connection_open
from .bridge import consultation_end as _consultation_end
from .bridge import consultation_transfer as _consultation_transfer
from .bridge import counselor_status_set as _counselor_status_set
from .bridge import rtc_participant_check as _rtc_participant_check
from .bridge import staff_connection_open as _staff_connection_open

__all__ = [
    "REPLAY_PAGE",
    "board_snapshot",
    "connection_close",
    "consultation_state",
    "consultation_sync_marks",
    "consultation_topic",
    "counselor_sync_marks",
    "entries_after",
    "note_add",
    "notes_for_holder",
    "offer_accept",
    "offer_decline",
    "queue_position",
    "queue_snapshots",
    "staff_session_valid",
]

_CALLS = {
    "call.start": call_start,
    "call.request": call_request,
    "call.accept": call_accept,
    "call.decline": call_decline,
    "call.state": call_state_report,
    "call.end": call_end,
}


async def applicant_open(*, token: str, channel_name: str) -> dict[str, Any]:
    return await _applicant_connection_open(token=token, channel_name=channel_name)


async def staff_open(*, user: Any, channel_name: str) -> dict[str, Any] | None:
    return await _staff_connection_open(user=user, channel_name=channel_name)


async def chat_append(
    *, consultation_id: int, role: str, staff: Any, text: str, client_msg_id: str
) -> tuple[dict[str, Any], bool]:
    return await transcript_append(
        consultation_id=consultation_id,
        author_role=role,
        author=staff,
        text=text,
        client_msg_id=client_msg_id,
    )


async def read_mark(*, consultation_id: int, role: str, seq: int) -> None:
    await transcript_read_mark(consultation_id=consultation_id, reader_role=role, seq=seq)


async def rtc_participant_check(*, consultation_id: int, role: str, staff: Any) -> None:
    await _rtc_participant_check(
        consultation_id=consultation_id, role=role, staff_id=staff.pk if staff else None
    )


async def call_change(
    *, kind: str, consultation_id: int, role: str, staff: Any, **fields: Any
) -> None:
    await _CALLS[kind](consultation_id=consultation_id, by_role=role, staff=staff, **fields)


async def applicant_leave(*, consultation_id: int) -> None:
    await _consultation_end(consultation_id=consultation_id, ended_by="applicant", reason="left")


async def status_set(*, staff: Any, status: str) -> None:
    await _counselor_status_set(staff=staff, status=status)


async def consultation_end(
    *, staff: Any, consultation_id: int, reason: str, outcome: str | None
) -> None:
    await _consultation_end(
        consultation_id=consultation_id,
        ended_by="counselor",
        staff=staff,
        reason=reason,
        outcome=outcome,
    )


async def kb_insert(
    *, staff: Any, consultation_id: int, article_id: int, section: str | None, client_msg_id: str
) -> tuple[dict[str, Any], bool]:
    return await knowledge_insert(
        staff=staff,
        consultation_id=consultation_id,
        article_id=article_id,
        section=section,
        client_msg_id=client_msg_id,
    )


async def consultation_transfer(
    *, staff: Any, consultation_id: int, topic: str | None, counselor_id: int | None, note: str
) -> None:
    await _consultation_transfer(
        staff=staff,
        consultation_id=consultation_id,
        topic_code=topic,
        counselor_id=counselor_id,
        note=note,
    )


async def held_by(*, staff_id: int, consultation_id: int) -> tuple[bool, int]:
    return await consultation_held_by(staff_id=staff_id, consultation_id=consultation_id)
