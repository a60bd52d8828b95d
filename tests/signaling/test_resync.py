"""Frames other than entries that the channel layer dropped are recovered from the database.

A connection that fell behind (its process stopped until its channel overflowed) loses whatever
was published meanwhile; here the drop is made at the publishing end, as in test_resume.py.
"""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from consult.events import publish as events
from consult.events.layer import OncePerPeriod
from tests.support.applicants import join
from tests.support.sockets import accepted, available_ws, counselor_and_applicant, drain, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


def _dropping(kind: str) -> Any:
    """``events._send_now`` that loses every frame of type ``kind`` (the layer dropped them)."""
    real_send = events._send_now

    def send(group: str, frame: dict[str, Any], *args: Any) -> None:
        if frame.get("type") != kind:
            real_send(group, frame, *args)

    return mock.patch.object(events, "_send_now", send)


async def test_a_dropped_end_of_consultation_reaches_both_sides_with_the_next_ping() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    active = await _state_version(counselor, applicant)

    # A second tab of the counselor ends it; the state change is lost on its way.
    other_tab = await staff_ws(staff)
    await drain(other_tab)
    with _dropping("consultation.state"):
        await other_tab.send(id="end", type="consultation.end", consultation_id=cid, reason="ok")
        await other_tab.recv_until("ack", id="end")
    # The queue snapshot of the freed place is sent by the process's sender, possibly after the
    # ack: once it is here, the pings below have only the dropped state to recover.
    await counselor.recv_until("queue.snapshot")
    for ws in (counselor, applicant):
        await ws.send(id="p", type="ping")
        ended = await ws.recv_until("consultation.state", consultation_id=cid)
        assert ended["status"] == "ended"
        assert ended["version"] > active
        await ws.recv_until("pong", id="p")
        # Sent once: the next ping finds nothing new.
        await ws.send(id="p2", type="ping")
        frames = await drain(ws)
        assert [f["type"] for f in frames] == ["pong"], frames
    for ws in (applicant, counselor, other_tab):
        await ws.close()


async def _state_version(counselor: Any, applicant: Any) -> int:
    """The version both sides hold once everything published so far has arrived."""
    await drain(counselor)
    await drain(applicant)
    return int(await sync_to_async(_latest_version)())


def _latest_version() -> int:
    from consult.models import Consultation

    return int(Consultation.objects.values_list("version", flat=True).get())


async def test_a_dropped_offer_reaches_the_counselor_with_the_next_ping() -> None:
    topic = await sync_to_async(make_topic)()
    staff = await sync_to_async(make_staff)("sari", topics=[topic])
    counselor = await available_ws(staff, "avail")
    await drain(counselor)
    with _dropping("consultation.state"):
        joined = await sync_to_async(join)()
    cid = joined["consultation_id"]
    assert all(f["type"] != "consultation.state" for f in await drain(counselor))
    await counselor.send(id="p", type="ping")
    offer = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert offer["status"] == "offered"
    # Followed from now on: its entries follow from seq 1, and it can be accepted.
    joined_entry = await counselor.recv_until("entry", consultation_id=cid)
    assert joined_entry["seq"] == 1
    await counselor.recv_until("pong", id="p")
    await counselor.send(id="acc", type="offer.accept", consultation_id=cid)
    await counselor.recv_until("ack", id="acc")
    await counselor.close()


async def test_a_dropped_status_change_reaches_the_counselor_with_the_next_ping() -> None:
    topic = await sync_to_async(make_topic)()
    staff = await sync_to_async(make_staff)("sari", topics=[topic])
    counselor = await staff_ws(staff)
    other_tab = await staff_ws(staff)
    await drain(counselor)
    with _dropping("counselor.status"):
        await other_tab.send(id="s", type="status.set", status="available")
        await other_tab.recv_until("ack", id="s")
    await drain(counselor)
    await counselor.send(id="p", type="ping")
    status = await counselor.recv_until("counselor.status")
    assert status["status"] == "available"
    await counselor.close()
    await other_tab.close()


async def test_channel_overflow_is_logged_once_not_per_send(
    settings: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """channels_redis logs each group send into a full channel; Loket lets one line through."""
    from tests.support.needs import redis_url

    redis_url()
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "capacity": 2},
        }
    }
    caplog.set_level(logging.INFO, logger="channels_redis.core")
    for log_filter in logging.getLogger("channels_redis.core").filters:
        if isinstance(log_filter, OncePerPeriod):
            # A fresh period: an earlier test may have used up this minute's one line.
            monkeypatch.setattr(log_filter, "_next", 0.0)
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add("overflow-test", channel)
    for n in range(30):
        await layer.group_send("overflow-test", {"type": "loket.frame", "n": n})
    lines = [r for r in caplog.records if "over capacity" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    await layer.group_discard("overflow-test", channel)
