"""The process's one sender: group sends handed over by committing threads, sent from the loop.

A service commits in a database thread and its ``transaction.on_commit`` callbacks run there.
Sending to the channel layer from that thread meant waiting for the event loop to do it
(``async_to_sync``), so the one database thread every consumer queues on sat idle for every
group send of every write. Here a callback only enqueues (``send``: one
``loop.call_soon_threadsafe``) and one task on the serving loop (``consult.events.loop``)
drains the queue:

* in FIFO order, one send at a time, so the frames of one consultation leave in the order their
  transactions ran their commit callbacks (as they did from the database thread);
* each send through the breaker and ``layer_call`` (``consult.events.layer``), as before;
* bounded (``QUEUE_LIMIT``): when the layer is so slow that the queue fills, further sends are
  dropped with a warning (the layer is at-most-once anyway: clients recover from the database by
  sequence number and version);
* ``flush`` at shutdown sends what is queued, as far as it goes within a short time.

Where no serving loop runs (a management command, a synchronous test, a standalone sweeper) the
send happens in place, in the calling thread, as before.

Imports channels, asgiref and the other consult.events modules it names (layer, loop).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import layer
from . import loop as events_loop

log = logging.getLogger(__name__)

# Sends waiting for the loop at most; beyond it a send is dropped (and said so, once a minute).
QUEUE_LIMIT = 10_000
# How long ``flush`` waits at shutdown for the queue to empty.
FLUSH_SECONDS = 2.0
WARN_EVERY = 60.0


async def send_one(group: str, message: dict[str, Any], *, delivered: bool = False) -> None:
    """One group send through the breaker: skipped while the layer is down (consumers serve
    their clients from the database until it is back); a failure is caught and reported to the
    breaker, never raised (the write it tells of is committed already). ``delivered``: the
    group's local members have it already (``LoketRedisChannelLayer.deliver_local``), only the
    other processes' are left."""
    channel_layer = get_channel_layer()
    if channel_layer is None or not layer.layer_health.may_try():
        return
    if delivered:
        await layer.layer_call(channel_layer.push_remote(group, message))
    else:
        await layer.layer_call(channel_layer.group_send(group, message))


class Sender:
    """The queue of one serving loop and the task that drains it (created on first use)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, dict[str, Any], bool]] | None = None
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0
        self._dropped_since_warning = 0
        self._warned_at = -WARN_EVERY

    def put(self, group: str, message: dict[str, Any]) -> None:
        """Enqueue one send (on the loop's own thread). With Loket's Redis layer the group's
        members on this process get the message at once, in the order of ``put``, whatever
        Redis is doing; the queue holds what is left for the other processes."""
        if self.queue is None:
            self.queue = asyncio.Queue(QUEUE_LIMIT)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._drain(self.queue), name="loket-sender")
        channel_layer = get_channel_layer()
        delivered = isinstance(channel_layer, layer.LoketRedisChannelLayer)
        if delivered:
            try:
                channel_layer.deliver_local(group, message)
            except Exception:
                # The other processes' members still get it; this process's recover by resync.
                log.exception("delivering to group %s on this process failed", group)
        try:
            self.queue.put_nowait((group, message, delivered))
        except asyncio.QueueFull:
            self._overflowed()

    def _overflowed(self) -> None:
        self.dropped += 1
        self._dropped_since_warning += 1
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            log.warning(
                "the channel layer is %d sends behind: dropping new sends (%d since the last "
                "warning, %d in all); clients catch up from the database. Is Redis slow?",
                QUEUE_LIMIT,
                self._dropped_since_warning,
                self.dropped,
            )
            self._warned_at = now
            self._dropped_since_warning = 0

    async def _drain(self, queue: asyncio.Queue[tuple[str, dict[str, Any], bool]]) -> None:
        task = asyncio.current_task()
        while True:
            group, message, delivered = await queue.get()
            try:
                await send_one(group, message, delivered=delivered)
            except Exception:
                # send_one catches the layer's failures; anything else must not end the sender.
                log.exception("sending to group %s failed", group)
            finally:
                queue.task_done()
            if task is not None and task.cancelling():
                # Cancelled (the loop is closing) while the send finished: Python 3.11's
                # wait_for then returns the result and drops the cancellation, and this task
                # would wait on the queue for ever.
                raise asyncio.CancelledError

    @property
    def pending(self) -> int:
        return self.queue.qsize() if self.queue is not None else 0

    async def flush(self, seconds: float) -> bool:
        """Wait (on the loop) until every queued send has gone, at most ``seconds``; whether
        the queue emptied."""
        if self.queue is None or self.task is None or self.task.done():
            return self.pending == 0
        try:
            await asyncio.wait_for(self.queue.join(), seconds)
        except TimeoutError:
            return False
        return True


_sender: Sender | None = None
_lock = threading.Lock()


def _sender_for(loop: asyncio.AbstractEventLoop) -> Sender:
    global _sender
    with _lock:
        if _sender is None or _sender.loop is not loop:
            # A new serving loop (a test's, or the process's first): the old one's queue is gone
            # with its loop.
            _sender = Sender(loop)
        return _sender


def send(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` from the serving loop (enqueued, in order), or in place
    where there is none. Called from any thread; never waits for the layer when a loop runs."""
    loop = events_loop.serving_loop()
    if loop is None:
        async_to_sync(send_one)(group, message)
        return
    sender = _sender_for(loop)
    if events_loop.on_serving_loop():
        sender.put(group, message)
        return
    try:
        loop.call_soon_threadsafe(sender.put, group, message)
    except RuntimeError:
        # The loop closed between the look and the hand-over (shutdown): nothing serves its
        # sockets any more, so there is no one to send to from it.
        log.info("serving loop gone; a group send to %s was not made", group)


def pending() -> int:
    """Sends queued and not yet made (on this process's current serving loop)."""
    sender = _sender
    return sender.pending if sender is not None else 0


async def flush(seconds: float = FLUSH_SECONDS) -> bool:
    """Send what is queued (on the running serving loop), for at most ``seconds``; whether
    everything went. For shutdown (``consult.runtime``)."""
    sender = _sender
    if sender is None or sender.loop is not asyncio.get_running_loop():
        return True
    done = await sender.flush(seconds)
    if not done:
        log.warning("shutdown: %d channel layer send(s) left unsent", sender.pending)
    return done
