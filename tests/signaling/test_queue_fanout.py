"""A queue change reaches every waiting applicant of a process through one placing message.

2,000 applicant sockets wait in one topic, on the in-memory channel layer (as ``make run``). When
the head leaves, the process's placing listener receives one message for the change and every
chat behind moves up by one; no applicant connection receives anything from the channel layer
for it (none reads the queue's order), and the videos, whose place among the videos did not
change, are told nothing. Then changes in a burst are published once per coalescing interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from consult.events import queue_fanout
from consult.events.groups import group_placing
from consult.models import Consultation, ConsultationStatus, Mode, Topic
from consult.services.tokens import applicant_token_issue, new_token_nonce
from signaling.consumers.applicant import ApplicantConsumer
from tests.support.applicants import join
from tests.support.sockets import Ws, applicant_ws, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)

WAITING = 2_000


@pytest.fixture
def in_memory_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def kept_connections() -> Iterator[None]:
    """The database connections of this test's threads kept between calls, as deployed (the
    suite closes them after each call): 2,000 sockets open in seconds rather than minutes."""
    alias = connections.settings[DEFAULT_DB_ALIAS]
    before = alias["CONN_MAX_AGE"]
    alias["CONN_MAX_AGE"] = 60
    try:
        yield
    finally:
        alias["CONN_MAX_AGE"] = before


def _fill(topic: Topic, count: int) -> list[dict[str, Any]]:
    """``count`` waiting in ``topic``, oldest first, every tenth a video (bulk: no join flow);
    each as a join answer (its token), in queue order."""
    start = timezone.now() - timedelta(seconds=count + 60)
    rows = Consultation.objects.bulk_create(
        [
            Consultation(
                topic=topic,
                applicant_name=f"Pemohon {i}",
                mode=Mode.VIDEO if i % 10 == 9 else Mode.CHAT,
                status=ConsultationStatus.WAITING,
                queued_at=start + timedelta(seconds=i),
                token_nonce=new_token_nonce(),
            )
            for i in range(count)
        ],
        batch_size=1_000,
    )
    return [
        {
            "consultation_id": str(row.public_id),
            "token": applicant_token_issue(consultation=row),
            "mode": row.mode,
        }
        for row in rows
    ]


async def _applicant(joined: dict[str, Any]) -> tuple[Ws, dict[str, Any]]:
    """An authenticated applicant socket and its first position (patient: many open at once)."""
    ws = Ws("/ws/applicant/")
    connected, _ = await ws.comm.connect(timeout=30)
    assert connected
    await ws.send(type="auth", token=joined["token"], last_seq=0)
    assert (await ws.recv(timeout=30))["type"] == "ready"
    return ws, await ws.recv_until("queue.position", timeout=30)


async def _open(joined: list[dict[str, Any]]) -> list[tuple[Ws, dict[str, Any]]]:
    """An authenticated socket per join answer (a few at a time) and its first position."""
    opened: list[tuple[Ws, dict[str, Any]]] = []
    for start in range(0, len(joined), 25):
        opened.extend(await asyncio.gather(*(_applicant(j) for j in joined[start : start + 25])))
    return opened


def _expected(joined: list[dict[str, Any]]) -> dict[str, int]:
    """Each one's place among those of its mode, in queue order."""
    seen = {Mode.CHAT: 0, Mode.VIDEO: 0}
    places = {}
    for j in joined:
        seen[j["mode"]] += 1
        places[j["consultation_id"]] = seen[j["mode"]]
    return places


