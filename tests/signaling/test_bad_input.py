"""Bad input on an open connection: an error frame with a stable code and the request's id; the
connection stays open (a following ping gets its pong) and nothing stored changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from consult.models import Consultation, InternalNote, TranscriptEntry
from tests.support.applicants import join
from tests.support.sockets import Ws, accepted, applicant_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def _stored() -> tuple[int, list[tuple[str, str, int]]]:
    """Everything a bad frame must not change: entries and each consultation's state."""
    return TranscriptEntry.objects.count(), sorted(
        Consultation.objects.values_list("status", "counselor__user__username", "last_seq")
    )


async def _still_open(ws: Ws) -> None:
    await ws.send(id="after", type="ping")
    pong = await ws.recv()
    assert (pong["type"], pong["id"]) == ("pong", "after"), pong


async def _pair(capacity: int = 3) -> tuple[Ws, Ws, str]:
    topic = await sync_to_async(make_topic)()
    staff = await sync_to_async(make_staff)("sari", topics=[topic], capacity=capacity)
    joined = await sync_to_async(join)()
    applicant, counselor = await accepted(staff, joined)
    return applicant, counselor, joined["consultation_id"]


@pytest.mark.parametrize(
    ("raw", "code", "request_id"),
    [
        ('{"type": "chat.send", "id": "x1", ', "bad_json", None),
        ("[1, 2, 3]", "bad_json", None),
        ('"chat.send"', "bad_json", None),
        ('{"id": "x2", "type": "chat.sendd", "text": "hi"}', "unknown_type", "x2"),
        ('{"id": "x3", "type": "offer.accept"}', "unknown_type", "x3"),  # not for applicants
        ('{"id": "x4", "type": "chat.send", "client_msg_id": "m"}', "invalid_message", "x4"),
        ('{"id": "x5", "text": "no type"}', "invalid_message", "x5"),
        (
            '{"id": "x6", "type": "chat.send", "client_msg_id": "m", "text": 5}',
            "invalid_message",
            "x6",
        ),
        ('{"id": "x7", "type": "read", "seq": -1}', "invalid_message", "x7"),
        (
            '{"id": "x8", "type": "chat.send", "client_msg_id": "m", "text": "   "}',
            "invalid_input",
            "x8",
        ),
    ],
)
async def test_malformed_frames_are_refused_and_the_connection_stays_open(
    raw: str, code: str, request_id: str | None
) -> None:
    applicant, counselor, _ = await _pair()
    before = await _stored()
    await applicant.send_raw(raw)
    error = await applicant.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", code, request_id)
    assert error["message"]
    await _still_open(applicant)
    assert await _stored() == before
    assert await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_text_over_4000_characters_is_refused() -> None:
    applicant, counselor, cid = await _pair()
    before = await _stored()
    await counselor.send(
        id="long", type="chat.send", consultation_id=cid, client_msg_id="k", text="a" * 4001
    )
    error = await counselor.recv()
    assert (error["code"], error["id"]) == ("text_too_long", "long")
    await _still_open(counselor)
    assert await _stored() == before
    assert await applicant.nothing()
    # 4000 exactly is accepted.
    await counselor.send(
        id="ok", type="chat.send", consultation_id=cid, client_msg_id="k", text="a" * 4000
    )
    assert (await counselor.recv())["type"] == "ack"
    assert len((await applicant.recv())["text"]) == 4000
    await applicant.close()
    await counselor.close()


