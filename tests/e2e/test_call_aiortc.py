"""Video calls through a real Daphne process, with two real aiortc peers.

The server only relays signaling (offer, answer, ICE, hang-up) between the two participants of
a consultation; media flows peer to peer over loopback. Proves: a chat turned into a call with
the other side's consent (call.request, call.accept), media both ways, each side's connection state
recorded once, hang-up reaching the other side, a second call in the same consultation, the
transcript's call events, and that nobody else can inject signaling into the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.rtc_peers import (
    Peer,
    Signaling,
    patch_loopback_ice,
    receive_audio,
    receive_video,
)
from tests.support.live import HttpClient
from tests.support.phones import new_phone
from tests.support.sqlite import SqliteServer, sqlite_server

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "building-approval"
OTHER_TOPIC = "business-registration"  # nobody serves it: the third party's consultation waits
APPLICANT_LUMA, COUNSELOR_LUMA = 60, 190
VIDEO_FRAMES, AUDIO_FRAMES = 8, 5
MEDIA_TIMEOUT = 30.0
STAFF = {
    "counselor": ("sari", "sari-pw-1f8a2c", "counselor", TOPIC),
    "other_counselor": ("budi", "budi-pw-7d3e9b", "counselor", "health-permit"),
    "supervisor": ("dewi", "dewi-pw-4c6a0f", "supervisor", ""),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteServer]:
    """One Daphne process on a SQLite file and the in-memory channel layer."""
    staff = [
        {"username": username, "password": password, "role": role, "topics": topics or None}
        for username, password, role, topics in STAFF.values()
    ]
    with sqlite_server(tmp_path_factory.mktemp("loket-call"), *staff) as srv:
        yield srv


# ---------------------------------------------------------------- people


async def applicant_joins(
    server: SqliteServer, name: str, topic: str, mode: str = "video"
) -> tuple[str, Signaling]:
    """POST /api/consultations, then the applicant socket authenticated with the token."""
    response = await asyncio.to_thread(
        HttpClient(server.url).post_json,
        "/api/consultations",
        {"name": name, "phone": new_phone(), "topic": topic, "mode": mode},
    )
    status, joined = response.status, response.json()
    assert status == 201, joined
    ws = await Signaling.open(name, server.ws_url("/ws/applicant/"))
    try:
        await ws.send(type="auth", token=joined["token"], last_seq=0)
        await ws.expect("ready")
    except BaseException:
        await ws.close()
        raise
    return str(joined["consultation_id"]), ws


async def staff_connects(server: SqliteServer, who: str) -> tuple[HttpClient, Signaling]:
    """Log in through the /login/ page, then the staff socket with the session cookie."""
    username, password, _, _ = STAFF[who]
    browser = HttpClient(server.url)
    await asyncio.to_thread(browser.login, username, password)
    cookie = browser.cookie_header()
    ws = await Signaling.open(username, server.ws_url("/ws/staff/"), cookie=cookie)
    try:
        await ws.expect("ready")
    except BaseException:
        await ws.close()
        raise
    return browser, ws


# ---------------------------------------------------------------- one call


async def call(
    applicant: Signaling,
    counselor: Signaling,
    cid: str,
    *,
    number: int,
    hangup_by: str,
    intruders: list[Signaling],
) -> dict[str, Any]:
    """One call from call.request to hang-up (intruders try to signal into it); its timings."""
    for ws in (applicant, counselor):
        ws.discard("consultation.state")
    # aiortc's peers are rebuilt for every call, never reused; each is closed however we leave.
    async with contextlib.AsyncExitStack() as peers:
        caller = Peer(f"applicant#{number}", APPLICANT_LUMA)
        peers.push_async_callback(caller.close)
        callee = Peer(f"counselor#{number}", COUNSELOR_LUMA)
        peers.push_async_callback(callee.close)
        started = time.perf_counter()
        # A chat consultation: the applicant asks for the call and the counselor accepts it.
        await applicant.request(id=f"ask-{number}", type="call.request")
        asked = await counselor.expect("entry", consultation_id=cid, event="call_requested")
        assert asked["data"] == {"by": "applicant", "audio_only": False}
        await counselor.request(id=f"accept-{number}", type="call.accept", consultation_id=cid)
        await counselor.expect("consultation.state", consultation_id=cid, in_call=True)
        await applicant.expect("entry", consultation_id=cid, event="call_started")

        offer = await caller.make_offer()
        await applicant.send(type="rtc.offer", sdp=offer)
        # aiortc gathers before it offers (no trickle); a browser ends with a null candidate.
        await applicant.send(type="rtc.ice", candidate=None)
        got_offer = await counselor.expect("rtc.offer", consultation_id=cid)
        assert got_offer["from_role"] == "applicant" and got_offer["sdp"] == offer
        answer = await callee.make_answer(got_offer["sdp"])
        await counselor.send(type="rtc.answer", consultation_id=cid, sdp=answer)
        await counselor.send(type="rtc.ice", consultation_id=cid, candidate=None)
        assert (await counselor.expect("rtc.ice"))["from_role"] == "applicant"
        await callee.end_of_candidates()

        got_answer = await applicant.expect("rtc.answer", consultation_id=cid)
        assert got_answer["from_role"] == "counselor" and got_answer["sdp"] == answer
        await caller.take_answer(got_answer["sdp"])
        assert (await applicant.expect("rtc.ice"))["from_role"] == "counselor"
        await caller.end_of_candidates()

        async with asyncio.timeout(MEDIA_TIMEOUT):
            (at_applicant, _), (at_counselor, _), rate_a, rate_c = await asyncio.gather(
                receive_video(
                    caller, frames=VIDEO_FRAMES, expect_luma=COUNSELOR_LUMA, started=started
                ),
                receive_video(
                    callee, frames=VIDEO_FRAMES, expect_luma=APPLICANT_LUMA, started=started
                ),
                receive_audio(caller, frames=AUDIO_FRAMES),
                receive_audio(callee, frames=AUDIO_FRAMES),
            )
        assert rate_a > 0 and rate_c > 0
        print(
            f"\ncall {number}: call.request -> first remote video frame decoded: "
            f"applicant {at_applicant * 1000:.0f} ms, counselor {at_counselor * 1000:.0f} ms"
        )

        # Both peers are connected: each side reports it, the transcript records it once.
        for peer in (caller, callee):
            assert peer.pc.connectionState == "connected", (peer.name, peer.pc.connectionState)
        await applicant.request(id=f"up-a-{number}", type="call.state", state="connected")
        await counselor.request(
            id=f"up-c-{number}", type="call.state", consultation_id=cid, state="connected"
        )
        connected = await counselor.expect("entry", consultation_id=cid, event="call_connected")
        assert connected["data"] == {"by": "applicant", "audio_only": False}

        if intruders:
            await third_parties_are_refused(applicant, counselor, cid, intruders)

        hanger, other = (
            (applicant, counselor) if hangup_by == "applicant" else (counselor, applicant)
        )
        ref: dict[str, Any] = {} if hangup_by == "applicant" else {"consultation_id": cid}
        await hanger.send(type="rtc.hangup", **ref)
        await hanger.request(id=f"end-{number}", type="call.end", **ref)
        ended = time.perf_counter()
        hung_up = await other.expect("rtc.hangup", consultation_id=cid)
        assert hung_up["from_role"] == hangup_by
        for ws in (applicant, counselor):
            await ws.expect("consultation.state", consultation_id=cid, in_call=False)
        return {
            "applicant_first_video": at_applicant,
            "counselor_first_video": at_counselor,
            "wall_seconds": ended - started,
        }


async def third_parties_are_refused(
    applicant: Signaling, counselor: Signaling, cid: str, intruders: list[Signaling]
) -> None:
    """Someone else's applicant and a counselor not holding the consultation cannot signal it."""
    for intruder in intruders:
        await intruder.send(id="forged", type="rtc.offer", consultation_id=cid, sdp="v=0\r\n")
        error = await intruder.expect("error", id="forged")
        assert error["code"] == "forbidden", error
        await intruder.send(id="forged-ice", type="rtc.ice", consultation_id=cid, candidate=None)
        assert (await intruder.expect("error", id="forged-ice"))["code"] == "forbidden"
    # Each participant then sends a typing frame: it travels the same group as a forged frame
    # would have, so once it has arrived an earlier forged frame would have too.
    await applicant.send(type="typing", active=True)
    await counselor.send(type="typing", consultation_id=cid, active=True)
    await counselor.expect("typing", consultation_id=cid, role="applicant")
    await applicant.expect("typing", consultation_id=cid, role="counselor")
    await applicant.none_of("rtc.", wait=1.0)
    await counselor.none_of("rtc.", wait=1.0)


