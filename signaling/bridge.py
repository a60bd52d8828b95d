"""The consumers' bridge to the domain: one ``database_sync_to_async`` wrapper per service or
selector, with the same name and arguments, run in Django's database thread.

Nothing else lives here: no ORM query and no rule (who may do what is decided by the service or
selector called). A wrapper only turns a returned model into the frame a client receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import close_old_connections

from consult.events.frames import (
    Board,
    ConsultationState,
    Entry,
    NoteFrame,
    QueuePosition,
    QueueView,
)
from consult.events.loop import background_work
from consult.runtime import SERVER_ID
from consult.selectors import board, consultations, knowledge, privacy, queue, transcript
from consult.services import calls, chat_loop, notes, offers, presence, sessions
from consult.services import consultations as consultation_services
from consult.services import knowledge as knowledge_services
from consult.services import transcript as transcript_services

if TYPE_CHECKING:
    from consult.models import StaffProfile, TranscriptEntry

# How many entries one replay read returns at most (the consumer reads on while pages are full).
REPLAY_PAGE = 500


# ---------------------------------------------------------------- connections


def masked_text(text: str, actions: Mapping[str, str]) -> str:
    """``selectors.privacy.masked_text`` (no database): a live frame's text as the connection's
    masking policy shows it."""
    return privacy.masked_text(text, actions)  # type: ignore[arg-type]


def masked_name(name: str, action: str) -> str:
    """``selectors.privacy.masked_name`` (no database)."""
    return privacy.masked_name(name, action)


@database_sync_to_async
def applicant_connection_open(*, token: str, channel_name: str) -> dict[str, Any]:
    return presence.applicant_connection_open(
        token=token, server_id=SERVER_ID, channel_name=channel_name
    )


@database_sync_to_async
def staff_connection_open(*, user: Any, channel_name: str) -> dict[str, Any] | None:
    return presence.staff_connection_open(user=user, server_id=SERVER_ID, channel_name=channel_name)


@database_sync_to_async
def connection_close(*, connection_id: Any) -> None:
    presence.connection_close(connection_id=connection_id)


@database_sync_to_async
def staff_session_valid(*, session_key: str | None, user_id: int) -> bool:
    return sessions.staff_session_valid(session_key=session_key, user_id=user_id)


# ---------------------------------------------------------------- reads


@database_sync_to_async
def entries_after(*, consultation_id: int, after_seq: int) -> list[Entry]:
    return transcript.entries_after(
        consultation_id=consultation_id, after_seq=after_seq, limit=REPLAY_PAGE
    )


@database_sync_to_async
def queue_position(*, consultation_id: int) -> QueuePosition | None:
    return queue.queue_position(consultation_id=consultation_id)


@database_sync_to_async
def queue_snapshots(*, topic_ids: list[int]) -> list[QueueView]:
    return queue.queue_snapshots(topic_ids=topic_ids)


@database_sync_to_async
def board_snapshot() -> Board:
    return board.board_snapshot()


@database_sync_to_async
def consultation_topic(*, consultation_id: int) -> int:
    return consultations.consultation_topic(consultation_id=consultation_id)


@database_sync_to_async
def consultation_state(*, consultation_id: int, for_staff: bool) -> ConsultationState:
    return consultations.consultation_state(consultation_id=consultation_id, for_staff=for_staff)


def held_as_published(*, counselor_id: int | None, status: str, staff_id: int) -> bool:
    """Whether a published state frame says this counselor held the consultation when its
    change committed (the domain's rule, applied to the frame's values: no query)."""
    return consultations.consultation_is_held(
        counselor_id=counselor_id, status=status, staff_id=staff_id
    )


@database_sync_to_async
def consultation_held_by(*, staff_id: int, consultation_id: int) -> tuple[bool, int]:
    return consultations.consultation_held_by(staff_id=staff_id, consultation_id=consultation_id)


@database_sync_to_async
def consultation_sync_marks(*, consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
    return consultations.consultation_sync_marks(consultation_ids=consultation_ids)


# The delivery-marks poller's own thread (signaling/marks.py): not Channels' database thread, which
# every consumer's work queues on, so that neither waits for the other.
_marks_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loket-marks")


def _consultation_sync_marks(consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
    # Django's own cleanup, as consult/runtime.py does in its thread (channels' testing
    # communicator turns database_sync_to_async's off while it runs).
    with background_work():
        close_old_connections()
        try:
            return consultations.consultation_sync_marks(consultation_ids=consultation_ids)
        finally:
            close_old_connections()


async def consultation_sync_marks_polled(
    *, consultation_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """``consultation_sync_marks`` in the marks poller's own thread."""
    return await sync_to_async(
        _consultation_sync_marks, thread_sensitive=False, executor=_marks_thread
    )(consultation_ids)


@database_sync_to_async
def counselor_sync_marks(
    *, staff_id: int, followed_ids: list[int]
) -> tuple[str, dict[int, tuple[int, int, bool]]]:
    return consultations.counselor_sync_marks(staff_id=staff_id, followed_ids=followed_ids)


@database_sync_to_async
def notes_for_holder(*, staff_id: int, consultation_id: int) -> list[NoteFrame]:
    return knowledge.notes_for_holder(staff_id=staff_id, consultation_id=consultation_id)


@database_sync_to_async
def rtc_participant_check(*, consultation_id: int, role: str, staff: StaffProfile | None) -> None:
    consultations.rtc_participant_check(consultation_id=consultation_id, role=role, staff=staff)


