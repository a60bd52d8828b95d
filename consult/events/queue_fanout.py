"""Queue fan-out: changes coalesced per topic, and each waiting applicant placed in O(1).

Two halves, one per direction (docs/ARCHITECTURE.md, "Queue position and wait estimate"):

* ``topics_changed`` (called by ``publish.queues_changed`` after commit, in the committing
  thread) only marks topics dirty in this process's ``Coalescer``, on the serving loop
  (``consult.events.loop``). Its task publishes each dirty topic at most once per
  ``LOKET_QUEUE_COALESCE_MS`` (the first change of a quiet topic at once), reading in a thread
  of its own, never Channels' database thread. Without a serving loop (a management command, a
  synchronous test) the topics are read and published in place, as before.
* ``PlacingListener``: one per process, on its own channel. While the process has waiting
  applicants of a topic it is in the topic's placing group, receives one placing message per
  published change (the ids by mode, the figures of the estimate), and tells each local waiting
  applicant its position: a dictionary look-up and a little arithmetic each, yielding to the
  loop after every ``SLICE_SECONDS`` (2 ms) of it, which bounds each hold of the loop (at
  10,000 connected an offer still waits longer: docs/BENCHMARKS.md, sixth slice).

The reading and the publishing themselves are the caller's (``QueueReads``), so this module
imports neither the selectors nor ``publish``: the channel layer, the serving loop, the group
names and the estimate arithmetic only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from asgiref.sync import sync_to_async
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections

from ..estimate import placed_wait, reserve_in
from ..models import Mode
from . import layer
from .groups import FRAME_EVENT, group_placing
from .loop import background_work, on_serving_loop, serving_loop

log = logging.getLogger(__name__)

T = TypeVar("T")

# The longest a placing message's fan-out holds the loop between two yields (it was 200 pushes,
# 17 to 30 ms at 10,000 connected). Every other task pays one such hold per loop iteration.
# With 10,000 connected an offer still waits longer than this (docs/BENCHMARKS.md, sixth slice).
SLICE_SECONDS = 0.002
# How often the listener re-joins its placing groups (a restarted Redis forgot them; the layer
# also expires a group membership after a day).
REJOIN_SECONDS = 30.0
# What ends a placing listener's receiving (sent to its own channel).
STOP_EVENT = "loket.placing_stop"
# A failed read is retried no sooner than this.
RETRY_SECONDS = 1.0


# What ``QueueReads.prepare`` returns: per message, the groups it goes to and the message.
Prepared = list[tuple[list[str], dict[str, Any]]]


@dataclass(frozen=True)
class QueueReads:
    """The caller's (``consult.events.publish``) reads and sends: ``topics_of`` (the topics some
    counselors serve) and ``prepare`` (read these topics' queues and build their messages) run
    in the coalescer's thread; ``send`` sends them, on the loop; ``in_place`` reads and
    publishes where there is no serving loop."""

    topics_of: Callable[[set[int]], set[int]]
    prepare: Callable[[list[int]], Prepared]
    send: Callable[[Prepared], Awaitable[None]]
    in_place: Callable[[list[int]], None]


def _raise_if_cancelled() -> None:
    """End a looping task whose cancellation something it awaited swallowed.

    On Python 3.11 ``asyncio.wait_for`` (in ``layer.layer_call``, around every layer operation)
    returns the inner result when the inner operation completes as the cancellation arrives, so
    the cancellation is lost; a loop that then waits on an event nobody sets again would keep the
    event loop from closing (a test's teardown hung on it). The request is still recorded on the
    task (``cancelling()``), so each loop checks it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` with the database connections handled as Channels' database thread
    handles its own (closed when unusable or past ``CONN_MAX_AGE``)."""
    with background_work():
        close_old_connections()
        try:
            return function(*args)
        finally:
            close_old_connections()


class Coalescer:
    """The dirty topics of one serving loop and the task that publishes them (see module)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.topics: set[int] = set()
        self.staff: set[int] = set()
        # Topic -> loop time its last publish began (or the earliest time of a retry).
        self.last: dict[int, float] = {}
        self.reads: QueueReads | None = None
        self.wake = asyncio.Event()
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loket-queue")
        # How many reads the task ran (a test's and an operator's figure).
        self.flushes = 0
        # Set while nothing is pending or being read and sent (``settled``).
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def interval(self) -> float:
        return float(settings.LOKET["QUEUE_COALESCE"])

    def mark(self, topics: set[int], staff: set[int], reads: QueueReads) -> None:
        """On the loop: remember what changed and wake the task."""
        self.topics |= topics
        self.staff |= staff
        self.reads = reads
        self.idle.clear()
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run(), name="loket-queue-coalescer")
        self.wake.set()

    async def _thread(self, function: Callable[..., T], *args: Any) -> T:
        run = sync_to_async(_in_thread, thread_sensitive=False, executor=self.executor)
        return await run(function, *args)

    async def _run(self) -> None:
        while True:
            _raise_if_cancelled()
            await self.wake.wait()
            self.wake.clear()
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except (OperationalError, InterfaceError) as exc:
                # The database connection was lost (a restart, a failover): retried, as a
                # consumer's refused frame is, without a traceback per attempt.
                log.warning("publishing the queues failed: database unavailable (%s)", exc)
            except Exception:
                log.exception("publishing the queues failed")

    async def _flush(self) -> None:
        reads = self.reads
        assert reads is not None
        if self.staff:
            staff, self.staff = self.staff, set()
            try:
                self.topics |= await self._thread(reads.topics_of, staff)
            except Exception:
                self.staff |= staff
                self._retry_later()
                raise
        now = self.loop.time()
        interval = self.interval
        due = sorted(t for t in self.topics if self.last.get(t, -math.inf) + interval <= now)
        if due:
            self.topics.difference_update(due)
            for topic_id in due:
                self.last[topic_id] = now
            self.flushes += 1
            try:
                # The thread only reads (it never waits for the loop); the loop sends.
                prepared = await self._thread(reads.prepare, due)
            except Exception:
                # Not lost: read again after a pause (the database may be down).
                self.topics.update(due)
                for topic_id in due:
                    self.last[topic_id] = now + RETRY_SECONDS - interval
                self._schedule()
                raise
            await reads.send(prepared)
        self._schedule()

    def _retry_later(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(RETRY_SECONDS, self.wake.set)

    def _schedule(self) -> None:
        """Wake the task when the earliest pending topic is due."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.topics or self.staff:
            interval = self.interval
            at = min((self.last.get(t, -math.inf) + interval for t in self.topics), default=0.0)
            self.timer = self.loop.call_at(max(at, self.loop.time()), self.wake.set)
        elif not self.wake.is_set():
            self.idle.set()
        # Forget topics quiet for a while (their next change goes out at once anyway).
        if len(self.last) > 1000:
            horizon = self.loop.time() - self.interval
            self.last = {t: at for t, at in self.last.items() if at > horizon}

    def close(self) -> None:
        """Stop (its loop has gone): the thread closes its database connection, then ends."""
        if self.timer is not None and not self.loop.is_closed():
            self.timer.cancel()
        if self.task is not None and not self.loop.is_closed():
            self.task.cancel()
        self.executor.submit(connections.close_all)
        self.executor.shutdown(wait=False)


_coalescer: Coalescer | None = None


def coalescer() -> Coalescer | None:
    """This process's coalescer on the running serving loop, if it has one (tests read it)."""
    current = _coalescer
    loop = serving_loop()
    if current is None or loop is None or current.loop is not loop:
        return None
    return current


async def settled() -> None:
    """Until this process has published every queue change marked so far (its sends done)."""
    current = coalescer()
    if current is not None:
        await current.idle.wait()


def _mark(
    loop: asyncio.AbstractEventLoop, topics: set[int], staff: set[int], reads: QueueReads
) -> None:
    global _coalescer
    current = _coalescer
    if current is None or current.loop is not loop:
        if current is not None:
            # The previous loop has gone (a test's); its task went with it.
            current.close()
        current = _coalescer = Coalescer(loop)
    current.mark(topics, staff, reads)


def topics_changed(*, topics: set[int], staff: set[int], reads: QueueReads) -> None:
    """These topics' queues changed, and the queues of the topics these counselors serve
    (after commit). Marked dirty on the serving loop, or read and published here if there is
    none."""
    loop = serving_loop()
    if loop is None:
        everything = set(topics)
        if staff:
            everything |= reads.topics_of(staff)
        if everything:
            reads.in_place(sorted(everything))
        return
    if on_serving_loop():
        _mark(loop, set(topics), set(staff), reads)
    else:
        loop.call_soon_threadsafe(_mark, loop, set(topics), set(staff), reads)


# ---------------------------------------------------------------- placing applicants


def _own_layer() -> Any:
    """The channel layer the placing listener receives on: an instance of its own of the default
    layer (its own connection pool and blocking pop), so that its receive shares nothing of
    channels_redis' per-process receive state with the consumers' (a pop cancelled as its reply
    arrives would lose another connection's message; a receive left behind by an ended event
    loop would hold the shared lock). The in-memory layer (``make run``) keeps its state in the
    instance, so there the listener uses the one every connection uses."""
    default = get_channel_layer()
    if default is None or isinstance(default, InMemoryChannelLayer):
        return default
    return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)


class Placed(Protocol):
    """A local waiting applicant connection, as the listener tells it its place."""

    async def place(self, *, position: int, estimated_wait_seconds: int | None, as_of: str) -> None:
        """Send ``queue.position`` if position or estimate changed (and ``as_of`` is not older
        than what it sent)."""


class PlacingListener:
    """This process's one receiver of placing messages (see module)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = _own_layer()
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.rejoin_task: asyncio.Task[None] | None = None
        # Topic -> the local waiting applicants' connections by internal consultation id (two
        # tabs of one consultation on this process are two connections).
        self.members: dict[int, dict[int, set[Placed]]] = {}
        # The layer's outage count when the groups were last joined (``layer_health``): an
        # outage since then means a restarted Redis may have forgotten them.
        self.outage_seen = layer.layer_health.outage
        # Topic -> ``as_of`` of the newest placing applied (an older one is ignored).
        self.as_of: dict[int, str] = {}
        self.joined: set[int] = set()
        self.lock = asyncio.Lock()
        # Placing messages applied, and positions handed to connections (a test's figures).
        self.applied = 0
        self.placed = 0

    async def _start(self) -> None:
        if self.channel is not None:
            return
        channel_layer = self.layer
        assert channel_layer is not None
        # The default prefix, as the consumers' own channels: channels_redis pops every
        # process-specific channel of one prefix with one blocking pop shared by its receivers.
        self.channel = await channel_layer.new_channel()
        if self._layer_outage not in layer.layer_health.listeners:
            layer.layer_health.listeners.append(self._layer_outage)
        self.task = self.loop.create_task(self._run(), name="loket-placing-listener")
        self.rejoin_task = self.loop.create_task(self._rejoin_now_and_then())

    async def _join(self, topic_id: int) -> None:
        channel_layer = self.layer
        assert channel_layer is not None
        if self.channel is None:
            return
        if await layer.layer_call(channel_layer.group_add(group_placing(topic_id), self.channel)):
            self.joined.add(topic_id)

    async def follow(self, topic_id: int, consultation_id: int, connection: Placed) -> None:
        """Place ``connection`` from now on: in the topic's placing group when this returns."""
        async with self.lock:
            await self._start()
            self.members.setdefault(topic_id, {}).setdefault(consultation_id, set()).add(connection)
            if topic_id not in self.joined:
                await self._join(topic_id)

    def unfollow(self, topic_id: int, consultation_id: int, connection: Placed) -> None:
        """Stop placing ``connection`` (at once, without waiting: also as a consumer ends); the
        last one of a topic leaves its placing group in the background."""
        members = self.members.get(topic_id)
        tabs = members.get(consultation_id) if members is not None else None
        if members is None or tabs is None or connection not in tabs:
            return
        tabs.discard(connection)
        if tabs:
            return
        del members[consultation_id]
        if members:
            return
        del self.members[topic_id]
        self.as_of.pop(topic_id, None)
        if self.members:
            if self.channel is not None:
                self.loop.create_task(self._leave(topic_id, self.channel))
            return
        # Nobody left to place: stop receiving (started again by the next follow), so no
        # receiver of the channel layer outlives this process's connections. Not by cancelling
        # the receive: channels_redis shares one blocking pop among a process's receivers, and
        # a pop cancelled as its reply arrives loses that message, which may be another
        # connection's. The channel first leaves every group it is in (or placing messages
        # would go on filling its inbox and this process's receive buffer), then a stop message
        # to its own channel ends the receiving.
        channel = self.channel
        if self.rejoin_task is not None:
            self.rejoin_task.cancel()
        self.task = self.rejoin_task = None
        self.channel = None
        joined = set(self.joined)
        self.joined.clear()
        self.as_of.clear()
        if channel is not None:
            self.loop.create_task(self._stop(channel, joined))

    async def _leave(self, topic_id: int, channel: str) -> None:
        async with self.lock:
            if topic_id in self.members or topic_id not in self.joined or self.channel != channel:
                return
            self.joined.discard(topic_id)
            channel_layer = self.layer
            assert channel_layer is not None
            await layer.layer_call(channel_layer.group_discard(group_placing(topic_id), channel))

    async def _stop(self, channel: str, joined: set[int]) -> None:
        channel_layer = self.layer
        assert channel_layer is not None
        for topic_id in joined:
            await layer.layer_call(channel_layer.group_discard(group_placing(topic_id), channel))
        await layer.layer_call(channel_layer.send(channel, {"type": STOP_EVENT}))

    def _layer_outage(self) -> None:
        """An outage of the layer opened (any thread): once it answers again, re-join and have
        the topics re-published (``_rejoin_after_outage``)."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._outage_noticed)

    def _outage_noticed(self) -> None:
        if self.channel is not None:
            self.loop.create_task(self._rejoin_after_outage())

    async def _rejoin_after_outage(self) -> None:
        """After an outage: wait until the layer answers (a probe every ``LAYER_POLL``), re-join
        every topic this process places, and have each re-published: a placing sent while this
        process was not in the group reached nobody here, and the applicants' pings do not
        re-read positions."""
        outage = layer.layer_health.outage
        while self.channel is not None and layer.layer_health.down:
            await asyncio.sleep(settings.LOKET["LAYER_POLL"])
            if self.channel is not None:
                await layer.layer_probe(self.channel)
        if self.channel is None or self.outage_seen >= outage:
            return
        self.outage_seen = outage
        self.joined.clear()
        await self._rejoin()
        if self.joined and _reads is not None:
            topics_changed(topics=set(self.joined), staff=set(), reads=_reads)

    async def _rejoin(self) -> None:
        async with self.lock:
            for topic_id in list(self.members):
                await self._join(topic_id)
        missing = set(self.members) - self.joined
        if missing and self.channel is not None and not layer.layer_health.down:
            # A join failed without the breaker opening: try those again soon, not in 30 s.
            self.loop.call_later(
                settings.LOKET["LAYER_POLL"], lambda: self.loop.create_task(self._rejoin())
            )

    async def _rejoin_now_and_then(self) -> None:
        while True:
            _raise_if_cancelled()
            await asyncio.sleep(REJOIN_SECONDS)
            with contextlib.suppress(Exception):
                await self._rejoin()

    async def _run(self) -> None:
        channel_layer = self.layer
        channel = self.channel
        assert channel_layer is not None and channel is not None
        while self.channel == channel:
            _raise_if_cancelled()
            try:
                message = await channel_layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Cancelled (the loop is ending) while the layer raised something else.
                    raise asyncio.CancelledError from None
                # The consumers notice the outage themselves (and tell the breaker); this one
                # waits and re-joins its groups (a restarted Redis forgot them).
                log.warning("the placing listener's receive failed", exc_info=True)
                await asyncio.sleep(settings.LOKET["LAYER_POLL"])
                self.joined.clear()
                with contextlib.suppress(Exception):
                    await self._rejoin()
                # What was published meanwhile reached nobody here: the topics again.
                if self.joined and _reads is not None:
                    topics_changed(topics=set(self.joined), staff=set(), reads=_reads)
                continue
            if message.get("type") == STOP_EVENT:
                return
            if message.get("type") != FRAME_EVENT:
                continue
            try:
                await self.apply(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("placing the waiting applicants failed")

    async def apply(self, message: dict[str, Any]) -> None:
        """One placing message: every local waiting applicant of its topic told its place."""
        head = message["frame"]
        topic_id = int(head["topic_id"])
        as_of = str(head["as_of"])
        members = self.members.get(topic_id)
        if not members or as_of < self.as_of.get(topic_id, ""):
            return
        self.as_of[topic_id] = as_of
        self.applied += 1
        pushed = 0
        reserve = reserve_in(video_since=head.get("video_since"))
        clock = time.monotonic
        slice_ends = clock() + SLICE_SECONDS
        lists: Iterable[tuple[str, list[int]]] = (
            (Mode.CHAT, message.get("chats") or []),
            (Mode.VIDEO, message.get("videos") or []),
        )
        for mode, ids in lists:
            for index, consultation_id in enumerate(ids):
                tabs = members.get(consultation_id)
                if not tabs:
                    continue
                position = index + 1
                wait = placed_wait(mode=mode, position=position, figures=head, reserve=reserve)
                for connection in list(tabs):
                    await connection.place(
                        position=position, estimated_wait_seconds=wait, as_of=as_of
                    )
                    pushed += 1
                if clock() >= slice_ends:
                    await asyncio.sleep(0)
                    slice_ends = clock() + SLICE_SECONDS
        self.placed += pushed

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            layer.layer_health.listeners.remove(self._layer_outage)
        for task in (self.task, self.rejoin_task):
            if task is not None:
                task.cancel()


_listener: PlacingListener | None = None
# The reads of ``consult.events.publish`` (``use_reads``): what the listener has re-published
# after an outage.
_reads: QueueReads | None = None


def use_reads(reads: QueueReads) -> None:
    """The reads and sends a topic is re-published with (``publish`` registers its own)."""
    global _reads
    _reads = reads


def placing_listener() -> PlacingListener:
    """This process's placing listener on the running loop (made on first use)."""
    global _listener
    loop = asyncio.get_running_loop()
    if _listener is None or _listener.loop is not loop:
        if _listener is not None:
            # Of a loop that ended (a test's): not told of outages any more.
            with contextlib.suppress(ValueError):
                layer.layer_health.listeners.remove(_listener._layer_outage)
        _listener = PlacingListener(loop)
    return _listener
