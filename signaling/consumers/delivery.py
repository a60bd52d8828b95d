"""Delivery to one client: in order, exactly once, whatever the channel layer does.

Two layers of the consumer, each a class of its own:

- ``LayerReceiver``: the channel layer as a fast path only. Its receive is made resilient; when
  the layer fails the connection stays open, remembers its groups and polls the database
  (``resync``) every ``LOKET_LAYER_POLL_MS``; when the layer answers again it re-joins its groups
  and resyncs once.
- ``OrderedDelivery``: what the connection follows and what it has sent of each consultation
  (``Followed``); entries forwarded in ``seq`` order, gaps read from the database (``replay``),
  the sender's entry in its ``ack``, resume, and the re-check of every layer event before it is
  forwarded (``loket_frame``).

Imports: Channels, ``consult.events``, ``consult.errors``, ``signaling.bridge``,
``signaling.marks`` and ``signaling.protocol``; nothing of the other consumer modules but
``ratelimit``.

A frame from the channel layer arrives validated and serialised by its publisher
(``consult.events.frames.Outgoing``): it is re-checked here and forwarded as is, never rebuilt.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from pydantic import BaseModel

from consult.errors import Forbidden, InvalidState
from consult.events import groups, layer, publish
from consult.events import loop as events_loop
from consult.events.frames import Ack, Entry, Outgoing

from .. import bridge
from ..marks import board
from .ratelimit import warn_once_a_minute

# The statuses in which a ping may be answered from the process's marks; on a finished
# consultation the page's last ping waits for everything (static/js/applicant.js), so it reads.
OPEN_STATUSES = frozenset({"waiting", "offered", "active"})


class Pending:
    """A chat message of this connection being stored, and whether its ack has been sent.

    Its ack goes out where its entry falls in the connection's stream: from the appender when
    the entry is next in ``seq`` order, else from whichever delivery (live frame or replay)
    reaches the entry first, so no later entry ever reaches the client before it."""

    __slots__ = ("acked", "request_id")

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.acked = False


class Followed:
    """A consultation this connection follows, and what it has delivered of it."""

    __slots__ = ("last_sent", "public_id", "resumed", "status", "topic_id", "version")

    def __init__(self, public_id: str, topic_id: int, status: str, version: int) -> None:
        self.public_id = public_id
        self.topic_id = topic_id
        self.status = status
        # The state version this connection last sent (or was sent in ``ready``).
        self.version = version
        self.last_sent = 0
        # Until the client says what it has (auth or resume), live entries are held back: the
        # replay will include them, and sending them twice would break exactly-once delivery.
        self.resumed = False


# This process's consumers, each with the event loop it runs on.
_live: weakref.WeakKeyDictionary[LayerReceiver, asyncio.AbstractEventLoop] = (
    weakref.WeakKeyDictionary()
)
# An outage may open in the database thread (a failed publish) while consumers come and go.
_live_lock = threading.Lock()


def _degrade_all() -> None:
    """An outage opened: every consumer of the process serves from the database until the
    layer is back, then re-joins (also those whose own receive has not failed yet)."""
    with _live_lock:
        consumers = list(_live.items())
    for consumer, loop in consumers:
        if not loop.is_closed():
            loop.call_soon_threadsafe(consumer.degrade)


class LayerReceiver(AsyncWebsocketConsumer):
    """Group memberships and the layer's receive, surviving a channel layer that fails."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set before Channels starts receiving: the layer's receive may fail before ``connect``.
        self.groups_joined: set[str] = set()
        self.degraded = False
        self._polls = 0
        self._layer_trouble = asyncio.Event()
        self._layer_receive: Callable[[], Awaitable[dict[str, Any]]] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # The loop this consumer runs on serves the process: what services publish after commit
        # is sent from it (``consult.events.loop``).
        events_loop.bind()
        with _live_lock:
            _live[self] = asyncio.get_running_loop()
        if _degrade_all not in layer.layer_health.listeners:
            layer.layer_health.listeners.append(_degrade_all)
        if layer.layer_health.down:
            self.degrade()
        try:
            await super().__call__(scope, receive, send)
        finally:
            with _live_lock:
                _live.pop(self, None)
            self._forget_locally()

    async def join(self, group: str) -> None:
        """Join a group; if the layer is down, remember it (joined when the layer is back)."""
        if group in self.groups_joined:
            return
        self.groups_joined.add(group)
        # While the layer is down a join is tried only when the breaker lets one through (the
        # first socket after Redis is back then finds out at once); the others are remembered.
        skip = self.degraded or not layer.layer_health.may_try()
        if skip or not await layer.layer_call(
            self.channel_layer.group_add(group, self.channel_name)
        ):
            self.degrade()

    async def leave_group(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.discard(group)
            if not self.degraded:
                await layer.layer_call(self.channel_layer.group_discard(group, self.channel_name))

    async def leave_all_groups(self) -> None:
        """Leave every group (on disconnect); stop at the first the layer does not answer."""
        groups = list(self.groups_joined)
        self.groups_joined.clear()
        for group in groups:
            if self.degraded or not await layer.layer_call(
                self.channel_layer.group_discard(group, self.channel_name)
            ):
                break

    @property
    def channel_receive(self) -> Callable[[], Awaitable[dict[str, Any]]]:
        """What Channels' dispatch loop awaits for layer events: the layer's receive, made
        resilient (Channels ends the whole consumer if this raises)."""
        return self._resilient_receive

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        # AsyncConsumer.__call__ assigns the layer's own receive here.
        self._layer_receive = receive

    def degrade(self) -> None:
        """The layer failed this connection: serve it from the database until the layer is back."""
        self.degraded = True
        self._layer_trouble.set()
        # It reads the database now, not its layer receive: nothing is delivered to it locally
        # meanwhile (re-joining on recovery joins locally too).
        self._forget_locally()

    def _forget_locally(self) -> None:
        forget = getattr(getattr(self, "channel_layer", None), "forget", None)
        channel = getattr(self, "channel_name", None)
        if forget is not None and channel:
            forget(channel)

    async def _resilient_receive(self) -> dict[str, Any]:
        assert self._layer_receive is not None
        while True:
            if self.degraded:
                # Spread the connections' polls so they do not all query at the same instant.
                await asyncio.sleep(settings.LOKET["LAYER_POLL"] * random.uniform(0.75, 1.25))  # noqa: S311
                if await layer.layer_probe(self.channel_name):
                    self.degraded = False
                    return {"type": "loket.layer_back"}
                return {"type": "loket.layer_poll"}
            self._layer_trouble.clear()
            receiving = asyncio.ensure_future(self._layer_receive())
            trouble = asyncio.ensure_future(self._layer_trouble.wait())
            try:
                await asyncio.wait({receiving, trouble}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                trouble.cancel()
                if not receiving.done():
                    # channels_redis keeps a message being received in a backup queue, so
                    # cancelling loses nothing the database could not give back anyway. Waited
                    # for, so its cleanup runs now and not after the loop has gone.
                    receiving.cancel()
                    await asyncio.wait({receiving})
            if not receiving.done() or receiving.cancelled():
                continue
            try:
                message = receiving.result()
            except Exception as exc:
                layer.layer_health.failed(exc)
                self.degrade()
                continue
            layer.layer_health.succeeded()
            return message

    async def loket_layer_poll(self, message: dict[str, Any]) -> None:
        """While the layer is down: send the client what the database has that it lacks.

        Entries, states and offers every poll (one or two queries when nothing changed); the
        queue views, which take several queries, every third poll and on recovery.
        """
        self._polls += 1
        try:
            await self.resync(full=message.get("full", False) or self._polls % 3 == 1)
        except Exception as exc:
            warn_once_a_minute("resync from the database", exc)

    async def loket_layer_back(self, message: dict[str, Any]) -> None:
        """The layer answers again: re-join every group (a restarted Redis forgot them), then
        resync once for whatever was published before the groups were joined."""
        for group in list(self.groups_joined):
            if not await layer.layer_call(self.channel_layer.group_add(group, self.channel_name)):
                self.degrade()
                break
        await self.loket_layer_poll({**message, "full": True})

    async def resync(self, *, full: bool = False) -> None:
        """Re-read from the database what this connection's client may have missed and send
        only what differs from what it last sent (``OrderedDelivery`` and the roles)."""


class OrderedDelivery(LayerReceiver):
    """What this connection follows, and every frame to its client, in order and once."""

    # Who this connection is ("applicant", "counselor", "supervisor"), set by the role.
    role = ""
    # Which frames published with an audience this connection may receive.
    audience = groups.AUDIENCE_ALL
    # Whether this role's resync is the marks alone, so that a ping may be answered from the
    # process's marks (``marks_say_nothing_missing``). A counselor's resync also looks for
    # offers and their own status, which no mark shows: their pings keep reading.
    pong_from_marks = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.followed: dict[int, Followed] = {}
        # Public ids this connection stopped following (ended, transferred, requeued): a frame
        # about one of them crossed the state change, and is told so rather than "forbidden".
        self.dropped: set[str] = set()
        # This connection's chat messages being stored, by (consultation, client_msg_id), in the
        # order sent: their entries go to the client in their acks, never as entry frames.
        self.appending: dict[tuple[int, str], list[Pending]] = {}
        # Held while entries or acks of entries are sent: a connection's stream has two writers
        # (its frame dispatch, and the appender storing its chat messages), and each sends
        # what follows ``last_sent`` only after reading it, in one hold.
        self._stream = asyncio.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            board.unwatch(self)

    async def send_frame(self, frame: BaseModel) -> None:
        """Send a frame this connection built (validated when it was built)."""
        await self.send(text_data=frame.model_dump_json())

    async def send_outgoing(self, frame: Outgoing) -> None:
        """Send a frame already validated and serialised (published, or read for several)."""
        await self.send(text_data=frame.text)

    async def ack(
        self, request_id: str | None, *, entry: Entry | None = None, duplicate: bool = False
    ) -> None:
        await self.send_frame(Ack(type="ack", id=request_id, entry=entry, duplicate=duplicate))

    async def resync(self, *, full: bool = False) -> None:
        """Re-read from the database what this connection's client may have missed (entries,
        state, offers, status) and send only what differs from what it last sent; ``full``
        also re-sends the queue views. Called on auth/resume, a gap, ping and layer recovery."""
        for consultation_id in list(self.followed):
            await self.catch_up(consultation_id)

    def marks_say_nothing_missing(self) -> bool:
        """Whether the process's marks (``signaling.marks``) show that this connection has sent
        everything of what it follows, as of their last database read: then a ping needs no
        resync. Never while the layer is down (the polls read the database then)."""
        if not self.pong_from_marks or self.degraded:
            return False
        for consultation_id, followed in self.followed.items():
            if not followed.resumed:
                # Nothing of it is sent before the client's resume, by a resync neither.
                continue
            if followed.status not in OPEN_STATUSES or not board.covers(
                consultation_id, version=followed.version, seq=followed.last_sent
            ):
                return False
        return True

    async def read_marks(self, consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
        """The marks of these consultations from the database (a resync), told to the board."""
        began = time.monotonic()
        marks = await bridge.consultation_sync_marks(consultation_ids=consultation_ids)
        board.read(marks, began=began)
        return marks

    # -------------------------------------------------------------- following

    async def start_following(
        self, consultation_id: int, public_id: str, topic_id: int, status: str, version: int
    ) -> Followed:
        followed = self.followed.get(consultation_id)
        if followed is None:
            followed = Followed(public_id, topic_id, status, version)
            self.followed[consultation_id] = followed
            self.dropped.discard(public_id)
            board.watch(self)
            await self.join(groups.group_consultation(consultation_id))
        return followed

    async def stop_following(self, consultation_id: int) -> None:
        followed = self.followed.pop(consultation_id, None)
        if followed is not None:
            self.dropped.add(followed.public_id)
            await self.leave_group(groups.group_consultation(consultation_id))

    def resolve(self, ref: str | None) -> int:
        """The internal id of a consultation this connection follows, by its public id."""
        if ref is None:
            if len(self.followed) == 1 and self.role == "applicant":
                return next(iter(self.followed))
            raise Forbidden("Name the consultation.")
        for consultation_id, followed in self.followed.items():
            if followed.public_id == ref:
                return consultation_id
        if ref in self.dropped:
            raise InvalidState(
                "This connection no longer follows the consultation (it ended or moved)."
            )
        raise Forbidden()

    # -------------------------------------------------------------- entries in order

    async def replay(self, consultation_id: int, after_seq: int, upto: int | None = None) -> None:
        """Send entries after ``after_seq`` (up to ``upto``) from the database, in order."""
        async with self._stream:
            await self._replay_held(consultation_id, after_seq, upto)

    async def _replay_held(self, consultation_id: int, after_seq: int, upto: int | None) -> None:
        followed = self.followed.get(consultation_id)
        if followed is None:
            return
        cursor = after_seq
        while True:
            batch = await bridge.entries_after(consultation_id=consultation_id, after_seq=cursor)
            for entry in batch:
                if upto is not None and entry.seq > upto:
                    return
                board.saw(consultation_id, seq=entry.seq)
                cursor = entry.seq
                if entry.seq <= followed.last_sent:
                    # Sent meanwhile (a live entry, or this connection's own ack, while the page
                    # was read): never twice, and the mark never goes back.
                    continue
                followed.last_sent = entry.seq
                pending = self._own_in_flight(
                    consultation_id, entry.client_msg_id, entry.author_role
                )
                if pending is not None:
                    await self._ack_in_stream(pending, entry)
                else:
                    await self.send_frame(entry)
            if len(batch) < bridge.REPLAY_PAGE:
                return

    async def catch_up(self, consultation_id: int) -> None:
        followed = self.followed.get(consultation_id)
        if followed is not None and followed.resumed:
            await self.replay(consultation_id, followed.last_sent)

    async def resume_from(self, consultation_id: int, last_seq: int) -> None:
        followed = self.followed[consultation_id]
        async with self._stream:
            followed.resumed = True
            followed.last_sent = last_seq
            await self._replay_held(consultation_id, last_seq, None)

    async def deliver_entry(self, consultation_id: int, frame: Outgoing) -> None:
        followed = self.followed.get(consultation_id)
        if followed is None or not followed.resumed:
            return
        seq = int(frame.data["seq"])
        async with self._stream:
            if seq <= followed.last_sent:
                return
            gap = seq > followed.last_sent + 1
            if gap:
                # An earlier entry was dropped by the layer or is still in flight from another
                # process. The database has it (it was committed before it was published).
                await self._replay_held(consultation_id, followed.last_sent, None)
            else:
                followed.last_sent = seq
                pending = self._own_in_flight(
                    consultation_id, frame.data.get("client_msg_id"), frame.data.get("author_role")
                )
                if pending is not None:
                    # This connection's own message, published (to this process's sockets at
                    # once) before the appender acked it: acked here, in its place.
                    await self._ack_in_stream(pending, Entry.model_validate(frame.data))
                else:
                    await self.send_outgoing(frame)
        if gap:
            # Whatever dropped an entry may have dropped state frames too.
            await self.resync()

    def _own_in_flight(
        self, consultation_id: int, client_msg_id: str | None, author_role: str | None
    ) -> Pending | None:
        """The first of this connection's chat messages with this entry's ``client_msg_id``
        still being stored, if its ack has not been sent (the entry goes in that ack)."""
        if author_role != self.role or client_msg_id is None:
            return None
        pending = self.appending.get((consultation_id, client_msg_id))
        if not pending or pending[0].acked:
            return None
        return pending[0]

    async def _ack_in_stream(self, pending: Pending, entry: Entry) -> None:
        pending.acked = True
        await self.ack(pending.request_id, entry=entry, duplicate=False)

    async def ack_appended(
        self,
        request_id: str | None,
        consultation_id: int,
        entry: Entry,
        created: bool,
        pending: Pending | None = None,
    ) -> None:
        """Ack an entry this connection appended, with the entry itself and in order.

        The sender gets its entry in the ack, not again as a live frame; anything committed
        before it that this connection has not sent yet is replayed first, so nothing is skipped.
        ``pending`` (a chat message from the appender) is not acked again if a delivery reached
        its entry first.
        """
        followed = self.followed.get(consultation_id)
        if followed is not None:
            board.saw(consultation_id, seq=entry.seq)
        async with self._stream:
            if pending is not None:
                if pending.acked:
                    return
                pending.acked = True
            if followed is not None and followed.resumed and created:
                if entry.seq > followed.last_sent + 1:
                    await self._replay_held(consultation_id, followed.last_sent, entry.seq - 1)
                followed.last_sent = max(followed.last_sent, entry.seq)
            await self.ack(request_id, entry=entry, duplicate=not created)

    # -------------------------------------------------------------- outbound (channel layer)

    async def loket_frame(self, event: dict[str, Any]) -> None:
        """A frame published by consult.events; re-checked here before it is forwarded (as its
        publisher serialised it)."""
        if event.get("sender") == self.channel_name:
            return
        audience = event.get("audience", groups.AUDIENCE_ALL)
        if audience not in (groups.AUDIENCE_ALL, self.audience):
            return
        frame = publish.frame_of(event)
        consultation_id = event.get("consultation_id")
        kind = frame.type
        if consultation_id in self.followed:
            # Committed before it was published: the process's marks are at least this.
            if kind == "entry":
                board.saw(consultation_id, seq=int(frame.data["seq"]))
            elif kind == "consultation.state":
                board.saw(consultation_id, version=int(frame.data.get("version", 0)))
        if kind == "queue.snapshot":
            await self.on_queue_snapshot(frame)
            return
        if kind == "consultation.state" and consultation_id is not None:
            followed = self.followed.get(consultation_id)
            if followed is not None and int(frame.data.get("version", 0)) <= followed.version:
                # Already sent (by a resync) or overtaken by a newer state from another process.
                return
            await self.on_state(consultation_id, frame)
            return
        if kind == "counselor.status":
            await self.on_counselor_status(frame)
            return
        if consultation_id is None or consultation_id not in self.followed:
            return
        if kind == "entry":
            await self.deliver_entry(consultation_id, frame)
        else:
            await self.send_outgoing(frame)

    async def on_queue_snapshot(self, frame: Outgoing) -> None:
        """Subclasses decide what of a queue snapshot this connection may see (staff only:
        applicants are placed by the process's placing listener, consult.events.queue_fanout)."""

    async def on_state(self, consultation_id: int, frame: Outgoing) -> None:
        """Subclasses follow or stop following on a consultation's state change."""

    async def on_counselor_status(self, frame: Outgoing) -> None:
        """Subclasses forward counselor status where it concerns them."""
