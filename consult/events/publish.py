"""Publishing: what happened, told to the connections concerned, after the transaction commits.

Every function here is named for what happened (``entry_appended``, ``consultation_changed``,
``queues_changed``...) and registers its sends with ``transaction.on_commit``: nothing is
published for a write that rolls back, and nothing is ever only here. The channel layer is
at-most-once, so every frame a client must not miss is a database row it can fetch again (by
sequence number, by state version). The frames that are never stored (typing, WebRTC signaling)
go out at once instead (``typing_changed``, ``rtc_relayed``), and not at all while the layer is
down.

A frame is validated and serialised once per publish (``Outgoing.of``), however many groups and
connections it reaches; consumers forward its text as is.

May import: consult.models, consult.selectors (reads after commit), the other consult.events
modules. Never a service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection, transaction
from pydantic import BaseModel

from consult.models import Consultation, InternalNote, StaffProfile, TranscriptEntry
from consult.selectors.queue import queue_snapshots
from consult.selectors.staff import staff_topic_ids

from . import layer, queue_fanout, sender
from .frames import (
    ConsultationState,
    CounselorStatusFrame,
    Entry,
    NoteFrame,
    Outgoing,
    ReadFrame,
    RtcDescriptionFrame,
    RtcHangupFrame,
    RtcIceFrame,
    TypingFrame,
    validated,
)
from .groups import (
    AUDIENCE_ALL,
    AUDIENCE_APPLICANT,
    AUDIENCE_STAFF,
    FRAME_EVENT,
    GROUP_SUPERVISORS,
    SESSION_CHECK_EVENT,
    group_consultation,
    group_placing,
    group_staff,
    group_topic,
    group_user,
)

# ---------------------------------------------------------------- the sending itself


def layer_message(
    frame: Outgoing,
    *,
    consultation_id: int | None,
    audience: str,
    **internal: Any,
) -> dict[str, Any]:
    """The channel-layer event a consumer's ``loket_frame`` handler receives: the frame (its
    values and its text), whom it concerns, and internal data that is never forwarded (``sender``
    of a relayed frame, the ids of a placing)."""
    return {
        "type": FRAME_EVENT,
        "frame": frame.data,
        "text": frame.text,
        "consultation_id": consultation_id,
        "audience": audience,
        **internal,
    }


def frame_of(event: dict[str, Any]) -> Outgoing:
    """The frame a ``loket.frame`` event carries, as its publisher validated and serialised it.

    A process of an earlier release (during a rolling upgrade) sends the frame's values only,
    with a queue's internal order inside: that frame is validated and serialised here, without
    the order."""
    text = event.get("text")
    if text is None:
        values = {k: v for k, v in event["frame"].items() if k != "order"}
        return Outgoing.of(validated(values))
    return Outgoing(event["frame"], text)


def _send_now(group: str, frame: dict[str, Any], message: dict[str, Any]) -> None:
    """Send one prepared event to one group (``frame`` is the event's frame, for readers).

    Handed to the process's sender (``consult.events.sender``): from a committing thread this
    only enqueues, and the serving loop sends it, in order, through the breaker; without a
    serving loop it is sent in place. Never fails the already-committed write."""
    sender.send(group, message)


def publish(
    groups: Iterable[str],
    frame: BaseModel,
    *,
    consultation_id: int | None = None,
    audience: str = AUDIENCE_ALL,
    committed: bool = False,
    **internal: Any,
) -> None:
    """Send ``frame`` to every group once the current transaction commits.

    ``audience`` tells consumers which kind of connection may forward it (applicant, staff, all).
    The frame is validated and serialised now, in the transaction; after commit the callback
    only hands the sends to the process's sender (``_send_now``), so the committing thread (the
    database thread every consumer shares) never waits for the channel layer. ``committed``:
    the write is committed already, outside Django's transactions (a statement run on the event
    loop, ``consult.services.chat_loop``): sent now.
    """
    targets = list(dict.fromkeys(groups))
    message = layer_message(
        Outgoing.of(frame), consultation_id=consultation_id, audience=audience, **internal
    )

    def send() -> None:
        for group in targets:
            _send_now(group, message["frame"], message)

    if committed:
        send()
    else:
        transaction.on_commit(send)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` (which reads fresh and publishes) once the transaction commits, in the
    committing thread; what it publishes is sent by the sender like every other frame."""
    transaction.on_commit(callback)


