"""What every WebSocket connection shares: connect, typed client frames in, errors out, close.

A frame is size- and rate-checked (``ratelimit``), parsed into its typed model
(``signaling.protocol``), refused before auth unless it is ``auth``, and handed to the
``on_<type>`` handler of the role (``applicant``, ``staff``) or of the parts combined here:
delivery in order (``delivery``) and the relay of ``typing``, ``rtc.*`` and ``call.*``
(``relay``). A handler's ``DomainError`` becomes an ``error`` frame with its stable code.

Per-connection state only: who is connected, which consultations this socket follows and the
last sequence number it has sent for each. Everything else is in the database.

Imports: Channels, ``consult.runtime``, ``consult.errors``, ``signaling.bridge``,
``signaling.protocol`` and the other parts of this package (never the roles).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from django.conf import settings
from django.db import InterfaceError, OperationalError

from consult import runtime
from consult.errors import DomainError
from consult.events.frames import ConsultationState, Pong, Ready, now_iso

from .. import bridge, protocol
from ..protocol import ProtocolError
from .delivery import OrderedDelivery, Pending
from .ratelimit import FrameLimits, warn_once_a_minute
from .relay import RtcRelay

log = logging.getLogger(__name__)
T = TypeVar("T")

# Chat messages stored in one statement at most (those a connection sent while the previous
# ones were being stored).
APPEND_BATCH = 100
# How long a closing connection waits for its messages being stored before it lets go of them
# (they are stored anyway; only their acks are lost, and the client's retry is answered with
# the stored entry).
APPEND_SETTLE_SECONDS = 2.0


def _abandon_opened(task: asyncio.Future[Any]) -> None:
    """An opening whose consumer was cancelled completed: close the row it recorded."""
    if task.cancelled() or task.exception() is not None:
        return
    opened = task.result()
    if isinstance(opened, dict) and opened.get("connection_id") is not None:
        runtime.connection_abandoned(opened["connection_id"])


class BaseConsumer(RtcRelay, OrderedDelivery):
    """What applicant and staff connections share: parsing, limits, delivery in order.

    The channel layer is a fast path only (``delivery.LayerReceiver``): when it fails, the
    connection stays open and is served from the database until the layer is back.
    """

    allowed_types: frozenset[str] = protocol.CLIENT_TYPES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_id: Any = None
        # Chat messages received and not yet stored, in order, and the task storing them.
        self._appends: deque[tuple[protocol.ChatSend, int, Pending]] = deque()
        self._appender: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self._appends_settled(wait_at_most=APPEND_SETTLE_SECONDS)
            except BaseException:
                # Cancelled again while waiting (Daphne repeats its cancel of a consumer slow to
                # close): the row below must go all the same.
                if self._appender is not None:
                    self._appender.cancel()
            await self.on_end()
            # However the consumer ends (a handler raised, the server cancelled it), its
            # Connection row goes: otherwise the counselor stays "available" and gets offers.
            try:
                await self.release_connection()
            except Exception as exc:
                # Marked abandoned (``release_connection``): the runtime retries closing it.
                warn_once_a_minute("closing a connection row", exc)

    async def connect(self) -> None:
        self.authenticated = False
        self.limits = FrameLimits.from_settings()
        await self.accept()
        try:
            await self.on_open()
        except (OperationalError, InterfaceError) as exc:
            # The database is unreachable right now: a clear, retryable refusal (the client
            # reconnects with backoff), not a traceback and a 1011.
            warn_once_a_minute("opening a connection", exc)
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
            warn_once_a_minute("forwarding a channel-layer event", exc)

    async def disconnect(self, code: int) -> None:
        # The row first: it is what routing and presence see; group memberships only cost a
        # few wasted sends and expire with the channel layer's group expiry.
        try:
            await self.release_connection()
        except Exception as exc:
            # Already marked abandoned: the runtime retries closing it.
            warn_once_a_minute("closing a connection row", exc)
        finally:
            await self.leave_all_groups()

    async def opening(self, opening: Awaitable[T]) -> T:
        """Await the opening of this socket's Connection row (``bridge.*_connection_open``)
        without ever losing the row.

        The row is recorded in the database thread, which finishes its work even when this
        consumer is cancelled meanwhile (Daphne ends the consumer of a client that went away
        while its open waited its turn in that thread). Such a row has no consumer to close it
        and this process's heartbeat would keep it live, so once its opening completes it is
        handed to the runtime, which closes it (``runtime.connection_abandoned``).
        """
        task = asyncio.ensure_future(opening)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_abandon_opened)
            raise

    def hold_connection(self, connection_id: Any) -> None:
        """Remember the Connection row this socket opened (closed when the consumer ends)."""
        self.connection_id = connection_id
        runtime.connection_held()

    async def release_connection(self) -> None:
        """Close this socket's Connection row, once."""
        connection_id, self.connection_id = self.connection_id, None
        if connection_id is not None:
            try:
                await bridge.connection_close(connection_id=connection_id)
            except BaseException:
                # The runtime retries closing it (its heartbeat would keep it live).
                runtime.connection_abandoned(connection_id)
                raise

    async def send_error(self, code: str, message: str, request_id: str | None) -> None:
        await self.send(text_data=protocol.error_frame(code, message, request_id))

    async def send_ready(
        self,
        *,
        name: str | None,
        consultations: list[ConsultationState],
        topics: list[str],
        status: str | None,
    ) -> None:
        """The ``ready`` frame, once the connection is authenticated (either role)."""
        await self.send_frame(
            Ready(
                type="ready",
                role=self.role,
                name=name,
                consultations=consultations,
                topics=topics,
                status=status,
                server_time=now_iso(),
            )
        )

    async def allow_message(self, request_id: str | None) -> bool:
        """Whether one more message may be stored now (``LOKET_CHAT_RATE``); if not, the
        client is told ``rate_limited``."""
        if self.limits.allow_message():
            return True
        await self.send_error("rate_limited", self.limits.refusal_text(), request_id)
        return False

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
        if not self.limits.allow_frame():
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
        if message.type == "chat.send" and not await self.allow_message(message.id):
            return
        handler = getattr(self, "on_" + message.type.replace(".", "_"), None)
        if handler is None:
            await self.send_error("unknown_type", "Not accepted on this connection.", message.id)
            return
        if message.type != "chat.send":
            # Every other frame is handled after the chat messages sent before it are stored
            # and acked, as if they had been handled one at a time.
            await self._appends_settled()
        try:
            await handler(message)
        except Exception as exc:
            await self.refuse(message, exc)

    async def refuse(self, message: protocol.ClientMessage, exc: Exception) -> None:
        """Answer a frame its handler failed with an ``error`` frame of the stable code."""
        if isinstance(exc, DomainError):
            await self.send_error(exc.code, exc.message, message.id)
        elif isinstance(exc, OperationalError | InterfaceError):
            # The database connection was lost (a restart, a failover, a terminated backend).
            # Django drops the broken connection and opens a new one on the next call, so the
            # client's retry works; a traceback per refused frame would only flood the log.
            log.warning("handling %s failed: database connection lost", message.type)
            await self.send_error("unavailable", protocol.ERROR_CODES["unavailable"], message.id)
        else:
            log.error("handling %s failed", message.type, exc_info=exc)
            await self.send_error("internal", protocol.ERROR_CODES["internal"], message.id)

    async def on_ping(self, message: protocol.Ping) -> None:
        # The channel layer may drop a frame; a ping is the client's chance to get it anyway.
        # Where the process's marks show this connection has sent everything as of their last
        # read (signaling/marks.py), nothing was dropped before it: the pong needs no database.
        if not self.marks_say_nothing_missing():
            await self.resync()
        await self.send_frame(Pong(type="pong", id=message.id, server_time=now_iso()))

    async def on_chat_send(self, message: protocol.ChatSend) -> None:
        """Queue the message for storing and go on reading frames: a client that sends faster
        than one message is stored has what piled up meanwhile stored together, in one
        statement (``bridge.transcript_append_many``), each still acked (or refused) on its own
        and in the order sent."""
        consultation_id = self.resolve(message.consultation_id)
        pending = Pending(message.id)
        self._appends.append((message, consultation_id, pending))
        self.appending.setdefault((consultation_id, message.client_msg_id), []).append(pending)
        if self._appender is None or self._appender.done():
            self._appender = asyncio.ensure_future(self._append_queued())

    async def _append_queued(self) -> None:
        author = getattr(self, "staff", None)
        while self._appends:
            consultation_id = self._appends[0][1]
            batch: list[tuple[protocol.ChatSend, Pending]] = []
            while (
                self._appends
                and self._appends[0][1] == consultation_id
                and len(batch) < APPEND_BATCH
            ):
                message, _, pending = self._appends.popleft()
                batch.append((message, pending))
            try:
                results = await bridge.transcript_append_many(
                    consultation_id=consultation_id,
                    author_role=self.role,
                    author=author,
                    messages=[(message.text, message.client_msg_id) for message, _ in batch],
                )
            except Exception as exc:
                results = [exc] * len(batch)
            for (message, pending), result in zip(batch, results, strict=True):
                try:
                    if pending.acked:
                        # Its entry reached this connection's stream first and was acked there.
                        continue
                    if isinstance(result, Exception):
                        await self.refuse(message, result)
                    else:
                        entry, created = result
                        await self.ack_appended(
                            message.id, consultation_id, entry, created, pending=pending
                        )
                except Exception as exc:
                    # Acking failed (the socket closed, most likely): the message is stored,
                    # the client's retry gets its entry.
                    warn_once_a_minute("acking a chat message", exc)
                finally:
                    # Only now: its live entry, if not handled yet, is older than the ack.
                    self._settled(consultation_id, message.client_msg_id, pending)

    def _settled(self, consultation_id: int, client_msg_id: str, pending: Pending) -> None:
        key = (consultation_id, client_msg_id)
        waiting = self.appending.get(key, [])
        if pending in waiting:
            waiting.remove(pending)
        if not waiting:
            self.appending.pop(key, None)

    async def _appends_settled(self, wait_at_most: float | None = None) -> None:
        """Wait until the chat messages received so far are stored and acked (at most
        ``wait_at_most`` seconds, then they are let go: stored or not, unacked)."""
        task = self._appender
        if task is None or task.done():
            return
        if wait_at_most is None:
            # Shielded: a frame handler cancelled while it waits must not take the storing
            # of earlier messages with it.
            await asyncio.shield(task)
            return
        await asyncio.wait({task}, timeout=wait_at_most)
        if not task.done():
            task.cancel()

    async def on_resume(self, message: protocol.Resume) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await self.resume_from(consultation_id, message.last_seq)
        await self.resync()
        await self.ack(message.id)

    async def on_read(self, message: protocol.Read) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await bridge.transcript_read_mark(
            consultation_id=consultation_id, reader_role=self.role, seq=message.seq
        )
        await self.ack(message.id)
