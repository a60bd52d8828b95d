"""Every client message type, through the real ASGI app: what the sender and the other side get."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from consult.models import Consultation, StaffRole, TranscriptEntry
from tests.support.applicants import join
from tests.support.needs import postgres_url
from tests.support.sockets import (
    Ws,
    accepted,
    applicant_ws,
    available_ws,
    counselor_and_applicant,
    drain,
    staff_ws,
)
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def _consultation(public_id: str) -> Consultation:
    return Consultation.objects.select_related("counselor", "topic").get(public_id=public_id)


@sync_to_async
def _events(public_id: str) -> list[str]:
    return list(
        TranscriptEntry.objects.filter(consultation__public_id=public_id)
        .order_by("seq")
        .values_list("event", flat=True)
    )


async def test_auth_sends_ready_history_and_position() -> None:
    await counselor_and_applicant()
    joined = await sync_to_async(join)(name="Budi")
    applicant = await applicant_ws(joined)  # asserts the first frame is ready
    entry = await applicant.recv()
    assert (entry["type"], entry["seq"], entry["event"]) == ("entry", 1, "joined")
    position = await applicant.recv()
    # When the position was read (ordering positions from several processes).
    assert position.pop("as_of")
    assert position == {
        "type": "queue.position",
        "consultation_id": joined["consultation_id"],
        "position": 2,
        "estimated_wait_seconds": None,  # nobody is staffed yet
    }
    assert await applicant.nothing()
    await applicant.close()


async def test_the_applicants_ready_says_the_servers_time_not_when_it_queued() -> None:
    await counselor_and_applicant()
    joined = await sync_to_async(join)(name="Budi")
    await asyncio.sleep(1.2)
    ws = Ws("/ws/applicant/")
    await ws.connect()
    await ws.send(type="auth", token=joined["token"])
    ready = await ws.recv()
    queued_at = datetime.fromisoformat(ready["consultations"][0]["queued_at"])
    server_time = datetime.fromisoformat(ready["server_time"])
    assert server_time - queued_at >= timedelta(seconds=1)
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=30)
    await ws.close()


async def test_chat_send_both_ways_acks_sender_and_delivers_to_other_side() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)

    await applicant.send(id="m1", type="chat.send", client_msg_id="a-1", text="Halo")
    ack = await applicant.recv()
    assert ack["type"] == "ack" and ack["id"] == "m1" and ack["duplicate"] is False
    assert ack["entry"]["seq"] == 3 and ack["entry"]["text"] == "Halo"
    got = await counselor.recv()
    assert got["type"] == "entry" and got["seq"] == 3 and got["author_role"] == "applicant"
    assert got["consultation_id"] == cid and got["client_msg_id"] == "a-1"

    await counselor.send(
        id="m2", type="chat.send", consultation_id=cid, client_msg_id="c-1", text="Siang"
    )
    assert (await counselor.recv())["id"] == "m2"
    reply = await applicant.recv()
    assert (reply["seq"], reply["text"], reply["author_name"]) == (4, "Siang", "Sari")
    # Neither side gets its own message back as a live entry.
    assert await applicant.nothing() and await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def _burst(ws: Ws, frames: list[tuple[str, str, str]], then_leave: bool = False) -> Any:
    for frame_id, client_msg_id, text in frames:
        await ws.send(id=frame_id, type="chat.send", client_msg_id=client_msg_id, text=text)
    if then_leave:
        await ws.send(id="bye", type="leave")
    answers = [await ws.recv_until_any({"ack", "error"}) for _ in range(len(frames) + then_leave)]
    assert [a["id"] for a in answers] == [f[0] for f in frames] + ["bye"] * then_leave
    return {a["id"]: a for a in answers}


async def test_a_burst_is_acked_in_order_each_message_on_its_own() -> None:
    """Frames sent without waiting for acks: the messages that pile up while one is stored are
    stored together (in one statement on PostgreSQL), and each still gets its own ack (or
    error) in the order sent; a frame after them (``leave``) is handled after all of them."""
    _, staff, joined = await counselor_and_applicant()
    applicant, counselor = await accepted(staff, joined)
    clean = [(f"b{i}", f"burst-{i}", f"pesan {i}") for i in range(12)]
    first = await _burst(applicant, clean)
    # A repeat (the stored entry, no new seq) and an empty message among new ones: each on its
    # own, in order.
    mixed = [
        ("c0", "burst-12", "pesan 12"),
        ("again", "burst-2", "pesan 2"),
        ("empty", "burst-x", "  "),
        ("c1", "burst-13", "pesan 13"),
    ]
    second = await _burst(applicant, mixed, then_leave=True)
    assert (second["empty"]["type"], second["empty"]["code"]) == ("error", "invalid_input")
    assert second["again"]["duplicate"] is True
    assert second["again"]["entry"]["seq"] == first["b2"]["entry"]["seq"]
    new = [first[f"b{i}"] for i in range(12)] + [second["c0"], second["c1"]]
    new_seqs = [a["entry"]["seq"] for a in new]
    assert new_seqs == list(range(new_seqs[0], new_seqs[0] + 14))
    assert not any(a["duplicate"] for a in new)
    # The counselor gets each new message once, in order, then the end.
    got = [await counselor.recv_until("entry") for _ in range(15)]
    assert [g["seq"] for g in got[:14]] == new_seqs
    assert [g["text"] for g in got[:14]] == [f"pesan {i}" for i in range(14)]
    assert got[14]["event"] == "ended"
    await applicant.close()
    await counselor.close()


async def _stream(ws: Ws, entries: int) -> list[tuple[str, int, str | None]]:
    """What a client gets of the transcript, in arrival order: (frame type, seq, ack id) for
    every entry frame and every ack of a new message, until it has ``entries`` of them."""
    got: list[tuple[str, int, str | None]] = []
    while len(got) < entries:
        frame = await ws.recv_until_any({"entry", "ack"})
        if frame["type"] == "entry":
            got.append(("entry", frame["seq"], None))
        elif frame.get("entry") and not frame["duplicate"]:
            got.append(("ack", frame["entry"]["seq"], frame["id"]))
    return got


async def test_both_sides_bursting_at_once_each_get_the_transcript_in_order_and_once() -> None:
    """Applicants and counselors of several consultations send bursts at the same moment, on
    one process: each side gets every entry of its consultation once, in ``seq`` order, its own
    messages in their acks (an ack never arrives after a later entry, however the storing, the
    publishing and the other connections' work interleave)."""
    topic = await sync_to_async(make_topic)()
    pairs: list[tuple[str, Ws, Ws]] = []
    for index in range(4):
        staff = await sync_to_async(make_staff)(f"konselor{index}", topics=[topic], capacity=1)
        joined = await sync_to_async(join)(name=f"Ani {index}")
        pairs.append((joined["consultation_id"], *await accepted(staff, joined)))
    # 18 messages a side: within the default limit of 20 chat messages in 10 s.
    rounds, burst = 3, 6
    total = rounds * burst * 2

    async def both(cid: str, applicant: Ws, counselor: Ws) -> None:
        for round_ in range(rounds):
            for i in range(burst):
                mid = f"{round_}-{i}"
                await applicant.send(
                    id=f"a{mid}", type="chat.send", client_msg_id=f"a{mid}", text="a"
                )
                await counselor.send(
                    id=f"c{mid}",
                    type="chat.send",
                    consultation_id=cid,
                    client_msg_id=f"c{mid}",
                    text="c",
                )
            await asyncio.sleep(0)

    await asyncio.gather(*(both(*pair) for pair in pairs))
    streams = [
        (ws, mine, await _stream(ws, total))
        for _, applicant, counselor in pairs
        for ws, mine in ((applicant, "a"), (counselor, "c"))
    ]
    for ws, mine, got in streams:
        seqs = [seq for _, seq, _ in got]
        assert seqs == list(range(seqs[0], seqs[0] + total)), got
        # Its own messages come in acks, in the order sent; the other side's as entries.
        acks = [ack_id for kind, _, ack_id in got if kind == "ack"]
        assert acks == [f"{mine}{r}-{i}" for r in range(rounds) for i in range(burst)], got
        assert await ws.nothing(timeout=0.1)
    for _, applicant, counselor in pairs:
        await applicant.close()
        await counselor.close()


async def test_chat_is_stored_acked_and_delivered_while_the_database_thread_is_held() -> None:
    """On PostgreSQL a chat message is stored from the event loop, on a connection of its own:
    while the database thread every consumer shares is held (a slow query, a burst of joins)
    both sides' messages are still stored, acked and delivered, each once and in order."""
    postgres_url()
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    released = threading.Event()

    def hold() -> None:
        # In the database thread (thread-sensitive, as the consumers' calls): busy until told.
        released.wait(30)

    holding = asyncio.ensure_future(sync_to_async(hold, thread_sensitive=True)())
    try:
        await asyncio.sleep(0.1)
        await applicant.send(id="m1", type="chat.send", client_msg_id="held-a", text="Halo")
        ack = await applicant.recv_until("ack", id="m1", timeout=10)
        got = await counselor.recv_until("entry", timeout=10)
        await counselor.send(
            id="m2", type="chat.send", consultation_id=cid, client_msg_id="held-c", text="Siang"
        )
        reply_ack = await counselor.recv_until("ack", id="m2", timeout=10)
        reply = await applicant.recv_until("entry", timeout=10)
        assert not holding.done()
    finally:
        released.set()
        await holding
    assert (ack["entry"]["seq"], got["seq"], got["client_msg_id"]) == (3, 3, "held-a")
    assert (reply_ack["entry"]["seq"], reply["seq"], reply["text"]) == (4, 4, "Siang")
    assert await _stored_texts(cid) == ["Halo", "Siang"]
    await applicant.close()
    await counselor.close()


@sync_to_async
def _stored_texts(public_id: str) -> list[str]:
    return list(
        TranscriptEntry.objects.filter(consultation__public_id=public_id, kind="message")
        .order_by("seq")
        .values_list("text", flat=True)
    )


async def test_typing_reaches_the_other_side_only() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)

    await applicant.send(type="typing", active=True)
    assert await counselor.recv() == {
        "type": "typing",
        "consultation_id": cid,
        "role": "applicant",
        "active": True,
    }
    await counselor.send(type="typing", consultation_id=cid, active=False)
    frame = await applicant.recv()
    assert (frame["type"], frame["role"], frame["active"]) == ("typing", "counselor", False)
    assert await applicant.nothing() and await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_read_is_stored_and_shown_to_the_other_side() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)

    await counselor.send(id="r1", type="read", consultation_id=cid, seq=2)
    assert (await counselor.recv_until("ack"))["id"] == "r1"
    frame = await applicant.recv()
    assert frame == {"type": "read", "consultation_id": cid, "role": "counselor", "seq": 2}
    await applicant.send(id="r2", type="read", seq=99)  # clamped to what exists
    assert (await applicant.recv_until("ack"))["id"] == "r2"
    assert (await counselor.recv())["seq"] == 2
    stored = await _consultation(cid)
    assert (stored.counselor_read_seq, stored.applicant_read_seq) == (2, 2)
    await applicant.close()
    await counselor.close()


