"""One pre-call check: its peer connection and what it measured, the echo of the applicant's
media back to them, and the counting of what arrives.

Nothing is stored: frames are only counted and forwarded, no recorder is attached.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame
from av.frame import Frame
from av.packet import Packet


class EchoTrack(MediaStreamTrack):
    """Outgoing track fed with the frames received on the matching incoming track.

    Bounded: video keeps only the newest picture (a slow encoder drops frames instead of
    queueing them), audio keeps at most 200 ms.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._frames: deque[Frame] = deque(maxlen=1 if kind == "video" else 10)
        self._ready = asyncio.Event()

    def push(self, frame: Frame) -> None:
        self._frames.append(frame)
        self._ready.set()

    async def recv(self) -> Frame | Packet:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        return self._frames.popleft()

    def stop(self) -> None:
        super().stop()
        self._frames.clear()
        self._ready.set()


@dataclass(eq=False)
class Check:
    """One running (or ending) check: its peer, when it started, connected and ended, what it
    counted, and the tasks that feed its echo."""

    check_id: str
    session_key: str
    pc: RTCPeerConnection
    started_at: float
    connected_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    ice_failed: bool = False
    video_frames: int = 0
    first_video_frame_at: float | None = None
    video_width: int | None = None
    video_height: int | None = None
    audio_frames: int = 0
    audio_peak: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    echo_tracks: list[EchoTrack] = field(default_factory=list)
    timer: asyncio.Task[None] | None = None
    close_task: asyncio.Task[None] | None = None


def audio_peak(frame: AudioFrame) -> int:
    """Largest absolute sample value of a packed signed 16-bit frame (0 for other formats)."""
    if frame.format.name != "s16" or not frame.planes or sys.byteorder != "little":
        return 0
    nbytes = frame.samples * len(frame.layout.channels) * 2
    samples = memoryview(frame.planes[0]).cast("B")[:nbytes].cast("h")
    if len(samples) == 0:
        return 0
    return max(max(samples), -min(samples))


async def media_relay(check: Check, track: MediaStreamTrack, echo: EchoTrack) -> None:
    """Count the frames of one incoming track on ``check`` and echo each back through ``echo``
    until the track ends."""
    try:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, VideoFrame):
                check.video_frames += 1
                if check.first_video_frame_at is None:
                    check.first_video_frame_at = time.monotonic()
                check.video_width, check.video_height = frame.width, frame.height
            elif isinstance(frame, AudioFrame):
                check.audio_frames += 1
                check.audio_peak = max(check.audio_peak, audio_peak(frame))
            else:
                continue
            echo.push(frame)
    finally:
        echo.stop()
