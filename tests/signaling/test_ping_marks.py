"""Pings answered from the process's delivery marks (signaling/marks.py): no database call when
nothing is missing, and a frame the channel layer dropped for the whole process is found by the
next poll and sent, once, before the next pong."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from consult.events import publish as events
from consult.models import Consultation, StaffProfile
from consult.services.transcript import transcript_append
from signaling import bridge
from signaling.marks import POLL_CHUNK, Board, board
from tests.support.sockets import Ws, accepted, counselor_and_applicant, drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_polls(settings: Any) -> None:
    """Polls a minute apart: within a test only ``board.polled()`` polls (after the first)."""
    settings.LOKET = {**settings.LOKET, "MARKS_POLL": 60.0}


@contextlib.asynccontextmanager
async def database_thread_queries() -> AsyncIterator[list[str]]:
    """Every statement run on the database thread the consumers' bridge calls use (the test's
    own sync_to_async runs there too) while the block runs."""
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    stack = contextlib.ExitStack()
    await sync_to_async(lambda: stack.enter_context(connection.execute_wrapper(count)))()
    try:
        yield statements
    finally:
        await sync_to_async(stack.close)()


async def _pong(ws: Ws, request_id: str) -> list[dict[str, Any]]:
    """Ping, and every frame up to and with its pong."""
    await ws.send(id=request_id, type="ping")
    frames = []
    while True:
        frame = await ws.recv()
        frames.append(frame)
        if frame["type"] == "pong" and frame["id"] == request_id:
            return frames


def _dropping_entries() -> Any:
    """The layer loses every entry frame published meanwhile (for every consumer)."""
    real_send = events._send_now

    def send(group: str, frame: dict[str, Any], *args: Any) -> None:
        if frame.get("type") != "entry":
            real_send(group, frame, *args)

    return mock.patch.object(events, "_send_now", send)


@sync_to_async
def _append_from_a_service(public_id: str, staff: StaffProfile, text: str) -> int:
    """A message stored by a service outside every consumer (as another process would)."""
    consultation_id = Consultation.objects.values_list("pk", flat=True).get(public_id=public_id)
    entry, _ = transcript_append(
        consultation_id=consultation_id,
        author_role="counselor",
        author=staff,
        text=text,
        client_msg_id=text,
    )
    return int(entry.seq)


async def test_a_ping_with_nothing_missing_is_answered_without_the_database(
    slow_polls: None,
) -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await counselor.send(id="m", type="chat.send", consultation_id=cid, client_msg_id="m", text="x")
    await counselor.recv_until("ack", id="m")
    await applicant.recv_until("entry", client_msg_id="m")
    await drain(applicant)
    await drain(counselor)

    async with database_thread_queries() as statements:
        frames = await _pong(applicant, "p1")
    assert [f["type"] for f in frames] == ["pong"]
    assert statements == []
    # The count is real: a counselor's ping still reads (offers and status are not marks).
    async with database_thread_queries() as statements:
        await _pong(counselor, "p2")
    assert statements != []
    await applicant.close()
    await counselor.close()


async def test_an_entry_the_layer_dropped_arrives_after_the_next_poll_and_ping_once(
    slow_polls: None,
) -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await drain(applicant)
    with _dropping_entries():
        seq = await _append_from_a_service(cid, staff, "hilang")
    assert await applicant.nothing()

    # No connection of this process saw it: until a poll reads it, a pong vouches only for what
    # was committed before the last read.
    async with database_thread_queries() as statements:
        assert [f["type"] for f in await _pong(applicant, "before")] == ["pong"]
    assert statements == []

    await board.polled()
    async with database_thread_queries() as statements:
        frames = await _pong(applicant, "after")
    assert [(f["type"], f.get("seq")) for f in frames] == [("entry", seq), ("pong", None)]
    assert frames[0]["text"] == "hilang"
    assert statements != []
    # Sent once: the next ping has nothing to send, and reads nothing.
    async with database_thread_queries() as statements:
        assert [f["type"] for f in await _pong(applicant, "again")] == ["pong"]
    assert statements == []
    # The live path goes on from there, without a gap or a repeat.
    await counselor.send(id="n", type="chat.send", consultation_id=cid, client_msg_id="n", text="y")
    live = await applicant.recv_until("entry", client_msg_id="n")
    assert live["seq"] == seq + 1
    assert await applicant.nothing()
    await applicant.close()
    await counselor.close()


async def test_a_ping_on_a_finished_consultation_reads_the_database(slow_polls: None) -> None:
    """The page's last ping after the end waits for every entry (static/js/applicant.js)."""
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await counselor.send(id="end", type="consultation.end", consultation_id=cid, reason="ok")
    await counselor.recv_until("ack", id="end")
    await applicant.recv_until("consultation.state", status="ended")
    await drain(applicant)
    async with database_thread_queries() as statements:
        await _pong(applicant, "final")
    assert statements != []
    await applicant.close()
    await counselor.close()


class _Follower:
    def __init__(self, ids: range) -> None:
        self.followed = dict.fromkeys(ids)


async def test_the_poller_reads_in_chunks_in_a_thread_of_its_own(monkeypatch: Any) -> None:
    calls: list[tuple[int, str]] = []
    real = bridge.consultations.consultation_sync_marks

    def recording(*, consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
        calls.append((len(consultation_ids), threading.current_thread().name))
        return real(consultation_ids=consultation_ids)

    monkeypatch.setattr(bridge.consultations, "consultation_sync_marks", recording)
    own = Board()
    follower = _Follower(range(1, 2 * POLL_CHUNK + 201))
    own.watch(follower)
    await own.polled()
    assert [size for size, _ in calls] == [POLL_CHUNK, POLL_CHUNK, 200]
    database_thread = await sync_to_async(lambda: threading.current_thread().name)()
    names = {name for _, name in calls}
    assert len(names) == 1 and names.pop().startswith("loket-marks")
    assert database_thread != "loket-marks_0"
    own.unwatch(follower)


async def test_marks_vouch_only_while_their_last_read_is_recent(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "MARKS_POLL": 1.0}
    own = Board()
    own.read({7: (3, 10)}, began=time.monotonic())
    assert own.covers(7, version=3, seq=10)
    assert not own.covers(7, version=3, seq=9)
    assert not own.covers(7, version=2, seq=10)
    own.saw(7, seq=11)
    assert not own.covers(7, version=3, seq=10)
    assert own.covers(7, version=3, seq=11)
    # Never read (frames only), or read longer ago than three polls: the ping reads.
    own.saw(8, version=1, seq=1)
    assert not own.covers(8, version=1, seq=1)
    own.read({9: (1, 1)}, began=time.monotonic() - 3.5)
    assert not own.covers(9, version=1, seq=1)