async def test_ping_gets_pong_with_its_id() -> None:
    _, _, joined = await counselor_and_applicant()
    applicant = await applicant_ws(joined)
    await applicant.recv_until("queue.position")
    await applicant.send(id="p1", type="ping")
    pong = await applicant.recv()
    assert pong["type"] == "pong" and pong["id"] == "p1" and pong["server_time"]
    await applicant.close()


async def test_leave_while_waiting_abandons_and_while_active_ends() -> None:
    _, staff, joined = await counselor_and_applicant()
    waiting = await sync_to_async(join)(name="Budi")
    other = await applicant_ws(waiting)
    await other.recv_until("queue.position")
    await other.send(id="l1", type="leave")
    assert (await other.recv_until("ack"))["id"] == "l1"
    assert (await _consultation(waiting["consultation_id"])).status == "abandoned"
    await other.close()

    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await applicant.send(id="l2", type="leave")
    entry = await counselor.recv_until("entry", consultation_id=cid)
    assert entry["event"] == "ended" and entry["data"]["by"] == "applicant"
    state = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert (state["status"], state["ended_by"]) == ("ended", "applicant")
    await applicant.recv_until("ack", id="l2")
    await applicant.close()
    await counselor.close()


async def test_status_set_acks_and_tells_the_counselor_and_supervisors() -> None:
    _, staff, _ = await counselor_and_applicant()
    supervisor = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    watcher = await staff_ws(supervisor)
    await watcher.recv_until("queue.snapshot")
    counselor = await staff_ws(staff)
    await counselor.send(id="s1", type="status.set", status="away")
    assert (await counselor.recv_until("ack"))["id"] == "s1"
    own = await counselor.recv_until("counselor.status")
    assert (own["counselor_id"], own["status"]) == (staff.pk, "away")
    seen = await watcher.recv_until("counselor.status")
    assert (seen["counselor_name"], seen["status"]) == ("Sari", "away")
    await counselor.close()
    await watcher.close()


