"""Call negotiation over the real ASGI app: request, accept, decline, connection state, hang-up,
and who may do any of it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from consult.models import Consultation, StaffRole, TranscriptEntry
from consult.services.sweeper import sweep_due
from tests.support.applicants import join
from tests.support.sockets import Ws, accepted, applicant_ws, drain, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def _stored(public_id: str) -> Consultation:
    return Consultation.objects.get(public_id=public_id)


@sync_to_async
def _events(public_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e.event, e.data)
        for e in TranscriptEntry.objects.filter(
            consultation__public_id=public_id, kind="event"
        ).order_by("seq")
    ]


async def _pair(mode: str = "chat", capacity: int = 3) -> tuple[Ws, Ws, str]:
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=capacity)
    joined = await sync_to_async(join)(mode=mode)
    applicant, counselor = await accepted(sari, joined)
    await asyncio.gather(drain(applicant), drain(counselor))
    return applicant, counselor, joined["consultation_id"]


async def _ok(ws: Ws, **frame: Any) -> None:
    await ws.send(id="req", **frame)
    await ws.recv_until("ack", id="req")


async def _refused(ws: Ws, code: str, *, strict: bool = False, **frame: Any) -> None:
    """``frame`` is answered by an error with ``code``; ``strict``: and by nothing before it."""
    await ws.send(id="bad", **frame)
    reply = await (ws.recv() if strict else ws.recv_until("error", id="bad"))
    assert (reply["type"], reply.get("code"), reply.get("id")) == ("error", code, "bad"), (
        frame,
        reply,
    )


async def _event(ws: Ws, name: str, by: str) -> dict[str, Any]:
    """The next ``name`` entry recorded for ``by`` (earlier frames are skipped)."""
    for _ in range(20):
        entry = await ws.recv_until("entry", event=name)
        if entry["data"].get("by") == by:
            return entry
    raise AssertionError(f"no {name} by {by}")


async def _close(*sockets: Ws) -> None:
    for ws in sockets:
        await ws.close()


async def test_request_accept_connected_reconnecting_and_hang_up() -> None:
    applicant, counselor, cid = await _pair()

    await applicant.send(id="q", type="call.request")
    await applicant.recv_until("ack", id="q")
    for ws in (applicant, counselor):
        asked = await ws.recv_until("entry", event="call_requested")
        assert asked["data"] == {"by": "applicant", "audio_only": False}
        state = await ws.recv_until("consultation.state", consultation_id=cid)
        assert (state["call_requested_by"], state["in_call"]) == ("applicant", False)

    await counselor.send(id="a", type="call.accept", consultation_id=cid)
    await counselor.recv_until("ack", id="a")
    for ws in (applicant, counselor):
        started = await ws.recv_until("entry", event="call_started")
        assert started["data"] == {"by": "applicant", "audio_only": False}
        state = await ws.recv_until("consultation.state", consultation_id=cid)
        assert (state["call_requested_by"], state["in_call"]) == (None, True)

    # Both sides report "connected": recorded once, and the other side sees it.
    await _ok(applicant, type="call.state", state="connected")
    connected = await _event(counselor, "call_connected", "applicant")
    assert connected["data"] == {"by": "applicant", "audio_only": False}
    await _ok(counselor, type="call.state", consultation_id=cid, state="connected")
    # The applicant loses its path, restarts ICE; the counselor's "failed" is the same state.
    await _ok(applicant, type="call.state", state="reconnecting")
    reconnecting = await _event(counselor, "call_reconnecting", "applicant")
    assert reconnecting["data"] == {"by": "applicant", "audio_only": False}
    await _ok(counselor, type="call.state", consultation_id=cid, state="failed")
    await _ok(counselor, type="call.state", consultation_id=cid, state="connected")
    again = await _event(applicant, "call_connected", "counselor")
    assert again["data"] == {"by": "counselor", "audio_only": False}
    # The applicant turns its camera off: no event, but the call is now audio-only.
    await _ok(applicant, type="call.state", state="connected", audio_only=True)

    await counselor.send(id="h", type="call.end", consultation_id=cid)
    await counselor.recv_until("ack", id="h")
    ended = await applicant.recv_until("entry", event="call_ended")
    assert ended["data"]["reason"] == "hangup_counselor"
    assert ended["data"]["audio_only"] is True
    assert ended["data"]["duration_seconds"] >= 0
    state = await applicant.recv_until("consultation.state", consultation_id=cid)
    assert (state["status"], state["in_call"]) == ("active", False)

    # Hang-up ends the call, not the chat.
    await applicant.send(id="m", type="chat.send", client_msg_id="after", text="Terima kasih")
    assert (await applicant.recv_until("ack", id="m"))["entry"]["text"] == "Terima kasih"
    events = [name for name, _ in await _events(cid)]
    assert events == [
        "joined",
        "counselor_joined",
        "call_requested",
        "call_started",
        "call_connected",
        "call_reconnecting",
        "call_connected",
        "call_ended",
    ]
    stored = await _stored(cid)
    assert (stored.in_call, stored.call_state, stored.call_requested_by) == (False, "", "")
    await _close(applicant, counselor)


async def test_decline_withdraw_and_answers_without_a_request() -> None:
    applicant, counselor, cid = await _pair()
    ref = {"consultation_id": cid}

    await _refused(applicant, "invalid_state", type="call.accept")
    await _refused(counselor, "invalid_state", type="call.decline", **ref)
    await _refused(applicant, "invalid_state", type="call.state", state="connected")

    await _ok(counselor, type="call.request", audio_only=True, **ref)
    asked = await applicant.recv_until("entry", event="call_requested")
    assert asked["data"] == {"by": "counselor", "audio_only": True}
    await _refused(counselor, "invalid_state", type="call.accept", **ref)  # one's own request
    await _ok(applicant, type="call.decline")
    declined = await counselor.recv_until("entry", event="call_declined")
    assert declined["data"] == {"by": "applicant"}
    state = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert state["call_requested_by"] is None
    await _refused(applicant, "invalid_state", type="call.accept")

    await _ok(applicant, type="call.request")
    await counselor.recv_until("entry", event="call_requested")
    await _ok(applicant, type="call.decline")
    withdrawn = await counselor.recv_until("entry", event="call_declined")
    assert withdrawn["data"] == {"by": "applicant", "withdrawn": True}
    await _refused(counselor, "invalid_state", type="call.accept", **ref)

    # Both ask at once: the second request accepts the first, audio-only if either says so.
    await _ok(applicant, type="call.request", audio_only=True)
    await _ok(counselor, type="call.request", **ref)
    started = await applicant.recv_until("entry", event="call_started")
    assert started["data"] == {"by": "applicant", "audio_only": True}
    await _refused(applicant, "invalid_state", type="call.request")  # already in a call
    assert (await _stored(cid)).in_call
    await _close(applicant, counselor)


async def test_an_unanswered_request_lapses(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "CALL_REQUEST_TIMEOUT": 0}
    applicant, counselor, cid = await _pair()
    await _ok(applicant, type="call.request")
    await counselor.recv_until("entry", event="call_requested")
    # Past its deadline a request cannot be accepted, even before the sweeper has run.
    await _refused(counselor, "invalid_state", type="call.accept", consultation_id=cid)
    done = await sync_to_async(sweep_due)()
    assert done["call_requests"] == 1
    for ws in (applicant, counselor):
        lapsed = await ws.recv_until("entry", event="call_request_expired")
        assert lapsed["data"] == {"by": "applicant"}
        state = await ws.recv_until("consultation.state", consultation_id=cid)
        assert state["call_requested_by"] is None
    assert (await sync_to_async(sweep_due)())["call_requests"] == 0  # handled once
    await _close(applicant, counselor)


async def test_video_consultation_calls_start_without_a_second_consent() -> None:
    applicant, counselor, cid = await _pair(mode="video")
    await _ok(applicant, type="call.request")
    started = await counselor.recv_until("entry", event="call_started")
    assert started["data"] == {"by": "applicant", "audio_only": False}
    await _ok(applicant, type="call.end")
    await counselor.recv_until("entry", event="call_ended")
    await _ok(counselor, type="call.start", consultation_id=cid, audio_only=True)
    started = await applicant.recv_until("entry", event="call_started")
    assert started["data"] == {"by": "counselor", "audio_only": True}
    events = [name for name, _ in await _events(cid)]
    assert "call_requested" not in events
    await _close(applicant, counselor)


async def test_call_start_in_a_chat_consultation_needs_a_request() -> None:
    applicant, counselor, cid = await _pair()
    await _refused(applicant, "invalid_state", type="call.start")
    await _refused(counselor, "invalid_state", type="call.start", consultation_id=cid)
    assert not (await _stored(cid)).in_call
    await _close(applicant, counselor)


async def test_a_call_takes_the_whole_capacity_and_one_call_at_a_time() -> None:
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=3)
    first_joined = await sync_to_async(join)()
    first, counselor = await accepted(sari, first_joined)
    second_joined = await sync_to_async(join)(name="Budi")
    second = await applicant_ws(second_joined)
    first_id, second_id = first_joined["consultation_id"], second_joined["consultation_id"]
    await counselor.recv_until("consultation.state", consultation_id=second_id, status="offered")
    await _ok(counselor, type="offer.accept", consultation_id=second_id)
    await second.recv_until("consultation.state", status="active")

    await _ok(first, type="call.request")
    await counselor.recv_until("entry", consultation_id=first_id, event="call_requested")
    await _ok(counselor, type="call.accept", consultation_id=first_id)
    await first.recv_until("entry", event="call_started")

    # In a call: no new offers, though two slots of three are free.
    third_joined = await sync_to_async(join)(name="Citra")
    third = await applicant_ws(third_joined)
    await third.recv_until("queue.position")
    assert (await _stored(third_joined["consultation_id"])).status == "waiting"

    # And no second call: the other applicant may ask, the counselor cannot take it yet.
    await _refused(counselor, "over_capacity", type="call.request", consultation_id=second_id)
    await _ok(second, type="call.request")
    await counselor.recv_until("entry", consultation_id=second_id, event="call_requested")
    await _refused(counselor, "over_capacity", type="call.accept", consultation_id=second_id)

    await _ok(counselor, type="call.end", consultation_id=first_id)
    await third.recv_until("consultation.state", status="offered")
    await _ok(counselor, type="call.accept", consultation_id=second_id)
    await second.recv_until("entry", event="call_started")
    await _close(first, second, third, counselor)


async def test_only_the_two_participants_may_negotiate_and_nothing_reaches_others() -> None:
    topic = await sync_to_async(make_topic)()
    other_topic = await sync_to_async(make_topic)("health-permit")
    citra = await sync_to_async(make_staff)("citra", topics=[topic], capacity=1)
    dewi = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    dedi = await sync_to_async(make_staff)("dedi", topics=[other_topic])
    applicant, counselor, cid = await _pair(capacity=1)
    # Budi waits in the same topic (Sari is full); Citra serves it without holding Ani's.
    other_joined = await sync_to_async(join)(name="Budi")
    other_applicant = await applicant_ws(other_joined)
    same_topic = await staff_ws(citra)
    other_counselor = await staff_ws(dedi)
    supervisor = await staff_ws(dewi)
    outsiders = [other_applicant, same_topic, other_counselor]
    await asyncio.gather(*(drain(ws) for ws in [*outsiders, supervisor, applicant, counselor]))

    frames: list[dict[str, Any]] = [
        {"type": "call.request"},
        {"type": "call.accept"},
        {"type": "call.decline"},
        {"type": "call.state", "state": "connected"},
        {"type": "call.start"},
        {"type": "call.end"},
    ]
    await _ok(applicant, type="call.request")
    await counselor.recv_until("entry", event="call_requested")
    for ws in [*outsiders, supervisor]:
        for frame in frames:
            await _refused(ws, "forbidden", strict=ws in outsiders, consultation_id=cid, **frame)
    stored = await _stored(cid)
    assert (stored.call_requested_by, stored.in_call) == ("applicant", False)

    await _ok(counselor, type="call.accept", consultation_id=cid)
    await _ok(applicant, type="call.state", state="connected")
    await _ok(applicant, type="call.end")
    await counselor.recv_until("entry", event="call_ended")
    # The call's start and end change Sari's free places: her topic's queue is published again.
    await asyncio.gather(*(drain(ws) for ws in [*outsiders, supervisor]))
    for ws in [*outsiders, supervisor]:
        for frame in frames:
            await _refused(ws, "forbidden", strict=ws in outsiders, consultation_id=cid, **frame)
    # Entries go to the consultation's two participants only (supervisors see state changes).
    quiet = await asyncio.gather(*(ws.nothing(0.3) for ws in outsiders))
    assert all(quiet)
    await _close(applicant, counselor, *outsiders, supervisor)


async def test_calls_need_an_active_consultation() -> None:
    topic = await sync_to_async(make_topic)()
    await sync_to_async(make_staff)("sari", topics=[topic])
    joined = await sync_to_async(join)()
    applicant = await applicant_ws(joined)
    await applicant.recv_until("queue.position")
    for frame in (
        {"type": "call.request"},
        {"type": "call.accept"},
        {"type": "call.decline"},
        {"type": "call.state", "state": "connected"},
    ):
        await _refused(applicant, "invalid_state", **frame)
    await _refused(applicant, "invalid_message", type="call.state", state="dancing")
    await applicant.close()
