"""The staff WebSocket: counselors (offers, their consultations, their topics' queues) and
supervisors (every queue and status, read-only), authenticated by their Django session."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel

from consult.errors import Forbidden
from consult.events import groups, publish
from consult.events.frames import Board, CounselorStatusFrame, Outgoing, QueueView

from .. import bridge, protocol
from ..marks import board
from ..session_guard import SessionGuard
from .base import BaseConsumer

# State versions remembered per connection, at most (``StaffConsumer._saw_version``).
VERSIONS_KEPT = 2000


def _without_as_of(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "as_of"}


class StaffConsumer(BaseConsumer):
    """Connection of a logged-in counselor or supervisor."""

    audience = groups.AUDIENCE_STAFF
    allowed_types = protocol.CLIENT_TYPES - {"auth", "leave"}
    # ``pong_from_marks`` stays off: a counselor's resync also looks for new offers and their
    # status, which no consultation's marks show (staff sockets are few).

    async def on_open(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.send_error("forbidden", "Log in first.", None)
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        opened = await self.opening(
            bridge.staff_connection_open(user=user, channel_name=self.channel_name)
        )
        if opened is None:
            await self.send_error("forbidden", "This account is not staff.", None)
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        self.staff = opened["staff"]
        # The live console's masking policy, as of this connection's opening (None: show all).
        self.live_mask: dict[str, str] | None = opened.get("live_mask")
        self.hold_connection(opened["connection_id"])
        # Joined before the session's first check, so that a logout or account change committed
        # after that check arrives as an event. (A failed check closes; disconnect then closes
        # the connection recorded above.)
        self.guard = SessionGuard(self)
        await self.join(groups.group_user(self.guard.user_id))
        if not await self.guard.check():
            return
        self.guard.start()
        self.authenticated = True
        self.role = "counselor" if self.staff.is_counselor else "supervisor"
        self.topic_ids: list[int] = opened["topic_ids"]
        # What this connection last sent, so a resync sends only what changed.
        self.status_sent: str | None = self.staff.status if self.staff.is_counselor else None
        self.snapshots_sent: dict[str, dict[str, Any]] = {}
        # Consultation -> the highest state version handled by ``on_state``.
        self.versions_seen: dict[int, int] = {}
        # Offers shown that the database did not confirm (``on_state``).
        self.shown_unfollowed: set[int] = set()
        self.board_sent: Board | None = None
        if self.staff.is_counselor:
            await self.join(groups.group_staff(self.staff.pk))
            for consultation_id, topic_id, state in opened["held"]:
                await self.start_following(
                    consultation_id, state.consultation_id, topic_id, state.status, state.version
                )
        else:
            await self.join(groups.GROUP_SUPERVISORS)
        for topic_id in self.topic_ids:
            await self.join(groups.group_topic(topic_id))
        views: list[QueueView] = opened["snapshots"]
        await self.send_ready(
            name=self.staff.display_name,
            consultations=[state for _, _, state in opened["held"]],
            topics=[view.snapshot.topic for view in views],
            status=self.staff.status if self.staff.is_counselor else None,
        )
        for view in views:
            await self.on_queue_snapshot(Outgoing.of(view.snapshot))
        if self.role == "supervisor":
            # Read after the groups were joined: every change committed after this read also
            # arrives as a live frame, which the page applies on top of the board.
            await self.send_board(await bridge.board_snapshot())
        else:
            # What was read above predates the joins: a change in between reached nobody here.
            await self.resync()

    async def send_board(self, board: Board) -> None:
        if board != self.board_sent:
            self.board_sent = board
            await self.send_frame(board)

    async def resync(self, *, full: bool = False) -> None:
        """A counselor: entries, changed or new consultations (offers), their status; ``full``
        also the topics' queues (a supervisor: the board and queues, only on ``full``)."""
        if self.role == "supervisor":
            if full:
                await self.send_board(await bridge.board_snapshot())
                await self.resync_queues()
            return
        if self.role != "counselor":
            return
        began = time.monotonic()
        status, marks = await bridge.counselor_sync_marks(
            staff_id=self.staff.pk, followed_ids=list(self.followed)
        )
        # What this counselor follows, for the process's marks (an applicant's ping here).
        board.read(
            {cid: mark[:2] for cid, mark in marks.items() if cid in self.followed}, began=began
        )
        for consultation_id, (version, last_seq, held) in marks.items():
            followed = self.followed.get(consultation_id)
            if followed is None:
                if held:
                    # Offered or handed to this counselor while the frame was lost.
                    await self.resend_state(consultation_id)
                continue
            if followed.resumed and last_seq > followed.last_sent:
                await self.replay(consultation_id, followed.last_sent)
            if version > followed.version or not held:
                await self.resend_state(consultation_id)
        if status != self.status_sent:
            self.status_sent = status
            await self.send_frame(
                CounselorStatusFrame(
                    type="counselor.status",
                    counselor_id=self.staff.pk,
                    counselor_name=self.staff.display_name,
                    status=status,
                    reason=None,
                )
            )
        if full:
            await self.resync_queues()

    async def resend_state(self, consultation_id: int) -> None:
        """The consultation's state as the database has it now, as if it had been published."""
        state = await bridge.consultation_state(consultation_id=consultation_id, for_staff=True)
        # The database's word now: applied even at a version already seen in a frame.
        self.versions_seen.pop(consultation_id, None)
        await self.on_state(consultation_id, Outgoing.of(state))

    async def resync_queues(self) -> None:
        for view in await bridge.queue_snapshots(topic_ids=self.topic_ids):
            await self.on_queue_snapshot(Outgoing.of(view.snapshot))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        guard: SessionGuard | None = getattr(self, "guard", None)
        if guard is not None and not await guard.allows_frame():
            return
        await super().receive(text_data, bytes_data)

    async def disconnect(self, code: int) -> None:
        await self.on_end()
        await super().disconnect(code)

    async def on_end(self) -> None:
        # Also when the consumer ends without ``disconnect``: the periodic check must not keep
        # it alive, querying the database, for as long as the process runs.
        guard: SessionGuard | None = getattr(self, "guard", None)
        if guard is not None:
            await guard.stop()

    async def loket_session_check(self, event: dict[str, Any]) -> None:
        """Logout or an account change: end this connection if its session is gone."""
        guard: SessionGuard | None = getattr(self, "guard", None)
        if guard is not None:
            await guard.on_event(event)

    def _counselor_only(self) -> None:
        if self.role != "counselor":
            from consult.errors import Forbidden

            raise Forbidden("Only counselors may do this.")

    async def on_queue_snapshot(self, frame: Outgoing) -> None:
        """Staff see who waits (no personal data). Several processes publish a topic's
        snapshots: one read earlier (``as_of``) than the last one sent is dropped, and one that
        says nothing new is not sent again."""
        topic = frame.data["topic"]
        as_of = str(frame.data.get("as_of", ""))
        sent = self.snapshots_sent.get(topic)
        if sent is not None:
            if as_of < str(sent.get("as_of", "")):
                return
            if _without_as_of(sent) == _without_as_of(frame.data):
                # Nothing new, but newer: an earlier read arriving after it is stale.
                self.snapshots_sent[topic] = frame.data
                return
        self.snapshots_sent[topic] = frame.data
        await self.send_outgoing(frame)

    # ---------------------------------------------------------------- masking (live console)

    def _masked(self, kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """A frame's values as the live console's masking policy shows them (docs/RECORDS.md):
        entries' and notes' texts, and the applicant's name in a consultation's state; None
        when nothing in it changes."""
        if not self.live_mask:
            return None
        if kind in ("entry", "note") and isinstance(data.get("text"), str) and data["text"]:
            shown = bridge.masked_text(data["text"], self.live_mask)
            return {**data, "text": shown} if shown != data["text"] else None
        if kind == "consultation.state" and data.get("applicant_name"):
            name = bridge.masked_name(data["applicant_name"], self.live_mask.get("name", "mask"))
            return {**data, "applicant_name": name} if name != data["applicant_name"] else None
        return None

    async def send_outgoing(self, frame: Outgoing) -> None:
        """Frames as the live console's masking policy shows them; with a counselor's default
        policy (show everything), sent as published."""
        masked = self._masked(frame.type, frame.data)
        if masked is not None:
            text = json.dumps(masked, ensure_ascii=False, separators=(",", ":"))
            frame = Outgoing(masked, text)
        await super().send_outgoing(frame)

    async def send_frame(self, frame: BaseModel) -> None:
        """As ``send_outgoing``, for frames this connection built (replays, notes, states)."""
        kind = getattr(frame, "type", "")
        if self.live_mask and kind in ("entry", "note", "consultation.state"):
            masked = self._masked(kind, frame.model_dump(mode="json"))
            if masked is not None:
                frame = type(frame).model_validate(masked)
        await super().send_frame(frame)

    async def on_state(self, consultation_id: int, frame: Outgoing) -> None:
        """A consultation's state changed. Whether it concerns this counselor is read from the
        frame itself (its ``counselor_id`` and ``status`` as of the commit that published it),
        so the state, and above all a new offer, reaches the console without waiting for the
        database thread. The database is asked only before following a consultation this
        connection does not follow yet (its group, its transcript and notes), so a frame that
        was overtaken never opens a consultation to someone who no longer holds it."""
        if self.role == "supervisor":
            await self.send_outgoing(frame)
            return
        state = frame.data
        version = int(state.get("version", 0))
        seen = self.versions_seen.get(consultation_id)
        if seen is not None and version <= seen:
            # Older than a state already handled here (frames of one consultation published by
            # two processes may arrive out of order).
            return
        self._saw_version(consultation_id, version)
        held = bridge.held_as_published(
            counselor_id=state.get("counselor_id"), status=state["status"], staff_id=self.staff.pk
        )
        followed = self.followed.get(consultation_id)
        if followed is not None:
            followed.status = state["status"]
            followed.version = max(followed.version, version)
            await self.send_outgoing(frame)
            if not held:
                await self.stop_following(consultation_id)
            return
        if not held:
            if consultation_id in self.shown_unfollowed:
                # An offer shown here that the database did not confirm (it had moved on
                # meanwhile): this newer state takes it off the console.
                self.shown_unfollowed.discard(consultation_id)
                await self.send_outgoing(frame)
            return
        # New to this connection (offered or transferred to this counselor): the console shows
        # it now; everything else of it once the database confirms it is still held.
        await self.send_outgoing(frame)
        still_held, topic_id = await bridge.consultation_held_by(
            staff_id=self.staff.pk, consultation_id=consultation_id
        )
        if consultation_id in self.followed:
            return
        if not still_held:
            # Moved on since this frame (declined in another tab, abandoned, handed on): its
            # newer state is on its way here, and is forwarded (above) to take the offer back.
            self.shown_unfollowed.add(consultation_id)
            return
        self.shown_unfollowed.discard(consultation_id)
        # As of this frame: the states after it (if any) are on their way and applied in turn.
        await self.start_following(
            consultation_id, state["consultation_id"], topic_id, state["status"], version
        )
        # New to this connection: it has nothing of it yet, so everything is sent.
        await self.resume_from(consultation_id, 0)
        await self.send_notes(consultation_id)

    def _saw_version(self, consultation_id: int, version: int) -> None:
        self.versions_seen[consultation_id] = version
        if len(self.versions_seen) > VERSIONS_KEPT:
            # The oldest half forgotten (a counselor sees a few hundred consultations a day).
            for stale in list(self.versions_seen)[: VERSIONS_KEPT // 2]:
                del self.versions_seen[stale]

    async def on_counselor_status(self, frame: Outgoing) -> None:
        if self.role == "supervisor":
            await self.send_outgoing(frame)
        elif frame.data.get("counselor_id") == self.staff.pk:
            self.status_sent = frame.data["status"]
            await self.send_outgoing(frame)

    async def on_status_set(self, message: protocol.StatusSet) -> None:
        self._counselor_only()
        await bridge.counselor_status_set(staff=self.staff, status=message.status)
        await self.ack(message.id)

    async def on_offer_accept(self, message: protocol.OfferAccept) -> None:
        self._counselor_only()
        try:
            consultation_id: int | None = self.resolve(message.consultation_id)
        except Forbidden:
            # No longer followed, e.g. an offer that lapsed: the service tells the counselor who
            # had it (invalid_state) from anyone else (forbidden).
            consultation_id = None
        await bridge.offer_accept(
            staff=self.staff, consultation_id=consultation_id, public_id=message.consultation_id
        )
        await self.ack(message.id)

    async def on_offer_decline(self, message: protocol.OfferDecline) -> None:
        self._counselor_only()
        await bridge.offer_decline(
            staff=self.staff, consultation_id=self.resolve(message.consultation_id)
        )
        await self.ack(message.id)

    async def on_consultation_end(self, message: protocol.ConsultationEnd) -> None:
        self._counselor_only()
        await bridge.consultation_end(
            consultation_id=self.resolve(message.consultation_id),
            ended_by="counselor",
            staff=self.staff,
            reason=message.reason,
            outcome=message.outcome,
        )
        await self.ack(message.id)

    # -------------------------------------------------------------- counselor's tools

    async def on_kb_insert(self, message: protocol.KbInsert) -> None:
        """A knowledge-base article as a message: like ``chat.send``, acked with its entry."""
        self._counselor_only()
        if not await self.allow_message(message.id):
            return
        consultation_id = self.resolve(message.consultation_id)
        entry, created = await bridge.knowledge_insert(
            staff=self.staff,
            consultation_id=consultation_id,
            article_id=message.article_id,
            section=message.section,
            client_msg_id=message.client_msg_id,
        )
        await self.ack_appended(message.id, consultation_id, entry, created)

    async def on_note_add(self, message: protocol.NoteAdd) -> None:
        self._counselor_only()
        await bridge.note_add(
            staff=self.staff,
            consultation_id=self.resolve(message.consultation_id),
            text=message.text,
        )
        await self.ack(message.id)

    async def on_resume(self, message: protocol.Resume) -> None:
        await super().on_resume(message)
        await self.send_notes(self.resolve(message.consultation_id))

    async def send_notes(self, consultation_id: int) -> None:
        """Every internal note of a consultation this counselor holds (after the replay)."""
        for frame in await bridge.notes_for_holder(
            staff_id=self.staff.pk, consultation_id=consultation_id
        ):
            await self.send_frame(frame)

    async def loket_frame(self, event: dict[str, Any]) -> None:
        frame = publish.frame_of(event)
        if frame.type != "note":
            await super().loket_frame(event)
            return
        # Staff only, and re-checked here: supervisors, or the counselor following it now.
        if event.get("audience") != groups.AUDIENCE_STAFF:
            return
        if self.role == "supervisor" or event.get("consultation_id") in self.followed:
            await self.send_outgoing(frame)

    async def on_consultation_transfer(self, message: protocol.ConsultationTransfer) -> None:
        self._counselor_only()
        await bridge.consultation_transfer(
            staff=self.staff,
            consultation_id=self.resolve(message.consultation_id),
            topic_code=message.topic,
            counselor_id=message.counselor_id,
            note=message.note,
        )
        await self.ack(message.id)