async def test_offer_accept_makes_it_active_for_the_applicant() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant = await applicant_ws(joined)
    await applicant.recv_until("queue.position")
    counselor = await staff_ws(staff)
    await counselor.send(id="s1", type="status.set", status="available")
    offer = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert offer["status"] == "offered" and offer["applicant_name"] == "Ani"
    assert offer["offer_expires_at"]
    # The counselor gets the history of what it is offered.
    assert (await counselor.recv_until("entry", consultation_id=cid))["event"] == "joined"
    offered = await applicant.recv_until("consultation.state")
    assert offered["status"] == "offered" and offered["applicant_name"] is None

    await counselor.send(id="a1", type="offer.accept", consultation_id=cid)
    assert (await counselor.recv())["id"] == "a1"
    entry = await applicant.recv_until("entry")
    assert (entry["seq"], entry["event"]) == (2, "counselor_joined")
    active = await applicant.recv_until("consultation.state")
    assert (active["status"], active["counselor_name"]) == ("active", "Sari")
    await applicant.close()
    await counselor.close()


async def test_offer_decline_goes_to_another_counselor_and_the_first_stops_following() -> None:
    topic, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    budi = await sync_to_async(make_staff)("budi", topics=[topic])
    applicant = await applicant_ws(joined)
    await applicant.recv_until("queue.position")
    first = await staff_ws(staff)
    await first.send(id="s1", type="status.set", status="available")
    await first.recv_until("consultation.state", status="offered", consultation_id=cid)
    second = await staff_ws(budi)
    await second.send(id="s2", type="status.set", status="available")
    await second.recv_until("ack", id="s2")

    await first.send(id="d1", type="offer.decline", consultation_id=cid)
    assert (await first.recv_until("ack"))["id"] == "d1"
    released = await first.recv_until("consultation.state", consultation_id=cid)
    assert released["status"] == "waiting"
    offer = await second.recv_until("consultation.state", consultation_id=cid)
    assert (offer["status"], offer["counselor_name"]) == ("offered", "Budi")
    await applicant.recv_until("consultation.state", status="offered")
    await drain(first)

    # The counselor who declined no longer receives anything of it.
    await applicant.send(id="m1", type="chat.send", client_msg_id="a-1", text="Masih di sini")
    await second.recv_until("entry", consultation_id=cid, text="Masih di sini")
    assert await first.nothing()
    for ws in (applicant, first, second):
        await ws.close()