async def test_frame_over_64_kib_is_refused_unparsed() -> None:
    applicant, counselor, _ = await _pair()
    before = await _stored()
    frame = json.dumps(
        {"id": "big", "type": "chat.send", "client_msg_id": "m", "text": "b" * (64 * 1024)}
    )
    await applicant.send_raw(frame)
    error = await applicant.recv()
    # The frame is refused before it is parsed, so its id cannot be echoed.
    assert (error["code"], error["id"]) == ("frame_too_large", None)
    await _still_open(applicant)
    assert await _stored() == before
    assert await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_frame_over_64_kib_counts_bytes_not_characters() -> None:
    applicant, counselor, _ = await _pair()
    # 22,000 three-byte characters: under 64 Ki characters, over 64 KiB.
    await applicant.send(id="wide", type="typing", active=True, pad="€" * 22_000)
    assert (await applicant.recv())["code"] == "frame_too_large"
    await _still_open(applicant)
    assert await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_acting_on_a_consultation_that_is_not_yours_is_forbidden() -> None:
    # The counselor is full, so the second consultation waits and is offered to nobody.
    applicant, counselor, cid = await _pair(capacity=1)
    other_joined = await sync_to_async(join)(name="Budi")
    other_id = other_joined["consultation_id"]
    other = await applicant_ws(other_joined)
    await other.recv_until("queue.position")
    await counselor.recv_until("queue.snapshot")  # the counselor sees the new one waiting
    before = await _stored()

    attempts: list[tuple[Ws, dict[str, Any]]] = [
        (other, {"type": "chat.send", "consultation_id": cid, "client_msg_id": "x", "text": "hi"}),
        (other, {"type": "read", "consultation_id": cid, "seq": 1}),
        (other, {"type": "leave", "consultation_id": cid}),
        (other, {"type": "call.start", "consultation_id": cid}),
        (counselor, {"type": "offer.accept", "consultation_id": other_id}),
        (counselor, {"type": "consultation.end", "consultation_id": other_id}),
        (
            counselor,
            {"type": "chat.send", "consultation_id": other_id, "client_msg_id": "y", "text": "hi"},
        ),
        (counselor, {"type": "resume", "consultation_id": other_id, "last_seq": 0}),
        (counselor, {"type": "chat.send", "client_msg_id": "z", "text": "no consultation"}),
    ]
    for number, (ws, frame) in enumerate(attempts):
        await ws.send(id=f"f{number}", **frame)
        error = await ws.recv()
        assert (error["type"], error.get("code"), error.get("id")) == (
            "error",
            "forbidden",
            f"f{number}",
        ), (frame, error)
    await _still_open(other)
    await _still_open(counselor)
    assert await _stored() == before
    assert await applicant.nothing()
    for ws in (applicant, counselor, other):
        await ws.close()


async def test_more_than_20_chat_messages_in_10_seconds_is_rate_limited() -> None:
    applicant, counselor, _ = await _pair()
    for number in range(20):
        await applicant.send(
            id=f"m{number}", type="chat.send", client_msg_id=f"c{number}", text="x"
        )
        assert (await applicant.recv())["id"] == f"m{number}"
    before = await _stored()
    await applicant.send(id="m20", type="chat.send", client_msg_id="c20", text="one too many")
    error = await applicant.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", "rate_limited", "m20")
    await _still_open(applicant)
    assert await _stored() == before
    received = [await counselor.recv() for _ in range(20)]
    assert [frame["seq"] for frame in received] == list(range(3, 23))
    assert await counselor.nothing()
    await applicant.close()
    await counselor.close()


async def test_a_frame_before_auth_gets_auth_required_and_auth_still_works() -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    ws = Ws("/ws/applicant/")
    await ws.connect()
    await ws.send(id="early", type="chat.send", client_msg_id="m", text="hello?")
    error = await ws.recv()
    assert (error["code"], error["id"]) == ("auth_required", "early")
    await ws.send(id="p", type="ping")
    assert (await ws.recv())["code"] == "auth_required"
    assert await sync_to_async(TranscriptEntry.objects.count)() == 1  # only "joined"
    await ws.send(type="auth", token=joined["token"])
    assert (await ws.recv())["type"] == "ready"
    await ws.close()


# ---------------------------------------------------- text that cannot be stored, huge numbers

NUL = "\\u0000"  # as written in the JSON of a frame
SURROGATE = "\\ud800"


