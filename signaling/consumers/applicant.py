"""The applicant's WebSocket: token in the first frame, one consultation, queue position."""

from __future__ import annotations

import asyncio

from django.conf import settings

from consult.errors import DomainError, TokenExpired, TokenInvalid
from consult.events import groups
from consult.events.frames import Outgoing, QueuePosition
from consult.events.queue_fanout import placing_listener

from .. import bridge, protocol
from .base import BaseConsumer


class ApplicantConsumer(BaseConsumer):
    """Connection of one applicant, admitted by the token of their consultation."""

    role = "applicant"
    audience = groups.AUDIENCE_APPLICANT
    allowed_types = protocol.APPLICANT_TYPES
    # The applicant's resync is its consultation's marks (and what they show is missing).
    pong_from_marks = True

    async def on_open(self) -> None:
        self.consultation_id: int | None = None
        self.topic_id: int | None = None
        self.last_position: tuple[int, int | None] | None = None
        # ``as_of`` of the newest queue read a position was taken from (older ones are dropped).
        self.position_as_of = ""
        # The topic the process's placing listener places this connection in (while waiting).
        self.placed_in: int | None = None
        # Whether the listener's positions may be sent: only after ``ready`` and the replay.
        self.placeable = False
        self.auth_timer = asyncio.get_running_loop().call_later(
            settings.LOKET["AUTH_TIMEOUT"], self._auth_timeout
        )

    def _auth_timeout(self) -> None:
        if self.consultation_id is None:
            self.auth_close = asyncio.ensure_future(self.close(code=protocol.CLOSE_AUTH_TIMEOUT))

    async def disconnect(self, code: int) -> None:
        self.auth_timer.cancel()
        await super().disconnect(code)

    async def on_end(self) -> None:
        # However the consumer ends: the listener must not keep placing a connection gone.
        placed_in = getattr(self, "placed_in", None)
        consultation_id = getattr(self, "consultation_id", None)
        if placed_in is not None and consultation_id is not None:
            placing_listener().unfollow(placed_in, consultation_id, self)
            self.placed_in = None

    async def queue_follow(self, status: str | None) -> None:
        """Be placed by the process's placing listener while waiting (in ``self.topic_id``),
        not otherwise. Joined before any position is read, so no change falls in between."""
        topic_id = self.topic_id if status == "waiting" else None
        consultation_id = self.consultation_id
        if topic_id == self.placed_in or consultation_id is None:
            return
        listener = placing_listener()
        if self.placed_in is not None:
            listener.unfollow(self.placed_in, consultation_id, self)
            self.placed_in = None
        if topic_id is not None:
            # Set before the join is awaited: if this consumer is cancelled meanwhile, ``on_end``
            # still unfollows it (the listener must not keep a connection that is gone).
            self.placed_in = topic_id
            await listener.follow(topic_id, consultation_id, self)

    async def on_auth(self, message: protocol.Auth) -> None:
        if self.consultation_id is not None:
            await self.send_error("invalid_state", "Already authenticated.", message.id)
            return
        try:
            opened = await self.opening(
                bridge.applicant_connection_open(
                    token=message.token, channel_name=self.channel_name
                )
            )
        except (TokenInvalid, TokenExpired) as exc:
            await self.send_error(exc.code, exc.message, message.id)
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, message.id)
            return
        self.auth_timer.cancel()
        self.hold_connection(opened["connection_id"])
        consultation_id = int(opened["consultation_id"])
        self.consultation_id = consultation_id
        self.topic_id = int(opened["topic_id"])
        state = opened["state"]
        # Join the groups before reading anything, so no live frame falls between read and join.
        await self.start_following(
            consultation_id, state.consultation_id, self.topic_id, state.status, state.version
        )
        self.authenticated = True
        await self.queue_follow(state.status)
        await self.send_ready(name=None, consultations=[state], topics=[state.topic], status=None)
        await self.resume_from(consultation_id, message.last_seq or 0)
        self.placeable = True
        await self.push_position(await bridge.queue_position(consultation_id=consultation_id))
        # The state in ``ready`` was read before the groups were joined: a change in between
        # was published to nobody here.
        await self.resync()

    async def resync(self, *, full: bool = False) -> None:
        """Entries after the last one sent, the state if its version moved, and (``full``, or
        while waiting) the queue position. One query when nothing changed."""
        # A poll may come before ``connect`` ran, if the layer failed that early.
        consultation_id: int | None = getattr(self, "consultation_id", None)
        followed = self.followed.get(consultation_id) if consultation_id is not None else None
        if consultation_id is None or followed is None or not followed.resumed:
            return
        marks = await self.read_marks([consultation_id])
        if consultation_id not in marks:
            return
        version, last_seq = marks[consultation_id]
        if last_seq > followed.last_sent:
            await self.replay(consultation_id, followed.last_sent)
        if version > followed.version:
            state = await bridge.consultation_state(
                consultation_id=consultation_id, for_staff=False
            )
            await self.on_state(consultation_id, Outgoing.of(state))
        elif full and followed.status == "waiting":
            await self.push_position(await bridge.queue_position(consultation_id=consultation_id))

    async def push_position(self, frame: QueuePosition | None) -> None:
        """Send the position if it or the estimate changed, unless it was read before the one
        sent (positions come from this connection's own reads and the placing listener)."""
        if frame is None or frame.as_of < self.position_as_of:
            return
        self.position_as_of = frame.as_of
        key = (frame.position, frame.estimated_wait_seconds)
        if key != self.last_position:
            self.last_position = key
            await self.send_frame(frame)

    async def place(self, *, position: int, estimated_wait_seconds: int | None, as_of: str) -> None:
        """From the placing listener: O(1), and a frame is built only when something changed."""
        followed = self.followed.get(self.consultation_id) if self.consultation_id else None
        if followed is None or not self.placeable or as_of < self.position_as_of:
            # Placed while ``auth`` is still being answered: nothing yet (``ready`` and the
            # replay come first, docs/PROTOCOL.md); ``auth`` then reads and sends the position.
            return
        if (position, estimated_wait_seconds) == self.last_position:
            self.position_as_of = as_of
            return
        await self.push_position(
            QueuePosition(
                type="queue.position",
                consultation_id=followed.public_id,
                position=position,
                estimated_wait_seconds=estimated_wait_seconds,
                as_of=as_of,
            )
        )

    async def on_state(self, consultation_id: int, frame: Outgoing) -> None:
        if consultation_id != self.consultation_id:
            return
        state = frame.data
        followed = self.followed[consultation_id]
        followed.status = state["status"]
        followed.version = max(followed.version, int(state.get("version", 0)))
        self.topic_id = await bridge.consultation_topic(consultation_id=consultation_id)
        await self.queue_follow(state["status"])
        if state["status"] != "waiting":
            self.last_position = None
        await self.send_outgoing(frame)
        if state["status"] == "waiting":
            await self.push_position(await bridge.queue_position(consultation_id=consultation_id))

    async def on_leave(self, message: protocol.Leave) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await bridge.consultation_end(
            consultation_id=consultation_id, ended_by="applicant", reason="left"
        )
        await self.ack(message.id)
