"""Waiting applicants are told their place and the estimated wait whenever either changes."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.support.applicants import join
from tests.support.sockets import Ws, accepted, applicant_ws, drain, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


async def _waiting(name: str) -> tuple[Ws, dict[str, Any], dict[str, Any]]:
    joined = await sync_to_async(join)(name=name)
    ws = await applicant_ws(joined)
    position = await ws.recv_until("queue.position")
    return ws, joined, position


async def test_when_the_one_ahead_leaves_everyone_behind_moves_up() -> None:
    await sync_to_async(make_topic)()
    first, _, p1 = await _waiting("Ani")
    second, _, p2 = await _waiting("Budi")
    third, joined3, p3 = await _waiting("Citra")
    assert [p["position"] for p in (p1, p2, p3)] == [1, 2, 3]
    # Someone joining behind changes nothing for those ahead.
    assert await first.nothing() and await second.nothing()

    await first.send(id="bye", type="leave")
    await first.recv_until("ack")
    moved = await second.recv_until("queue.position")
    assert (moved["position"], moved["estimated_wait_seconds"]) == (1, None)
    moved3 = await third.recv_until("queue.position")
    assert moved3 == {
        "type": "queue.position",
        "consultation_id": joined3["consultation_id"],
        "position": 2,
        "estimated_wait_seconds": None,
        "as_of": moved3["as_of"],
    }
    # Read after the one third was first told (the read of its own auth).
    assert moved3["as_of"] > p3["as_of"]
    assert await second.nothing() and await third.nothing()  # each change is pushed once
    for ws in (first, second, third):
        await ws.close()


async def test_a_counselor_becoming_available_changes_the_estimate() -> None:
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=1)
    joined = await sync_to_async(join)()
    applicant, counselor = await accepted(sari, joined)  # Sari is now full
    waiting, _, position = await _waiting("Budi")
    # One slot staffed, none free, no history: one default handling time (300 s).
    assert (position["position"], position["estimated_wait_seconds"]) == (1, 300)
    await drain(counselor)

    await counselor.send(id="away", type="status.set", status="away")
    update = await waiting.recv_until("queue.position")
    assert (update["position"], update["estimated_wait_seconds"]) == (1, None)

    await counselor.send(id="back", type="status.set", status="available")
    update = await waiting.recv_until("queue.position")
    assert (update["position"], update["estimated_wait_seconds"]) == (1, 300)
    assert await waiting.nothing()
    for ws in (applicant, counselor, waiting):
        await ws.close()


async def test_a_free_counselor_arriving_takes_the_first_and_moves_the_second_up() -> None:
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=1)
    first, joined1, _ = await _waiting("Ani")
    second, _, p2 = await _waiting("Budi")
    assert (p2["position"], p2["estimated_wait_seconds"]) == (2, None)

    counselor = await staff_ws(sari)
    await counselor.send(id="s", type="status.set", status="available")
    offered = await first.recv_until("consultation.state")
    assert offered["status"] == "offered"
    # (Between the status change and the offer, position 2 may be pushed with a new estimate.)
    update = await second.recv_until("queue.position", position=1)
    assert update["estimated_wait_seconds"] == 300
    await counselor.recv_until(
        "consultation.state", consultation_id=joined1["consultation_id"], status="offered"
    )
    for ws in (first, second, counselor):
        await ws.close()


async def test_staff_see_the_queue_without_personal_data() -> None:
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic])
    counselor = await staff_ws(sari)
    empty = await counselor.recv()
    assert (empty["type"], empty["waiting"]) == ("queue.snapshot", [])
    waiting, joined, _ = await _waiting("Ani Rahasia")
    snapshot = await counselor.recv_until("queue.snapshot")
    assert [w["consultation_id"] for w in snapshot["waiting"]] == [joined["consultation_id"]]
    assert "order" not in snapshot
    assert "Ani Rahasia" not in str(snapshot) and "081234567890" not in str(snapshot)
    await waiting.close()
    await counselor.close()
