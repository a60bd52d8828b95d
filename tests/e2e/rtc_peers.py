"""Scriptable call participants for end-to-end tests: an aiortc peer with a synthetic camera and
microphone, and a buffered WebSocket signaling client (HTTP: tests.support.live.HttpClient).

Everything here talks to 127.0.0.1 only: no STUN server, no proxy, loopback ICE candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AudioStreamTrack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

WIDTH, HEIGHT = 320, 240


def loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Stand-in for aioice's host address discovery: loopback only.

    aioice leaves 127.0.0.1 out and offers every other interface address; a test may send
    traffic to loopback only, so its peers gather (and connect over) 127.0.0.1 alone.
    """
    return ["127.0.0.1"] if use_ipv4 else []


def patch_loopback_ice(monkeypatch: Any) -> None:
    """Make every aiortc peer in this process gather loopback candidates only."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_host_addresses)


# ---------------------------------------------------------------- media


class FlatVideoTrack(VideoStreamTrack):
    """A synthetic camera: 320x240 frames of one flat grey level, at 30 frames per second.

    The grey level identifies the sender: the receiver checks the decoded frames carry it.
    """

    def __init__(self, luma: int) -> None:
        super().__init__()
        self.luma = luma

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane, value in zip(frame.planes, (self.luma, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


def luma_mean(frame: av.VideoFrame) -> float:
    """Average brightness (Y) of a decoded frame, ignoring row padding."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    data = bytes(plane)
    stride, width, height = plane.line_size, plane.width, plane.height
    total = sum(sum(data[row * stride : row * stride + width]) for row in range(height))
    return total / (width * height)


class Peer:
    """One side of a call: a peer connection with no ICE servers, a camera and a microphone."""

    def __init__(self, name: str, luma: int) -> None:
        self.name = name
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.video = FlatVideoTrack(luma)
        self.audio = AudioStreamTrack()
        self._remote: dict[str, asyncio.Future[MediaStreamTrack]] = {
            "audio": asyncio.get_running_loop().create_future(),
            "video": asyncio.get_running_loop().create_future(),
        }
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        future = self._remote.get(track.kind)
        if future is not None and not future.done():
            future.set_result(track)

    def _add_media(self) -> None:
        self.pc.addTrack(self.video)
        self.pc.addTrack(self.audio)

    async def make_offer(self) -> str:
        """The offer SDP, after ICE gathering completed (its candidates are in the SDP)."""
        self._add_media()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def make_answer(self, offer_sdp: str) -> str:
        """Take the remote offer, add our media and return the answer SDP (with candidates)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self._add_media()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def take_answer(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def end_of_candidates(self) -> None:
        """The remote side said it has no more candidates (an ``rtc.ice`` with none)."""
        await self.pc.addIceCandidate(None)

    async def remote_track(self, kind: str) -> MediaStreamTrack:
        return await self._remote[kind]

    async def close(self) -> None:
        """Stop our media and close the connection; safe to call twice."""
        self.video.stop()
        self.audio.stop()
        await self.pc.close()


async def receive_video(
    peer: Peer, *, frames: int, expect_luma: int, started: float
) -> tuple[float, list[float]]:
    """Decode ``frames`` remote video frames; seconds from ``started`` to the first, and lumas."""
    track = await peer.remote_track("video")
    first: float | None = None
    lumas: list[float] = []
    for _ in range(frames):
        frame = await track.recv()
        assert isinstance(frame, av.VideoFrame), frame
        if first is None:
            first = time.perf_counter() - started
        lumas.append(luma_mean(frame))
    assert first is not None
    assert all(abs(value - expect_luma) < 16 for value in lumas), (peer.name, lumas)
    return first, lumas


async def receive_audio(peer: Peer, *, frames: int) -> int:
    """Decode ``frames`` remote audio frames; their sample rate."""
    track = await peer.remote_track("audio")
    rate = 0
    for _ in range(frames):
        frame = await track.recv()
        assert isinstance(frame, av.AudioFrame), frame
        rate = frame.sample_rate
    return rate


# ---------------------------------------------------------------- signaling


class Signaling:
    """A WebSocket client that keeps every received frame until a test takes it.

    ``expect`` takes the first buffered frame that matches; frames of other types stay, so a
    test can wait for one thing while others arrive in any order.
    """

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.name = name
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.closed = False
        self._changed = asyncio.Condition()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, name: str, url: str, *, cookie: str | None = None) -> Signaling:
        origin = urllib.parse.urlsplit(url)
        headers = {"Cookie": cookie} if cookie else None
        ws = await connect(
            url,
            origin=Origin(f"http://{origin.netloc}"),
            additional_headers=headers,
            proxy=None,
            open_timeout=10,
        )
        return cls(name, ws)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                async with self._changed:
                    self.frames.append(frame)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            async with self._changed:
                self.closed = True
                self._changed.notify_all()

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    def _take(self, kind: str, match: dict[str, Any]) -> dict[str, Any] | None:
        for index, frame in enumerate(self.frames):
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                return self.frames.pop(index)
        return None

    async def expect(self, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The first frame of type ``kind`` whose fields equal ``match``, waiting up to timeout."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    frame = self._take(kind, match)
                    if frame is not None:
                        return frame
                    if self.closed:
                        break
                    await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"{self.name}: no {kind} frame matching {match} in {timeout}s "
            f"(closed={self.closed}); buffered: {[f.get('type') for f in self.frames]}"
        )

    async def request(self, timeout: float = 10, **frame: Any) -> dict[str, Any]:
        """Send a request with an ``id`` and return its ``ack`` (failing on an ``error``)."""
        request_id = frame["id"]
        await self.send(**frame)
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for kind in ("ack", "error"):
                    reply = self._take(kind, {"id": request_id})
                    if reply is not None:
                        assert kind == "ack", f"{self.name}: {frame['type']} refused: {reply}"
                        return reply
                assert not self.closed, f"{self.name}: closed while waiting for {request_id}"
                await self._changed.wait()

    def discard(self, kind: str) -> None:
        """Forget buffered frames of type ``kind`` (older news than what a test waits for)."""
        self.frames = [f for f in self.frames if f.get("type") != kind]

    def buffered(self, prefix: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if str(f.get("type", "")).startswith(prefix)]

    async def none_of(self, prefix: str, wait: float) -> None:
        """Assert that no frame whose type starts with ``prefix`` is or arrives within ``wait``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait), self._changed:
                while not self.buffered(prefix):
                    await self._changed.wait()
        assert not self.buffered(prefix), f"{self.name} got {self.buffered(prefix)}"

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._reader, 5)