async def _send_ephemeral(frame: BaseModel, *, consultation_id: int, sender_channel: str) -> None:
    """Fan out a frame that is never stored to the consultation's group, skipping its sender."""
    channel_layer = get_channel_layer()
    if channel_layer is None:
        return
    message = layer_message(
        Outgoing.of(frame),
        consultation_id=consultation_id,
        audience=AUDIENCE_ALL,
        sender=sender_channel,
    )
    if layer.layer_health.may_try():
        await layer.layer_call(
            channel_layer.group_send(group_consultation(consultation_id), message)
        )


# ---------------------------------------------------------------- what happened


def entry_appended(
    consultation: Consultation, entry: TranscriptEntry, *, committed: bool = False
) -> None:
    """A transcript entry was stored: to everyone in the consultation."""
    publish(
        [group_consultation(consultation.pk)],
        Entry.of(entry, public_id=str(consultation.public_id)),
        consultation_id=consultation.pk,
        committed=committed,
    )


def read_marked(consultation: Consultation, *, role: str, seq: int) -> None:
    """A side's read mark rose: to every connection of the consultation (its own included)."""
    publish(
        [group_consultation(consultation.pk)],
        ReadFrame(
            type="read",
            consultation_id=str(consultation.public_id),
            role=role,
            seq=seq,
        ),
        consultation_id=consultation.pk,
    )


def note_added(consultation: Consultation, note: InternalNote) -> None:
    """An internal note was stored: to supervisors and the counselor holding it, staff only."""
    groups = [GROUP_SUPERVISORS]
    if consultation.counselor_id:
        groups.append(group_staff(consultation.counselor_id))
    publish(
        groups,
        NoteFrame.of(note, public_id=str(consultation.public_id)),
        consultation_id=consultation.pk,
        audience=AUDIENCE_STAFF,
    )