async def test_consultation_end_by_counselor() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await counselor.send(id="e1", type="consultation.end", consultation_id=cid, reason="done")
    assert (await counselor.recv())["id"] == "e1"
    entry = await applicant.recv()
    assert (entry["type"], entry["event"], entry["seq"]) == ("entry", "ended", 3)
    state = await applicant.recv()
    assert state["type"] == "consultation.state"
    assert (state["status"], state["ended_by"], state["end_reason"]) == (
        "ended",
        "counselor",
        "done",
    )
    # The transcript is closed to new messages.
    await applicant.send(id="m1", type="chat.send", client_msg_id="late", text="Satu lagi?")
    assert (await applicant.recv())["code"] == "invalid_state"
    assert await _events(cid) == ["joined", "counselor_joined", "ended"]
    await applicant.close()
    await counselor.close()


async def test_consultation_transfer_to_another_topic_offers_it_there() -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    health = await sync_to_async(make_topic)("health-permit")
    budi = await sync_to_async(make_staff)("budi", topics=[health])
    applicant, counselor = await accepted(staff, joined)
    colleague = await available_ws(budi)

    await counselor.send(
        id="t1",
        type="consultation.transfer",
        consultation_id=cid,
        topic="health-permit",
        note="Soal izin klinik",
    )
    assert (await counselor.recv_until("ack"))["id"] == "t1"
    assert (await counselor.recv_until("consultation.state"))["status"] == "waiting"
    offer = await colleague.recv_until("consultation.state", consultation_id=cid)
    assert (offer["status"], offer["topic"]) == ("offered", "health-permit")
    # The new counselor receives the whole history, then the transfer note (staff only).
    transferred = await colleague.recv_until("entry", consultation_id=cid, event="transferred")
    assert "note" not in transferred["data"]
    note = await colleague.recv_until("note", consultation_id=cid)
    assert (note["kind"], note["text"], note["author_name"]) == (
        "transfer",
        "Soal izin klinik",
        "Sari",
    )
    entry = await applicant.recv_until("entry", event="transferred")
    assert entry["data"] == {"from": "Sari", "topic": "health-permit"}
    await applicant.recv_until("consultation.state", status="offered")
    assert (await _consultation(cid)).counselor_id == budi.pk
    for ws in (applicant, counselor, colleague):
        await ws.close()


