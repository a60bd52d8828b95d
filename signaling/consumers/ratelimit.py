"""Rate windows: how many frames a connection may send, and how often the consumers may log.

Plain objects with no I/O (testable alone): the consumer asks, and answers the client itself.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from django.conf import settings

log = logging.getLogger(__name__)


class Window:
    """A sliding-window counter: at most ``limit`` events in ``seconds``."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.times: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self.times and now - self.times[0] > self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


class FrameLimits:
    """The windows of one connection: every frame it sends (``LOKET_FRAME_RATE``), and every
    message it asks to store (``chat.send``, ``kb.insert``: ``LOKET_CHAT_RATE``)."""

    def __init__(self, frames: tuple[int, float], messages: tuple[int, float]) -> None:
        self.frames = Window(*frames)
        self.messages = Window(*messages)

    @classmethod
    def from_settings(cls) -> FrameLimits:
        return cls(settings.LOKET["FRAME_RATE"], settings.LOKET["CHAT_RATE"])

    def allow_frame(self) -> bool:
        return self.frames.allow()

    def allow_message(self) -> bool:
        return self.messages.allow()

    def refusal_text(self) -> str:
        """The ``rate_limited`` message, with this connection's limits (from the settings)."""
        chat, frames = self.messages, self.frames
        return (
            f"Too many requests: over the chat ({chat.limit} in {chat.seconds:g} s) "
            f"or frame ({frames.limit} in {frames.seconds:g} s) limit."
        )


_warned_at: dict[str, float] = {}


def warn_once_a_minute(what: str, exc: BaseException) -> None:
    """A warning without traceback, at most once a minute per kind (never once per frame)."""
    now = time.monotonic()
    if now - _warned_at.get(what, -60.0) >= 60.0:
        _warned_at[what] = now
        log.warning("%s failed (%s); will retry", what, type(exc).__name__)