# ---------------------------------------------------------------- the transcript


def _appended(stored: tuple[TranscriptEntry, bool]) -> tuple[Entry, bool]:
    """An appended entry as its frame (its consultation is loaded), and whether it is new."""
    entry, created = stored
    return Entry.of(entry, public_id=str(entry.consultation.public_id)), created


@database_sync_to_async
def transcript_append(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    text: str,
    client_msg_id: str,
) -> tuple[Entry, bool]:
    return _appended(
        transcript_services.transcript_append(
            consultation_id=consultation_id,
            author_role=author_role,
            author=author,
            text=text,
            client_msg_id=client_msg_id,
        )
    )


async def transcript_append_many(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[tuple[Entry, bool] | Exception]:
    """Store chat messages: on the event loop where it can (``chat_loop.append_many``, one
    statement on the loop's own connection), else in the database thread, which also says
    what became of each message that was not stored."""
    stored = await chat_loop.append_many(
        consultation_id=consultation_id,
        author_role=author_role,
        author=author,
        messages=messages,
    )
    if stored is not None:
        return [_appended((entry, True)) for entry in stored]
    return await _transcript_append_many_in_thread(
        consultation_id=consultation_id,
        author_role=author_role,
        author=author,
        messages=messages,
    )


@database_sync_to_async
def _transcript_append_many_in_thread(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[tuple[Entry, bool] | Exception]:
    return [
        result if isinstance(result, Exception) else _appended(result)
        for result in transcript_services.transcript_append_many(
            consultation_id=consultation_id,
            author_role=author_role,
            author=author,
            messages=messages,
        )
    ]


@database_sync_to_async
def transcript_read_mark(*, consultation_id: int, reader_role: str, seq: int) -> int:
    return transcript_services.transcript_read_mark(
        consultation_id=consultation_id, reader_role=reader_role, seq=seq
    )


@database_sync_to_async
def knowledge_insert(
    *,
    staff: StaffProfile,
    consultation_id: int,
    article_id: int,
    section: str | None,
    client_msg_id: str,
) -> tuple[Entry, bool]:
    return _appended(
        knowledge_services.knowledge_insert(
            staff=staff,
            consultation_id=consultation_id,
            article_id=article_id,
            section=section,
            client_msg_id=client_msg_id,
        )
    )


@database_sync_to_async
def note_add(*, staff: StaffProfile, consultation_id: int, text: str) -> None:
    notes.note_add(staff=staff, consultation_id=consultation_id, text=text)


# ---------------------------------------------------------------- consultations and offers


@database_sync_to_async
def counselor_status_set(*, staff: StaffProfile, status: str) -> None:
    presence.counselor_status_set(staff=staff, status=status)


@database_sync_to_async
def offer_accept(
    *, staff: StaffProfile, consultation_id: int | None = None, public_id: str | None = None
) -> None:
    offers.offer_accept(staff=staff, consultation_id=consultation_id, public_id=public_id)


@database_sync_to_async
def offer_decline(*, staff: StaffProfile, consultation_id: int) -> None:
    offers.offer_decline(staff=staff, consultation_id=consultation_id)


@database_sync_to_async
def consultation_end(
    *,
    consultation_id: int,
    ended_by: str,
    staff: StaffProfile | None = None,
    reason: str = "",
    outcome: str | None = "",
) -> None:
    consultation_services.consultation_end(
        consultation_id=consultation_id,
        ended_by=ended_by,
        staff=staff,
        reason=reason,
        outcome=outcome or "",
    )


@database_sync_to_async
def consultation_transfer(
    *,
    staff: StaffProfile,
    consultation_id: int,
    topic_code: str | None,
    counselor_id: int | None,
    note: str,
) -> None:
    consultation_services.consultation_transfer(
        staff=staff,
        consultation_id=consultation_id,
        topic_code=topic_code,
        counselor_id=counselor_id,
        note=note,
    )


# ---------------------------------------------------------------- calls


@database_sync_to_async
def call_start(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None, audio_only: bool
) -> None:
    calls.call_start(
        consultation_id=consultation_id, by_role=by_role, staff=staff, audio_only=audio_only
    )


@database_sync_to_async
def call_request(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None, audio_only: bool
) -> None:
    calls.call_request(
        consultation_id=consultation_id, by_role=by_role, staff=staff, audio_only=audio_only
    )


@database_sync_to_async
def call_accept(
    *, consultation_id: int, by_role: str, staff: StaffProfile | None, audio_only: bool
) -> None:
    calls.call_accept(
        consultation_id=consultation_id, by_role=by_role, staff=staff, audio_only=audio_only
    )


@database_sync_to_async
def call_decline(*, consultation_id: int, by_role: str, staff: StaffProfile | None) -> None:
    calls.call_decline(consultation_id=consultation_id, by_role=by_role, staff=staff)


@database_sync_to_async
def call_state_report(
    *,
    consultation_id: int,
    by_role: str,
    staff: StaffProfile | None,
    state: str,
    audio_only: bool | None,
) -> None:
    calls.call_state_report(
        consultation_id=consultation_id,
        by_role=by_role,
        staff=staff,
        state=state,
        audio_only=audio_only,
    )


@database_sync_to_async
def call_end(*, consultation_id: int, by_role: str, staff: StaffProfile | None) -> None:
    calls.call_end(consultation_id=consultation_id, by_role=by_role, staff=staff)