# ---------------------------------------------------------------- the test


async def test_two_calls_between_aiortc_peers_through_daphne(
    server: SqliteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_loopback_ice(monkeypatch)
    sockets: list[Signaling] = []
    try:
        _, counselor = await staff_connects(server, "counselor")
        sockets.append(counselor)
        await counselor.request(id="avail", type="status.set", status="available")

        cid, applicant = await applicant_joins(server, "Ani", TOPIC, mode="chat")
        sockets.append(applicant)
        await counselor.expect("consultation.state", consultation_id=cid, status="offered")
        await counselor.request(id="accept", type="offer.accept", consultation_id=cid)
        await applicant.expect("consultation.state", consultation_id=cid, status="active")
        await counselor.expect("consultation.state", consultation_id=cid, status="active")

        _, other_applicant = await applicant_joins(server, "Eko", OTHER_TOPIC)
        sockets.append(other_applicant)
        _, other_counselor = await staff_connects(server, "other_counselor")
        sockets.append(other_counselor)

        first = await call(
            applicant,
            counselor,
            cid,
            number=1,
            hangup_by="applicant",
            intruders=[other_applicant, other_counselor],
        )
        second = await call(
            applicant, counselor, cid, number=2, hangup_by="counselor", intruders=[]
        )

        # Signaling went to the two participants only: the others never saw any of it.
        await other_applicant.none_of("rtc.", wait=0.5)
        await other_counselor.none_of("rtc.", wait=0.5)

        username, password, _, _ = STAFF["supervisor"]
        supervisor = HttpClient(server.url)
        await asyncio.to_thread(supervisor.login, username, password)
        response = await asyncio.to_thread(supervisor.get, f"/api/consultations/{cid}/transcript")
        status, transcript = response.status, response.json()
        assert status == 200, transcript
    finally:
        for ws in sockets:
            await ws.close()

    calls = [
        e
        for e in transcript["entries"]
        if e["kind"] == "event" and e["event"] in {"call_started", "call_ended"}
    ]
    assert [e["event"] for e in calls] == ["call_started", "call_ended"] * 2, calls
    call_events = [
        e["event"] for e in transcript["entries"] if (e["event"] or "").startswith("call_")
    ]
    assert call_events == ["call_requested", "call_started", "call_connected", "call_ended"] * 2
    assert [e["seq"] for e in calls] == sorted(e["seq"] for e in calls)
    for measured, started, ended, hangup_by in (
        (first, calls[0], calls[1], "applicant"),
        (second, calls[2], calls[3], "counselor"),
    ):
        assert started["data"] == {"by": "applicant", "audio_only": False}
        assert ended["data"]["audio_only"] is False
        assert ended["data"]["reason"] == f"hangup_{hangup_by}"
        assert 0 < ended["data"]["duration_seconds"] <= measured["wall_seconds"] + 0.5
