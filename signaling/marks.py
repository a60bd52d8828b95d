"""The process's board of delivery marks: for each consultation a connection of this process
follows, the highest state ``version`` and entry ``seq`` the process knows of, and when the
database last said so.

A ``ping`` asks the server to send whatever the connection is missing. Reading the database
for that on every ping (one query per applicant, on Channels' one database thread) made pongs
wait seconds behind each other at 10,000 sockets. The board answers instead whenever it can: a
connection that has sent every entry and state the board knows of, for consultations whose
marks the database gave at most ``STALE_POLLS`` polls ago, is missing nothing committed before
that read, and gets its pong at once. Otherwise the ping resyncs from the database as before.

What feeds it:

- **Frames** (``saw``): every ``entry`` and ``consultation.state`` a consumer of this process
  receives from the channel layer, sends from a replay, or is acked for (its own append). A
  frame only ever raises a mark: it proves a commit, never the absence of one.
- **Reads** (``read``): every resync's own marks read, and the poller: one task per process,
  started on the serving loop by the first connection that follows something (``watch``), that
  every ``LOKET_MARKS_POLL_MS`` reads the marks of every consultation followed here (at most
  ``POLL_CHUNK`` ids a query) in a thread of its own (``bridge.consultation_sync_marks_polled``),
  so a frame the layer dropped for the whole process is noticed within one poll. It stops when
  nothing is followed and is started again by the next ``watch``.

Only the serving event loop touches the board (no locks). Marks of consultations no connection
follows any more are forgotten after each poll.

Imports: asyncio, Django settings, ``signaling.bridge`` and ``consumers.ratelimit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings

from . import bridge
from .consumers.ratelimit import warn_once_a_minute

# Ids per poll query (well under SQLite's limit on bound parameters).
POLL_CHUNK = 500
# A consultation's marks answer a ping only while its last read is at most this many poll
# intervals old; a poller held up longer (a slow database) sends the pings to the database.
STALE_POLLS = 3


class Follower(Protocol):
    """A connection, as the board sees it: the consultations it follows, by internal id."""

    @property
    def followed(self) -> dict[int, Any]: ...


class Mark:
    """What the process knows of one consultation."""

    __slots__ = ("read_at", "seq", "version")

    def __init__(self) -> None:
        self.version = 0
        self.seq = 0
        # time.monotonic() when a read of the database that returned these marks began (None:
        # known from frames only, never read).
        self.read_at: float | None = None


class Board:
    """The process's marks, its followers and its poller."""

    def __init__(self) -> None:
        self.marks: dict[int, Mark] = {}
        self._followers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        # Polls begun and finished; ``polled`` waits on the count of finished ones.
        self._begun = 0
        self._finished = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    # -------------------------------------------------------------- what feeds it

    def saw(self, consultation_id: int, *, version: int = 0, seq: int = 0) -> None:
        """A frame of this consultation was committed with this version or seq."""
        mark = self.marks.get(consultation_id)
        if mark is None:
            mark = self.marks[consultation_id] = Mark()
        if version > mark.version:
            mark.version = version
        if seq > mark.seq:
            mark.seq = seq

    def read(self, marks: dict[int, tuple[int, int]], *, began: float) -> None:
        """The database's marks, ``(version, last_seq)`` by id, from a read begun at ``began``."""
        for consultation_id, (version, seq) in marks.items():
            self.saw(consultation_id, version=version, seq=seq)
            mark = self.marks[consultation_id]
            if mark.read_at is None or began > mark.read_at:
                mark.read_at = began

    # -------------------------------------------------------------- what it answers

    def covers(self, consultation_id: int, *, version: int, seq: int) -> bool:
        """Whether a connection that sent this consultation up to ``version`` and ``seq`` is
        missing nothing the board knows, and the board read its marks recently enough."""
        mark = self.marks.get(consultation_id)
        if mark is None or mark.read_at is None:
            return False
        if time.monotonic() - mark.read_at > STALE_POLLS * settings.LOKET["MARKS_POLL"]:
            return False
        return seq >= mark.seq and version >= mark.version

    # -------------------------------------------------------------- the poller

    def watch(self, follower: Follower) -> None:
        """``follower`` follows something: poll its consultations too (from the running loop)."""
        self._followers.add(follower)
        self._ensure_polling()

    def unwatch(self, follower: Follower) -> None:
        """``follower`` ended; a poller with nothing left to follow stops at once."""
        self._followers.discard(follower)
        if self._wake is not None and not self._followers:
            self._wake.set()

    def followed_ids(self) -> set[int]:
        ids: set[int] = set()
        for follower in list(self._followers):
            ids.update(follower.followed)
        return ids

    async def polled(self) -> None:
        """Poll now (without waiting for the interval) and return once that poll finished."""
        if not self._ensure_polling():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._begun + 1, future))
        assert self._wake is not None
        self._wake.set()
        await future

    def _ensure_polling(self) -> bool:
        """Start the poller on the running loop unless it runs; False if no connection follows.

        O(1): it runs for every consultation a connection starts following (a reconnect storm
        of thousands); only the poll itself walks the followers."""
        if not self._followers:
            return False
        task = self._task
        loop = asyncio.get_running_loop()
        if task is not None and not task.done() and task.get_loop() is loop:
            return True
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._poll_loop(), name="loket-marks")
        return True

    async def _poll_loop(self) -> None:
        wake = self._wake
        assert wake is not None
        try:
            while True:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A cancellation that ``wait_for`` swallowed (Python 3.11): end anyway.
                    raise asyncio.CancelledError
                ids = self.followed_ids()
                self.forget(keep=ids)
                if not ids:
                    return
                wake.clear()
                await self.poll(sorted(ids))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), settings.LOKET["MARKS_POLL"])
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            self._release_waiters(everyone=True)

    async def poll(self, ids: list[int]) -> None:
        """Read the marks of ``ids`` from the database, ``POLL_CHUNK`` at a time."""
        self._begun += 1
        began = time.monotonic()
        try:
            for start in range(0, len(ids), POLL_CHUNK):
                chunk = ids[start : start + POLL_CHUNK]
                marks = await bridge.consultation_sync_marks_polled(consultation_ids=chunk)
                self.read(marks, began=began)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Marks not read stay as old as they are: once stale, their pings read the database.
            warn_once_a_minute("polling the delivery marks", exc)
        finally:
            self._finished += 1
            self._release_waiters()

    def _release_waiters(self, *, everyone: bool = False) -> None:
        waiting = []
        for target, future in self._waiters:
            if everyone or target <= self._finished:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((target, future))
        self._waiters = waiting

    def forget(self, *, keep: Iterable[int]) -> None:
        """Drop the marks of consultations not in ``keep`` (no connection here follows them)."""
        kept = set(keep)
        for consultation_id in [c for c in self.marks if c not in kept]:
            del self.marks[consultation_id]


# The one board of this process.
board = Board()
