"""Exactly-once delivery: idempotent sends, replay on reconnect, and recovery of dropped frames."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from consult.events import publish as events
from consult.models import TranscriptEntry
from tests.support.sockets import Ws, accepted, applicant_ws, counselor_and_applicant
from tests.support.staff import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def _pair() -> tuple[Ws, Ws, dict[str, Any], Any]:
    _, staff, joined = await counselor_and_applicant()
    applicant, counselor = await accepted(staff, joined)
    return applicant, counselor, joined, staff


async def _say(ws: Ws, text: str, cid: str | None = None) -> int:
    """Send a chat message and return its sequence number from the ack."""
    extra = {"consultation_id": cid} if cid else {}
    await ws.send(id=text, type="chat.send", client_msg_id=text, text=text, **extra)
    ack = await ws.recv_until("ack", id=text)
    return int(ack["entry"]["seq"])


async def _entries(ws: Ws, count: int) -> list[int]:
    frames = [await ws.recv() for _ in range(count)]
    assert all(frame["type"] == "entry" for frame in frames), frames
    return [int(frame["seq"]) for frame in frames]


@sync_to_async
def _rows(cid: str, client_msg_id: str) -> int:
    return TranscriptEntry.objects.filter(
        consultation__public_id=cid, client_msg_id=client_msg_id
    ).count()


async def test_the_same_client_msg_id_twice_is_stored_and_delivered_once() -> None:
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    await applicant.send(id="1", type="chat.send", client_msg_id="same", text="Halo")
    first = await applicant.recv()
    await applicant.send(id="2", type="chat.send", client_msg_id="same", text="Halo")
    second = await applicant.recv()
    assert (first["id"], first["duplicate"]) == ("1", False)
    assert (second["id"], second["duplicate"]) == ("2", True)
    assert second["entry"] == first["entry"]
    assert await _rows(cid, "same") == 1
    assert await _entries(counselor, 1) == [first["entry"]["seq"]]
    assert await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_a_client_msg_id_reused_for_other_text_is_refused_not_acked() -> None:
    """The same id with other words is a client bug: acking it would say the new words were
    stored. The original stays, nothing new is stored or delivered."""
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    await applicant.send(id="1", type="chat.send", client_msg_id="same", text="Halo")
    first = await applicant.recv()
    await applicant.send(id="2", type="chat.send", client_msg_id="same", text="Halo (lain)")
    refused = await applicant.recv()
    assert (refused["type"], refused["id"], refused["code"]) == (
        "error",
        "2",
        "client_msg_id_reused",
    )
    assert await _rows(cid, "same") == 1
    assert await _entries(counselor, 1) == [first["entry"]["seq"]]
    assert await counselor.nothing() and await applicant.nothing()
    await applicant.close()
    await counselor.close()


async def test_a_retry_after_reconnecting_is_still_a_duplicate() -> None:
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    seq = await _say(applicant, "sekali")
    await applicant.close()
    again = await applicant_ws(joined, last_seq=seq)
    await again.send(id="retry", type="chat.send", client_msg_id="sekali", text="sekali")
    ack = await again.recv_until("ack")
    assert (ack["duplicate"], ack["entry"]["seq"]) == (True, seq)
    assert await _rows(cid, "sekali") == 1
    await counselor.recv_until("entry", seq=seq)
    assert await counselor.nothing()
    await again.close()
    await counselor.close()


async def test_another_author_reusing_a_client_msg_id_is_refused() -> None:
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    await _say(applicant, "m-1")
    await counselor.recv_until("entry")
    await counselor.send(
        id="c", type="chat.send", consultation_id=cid, client_msg_id="m-1", text="Saya juga"
    )
    assert (await counselor.recv())["code"] == "invalid_input"
    assert await _rows(cid, "m-1") == 1
    assert await applicant.nothing()
    await applicant.close()
    await counselor.close()


async def test_applicant_reconnect_replays_what_it_missed_once_then_live() -> None:
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    seen = await _say(applicant, "satu")  # seq 3
    await counselor.recv_until("entry", seq=seen)
    await applicant.close()
    missed = [await _say(counselor, f"balasan-{n}", cid) for n in range(3)]
    assert missed == [4, 5, 6]

    again = Ws("/ws/applicant/")
    await again.connect()
    await again.send(type="auth", token=joined["token"], last_seq=seen)
    assert (await again.recv())["type"] == "ready"
    assert await _entries(again, 3) == missed
    assert await again.nothing()  # active: no queue position, no repeats

    live = await _say(counselor, "baru", cid)
    assert await _entries(again, 1) == [live] == [7]
    assert await again.nothing()
    await again.close()
    await counselor.close()


async def test_applicant_reconnect_from_zero_gets_the_whole_history_in_order() -> None:
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    await _say(applicant, "a")
    await _say(counselor, "b", cid)
    await applicant.close()
    again = await applicant_ws(joined, last_seq=0)
    frames = [await again.recv() for _ in range(4)]
    assert [f["seq"] for f in frames] == [1, 2, 3, 4]
    assert [f["event"] or f["text"] for f in frames] == ["joined", "counselor_joined", "a", "b"]
    assert await again.nothing()
    await again.close()
    await counselor.close()


async def test_counselor_reconnect_and_resume_gets_the_rest_once_then_live() -> None:
    applicant, counselor, joined, staff = await _pair()
    cid = joined["consultation_id"]
    seen = await _say(counselor, "halo", cid)  # seq 3
    await counselor.close()
    missed = [await _say(applicant, f"tanya-{n}", None) for n in range(2)]  # 4, 5

    cookie = await sync_to_async(session_cookie)(staff)
    back = Ws("/ws/staff/", headers=[(b"cookie", cookie)])
    await back.connect()
    ready = await back.recv()
    assert ready["type"] == "ready"
    assert [(c["consultation_id"], c["status"]) for c in ready["consultations"]] == [
        (cid, "active")
    ]
    assert (await back.recv())["type"] == "queue.snapshot"
    # Until the counselor says what it has, live entries are held back, not sent twice.
    during = await _say(applicant, "sebelum-resume")  # 6
    assert await back.nothing()

    await back.send(id="res", type="resume", consultation_id=cid, last_seq=seen)
    assert await _entries(back, 3) == [*missed, during] == [4, 5, 6]
    assert (await back.recv())["id"] == "res"
    live = await _say(applicant, "sesudah")
    assert await _entries(back, 1) == [live] == [7]
    assert await back.nothing()
    await back.close()
    await applicant.close()


async def test_a_frame_dropped_by_the_channel_layer_arrives_with_the_next_ping() -> None:
    applicant, counselor, _, _ = await _pair()
    real_send = events._send_now

    def drop_entries(group: str, frame: dict[str, Any], *args: Any) -> None:
        if frame.get("type") != "entry":
            real_send(group, frame, *args)

    with mock.patch.object(events, "_send_now", drop_entries):
        seq = await _say(applicant, "hilang")
    assert await counselor.nothing()
    await counselor.send(id="p", type="ping")
    assert await _entries(counselor, 1) == [seq]
    assert (await counselor.recv())["type"] == "pong"
    await applicant.close()
    await counselor.close()


async def test_a_gap_in_live_entries_is_filled_from_the_database_in_order() -> None:
    applicant, counselor, _, _ = await _pair()
    real_send = events._send_now
    dropped: list[int] = []

    def drop_first_entry(group: str, frame: dict[str, Any], *args: Any) -> None:
        if frame.get("type") == "entry" and not dropped:
            dropped.append(frame["seq"])
            return
        real_send(group, frame, *args)

    with mock.patch.object(events, "_send_now", drop_first_entry):
        first = await _say(applicant, "hilang")
    second = await _say(applicant, "ada")
    assert dropped == [first]
    assert await _entries(counselor, 2) == [first, second]
    assert await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_resume_on_an_open_connection_replays_from_the_given_point() -> None:
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    await _say(counselor, "satu", cid)  # 3
    await _say(counselor, "dua", cid)  # 4
    assert await _entries(applicant, 2) == [3, 4]
    # The client lost its state after seq 2 and asks again; the server sends 3 and 4 again.
    await applicant.send(id="res", type="resume", last_seq=2)
    assert await _entries(applicant, 2) == [3, 4]
    assert (await applicant.recv())["id"] == "res"
    live = await _say(counselor, "tiga", cid)
    assert await _entries(applicant, 1) == [live]
    assert await applicant.nothing()
    await applicant.close()
    await counselor.close()
