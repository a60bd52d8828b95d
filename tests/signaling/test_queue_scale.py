"""A queue of 10,000 on the staff socket: the console and the board open with bounded frames.

Daphne refuses a WebSocket message over 1 MiB, and the frame listing all 10,000 waiting was far
over it (the counselor's socket died on open). The ``queue.snapshot`` lists the first
``LOKET_QUEUE_SNAPSHOT_ITEMS`` and counts the rest; an applicant still gets their own place.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from consult.models import Consultation, ConsultationStatus, Mode, StaffRole, Topic
from tests.support.applicants import join
from tests.support.sockets import Ws, applicant_ws, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)

WAITING = 10_000
# Far under Daphne's 1 MiB: what the first LOKET_QUEUE_SNAPSHOT_ITEMS and the counts take.
BOUND = 64 * 1024


def _fill(topic: Topic, count: int) -> None:
    """``count`` waiting in ``topic``, every tenth a video, oldest first (bulk: no join flow)."""
    start = timezone.now() - timedelta(seconds=count + 60)
    Consultation.objects.bulk_create(
        [
            Consultation(
                topic=topic,
                applicant_name=f"Pemohon {i}",
                mode=Mode.VIDEO if i % 10 == 9 else Mode.CHAT,
                status=ConsultationStatus.WAITING,
                queued_at=start + timedelta(seconds=i),
            )
            for i in range(count)
        ],
        batch_size=2_000,
    )


async def _raw_until(ws: Ws, kind: str, timeout: float = 10) -> tuple[str, dict[str, Any]]:
    """The text of the next frame of type ``kind`` as the server sent it, and its values."""
    for _ in range(50):
        text = await ws.comm.receive_from(timeout=timeout)
        frame = json.loads(text)
        if frame["type"] == kind:
            return text, frame
    raise AssertionError(f"no {kind} frame")


def _assert_bounded(text: str, frame: dict[str, Any], *, topic: str) -> None:
    listed = settings.LOKET["QUEUE_SNAPSHOT_ITEMS"]
    assert len(text.encode()) < BOUND
    assert frame["topic"] == topic
    assert frame["waiting_count"] == WAITING
    assert (frame["waiting_chats"], frame["waiting_videos"]) == (WAITING * 9 // 10, WAITING // 10)
    assert [w["position"] for w in frame["waiting"]] == list(range(1, listed + 1))
    assert frame["oldest_waiting_since"] == frame["waiting"][0]["waiting_since"]
    assert "order" not in frame and "modes" not in frame


async def test_a_console_and_a_board_open_on_10000_waiting_with_bounded_frames() -> None:
    building = await sync_to_async(make_topic)("building-approval")
    health = await sync_to_async(make_topic)("health-permit")
    sari = await sync_to_async(make_staff)("sari", topics=[building, health])
    dewi = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    await sync_to_async(_fill)(building, WAITING)

    counselor = await staff_ws(sari)
    text, snapshot = await _raw_until(counselor, "queue.snapshot")
    _assert_bounded(text, snapshot, topic="building-approval")
    _, other = await _raw_until(counselor, "queue.snapshot")
    assert (other["topic"], other["waiting"], other["waiting_count"]) == ("health-permit", [], 0)
    assert other["oldest_waiting_since"] is None

    supervisor = await staff_ws(dewi)
    text, board = await _raw_until(supervisor, "board")
    assert len(text.encode()) < 2 * BOUND
    queues = {q["topic"]: q for q in board["queues"]}
    _assert_bounded(
        json.dumps(queues["building-approval"]),
        queues["building-approval"],
        topic="building-approval",
    )
    assert queues["health-permit"]["waiting_count"] == 0

    # One more joins (a chat) at the back: each staff socket gets a bounded live snapshot, and
    # the applicant their own place among the chats, far beyond what the frame lists.
    joined = await sync_to_async(join)(topic="building-approval", name="Citra")
    text, live = await _raw_until(counselor, "queue.snapshot")
    assert len(text.encode()) < BOUND
    assert (live["waiting_count"], live["waiting_chats"]) == (WAITING + 1, WAITING * 9 // 10 + 1)
    assert joined["consultation_id"] not in text
    _, live = await _raw_until(supervisor, "queue.snapshot")
    assert live["waiting_count"] == WAITING + 1
    applicant = await applicant_ws(joined)
    position = await applicant.recv_until("queue.position", timeout=10)
    assert position["consultation_id"] == joined["consultation_id"]
    assert position["position"] == WAITING * 9 // 10 + 1
    for ws in (applicant, supervisor, counselor):
        await ws.close()
