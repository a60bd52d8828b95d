"""An aiortc client peer for the pre-call check and calls: a synthetic camera (a bright upper half,
a dark lower half, a grey square moving across) and microphone (a 440 Hz tone), counting the
frames it gets back. Host candidates only (``RTCConfiguration(iceServers=[])``), no STUN server.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

WIDTH, HEIGHT = 320, 240
TOP_Y, BOTTOM_Y = 210, 40  # luma of the upper and lower half of the synthetic picture


class PatternVideoTrack(VideoStreamTrack):
    """30 fps picture: bright upper half, dark lower half, a grey square moving across."""

    def __init__(self) -> None:
        super().__init__()
        template = VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        self._chroma = [bytes([128]) * p.buffer_size for p in template.planes[1:]]
        line = template.planes[0].line_size
        self._lumas: list[bytes] = []
        for step in range(30):
            x0 = step * (WIDTH - 40) // 29
            rows = []
            for y in range(HEIGHT):
                base = TOP_Y if y < HEIGHT // 2 else BOTTOM_Y
                row = bytearray([base]) * line
                if HEIGHT // 2 - 20 <= y < HEIGHT // 2 + 20:
                    row[x0 : x0 + 40] = bytes([128]) * 40
                rows.append(bytes(row))
            self._lumas.append(b"".join(rows))
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        frame.planes[0].update(self._lumas[self._n % len(self._lumas)])
        for plane, data in zip(frame.planes[1:], self._chroma, strict=True):
            plane.update(data)
        self._n += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """440 Hz sine, 48 kHz mono, 20 ms frames, peak 8000 (about -12 dBFS)."""

    kind = "audio"
    RATE = 48000
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        one_second = [int(8000 * math.sin(2 * math.pi * 440 * i / self.RATE)) for i in range(48000)]
        self._pcm = struct.pack(f"<{len(one_second)}h", *one_second)
        self._timestamp = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += self.SAMPLES
            await asyncio.sleep(self._start + self._timestamp / self.RATE - time.time())
        offset = (self._timestamp % self.RATE) * 2
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(self._pcm[offset : offset + self.SAMPLES * 2])
        frame.pts = self._timestamp
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


@dataclass(eq=False)
class RtcClient:
    pc: RTCPeerConnection
    first_video: asyncio.Future[VideoFrame]
    video_frames: int = 0
    audio_frames: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def offer(self) -> RTCSessionDescription:
        assert self.pc.localDescription is not None
        return self.pc.localDescription

    async def accept(self, result: dict[str, str]) -> None:
        answer = RTCSessionDescription(sdp=result["sdp"], type=result["type"])
        await self.pc.setRemoteDescription(answer)

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def rtc_client_open(*, video: bool = True, audio: bool = True) -> RtcClient:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client = RtcClient(pc=pc, first_video=asyncio.get_running_loop().create_future())

    async def consume(track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, VideoFrame):
                client.video_frames += 1
                if not client.first_video.done():
                    client.first_video.set_result(frame)
            else:
                client.audio_frames += 1

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        client.tasks.add(asyncio.create_task(consume(track)))

    if video:
        pc.addTrack(PatternVideoTrack())
    if audio:
        pc.addTrack(ToneAudioTrack())
    await pc.setLocalDescription(await pc.createOffer())  # waits for ICE gathering
    return client


RtcClientFactory = Callable[..., Awaitable[RtcClient]]
