"""WebSocket consumers: authenticate, parse, check, call one service, reply. Transport only.

Per-connection state only: who is connected, which consultations this socket follows and the
last sequence number it has sent for each. Everything else is in the database.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from consult import events, runtime
from consult.errors import DomainError, Forbidden, InvalidState

from . import access, protocol
from .protocol import ProtocolError

log = logging.getLogger(__name__)


class _Window:
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


class _Followed:
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


_warned_at: dict[str, float] = {}
# This process's consumers, each with the event loop it runs on.
_live: weakref.WeakKeyDictionary[BaseConsumer, asyncio.AbstractEventLoop] = (
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


def _warn_once_a_minute(what: str, exc: BaseException) -> None:
    """A warning without traceback, at most once a minute per kind (never once per frame)."""
    now = time.monotonic()
    if now - _warned_at.get(what, -60.0) >= 60.0:
        _warned_at[what] = now
        log.warning("%s failed (%s); will retry", what, type(exc).__name__)


class BaseConsumer(AsyncWebsocketConsumer):
    """What applicant and staff connections share: parsing, limits, delivery in order.

    The channel layer is a fast path only. When it fails (Redis down), the connection stays
    open, remembers its groups, and every few seconds re-reads from the database what its client
    is missing (``resync``); when the layer answers again it re-joins its groups and resyncs once.
    """

    role = ""
    allowed_types: frozenset[str] = protocol.CLIENT_TYPES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set before Channels starts receiving: the layer's receive may fail before ``connect``.
        self.connection_id: Any = None
        self.groups_joined: set[str] = set()
        self.followed: dict[int, _Followed] = {}
        # Public ids this connection stopped following (ended, transferred, requeued): a frame
        # about one of them crossed the state change, and is told so rather than "forbidden".
        self.dropped: set[str] = set()
        self.degraded = False
        self._polls = 0
        self._layer_trouble = asyncio.Event()
        self._layer_receive: Callable[[], Awaitable[dict[str, Any]]] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with _live_lock:
            _live[self] = asyncio.get_running_loop()
        if _degrade_all not in events.layer_health.listeners:
            events.layer_health.listeners.append(_degrade_all)
        if events.layer_health.down:
            self.degrade()
        try:
            await super().__call__(scope, receive, send)
        finally:
            with _live_lock:
                _live.pop(self, None)
            await self.on_end()
            # However the consumer ends (a handler raised, the server cancelled it), its
            # Connection row goes: otherwise the counselor stays "available" and gets offers.
            try:
                await self.release_connection()
            except Exception as exc:
                # Not renewed any more (runtime), so its lease lapses and the sweeper reaps it.
                _warn_once_a_minute("closing a connection row", exc)

    async def connect(self) -> None:
        if settings.LOKET["RUN_RUNTIME"]:
            runtime.ensure_started()
        self.authenticated = False
        self.chat_window = _Window(*settings.LOKET["CHAT_RATE"])
        self.frame_window = _Window(*settings.LOKET["FRAME_RATE"])
        await self.accept()
        try:
            await self.on_open()
        except (OperationalError, InterfaceError) as exc:
            # The database is unreachable right now: a clear, retryable refusal (the client
            # reconnects with backoff), not a traceback and a 1011.
            _warn_once_a_minute("opening a connection", exc)
            await self.send_error("unavailable", protocol.ERROR_CODES["unavailable"], None)
            await self.close(code=protocol.CLOSE_TRY_AGAIN)

    async def on_open(self) -> None:
        """Role-specific start of the connection."""

    async def on_end(self) -> None:
        """Role-specific clean-up, however the consumer ends (after ``disconnect`` or not)."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Run the handler of one incoming frame or channel-layer event.

        Channels' own ``dispatch`` first hops to the database thread to close stale database
        connections, for every frame in and every event out, and then waits its turn behind
        whatever that thread is doing (another consumer's transaction). Every database call in
        Loket goes through ``database_sync_to_async``, which does that cleanup around the call
        itself, so the hop bought nothing and delayed each delivery.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if not message["type"].startswith("loket."):
            await handler(message)
            return
        try:
            await handler(message)
        except Exception as exc:
            # Forwarding one event failed (the database, most likely): the frame can be
            # recovered by a resync, the connection must not end over it.
            _warn_once_a_minute("forwarding a channel-layer event", exc)

    async def disconnect(self, code: int) -> None:
        # The row first: it is what routing and presence see; group memberships only cost a
        # few wasted sends and expire with the channel layer's group expiry.
        try:
            await self.release_connection()
        except Exception as exc:
            # Already marked abandoned: its lease lapses and a sweeper reaps it.
            _warn_once_a_minute("closing a connection row", exc)
        finally:
            groups = list(self.groups_joined)
            self.groups_joined.clear()
            for group in groups:
                if self.degraded or not await events.layer_call(
                    self.channel_layer.group_discard(group, self.channel_name)
                ):
                    break

    def hold_connection(self, connection_id: Any) -> None:
        """Remember the Connection row this socket opened (closed when the consumer ends)."""
        self.connection_id = connection_id

    async def release_connection(self) -> None:
        """Close this socket's Connection row, once."""
        connection_id, self.connection_id = self.connection_id, None
        if connection_id is not None:
            try:
                await access.connection_close(connection_id=connection_id)
            except BaseException:
                # Not renewed from now on: its lease lapses and a sweeper reaps it.
                runtime.connection_abandoned(connection_id)
                raise

    async def join(self, group: str) -> None:
        """Join a group; if the layer is down, remember it (joined when the layer is back)."""
        if group in self.groups_joined:
            return
        self.groups_joined.add(group)
        # While the layer is down a join is tried only when the breaker lets one through (the
        # first socket after Redis is back then finds out at once); the others are remembered.
        skip = self.degraded or not events.layer_health.may_try()
        if skip or not await events.layer_call(
            self.channel_layer.group_add(group, self.channel_name)
        ):
            self.degrade()

    async def leave_group(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.discard(group)
            if not self.degraded:
                await events.layer_call(self.channel_layer.group_discard(group, self.channel_name))

    # -------------------------------------------------------------- the channel layer, resilient

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

    async def _resilient_receive(self) -> dict[str, Any]:
        assert self._layer_receive is not None
        while True:
            if self.degraded:
                # Spread the connections' polls so they do not all query at the same instant.
                await asyncio.sleep(settings.LOKET["LAYER_POLL"] * random.uniform(0.75, 1.25))  # noqa: S311
                if await events.layer_probe(self.channel_name):
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
                events.layer_health.failed(exc)
                self.degrade()
                continue
            events.layer_health.succeeded()
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
            _warn_once_a_minute("resync from the database", exc)

    async def loket_layer_back(self, message: dict[str, Any]) -> None:
        """The layer answers again: re-join every group (a restarted Redis forgot them), then
        resync once for whatever was published before the groups were joined."""
        for group in list(self.groups_joined):
            if not await events.layer_call(self.channel_layer.group_add(group, self.channel_name)):
                self.degrade()
                break
        await self.loket_layer_poll({**message, "full": True})

    async def resync(self, *, full: bool = False) -> None:
        """Re-read from the database what this connection's client may have missed (entries,
        state, offers, status) and send only what differs from what it last sent; ``full``
        also re-sends the queue views. Called on auth/resume, a gap, ping and layer recovery."""
        for consultation_id in list(self.followed):
            await self.catch_up(consultation_id)

    async def send_frame(self, data: dict[str, Any]) -> None:
        await self.send(text_data=protocol.server_frame(data))

    async def send_error(self, code: str, message: str, request_id: str | None) -> None:
        await self.send(text_data=protocol.error_frame(code, message, request_id))

    async def ack(self, request_id: str | None, **extra: Any) -> None:
        await self.send_frame({"type": "ack", "id": request_id, **extra})

    # -------------------------------------------------------------- inbound

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None or text_data is None:
            await self.send_error("bad_json", "Binary frames are not accepted.", None)
            return
        if len(text_data) > settings.LOKET["MAX_FRAME_BYTES"] or (
            len(text_data.encode("utf-8")) > settings.LOKET["MAX_FRAME_BYTES"]
        ):
            await self.send_error("frame_too_large", protocol.ERROR_CODES["frame_too_large"], None)
            return
        if not self.frame_window.allow():
            await self.send_error("rate_limited", "Too many frames; slow down.", None)
            return
        try:
            message = protocol.parse_client(text_data, allowed=self.allowed_types)
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.message, exc.request_id)
            return
        if not self.authenticated and message.type != "auth":
            await self.send_error(
                "auth_required", protocol.ERROR_CODES["auth_required"], message.id
            )
            return
        if message.type == "chat.send" and not self.chat_window.allow():
            await self.send_error("rate_limited", protocol.ERROR_CODES["rate_limited"], message.id)
            return
        handler = getattr(self, "on_" + message.type.replace(".", "_"), None)
        if handler is None:
            await self.send_error("unknown_type", "Not accepted on this connection.", message.id)
            return
        try:
            await handler(message)
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, message.id)
        except (OperationalError, InterfaceError):
            # The database connection was lost (a restart, a failover, a terminated backend).
            # Django drops the broken connection and opens a new one on the next call, so the
            # client's retry works; a traceback per refused frame would only flood the log.
            log.warning("handling %s failed: database connection lost", message.type)
            await self.send_error("unavailable", protocol.ERROR_CODES["unavailable"], message.id)
        except Exception:
            log.exception("handling %s failed", message.type)
            await self.send_error("internal", protocol.ERROR_CODES["internal"], message.id)

    async def on_ping(self, message: protocol.Ping) -> None:
        # The channel layer may drop a frame; a ping is the client's chance to get it anyway.
        await self.resync()
        await self.send_frame(
            {"type": "pong", "id": message.id, "server_time": timezone.now().isoformat()}
        )

    # -------------------------------------------------------------- delivery in order

    async def replay(self, consultation_id: int, after_seq: int, upto: int | None = None) -> None:
        """Send entries after ``after_seq`` (up to ``upto``) from the database, in order."""
        followed = self.followed.get(consultation_id)
        if followed is None:
            return
        cursor = after_seq
        while True:
            batch = await access.entries_after(consultation_id=consultation_id, after_seq=cursor)
            for entry in batch:
                if upto is not None and entry["seq"] > upto:
                    return
                await self.send_frame(entry)
                cursor = followed.last_sent = entry["seq"]
            if len(batch) < access.REPLAY_PAGE:
                return

    async def catch_up(self, consultation_id: int) -> None:
        followed = self.followed.get(consultation_id)
        if followed is not None and followed.resumed:
            await self.replay(consultation_id, followed.last_sent)

    async def deliver_entry(self, consultation_id: int, frame: dict[str, Any]) -> None:
        followed = self.followed.get(consultation_id)
        if followed is None or not followed.resumed:
            return
        seq = int(frame["seq"])
        if seq <= followed.last_sent:
            return
        if seq > followed.last_sent + 1:
            # A gap: an earlier entry was dropped by the layer or is still in flight from
            # another process. The database has it (it was committed before it was published);
            # whatever dropped it may have dropped state frames too.
            await self.replay(consultation_id, followed.last_sent)
            await self.resync()
            return
        await self.send_frame(frame)
        followed.last_sent = seq

    async def ack_appended(
        self, request_id: str | None, consultation_id: int, entry: dict[str, Any], created: bool
    ) -> None:
        """Ack an entry this connection appended, with the entry itself and in order.

        The sender gets its entry in the ack, not again as a live frame; anything committed
        before it that this connection has not sent yet is replayed first, so nothing is skipped.
        """
        followed = self.followed.get(consultation_id)
        if followed is not None and followed.resumed and created:
            if entry["seq"] > followed.last_sent + 1:
                await self.replay(consultation_id, followed.last_sent, upto=entry["seq"] - 1)
            followed.last_sent = max(followed.last_sent, entry["seq"])
        await self.ack(request_id, entry=entry, duplicate=not created)

    async def start_following(
        self, consultation_id: int, public_id: str, topic_id: int, status: str, version: int
    ) -> _Followed:
        followed = self.followed.get(consultation_id)
        if followed is None:
            followed = _Followed(public_id, topic_id, status, version)
            self.followed[consultation_id] = followed
            self.dropped.discard(public_id)
            await self.join(events.group_consultation(consultation_id))
        return followed

    async def stop_following(self, consultation_id: int) -> None:
        followed = self.followed.pop(consultation_id, None)
        if followed is not None:
            self.dropped.add(followed.public_id)
            await self.leave_group(events.group_consultation(consultation_id))

    async def resume_from(self, consultation_id: int, last_seq: int) -> None:
        followed = self.followed[consultation_id]
        followed.resumed = True
        followed.last_sent = last_seq
        await self.replay(consultation_id, last_seq)

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

    async def on_chat_send(self, message: protocol.ChatSend) -> None:
        consultation_id = self.resolve(message.consultation_id)
        entry, created = await access.chat_append(
            consultation_id=consultation_id,
            role=self.role,
            staff=getattr(self, "staff", None),
            text=message.text,
            client_msg_id=message.client_msg_id,
        )
        await self.ack_appended(message.id, consultation_id, entry, created)

    async def on_resume(self, message: protocol.Resume) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await self.resume_from(consultation_id, message.last_seq)
        await self.resync()
        await self.ack(message.id)

    async def on_read(self, message: protocol.Read) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await access.read_mark(consultation_id=consultation_id, role=self.role, seq=message.seq)
        await self.ack(message.id)

    async def on_typing(self, message: protocol.Typing) -> None:
        consultation_id = self.resolve(message.consultation_id)
        followed = self.followed[consultation_id]
        await events.publish_ephemeral(
            [events.group_consultation(consultation_id)],
            {
                "type": "typing",
                "consultation_id": followed.public_id,
                "role": self.role,
                "active": message.active,
            },
            consultation_id=consultation_id,
            sender_channel=self.channel_name,
        )

    async def relay_rtc(self, message: Any, frame: dict[str, Any]) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await access.rtc_participant_check(
            consultation_id=consultation_id, role=self.role, staff=getattr(self, "staff", None)
        )
        followed = self.followed[consultation_id]
        frame.update(
            {"type": message.type, "consultation_id": followed.public_id, "from_role": self.role}
        )
        await events.publish_ephemeral(
            [events.group_consultation(consultation_id)],
            frame,
            consultation_id=consultation_id,
            sender_channel=self.channel_name,
        )

    async def on_rtc_offer(self, message: protocol.RtcDescription) -> None:
        await self.relay_rtc(message, {"sdp": message.sdp})

    on_rtc_answer = on_rtc_offer

    async def on_rtc_ice(self, message: protocol.RtcIce) -> None:
        candidate = message.candidate.model_dump() if message.candidate else None
        await self.relay_rtc(message, {"candidate": candidate})

    async def on_rtc_hangup(self, message: protocol.RtcHangup) -> None:
        await self.relay_rtc(message, {})

    async def call_change(self, message: Any, **fields: Any) -> None:
        """``call.*``: the call service decides (only the two participants, active only)."""
        await access.call_change(
            kind=message.type,
            consultation_id=self.resolve(message.consultation_id),
            role=self.role,
            staff=getattr(self, "staff", None),
            **fields,
        )
        await self.ack(message.id)

    async def on_call_start(self, message: protocol.CallStart) -> None:
        await self.call_change(message, audio_only=message.audio_only)

    async def on_call_request(self, message: protocol.CallRequest) -> None:
        await self.call_change(message, audio_only=message.audio_only)

    async def on_call_accept(self, message: protocol.CallAccept) -> None:
        await self.call_change(message, audio_only=message.audio_only)

    async def on_call_decline(self, message: protocol.CallDecline) -> None:
        await self.call_change(message)

    async def on_call_state(self, message: protocol.CallStateReport) -> None:
        await self.call_change(message, state=message.state, audio_only=message.audio_only)

    async def on_call_end(self, message: protocol.CallEnd) -> None:
        await self.call_change(message)

    # -------------------------------------------------------------- outbound (channel layer)

    async def loket_frame(self, event: dict[str, Any]) -> None:
        """A frame published by consult.events; re-checked here before it is forwarded."""
        if event.get("sender") == self.channel_name:
            return
        audience = event.get("audience", events.AUDIENCE_ALL)
        if audience not in (events.AUDIENCE_ALL, self.audience):
            return
        frame = event["frame"]
        consultation_id = event.get("consultation_id")
        kind = frame.get("type")
        if kind == "queue.snapshot":
            await self.on_queue_snapshot(frame)
            return
        if kind == "consultation.state" and consultation_id is not None:
            followed = self.followed.get(consultation_id)
            if followed is not None and int(frame.get("version", 0)) <= followed.version:
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
            await self.send_frame(frame)

    audience = events.AUDIENCE_ALL

    async def on_queue_snapshot(self, frame: dict[str, Any]) -> None:
        """Subclasses decide what of a queue snapshot this connection may see."""

    async def on_state(self, consultation_id: int, frame: dict[str, Any]) -> None:
        """Subclasses follow or stop following on a consultation's state change."""

    async def on_counselor_status(self, frame: dict[str, Any]) -> None:
        """Subclasses forward counselor status where it concerns them."""