@sync_to_async
def _notes() -> int:
    return InternalNote.objects.count()


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize(
    ("sender", "frame"),
    [
        ("applicant", '{"id": "t", "type": "chat.send", "client_msg_id": "m", "text": "a%sb"}'),
        ("applicant", '{"id": "t", "type": "chat.send", "client_msg_id": "m%s", "text": "ab"}'),
        (
            "counselor",
            '{"id": "t", "type": "chat.send", "consultation_id": "CID", "client_msg_id": "m",'
            ' "text": "a%sb"}',
        ),
        ("counselor", '{"id": "t", "type": "note.add", "consultation_id": "CID", "text": "a%s"}'),
        (
            "counselor",
            '{"id": "t", "type": "consultation.transfer", "consultation_id": "CID",'
            ' "topic": "building-approval", "note": "lihat %s"}',
        ),
        (
            "counselor",
            '{"id": "t", "type": "consultation.end", "consultation_id": "CID", "reason": "%s"}',
        ),
        ("counselor", '{"id": "t", "type": "typing", "consultation_id": "CID%s"}'),
    ],
)
async def test_unstorable_text_in_a_frame_is_refused_with_invalid_text(
    sender: str, frame: str, bad: str
) -> None:
    applicant, counselor, cid = await _pair()
    before, notes = await _stored(), await _notes()
    ws = applicant if sender == "applicant" else counselor
    await ws.send_raw(frame.replace("CID", cid) % bad)
    error = await ws.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", "invalid_text", "t"), error
    await _still_open(ws)
    assert await _stored() == before
    assert await _notes() == notes
    assert await (counselor if ws is applicant else applicant).nothing()
    await applicant.close()
    await counselor.close()


async def test_a_request_id_that_cannot_be_stored_is_not_echoed() -> None:
    applicant, counselor, _ = await _pair()
    await applicant.send_raw('{"id": "x\\ud800", "type": "ping"}')
    error = await applicant.recv()
    assert (error["code"], error["id"]) == ("invalid_text", None)
    await _still_open(applicant)
    await applicant.close()
    await counselor.close()


@pytest.mark.parametrize("huge", ["1e30", "1000000000000000000000000000000", "2147483648"])
async def test_an_auth_with_a_last_seq_out_of_range_is_refused_not_silently_empty(
    huge: str,
) -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    ws = Ws("/ws/applicant/")
    await ws.connect()
    await ws.send_raw(
        f'{{"id": "a1", "type": "auth", "token": "{joined["token"]}", "last_seq": {huge}}}'
    )
    error = await ws.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", "invalid_message", "a1")
    assert "last_seq" in error["message"]
    # The connection is still waiting for a good auth, which replays the transcript.
    await ws.send(type="auth", token=joined["token"], last_seq=0)
    assert (await ws.recv())["type"] == "ready"
    entry = await ws.recv_until("entry")
    assert entry["seq"] == 1
    await ws.close()


@pytest.mark.parametrize(
    "frame",
    [
        '{"id": "n", "type": "resume", "consultation_id": "CID", "last_seq": 1e30}',
        '{"id": "n", "type": "read", "consultation_id": "CID", "seq": 99999999999}',
        '{"id": "n", "type": "consultation.transfer", "consultation_id": "CID",'
        ' "counselor_id": 1e30}',
        '{"id": "n", "type": "kb.insert", "consultation_id": "CID", "client_msg_id": "k",'
        ' "article_id": 100000000000000000000}',
        '{"id": "n", "type": "rtc.ice", "consultation_id": "CID",'
        ' "candidate": {"candidate": "c", "sdpMLineIndex": 1e30}}',
    ],
)
async def test_numbers_out_of_range_are_refused(frame: str) -> None:
    applicant, counselor, cid = await _pair()
    before = await _stored()
    await counselor.send_raw(frame.replace("CID", cid))
    error = await counselor.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", "invalid_message", "n"), error
    await _still_open(counselor)
    assert await _stored() == before
    assert await applicant.nothing()
    await applicant.close()
    await counselor.close()
