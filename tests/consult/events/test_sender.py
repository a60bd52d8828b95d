"""The process's sender: what a committing thread publishes is sent from the serving loop, in the
order it was handed over, never waited for by that thread; in place where no loop runs."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django import db

from consult.events import groups, sender
from consult.events import loop as events_loop
from consult.models import Consultation
from signaling import bridge
from tests.support.applicants import say, waiting_consultation
from tests.support.sockets import accepted, counselor_and_applicant, drain
from tests.support.staff import make_topic


@pytest.fixture
def group_sends() -> Iterator[list[tuple[str, int, asyncio.AbstractEventLoop | None]]]:
    """Every group send the channel layer makes: (group, thread, running loop), real sends.
    (With Loket's Redis layer the sender delivers to this process's members itself and sends
    the rest with ``push_remote``, which is what is recorded then.)"""
    layer = get_channel_layer()
    name = "push_remote" if hasattr(layer, "push_remote") else "group_send"
    real = getattr(layer, name)
    made: list[tuple[str, int, asyncio.AbstractEventLoop | None]] = []

    async def recording(group: str, message: dict[str, Any]) -> None:
        made.append((group, threading.get_ident(), asyncio.get_running_loop()))
        await real(group, message)

    with mock.patch.object(layer, name, recording):
        yield made


@pytest.mark.django_db(transaction=True)
async def test_entries_appended_in_a_thread_reach_the_other_side_in_order_from_the_loop(
    group_sends: list[tuple[str, int, asyncio.AbstractEventLoop | None]],
) -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    internal = await sync_to_async(
        lambda: Consultation.objects.values_list("pk", flat=True).get(public_id=cid)
    )()
    await drain(counselor)
    serving = asyncio.get_running_loop()
    assert events_loop.serving_loop() is serving
    group = groups.group_consultation(internal)
    before = len(group_sends)

    count = 40
    stored: list[int] = []

    def write() -> None:
        # A plain thread of its own (not the database thread the consumers use), as the
        # runtime's sweeper or an HTTP view would be.
        try:
            for index in range(count):
                entry, created = say(internal, f"thread-{index}", f"pesan {index}")
                assert created
                stored.append(entry.seq)
        finally:
            db.connections.close_all()

    with mock.patch.object(bridge, "entries_after", wraps=bridge.entries_after) as replays:
        await asyncio.to_thread(write)
        got = []
        while len(got) < count:
            frame = await counselor.recv_until("entry", consultation_id=cid)
            got.append(frame)
        # Live, in seq order: the counselor's connection never had a gap to read back.
        assert replays.call_count == 0
    assert [f["seq"] for f in got] == stored == sorted(stored)
    assert [f["text"] for f in got] == [f"pesan {i}" for i in range(count)]
    assert await counselor.nothing()
    # Every one of them was sent from the serving loop, not from the writing thread.
    sends = [s for s in group_sends[before:] if s[0] == group]
    assert len(sends) == count
    assert {(thread, loop) for _, thread, loop in sends} == {(threading.get_ident(), serving)}
    for ws in (applicant, counselor):
        await ws.close()


@pytest.mark.django_db
def test_without_a_serving_loop_the_frame_is_sent_in_place(
    django_capture_on_commit_callbacks: Any,
    group_sends: list[tuple[str, int, asyncio.AbstractEventLoop | None]],
) -> None:
    assert events_loop.serving_loop() is None
    make_topic()
    consultation = waiting_consultation()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    group = groups.group_consultation(consultation.pk)
    async_to_sync(layer.group_add)(group, channel)
    with django_capture_on_commit_callbacks(execute=True):
        entry, _ = say(consultation, "in-place", "tanpa loop")
    # Sent by the time the commit callback returned: nothing was left queued for a loop.
    assert [s[0] for s in group_sends] == [group]
    assert sender.pending() == 0

    async def received() -> dict[str, Any]:
        return dict(await asyncio.wait_for(layer.receive(channel), 3))

    message = async_to_sync(received)()
    assert message["frame"]["seq"] == entry.seq
    assert message["frame"]["text"] == "tanpa loop"
    async_to_sync(layer.group_discard)(group, channel)


class HeldLayer:
    """A channel layer whose group sends wait until ``release`` (Redis that holds writes)."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.started = asyncio.Event()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.started.set()
        await self.released.wait()
        self.sent.append((group, message))


@pytest.fixture
def held() -> Iterator[HeldLayer]:
    layer = HeldLayer()
    with mock.patch.object(sender, "get_channel_layer", return_value=layer):
        yield layer


async def test_a_held_layer_never_holds_the_thread_and_the_queue_is_bounded(
    held: HeldLayer, caplog: pytest.LogCaptureFixture
) -> None:
    events_loop.bind()

    def hand_over(count: int) -> None:
        for index in range(count):
            sender.send(f"group-{index}", {"n": index})

    # One send in flight (held), then the queue holds up to its limit; the rest are dropped
    # with a warning. The handing thread returns at once every time.
    with mock.patch.object(sender, "QUEUE_LIMIT", 3), caplog.at_level(logging.WARNING):
        await asyncio.to_thread(hand_over, 1)
        await held.started.wait()
        # The thread's hand-overs are callbacks on this loop, run before it hears that the
        # thread is done.
        await asyncio.to_thread(hand_over, 6)
    assert sender.pending() == 3
    # Said once (not once per dropped send).
    warnings = [r.getMessage() for r in caplog.records if r.name == "consult.events.sender"]
    assert len(warnings) == 1, warnings
    assert "3 sends behind" in warnings[0]
    held.released.set()
    assert await sender.flush(seconds=5)
    # In the order handed over: the first, then the first three of the second batch.
    assert [m["n"] for _, m in held.sent] == [0, 0, 1, 2]
    assert sender.pending() == 0


async def test_flush_gives_up_after_its_time_and_says_what_is_left(
    held: HeldLayer, caplog: pytest.LogCaptureFixture
) -> None:
    events_loop.bind()
    for index in range(3):
        sender.send("group", {"n": index})
    await held.started.wait()
    with caplog.at_level(logging.WARNING):
        assert not await sender.flush(seconds=0.05)
    assert "2 channel layer send(s) left unsent" in caplog.text
    held.released.set()
    assert await sender.flush(seconds=5)
    assert [m["n"] for _, m in held.sent] == [0, 1, 2]