def consultation_changed(
    consultation: Consultation, *, previous_counselor_id: int | None = None
) -> None:
    """The consultation's state changed: to its participants and the counselors concerned.

    Bumps the consultation's ``version`` in the caller's transaction first, so the frame carries
    the version the database has: a connection that missed the frame sees a higher version when
    it re-reads (``resync``) and re-sends the state. ``version`` is the state frames' delivery
    mark (like ``seq`` for entries), not domain state, which is why the fan-out owns it; every
    caller is a service inside its transaction.
    """
    with connection.cursor() as cursor:
        # UPDATE ... RETURNING (PostgreSQL, SQLite >= 3.35), as transcript's sequence numbers:
        # one round trip on every change of state instead of an UPDATE and a SELECT.
        cursor.execute(
            "UPDATE consult_consultation SET version = version + 1 WHERE id = %s RETURNING version",
            [consultation.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Consultation.DoesNotExist(f"consultation {consultation.pk} is gone")
    consultation.version = int(row[0])
    publish(
        [group_consultation(consultation.pk)],
        ConsultationState.of(consultation, for_staff=False),
        consultation_id=consultation.pk,
        audience=AUDIENCE_APPLICANT,
    )
    staff_groups = [GROUP_SUPERVISORS]
    for staff_id in (consultation.counselor_id, previous_counselor_id):
        if staff_id:
            staff_groups.append(group_staff(staff_id))
    publish(
        staff_groups,
        ConsultationState.of(consultation, for_staff=True),
        consultation_id=consultation.pk,
        audience=AUDIENCE_STAFF,
    )


def counselor_status_changed(staff: StaffProfile, *, reason: str = "") -> None:
    """A counselor's status was stored: to their connections and supervisors."""
    publish(
        [group_staff(staff.pk), GROUP_SUPERVISORS],
        CounselorStatusFrame(
            type="counselor.status",
            counselor_id=staff.pk,
            counselor_name=staff.display_name,
            status=staff.status,
            reason=reason or None,
        ),
        audience=AUDIENCE_STAFF,
    )


def _queue_topics_of(staff_ids: set[int]) -> set[int]:
    return staff_topic_ids(staff_ids=staff_ids)


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Reads that all see the database as of the first of them: on PostgreSQL a read-only
    REPEATABLE READ transaction (in autocommit each query sees the commits made since the one
    before: the staffing read before an offer and the order read after it gave the applicant
    behind position 1 with the wait of a free counselor, 0 s). On SQLite one process writes at
    a time and the reads stay as they are (a transaction there would take the write lock)."""
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _queue_messages(topic_ids: list[int]) -> list[tuple[list[str], dict[str, Any]]]:
    """Read the topics' queues once (the staffing once for all of them, all in one snapshot)
    and prepare, per topic, the bounded ``queue.snapshot`` for its staff and supervisors and
    the placing (the whole order, ids only) for the placing listeners of the processes with
    waiting applicants of it: (groups, channel-layer message) pairs, each frame serialised
    once."""
    prepared: list[tuple[list[str], dict[str, Any]]] = []
    with _one_snapshot():
        views = list(queue_snapshots(topic_ids=topic_ids, placing=True))
    for topic_id, view in zip(topic_ids, views, strict=True):
        prepared.append(
            (
                [group_topic(topic_id), GROUP_SUPERVISORS],
                layer_message(
                    Outgoing.of(view.snapshot), consultation_id=None, audience=AUDIENCE_ALL
                ),
            )
        )
        if view.placing is not None:
            prepared.append(
                (
                    [group_placing(topic_id)],
                    layer_message(
                        Outgoing.of(view.placing.head),
                        consultation_id=None,
                        audience=AUDIENCE_ALL,
                        **view.placing.internal(),
                    ),
                )
            )
    return prepared


async def _queue_send(prepared: list[tuple[list[str], dict[str, Any]]]) -> None:
    """On the serving loop: send what ``_queue_messages`` prepared, through the breaker (the
    coalescer's task, so a topic's publishes leave in the order they were read)."""
    channel_layer = get_channel_layer()
    if channel_layer is None:
        return
    for groups, message in prepared:
        for group in groups:
            if layer.layer_health.may_try():
                await layer.layer_call(channel_layer.group_send(group, message))


def _queue_publish(topic_ids: list[int]) -> None:
    """Without a serving loop: read (in one snapshot) and publish in place (``publish``)."""
    with _one_snapshot():
        views = list(queue_snapshots(topic_ids=topic_ids, placing=True))
    for topic_id, view in zip(topic_ids, views, strict=True):
        publish([group_topic(topic_id), GROUP_SUPERVISORS], view.snapshot)
        if view.placing is not None:
            publish([group_placing(topic_id)], view.placing.head, **view.placing.internal())


QUEUE_READS = queue_fanout.QueueReads(
    topics_of=_queue_topics_of,
    prepare=_queue_messages,
    send=_queue_send,
    in_place=_queue_publish,
)
queue_fanout.use_reads(QUEUE_READS)


def queues_changed(
    *, counselor_ids: Iterable[int | None] = (), topic_ids: Iterable[int | None] = ()
) -> None:
    """After commit: the queue of each topic given and of each topic these counselors serve.

    The one place where "counselor C's capacity changed" becomes fresh snapshots (estimates and
    free places) for every topic C serves. After commit the topics are only marked dirty
    (``queue_fanout.topics_changed``): the process's coalescer reads and publishes each at most
    once per ``LOKET_QUEUE_COALESCE_MS``, outside the dispatch lock and the database thread the
    consumers share.
    """
    topics = {t for t in topic_ids if t is not None}
    staff_ids = {c for c in counselor_ids if c is not None}
    if not topics and not staff_ids:
        return
    after_commit(
        lambda: queue_fanout.topics_changed(topics=topics, staff=staff_ids, reads=QUEUE_READS)
    )


def session_changed(*, user_id: int, revoked_session: str | None = None) -> None:
    """After commit, tell every staff connection of ``user_id`` to re-check its session now.

    ``revoked_session`` is the digest of a session that is ending (logout): connections on it
    close without waiting for the database to say so.
    """
    message = {"type": SESSION_CHECK_EVENT, "revoked_session": revoked_session}

    def send() -> None:
        # Through the process's sender and its breaker like every other send: a logout never
        # waits on the layer, and the connections re-check their session periodically anyway.
        sender.send(group_user(user_id), message)

    transaction.on_commit(send)


async def typing_changed(
    *, consultation_id: int, public_id: str, role: str, active: bool, sender_channel: str
) -> None:
    """Someone started or stopped typing: to the other side, at once, never stored."""
    await _send_ephemeral(
        TypingFrame(
            type="typing",
            consultation_id=public_id,
            role=role,
            active=active,
        ),
        consultation_id=consultation_id,
        sender_channel=sender_channel,
    )


async def rtc_relayed(
    frame: RtcDescriptionFrame | RtcIceFrame | RtcHangupFrame,
    *,
    consultation_id: int,
    sender_channel: str,
) -> None:
    """A WebRTC signaling frame from one participant: to the other one, at once, never stored."""
    await _send_ephemeral(frame, consultation_id=consultation_id, sender_channel=sender_channel)