async def test_the_head_leaving_moves_2000_applicants_with_one_placing_message(
    in_memory_layer: None, kept_connections: None
) -> None:
    topic = await sync_to_async(make_topic)()
    joined = await sync_to_async(_fill)(topic, WAITING)
    opened = await _open(joined)
    places = _expected(joined)
    for j, (_, position) in zip(joined, opened, strict=True):
        assert position["position"] == places[j["consultation_id"]]
    listener = queue_fanout.placing_listener()
    assert list(listener.members) == [topic.pk]
    assert len(listener.members[topic.pk]) == WAITING
    applied_before = listener.applied

    with mock.patch.object(
        ApplicantConsumer, "loket_frame", autospec=True, side_effect=ApplicantConsumer.loket_frame
    ) as layer_frames:
        head, _ = opened[0]
        await head.send(id="bye", type="leave")
        await head.recv_until("ack")
        rest = list(zip(joined[1:], opened[1:], strict=True))
        started = time.monotonic()
        moved = await asyncio.gather(
            *(
                ws.recv_until("queue.position", timeout=20)
                for j, (ws, _) in rest
                if j["mode"] == Mode.CHAT
            )
        )
        fan_out = time.monotonic() - started
        after = _expected(joined[1:])
        chats = [j for j, _ in rest if j["mode"] == Mode.CHAT]
        assert [m["consultation_id"] for m in moved] == [j["consultation_id"] for j in chats]
        assert [m["position"] for m in moved] == [after[j["consultation_id"]] for j in chats]
        # The videos' places among the videos did not change: nothing is sent to them.
        videos = [ws for j, (ws, _) in rest if j["mode"] == Mode.VIDEO]
        assert all(await asyncio.gather(*(ws.nothing(0.2) for ws in videos[:20])))
        # One placing message for the whole process; no applicant connection was sent a
        # channel-layer message for the change (only its own state frame, to the one who left).
        assert listener.applied == applied_before + 1
        head_id = await sync_to_async(_internal_id)(joined[0]["consultation_id"])
        assert {call.args[0].consultation_id for call in layer_frames.call_args_list} <= {head_id}
    print(f"fan-out to {len(moved)} moved chats: {fan_out:.2f} s")
    for ws, _ in opened:
        await ws.close()
    # Every connection gone: the listener places no one any more.
    assert listener.members == {}


def _internal_id(public_id: str) -> int:
    return int(Consultation.objects.get(public_id=public_id).pk)


async def test_a_burst_of_joins_is_published_once_per_interval(
    in_memory_layer: None, settings: Any
) -> None:
    interval = 1.0
    settings.LOKET = {**settings.LOKET, "QUEUE_COALESCE": interval}
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic])
    counselor = await staff_ws(sari)
    assert (await counselor.recv_until("queue.snapshot"))["waiting_count"] == 0
    first = await sync_to_async(join)(name="Ani")
    assert (await counselor.recv_until("queue.snapshot"))["waiting_count"] == 1
    waiting = await applicant_ws(first)
    assert (await waiting.recv_until("queue.position"))["position"] == 1
    # Well after that publish: the next change is the first of a quiet topic, out at once.
    await counselor.nothing(interval)
    started = time.monotonic()
    for name in ("Budi", "Citra", "Dedi", "Eka"):
        await sync_to_async(join)(name=name)
    joined_in = time.monotonic() - started
    assert joined_in < interval  # else the burst spans two intervals and this proves nothing
    at_once = await counselor.recv_until("queue.snapshot")
    assert at_once["waiting_count"] in (2, 3)
    together = await counselor.recv_until("queue.snapshot", timeout=interval * 3)
    # The rest of the burst in one read, one interval after the first.
    assert together["waiting_count"] == 5
    assert time.monotonic() - started >= interval * 0.9
    assert together["as_of"] > at_once["as_of"]
    assert await counselor.nothing(0.5)
    # The applicant at the head stayed first throughout: nothing to tell it.
    assert await waiting.nothing(0.1)
    await waiting.close()
    await counselor.close()


async def test_two_tabs_of_one_consultation_are_both_placed_and_the_listener_leaves_its_group(
    in_memory_layer: None,
) -> None:
    topic = await sync_to_async(make_topic)()
    ani = await sync_to_async(join)(name="Ani")
    budi = await sync_to_async(join)(name="Budi")
    head = await applicant_ws(ani)
    tabs = [await applicant_ws(budi), await applicant_ws(budi)]
    for tab in tabs:
        assert (await tab.recv_until("queue.position"))["position"] == 2
    await head.send(id="bye", type="leave")
    await head.recv_until("ack")
    # Both tabs of the one consultation on this process move up, not only the last opened.
    for tab in tabs:
        assert (await tab.recv_until("queue.position", timeout=5))["position"] == 1
    await head.close()
    for tab in tabs:
        await tab.close()
    listener = queue_fanout.placing_listener()
    assert listener.members == {}
    # The stopped listener's channel left the topic's placing group: later placings of the
    # topic are not sent to an inbox nobody reads.
    channel_layer = get_channel_layer()
    assert channel_layer is not None
    group = group_placing(topic.pk)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while channel_layer.groups.get(group):
        assert loop.time() < deadline, "the listener's channel is still in the placing group"
        await asyncio.sleep(0.05)