async def test_call_start_and_end_are_recorded_and_shown() -> None:
    # call.start is for video consultations; a chat asks with call.request (see test_calls.py).
    _, staff, joined = await counselor_and_applicant(mode="video")
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)

    await applicant.send(id="c1", type="call.start", audio_only=True)
    assert (await applicant.recv_until("ack"))["id"] == "c1"
    started = await counselor.recv_until("entry", consultation_id=cid)
    assert started["event"] == "call_started"
    assert started["data"] == {"by": "applicant", "audio_only": True}
    state = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert state["in_call"] is True

    await counselor.send(id="c2", type="call.end", consultation_id=cid)
    assert (await counselor.recv_until("ack"))["id"] == "c2"
    ended = await applicant.recv_until("entry", event="call_ended")
    assert ended["event"] == "call_ended" and ended["data"]["reason"] == "hangup_counselor"
    assert (await applicant.recv_until("consultation.state"))["in_call"] is False
    assert not (await _consultation(cid)).in_call
    await applicant.close()
    await counselor.close()


@pytest.mark.parametrize(
    ("kind", "body", "relayed"),
    [
        ("rtc.offer", {"sdp": "v=0 offer"}, {"sdp": "v=0 offer"}),
        ("rtc.answer", {"sdp": "v=0 answer"}, {"sdp": "v=0 answer"}),
        (
            "rtc.ice",
            {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}},
            {
                "candidate": {
                    "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                    "sdpMid": "0",
                    "sdpMLineIndex": None,
                    "usernameFragment": None,
                }
            },
        ),
        ("rtc.hangup", {}, {}),
    ],
)
async def test_rtc_signaling_is_relayed_to_the_other_participant(
    kind: str, body: dict[str, Any], relayed: dict[str, Any]
) -> None:
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)

    await counselor.send(type=kind, consultation_id=cid, **body)
    assert await applicant.recv() == {
        "type": kind,
        "consultation_id": cid,
        "from_role": "counselor",
        **relayed,
    }
    await applicant.send(type=kind, **body)
    frame = await counselor.recv()
    assert (frame["type"], frame["from_role"]) == (kind, "applicant")
    # Relayed, never echoed, never stored.
    assert await applicant.nothing() and await counselor.nothing()
    assert await _events(cid) == ["joined", "counselor_joined"]
    await applicant.close()
    await counselor.close()


async def test_rtc_before_a_counselor_accepted_is_refused() -> None:
    _, _, joined = await counselor_and_applicant()
    applicant = await applicant_ws(joined)
    await applicant.recv_until("queue.position")
    await applicant.send(id="o1", type="rtc.offer", sdp="v=0")
    error = await applicant.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", "invalid_state", "o1")
    await applicant.close()


async def test_a_frame_about_a_consultation_the_connection_stopped_following_is_invalid_state() -> (
    None
):
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await counselor.send(id="e1", type="consultation.end", consultation_id=cid, outcome="answered")
    await counselor.recv_until("consultation.state", consultation_id=cid, status="ended")
    # A read receipt that crossed the end is told what happened, under its own id.
    await counselor.send(id="read:1", type="read", consultation_id=cid, seq=3)
    refused = await counselor.recv_until("error", id="read:1")
    assert refused["code"] == "invalid_state"
    # A consultation this connection never followed stays forbidden.
    other = "3f6c2a59-1d1e-4a5e-9b7e-2f0a6a1c9d10"
    await counselor.send(id="read:2", type="read", consultation_id=other, seq=1)
    assert (await counselor.recv_until("error", id="read:2"))["code"] == "forbidden"
    for ws in (applicant, counselor):
        await ws.close()
