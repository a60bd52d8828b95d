"""The server-side pre-call check peer, driven by a real aiortc client over loopback.

Every peer here uses ``RTCConfiguration(iceServers=[])``: host candidates only, no STUN server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from av import VideoFrame
from pytest_django import Settings

from consult.rtc.precheck import (
    PrecheckBusy,
    PrecheckInvalid,
    PrecheckNotFound,
    PrecheckService,
    get_precheck_service,
)
from consult.rtc.verdict import MIN_MEASUREMENT_S, precheck_verdict
from tests.support.rtc import BOTTOM_Y, HEIGHT, TOP_Y, WIDTH, RtcClient, RtcClientFactory


@pytest.fixture
async def service() -> AsyncIterator[PrecheckService]:
    svc = PrecheckService()
    yield svc
    await asyncio.wait_for(svc.shutdown(), 10)


async def _start(service: PrecheckService, client: RtcClient, session_key: str) -> dict[str, str]:
    return await asyncio.wait_for(
        service.start(session_key=session_key, offer_sdp=client.offer.sdp, offer_type="offer"), 10
    )


async def _wait_until(predicate: Callable[[], bool], limit_s: float) -> None:
    async def poll() -> None:
        while True:
            if predicate():
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), limit_s)


def _mean_luma(frame: VideoFrame, y0: int, y1: int) -> float:
    plane = frame.planes[0]
    data = bytes(plane)
    values = [
        data[y * plane.line_size + x] for y in range(y0, y1, 4) for x in range(0, frame.width, 4)
    ]
    return sum(values) / len(values)


async def test_client_receives_its_own_picture_and_verdict_ready(
    service: PrecheckService, rtc_client: RtcClientFactory, settings: Settings
) -> None:
    settings.LOKET = {**settings.LOKET, "PRECHECK_MAX_SECONDS": 30}
    client = await rtc_client()
    t0 = time.monotonic()
    result = await _start(service, client, "session-a")
    assert set(result) == {"check_id", "sdp", "type"}
    assert result["type"] == "answer"
    assert "a=candidate:" in result["sdp"]  # non-trickle: the answer is complete
    await client.accept(result)

    frame = await asyncio.wait_for(client.first_video, 10)
    first_frame_s = time.monotonic() - t0
    assert first_frame_s < 10
    # It is the client's own picture, through a lossy codec: bright top, dark bottom.
    assert (frame.width, frame.height) == (WIDTH, HEIGHT)
    assert abs(_mean_luma(frame, 0, HEIGHT // 4) - TOP_Y) < 25
    assert abs(_mean_luma(frame, 3 * HEIGHT // 4, HEIGHT) - BOTTOM_Y) < 25

    check_id = result["check_id"]
    report: dict[str, Any] = {}

    async def measured() -> None:
        nonlocal report
        while True:
            report = await service.report(check_id)
            if report["duration_s"] >= MIN_MEASUREMENT_S + 0.2:
                return
            await asyncio.sleep(0.2)

    await asyncio.wait_for(measured(), 10)
    assert report["state"] == "running"
    assert report["connection_state"] == "connected"
    assert report["verdict"] == "ready", report
    # A loaded test machine may delay RTCP handling (inflated RTT); nothing else may be flagged.
    assert set(report["reasons"]) <= {"high_rtt"}, report
    assert report["video_frames"] > 0
    assert report["video_fps"] > 10
    assert (report["video_width"], report["video_height"]) == (WIDTH, HEIGHT)
    assert report["audio_packets"] > 50
    assert report["audio_peak_dbfs"] is not None and report["audio_peak_dbfs"] > -30
    assert report["loss_ratio_uplink"] is not None and report["loss_ratio_uplink"] < 0.05
    assert report["time_to_first_video_ms"] is not None
    assert client.video_frames > 10
    assert client.audio_frames > 10  # audio is echoed too

    # Another session may not read or stop this check.
    with pytest.raises(PrecheckNotFound):
        await service.report(check_id, session_key="session-b")
    with pytest.raises(PrecheckNotFound):
        await service.stop(check_id, session_key="session-b")

    await asyncio.wait_for(service.stop(check_id, session_key="session-a"), 10)
    final = await service.report(check_id, session_key="session-a")
    assert final["state"] == "ended"
    assert final["end_reason"] == "stopped"
    assert final["verdict"] == "ready"
    assert service.peer_count == 0


async def test_audio_only_client(
    service: PrecheckService, rtc_client: RtcClientFactory, settings: Settings
) -> None:
    client = await rtc_client(video=False)
    result = await _start(service, client, "s")
    await client.accept(result)
    await _wait_until(lambda: client.audio_frames > 50, 10)
    report = await service.report(result["check_id"])
    assert report["verdict"] == "audio_only", report
    assert "no_video" in report["reasons"]


async def test_concurrency_limit(
    service: PrecheckService, rtc_client: RtcClientFactory, settings: Settings
) -> None:
    settings.LOKET = {**settings.LOKET, "PRECHECK_MAX_CONCURRENT": 2}
    clients = [await rtc_client() for _ in range(3)]
    outcomes = await asyncio.gather(
        *(_start(service, c, f"s{i}") for i, c in enumerate(clients)), return_exceptions=True
    )
    started = [o for o in outcomes if isinstance(o, dict)]
    busy = [o for o in outcomes if isinstance(o, PrecheckBusy)]
    assert len(started) == 2 and len(busy) == 1, outcomes
    assert busy[0].code == "precheck_busy"
    assert service.running_count == 2

    fourth = await rtc_client()
    with pytest.raises(PrecheckBusy):
        await _start(service, fourth, "s3")
    await service.stop(started[0]["check_id"])
    assert service.running_count == service.peer_count == 1
    await _start(service, fourth, "s3")
    assert service.running_count == 2


async def test_same_session_replaces_previous_check(
    service: PrecheckService, rtc_client: RtcClientFactory, settings: Settings
) -> None:
    settings.LOKET = {**settings.LOKET, "PRECHECK_MAX_CONCURRENT": 1}
    first = await _start(service, await rtc_client(), "same")
    second = await _start(service, await rtc_client(), "same")
    assert service.running_count == 1
    old = await service.report(first["check_id"])
    assert (old["state"], old["end_reason"]) == ("ended", "replaced")
    assert (await service.report(second["check_id"]))["state"] == "running"


@pytest.mark.parametrize("how", ["max_duration", "stop", "shutdown"])
async def test_peer_connection_is_closed(
    how: str, service: PrecheckService, rtc_client: RtcClientFactory, settings: Settings
) -> None:
    settings.LOKET = {**settings.LOKET, "PRECHECK_MAX_SECONDS": 2 if how == "max_duration" else 30}
    client = await rtc_client()
    result = await _start(service, client, "s")
    server_pc = service._checks[result["check_id"]].pc  # white-box: the server-side peer
    await client.accept(result)
    if how != "max_duration":
        await asyncio.wait_for(client.first_video, 10)

    if how == "stop":
        await asyncio.wait_for(service.stop(result["check_id"]), 10)
    elif how == "shutdown":
        await asyncio.wait_for(service.shutdown(), 10)
        with pytest.raises(PrecheckBusy):
            await _start(service, await rtc_client(), "t")
    else:
        await _wait_until(lambda: service.peer_count == 0, 8)

    assert server_pc.connectionState == "closed"
    assert service.running_count == 0
    assert service.peer_count == 0
    assert service._checks == {}
    report = await service.report(result["check_id"])
    assert report["state"] == "ended"
    assert report["end_reason"] == {"stop": "stopped"}.get(how, how)


def _strip_lines(sdp: str, prefix: str) -> str:
    return "".join(
        line + "\r\n" for line in sdp.splitlines() if line and not line.startswith(prefix)
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda sdp: "hello, this is not SDP",
        lambda sdp: "",
        lambda sdp: "v=0\r\n",
        lambda sdp: "\x00\xff" * 100,
        lambda sdp: _strip_lines(sdp, "a=ice-ufrag"),
        lambda sdp: _strip_lines(sdp, "a=fingerprint"),
        lambda sdp: _strip_lines(sdp, "a=candidate"),
        lambda sdp: sdp.replace("m=video", "m=application"),
        lambda sdp: sdp + sdp[sdp.index("m=audio") :],  # two audio sections
        lambda sdp: sdp + "a=x" + "y" * 70000 + "\r\n",
    ],
    ids=[
        "text",
        "empty",
        "bare",
        "binary",
        "no-ufrag",
        "no-fingerprint",
        "no-candidates",
        "application",
        "two-audio",
        "huge",
    ],
)
async def test_invalid_offer(
    mangle: Callable[[str], str], service: PrecheckService, rtc_client: RtcClientFactory
) -> None:
    client = await rtc_client()
    with pytest.raises(PrecheckInvalid) as info:
        await asyncio.wait_for(
            service.start(session_key="s", offer_sdp=mangle(client.offer.sdp), offer_type="offer"),
            10,
        )
    assert info.value.code == "precheck_invalid_offer"
    assert service.peer_count == 0


async def test_wrong_type_is_invalid(
    service: PrecheckService, rtc_client: RtcClientFactory
) -> None:
    client = await rtc_client()
    with pytest.raises(PrecheckInvalid):
        await service.start(session_key="s", offer_sdp=client.offer.sdp, offer_type="answer")


async def test_report_unknown_check(service: PrecheckService) -> None:
    with pytest.raises(PrecheckNotFound) as info:
        await service.report("nope")
    assert info.value.code == "precheck_not_found"
    with pytest.raises(PrecheckNotFound):
        await service.stop("nope")


async def test_get_precheck_service_is_per_process_singleton() -> None:
    svc = get_precheck_service()
    assert get_precheck_service() is svc
    await svc.shutdown()
    fresh = get_precheck_service()
    assert fresh is not svc and not fresh.is_shut_down
    await fresh.shutdown()


GOOD: dict[str, Any] = {
    "video_frames": 300,
    "duration_s": 10.0,
    "audio_packets": 500,
    "rtt_ms": 40.0,
    "loss_ratio": 0.0,
    "ice_failed": False,
}


@pytest.mark.parametrize(
    ("changes", "verdict", "reasons"),
    [
        ({}, "ready", []),
        ({"rtt_ms": None, "loss_ratio": None}, "ready", []),
        ({"ice_failed": True}, "connection_problem", ["ice_failed"]),
        ({"video_frames": 0, "audio_packets": 0}, "connection_problem", ["no_media"]),
        ({"video_frames": 0}, "audio_only", ["no_video"]),
        ({"video_frames": 40}, "audio_only", ["low_video_framerate"]),  # 4 fps < 5
        ({"video_frames": 50}, "ready", []),  # exactly 5 fps
        ({"audio_packets": 0}, "connection_problem", ["no_audio"]),
        ({"audio_packets": 15}, "connection_problem", ["low_audio_packet_rate"]),
        ({"audio_packets": 25}, "ready", []),  # 2.5/s: Opus DTX during silence
        ({"loss_ratio": 0.08}, "ready", ["packet_loss"]),
        ({"loss_ratio": 0.2}, "connection_problem", ["high_packet_loss"]),
        ({"rtt_ms": 500.0}, "ready", ["high_rtt"]),
        ({"rtt_ms": 1500.0}, "connection_problem", ["very_high_rtt"]),
        (
            {"rtt_ms": 1500.0, "video_frames": 0},
            "connection_problem",
            ["very_high_rtt", "no_video"],
        ),
        (
            {"duration_s": 1.0, "video_frames": 30, "audio_packets": 50},
            "ready",
            ["short_measurement"],
        ),
        (
            {"duration_s": 0.0, "video_frames": 1, "audio_packets": 1},
            "ready",
            ["short_measurement"],
        ),
    ],
)
def test_precheck_verdict(changes: dict[str, Any], verdict: str, reasons: list[str]) -> None:
    assert precheck_verdict(**{**GOOD, **changes}) == (verdict, reasons)
