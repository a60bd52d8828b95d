"""Waiting applicants and counselors see fresh queues whenever a counselor's capacity changes.

Through the real ASGI application: an applicant's ``queue.position`` and a counselor's
``queue.snapshot`` ("X of Y chat places free") after an end, a transfer, a call starting and
ending; chats passing a video nobody could take; accepting an offer that lapsed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from consult.models import Consultation
from consult.services import offers
from tests.support.applicants import join
from tests.support.sockets import Ws, accepted, applicant_ws, available_ws, drain, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)

A, B, C = "building-approval", "business-registration", "health-permit"


async def _waiting(topic: str, **fields: Any) -> tuple[Ws, dict[str, Any], dict[str, Any]]:
    joined = await sync_to_async(join)(topic=topic, **fields)
    ws = await applicant_ws(joined)
    position = await ws.recv_until("queue.position")
    return ws, joined, position


async def _take_offer(counselor: Ws, joined: dict[str, Any]) -> None:
    """The counselor accepts the offer of ``joined`` (already on its way to them)."""
    cid = joined["consultation_id"]
    await counselor.recv_until("consultation.state", consultation_id=cid, status="offered")
    await counselor.send(id="take", type="offer.accept", consultation_id=cid)
    await counselor.recv_until("ack", id="take")
    await counselor.recv_until("consultation.state", consultation_id=cid, status="active")


async def test_ending_a_chat_refreshes_the_waiting_video_and_the_free_places_of_every_topic() -> (
    None
):
    topic_a, topic_b = await sync_to_async(make_topic)(A), await sync_to_async(make_topic)(B)
    sari = await sync_to_async(make_staff)("sari", topics=[topic_a, topic_b], capacity=2)
    first = await sync_to_async(join)(topic=A)
    applicant, counselor = await accepted(sari, first)
    second = await sync_to_async(join)(topic=A, name="Budi")
    await _take_offer(counselor, second)
    video, _, before = await _waiting(A, name="Citra", mode="video")
    # Sari is full: the video waits at least one default handling time (300 s).
    assert before["position"] == 1 and before["estimated_wait_seconds"] >= 300
    await drain(counselor)

    await counselor.send(
        id="end", type="consultation.end", consultation_id=first["consultation_id"]
    )
    await counselor.recv_until("ack", id="end")
    # The topic's handling time is now that quick chat's, and Sari frees fully once her other
    # chat ends: the video's estimate drops.
    after = await video.recv_until("queue.position")
    assert after["position"] == 1
    assert after["estimated_wait_seconds"] < before["estimated_wait_seconds"] - 100
    # One chat place of two is free again, in both of Sari's topics.
    for code in (A, B):
        snapshot = await counselor.recv_until("queue.snapshot", topic=code)
        assert (snapshot["free_slots"], snapshot["staffed_slots"]) == (1, 2)
    for ws in (applicant, counselor, video):
        await ws.close()


async def test_a_transfer_refreshes_the_new_topic_and_every_topic_of_the_counselor() -> None:
    topic_a, topic_b, topic_c = [await sync_to_async(make_topic)(code) for code in (A, B, C)]
    sari = await sync_to_async(make_staff)("sari", topics=[topic_a, topic_c], capacity=2)
    budi = await sync_to_async(make_staff)("budi", topics=[topic_b], capacity=1)
    other = await sync_to_async(join)(topic=B, name="Dewi")
    other_applicant, budi_ws = await accepted(budi, other)  # Budi is full
    waiting_b, _, before = await _waiting(B, name="Eka")
    assert (before["position"], before["estimated_wait_seconds"]) == (1, 300)
    moving = await sync_to_async(join)(topic=A)
    applicant, sari_ws = await accepted(sari, moving)
    await drain(sari_ws)
    await drain(budi_ws)

    await sari_ws.send(
        id="t",
        type="consultation.transfer",
        consultation_id=moving["consultation_id"],
        topic=B,
        note="",
    )
    await sari_ws.recv_until("ack", id="t")
    # The new topic: the transferred chat goes first, the one waiting there moves back.
    after = await waiting_b.recv_until("queue.position")
    assert (after["position"], after["estimated_wait_seconds"]) == (2, 600)
    snapshot_b = await budi_ws.recv_until("queue.snapshot", topic=B)
    assert snapshot_b["waiting"][0]["consultation_id"] == moving["consultation_id"]
    # Sari's topics, the old one and the one the transfer did not touch: both places free.
    for code in (A, C):
        snapshot = await sari_ws.recv_until("queue.snapshot", topic=code)
        assert (snapshot["free_slots"], snapshot["staffed_slots"]) == (2, 2)
    for ws in (other_applicant, budi_ws, waiting_b, applicant, sari_ws):
        await ws.close()


async def test_a_call_takes_every_free_place_until_it_ends() -> None:
    topic = await sync_to_async(make_topic)(A)
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=2)
    joined = await sync_to_async(join)()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    await drain(counselor)

    async def call(kind: str) -> None:
        if kind == "start":
            await counselor.send(id="q", type="call.request", consultation_id=cid)
            await counselor.recv_until("ack", id="q")
            await applicant.recv_until("entry", event="call_requested")
            await applicant.send(id="a", type="call.accept")
            await applicant.recv_until("ack", id="a")
        else:
            await counselor.send(id="h", type="call.end", consultation_id=cid)
            await counselor.recv_until("ack", id="h")

    await call("start")
    in_call = await counselor.recv_until("queue.snapshot", topic=A)
    assert (in_call["free_slots"], in_call["staffed_slots"]) == (0, 2)
    await call("end")
    after = await counselor.recv_until("queue.snapshot", topic=A)
    assert (after["free_slots"], after["staffed_slots"]) == (1, 2)

    # With applicants waiting behind the call, its end moves them up.
    await call("start")
    await counselor.recv_until("queue.snapshot", topic=A, free_slots=0)
    first, _, p1 = await _waiting(A, name="Budi")
    second, _, p2 = await _waiting(A, name="Citra")
    assert (p1["position"], p1["estimated_wait_seconds"]) == (1, 150)
    assert (p2["position"], p2["estimated_wait_seconds"]) == (2, 300)
    await call("end")
    offered = await first.recv_until("consultation.state")
    assert offered["status"] == "offered"
    # (Between the call's end and the offer, position 2 may be pushed with a new estimate: two
    # commits, and the queue may be read between them.)
    await second.recv_until("queue.position", position=1)
    for ws in (applicant, counselor, first, second):
        await ws.close()


async def test_a_chat_passes_a_video_nobody_can_take_and_the_video_is_not_told_soon() -> None:
    topic = await sync_to_async(make_topic)(A)
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=3)
    joined = await sync_to_async(join)()
    applicant, counselor = await accepted(sari, joined)
    video, video_joined, position = await _waiting(A, name="Budi", mode="video")
    # Two chat places are free, but no counselor is free for a video: not "under a minute".
    assert position["position"] == 1 and position["estimated_wait_seconds"] >= 60

    # A chat joining behind it is offered to Sari at once; the video keeps waiting, first.
    chat_joined = await sync_to_async(join)(topic=A, name="Citra")
    await counselor.recv_until(
        "consultation.state", consultation_id=chat_joined["consultation_id"], status="offered"
    )
    snapshot = await counselor.recv_until("queue.snapshot", topic=A)
    assert [w["consultation_id"] for w in snapshot["waiting"]] == [video_joined["consultation_id"]]
    assert snapshot["free_slots"] == 1
    for ws in (applicant, counselor, video):
        await ws.close()


async def test_accepting_an_offer_that_lapsed_is_invalid_state_for_its_counselor_only() -> None:
    topic = await sync_to_async(make_topic)(A)
    sari = await sync_to_async(make_staff)("sari", topics=[topic])
    dewi = await sync_to_async(make_staff)("dewi", topics=[topic])
    sari_ws = await available_ws(sari, "s")
    joined = await sync_to_async(join)()
    cid = joined["consultation_id"]
    await sari_ws.recv_until("consultation.state", consultation_id=cid, status="offered")

    def lapse() -> None:
        consultation = Consultation.objects.get(public_id=cid)
        Consultation.objects.filter(pk=consultation.pk).update(
            offer_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert offers.offer_expire(consultation_id=consultation.pk)

    await sync_to_async(lapse)()
    await sari_ws.recv_until("consultation.state", consultation_id=cid, status="waiting")
    await sari_ws.send(id="late", type="offer.accept", consultation_id=cid)
    error = await sari_ws.recv_until("error", id="late")
    assert error["code"] == "invalid_state"

    dewi_ws = await staff_ws(dewi)
    await dewi_ws.send(id="x", type="offer.accept", consultation_id=cid)
    error = await dewi_ws.recv_until("error", id="x")
    assert error["code"] == "forbidden"
    for ws in (sari_ws, dewi_ws):
        await ws.close()
