"""Every frame the server sends, as one typed model each, and how it travels.

A frame is built once, by its model (``Entry.of(entry, ...)``, ``ConsultationState.of(...)``,
``Ready(...)``): building it validates it. ``Outgoing.of(frame)`` serialises it once; that is
what a publish puts on the channel layer (``data`` to read, ``text`` to send as is), so a frame
published to a thousand connections is validated and serialised once, not once per recipient.

docs/PROTOCOL.md documents each frame with an example, checked against these models
(tests/signaling/test_protocol_doc.py); docs/protocol.schema.json is generated from them
(``manage.py protocol_schema``) together with the client frames of signaling/protocol.py.

Imports pydantic, Django's clock, and consult.models (for the builders' argument types) only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

if TYPE_CHECKING:
    from consult.models import Consultation, InternalNote, TranscriptEntry

Role = Literal["applicant", "counselor", "system"]
Outcome = Literal["answered", "referred", "needs_documents", "out_of_scope", "other"]
RequestId = Annotated[str, Field(max_length=64)]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None: how every time travels to a client."""
    return value.isoformat() if value is not None else None


def now_iso() -> str:
    """The server's clock now (``server_time`` of ``ready``, ``board`` and ``pong``)."""
    return timezone.now().isoformat()


def as_of_now() -> str:
    """The ``as_of`` of a queue read starting now: UTC, always with microseconds, so that two of
    them compare as strings in time order (what a connection and a page order queue frames by)."""
    return timezone.now().astimezone(UTC).isoformat(timespec="microseconds")


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __getitem__(self, name: str) -> Any:
        """A field by name, as the frame's JSON reads (``frame["position"]``)."""
        if name not in type(self).model_fields:
            raise KeyError(name)
        return getattr(self, name)


class IceCandidate(BaseModel):
    model_config = ConfigDict(extra="allow")
    candidate: Annotated[str, Field(max_length=1000)]
    sdpMid: Annotated[str, Field(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=65535)] | None = None
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None


class Entry(_Frame):
    """One transcript entry (a message or a system event) with its sequence number."""

    type: Literal["entry"]
    consultation_id: str
    seq: int
    kind: Literal["message", "event"]
    author_role: Role
    author_name: str | None
    text: str
    event: str | None
    data: dict[str, Any]
    client_msg_id: str | None
    created_at: str

    @classmethod
    def of(cls, entry: TranscriptEntry, *, public_id: str) -> Entry:
        """The frame of one stored transcript entry."""
        return cls(
            type="entry",
            consultation_id=public_id,
            seq=entry.seq,
            kind=entry.kind,
            author_role=entry.author_role,
            author_name=entry.author.display_name if entry.author_id and entry.author else None,
            text=entry.text,
            event=entry.event or None,
            data=entry.data or {},
            client_msg_id=entry.client_msg_id,
            created_at=entry.created_at.isoformat(),
        )


class Ack(_Frame):
    """The reply to a request that succeeded; for ``chat.send`` it carries the stored entry."""

    type: Literal["ack"]
    id: RequestId | None
    entry: Entry | None = None
    duplicate: bool = False


class ConsultationState(_Frame):
    type: Literal["consultation.state"]
    consultation_id: str
    status: Literal["waiting", "offered", "active", "ended", "abandoned"]
    topic: str
    mode: Literal["chat", "video"]
    language: Literal["id", "en"]
    counselor_name: str | None
    # Staff only (null for the applicant): the counselor's id, as in ``counselor.status``.
    counselor_id: int | None = None
    applicant_name: str | None
    last_seq: int
    # Goes up with every change of this consultation's state; a frame with a version not above
    # the last one the client applied is stale (see "Recovery" in docs/PROTOCOL.md).
    version: Annotated[int, Field(ge=0)] = 0
    in_call: bool
    offer_expires_at: str | None
    queued_at: str | None
    ended_by: str | None
    end_reason: str | None
    # Who asked for a call the other side has not answered yet.
    call_requested_by: Literal["applicant", "counselor"] | None
    # The applicant's latest pre-call check verdict (see docs/VIDEO.md).
    precheck_verdict: Literal["ready", "audio_only", "connection_problem"] | None
    # How the counselor ended it (staff only; null for the applicant and until then).
    outcome: Outcome | None = None
    # The applicant's rating (1 to 5) once given after the end.
    rating: Annotated[int, Field(ge=1, le=5)] | None = None

    @classmethod
    def of(cls, consultation: Consultation, *, for_staff: bool) -> ConsultationState:
        """The consultation's state. Staff see the applicant's name, the counselor's id and the
        outcome; contact details are never sent."""
        counselor = consultation.counselor
        return cls(
            type="consultation.state",
            consultation_id=str(consultation.public_id),
            status=consultation.status,
            topic=consultation.topic.code,
            mode=consultation.mode,
            language=consultation.language,
            counselor_name=counselor.display_name if counselor else None,
            counselor_id=consultation.counselor_id if for_staff else None,
            applicant_name=consultation.applicant_name if for_staff else None,
            last_seq=consultation.last_seq,
            version=consultation.version,
            in_call=consultation.in_call,
            offer_expires_at=iso(consultation.offer_expires_at)
            if consultation.status == "offered"
            else None,
            queued_at=iso(consultation.queued_at),
            ended_by=consultation.ended_by or None,
            end_reason=consultation.end_reason or None,
            call_requested_by=consultation.call_requested_by or None,
            precheck_verdict=consultation.precheck_verdict or None,
            # How the counselor closed it: staff only.
            outcome=(consultation.outcome or None) if for_staff else None,
            # The applicant's own rating (so the page knows it was given); staff see it too.
            rating=consultation.rating,
        )


class Ready(_Frame):
    """Sent once the connection is authenticated: who you are and what you take part in."""

    type: Literal["ready"]
    role: Literal["applicant", "counselor", "supervisor"]
    name: str | None
    consultations: list[ConsultationState]
    topics: list[str]
    status: Literal["available", "away", "offline"] | None
    server_time: str


class QueuePosition(_Frame):
    """A waiting applicant's place among the waiting of their mode in their topic (1 = next) and
    the estimated wait in seconds (None: unknown)."""

    type: Literal["queue.position"]
    consultation_id: str
    position: int
    estimated_wait_seconds: int | None
    # When the server read the queue this comes from (``as_of_now``): a page shows the newest.
    as_of: str


class WaitingItem(_Frame):
    consultation_id: str
    position: int
    mode: Literal["chat", "video"]
    language: Literal["id", "en"]
    waiting_since: str | None
    requeued: bool


class QueueSnapshot(_Frame):
    """A topic's queue for staff: who waits (no personal data), and the staffing behind it.

    ``waiting`` lists the first ``LOKET_QUEUE_SNAPSHOT_ITEMS`` in queue order; the counts cover
    the whole queue, so the frame's size does not grow with it."""

    type: Literal["queue.snapshot"]
    topic: str
    waiting: list[WaitingItem]
    # Everyone waiting in the topic (``waiting`` lists the first of them), and by mode.
    waiting_count: int
    waiting_chats: int
    waiting_videos: int
    # The earliest ``waiting_since`` of all of them (None when nobody waits).
    oldest_waiting_since: str | None
    # Chat places of the available, connected counselors serving the topic, and how many are free.
    staffed_slots: int
    free_slots: int
    # Those counselors, and how many have nothing else (could take a video consultation now).
    staffed_counselors: int
    free_counselors: int
    handling_seconds: float
    # When the read began (``as_of_now``). Several processes publish a topic's snapshots; a
    # connection or page that has one with a later ``as_of`` ignores an earlier one.
    as_of: str


class CounselorStatusFrame(_Frame):
    type: Literal["counselor.status"]
    counselor_id: int
    counselor_name: str
    status: Literal["available", "away", "offline"]
    reason: str | None


class TypingFrame(_Frame):
    type: Literal["typing"]
    consultation_id: str
    role: Role
    active: bool


class ReadFrame(_Frame):
    type: Literal["read"]
    consultation_id: str
    role: Role
    seq: int


class RtcDescriptionFrame(_Frame):
    type: Literal["rtc.offer", "rtc.answer"]
    consultation_id: str
    from_role: Role
    sdp: str


class RtcIceFrame(_Frame):
    type: Literal["rtc.ice"]
    consultation_id: str
    from_role: Role
    candidate: IceCandidate | None


class RtcHangupFrame(_Frame):
    type: Literal["rtc.hangup"]
    consultation_id: str
    from_role: Role


class NoteFrame(_Frame):
    """An internal note (staff only): to the counselor holding the consultation and to
    supervisors; sent again after ``resume`` and when a consultation is newly offered."""

    type: Literal["note"]
    consultation_id: str
    note_id: int
    kind: Literal["note", "transfer"]
    author_name: str | None
    text: str
    created_at: str

    @classmethod
    def of(cls, note: InternalNote, *, public_id: str) -> NoteFrame:
        """The frame of one stored internal note."""
        return cls(
            type="note",
            consultation_id=public_id,
            note_id=note.pk,
            kind=note.kind,
            author_name=note.author.display_name if note.author_id and note.author else None,
            text=note.text,
            created_at=note.created_at.isoformat(),
        )


class BoardTopic(_Frame):
    code: str
    name_id: str
    name_en: str


class BoardCounselor(_Frame):
    counselor_id: int
    name: str
    status: Literal["available", "away", "offline"]
    capacity: int
    topics: list[str]


class BoardConsultation(_Frame):
    """A consultation a counselor holds now (offered to them or active)."""

    consultation_id: str
    topic: str
    status: Literal["offered", "active"]
    mode: Literal["chat", "video"]
    in_call: bool
    counselor_id: int | None


class Board(_Frame):
    """Supervisors, once connected: the whole office at one moment. The page then applies the
    live ``queue.snapshot``, ``consultation.state`` and ``counselor.status`` frames to it."""

    type: Literal["board"]
    server_time: str
    topics: list[BoardTopic]
    queues: list[QueueSnapshot]
    counselors: list[BoardCounselor]
    consultations: list[BoardConsultation]


class Pong(_Frame):
    """Reply to ``ping``. Before it, the server sends any entries the channel layer dropped."""

    type: Literal["pong"]
    id: RequestId | None
    server_time: str


class Error(_Frame):
    """A refused request. ``code`` is stable (see ERROR_CODES); ``id`` echoes the request's id."""

    type: Literal["error"]
    id: RequestId | None
    code: str
    message: str


ServerFrame = Annotated[
    Entry
    | Ack
    | ConsultationState
    | Ready
    | QueuePosition
    | QueueSnapshot
    | CounselorStatusFrame
    | TypingFrame
    | ReadFrame
    | RtcDescriptionFrame
    | RtcIceFrame
    | RtcHangupFrame
    | NoteFrame
    | Board
    | Pong
    | Error,
    Field(discriminator="type"),
]
server_frames: TypeAdapter[Any] = TypeAdapter(ServerFrame)
# Every ``type`` a server frame can have.
SERVER_TYPES: frozenset[str] = frozenset(
    kind
    for model in ServerFrame.__origin__.__args__  # type: ignore[attr-defined]
    for kind in model.model_fields["type"].annotation.__args__
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A validated server frame, serialised once: ``data`` (its JSON values) to read, ``text``
    to send as is. This is what travels on the channel layer and what consumers forward."""

    data: dict[str, Any]
    text: str

    @classmethod
    def of(cls, frame: BaseModel) -> Outgoing:
        return cls(frame.model_dump(mode="json"), frame.model_dump_json())

    @property
    def type(self) -> str:
        return str(self.data["type"])


class QueuePlacing(_Frame):
    """The head of a placing message (never sent to a client, not a ``ServerFrame``): what each
    process's placing listener (``consult.events.queue_fanout``) needs besides the queue's ids to
    tell every local waiting applicant their position and estimate. The ids themselves travel
    beside it on the channel layer (``Placing.internal``), so its ``text`` stays small."""

    type: Literal["queue.placing"]
    topic_id: int
    as_of: str
    # The first waiting video's ``waiting_since`` (its reservation clock), None when none waits.
    video_since: str | None
    staffed_slots: int
    free_slots: int
    staffed_counselors: int
    free_counselors: int
    handling_seconds: float


@dataclass(frozen=True, slots=True)
class Placing:
    """A topic's whole queue as applicants place themselves in it: the internal ids of the
    waiting chats and of the waiting videos, each in queue order (a position counts within its
    mode: the p-th id of ``chats`` is chat number p), and the figures of the estimate. Read once
    per published change, sent once per change to each process that has waiting applicants of
    the topic (never to a client)."""

    head: QueuePlacing
    chats: list[int] = field(default_factory=list)
    videos: list[int] = field(default_factory=list)

    def internal(self) -> dict[str, Any]:
        """The channel-layer keys the ids travel as, next to the head."""
        return {"chats": self.chats, "videos": self.videos}


@dataclass(frozen=True, slots=True)
class QueueView:
    """A topic's queue as a queue selector reads it: the ``queue.snapshot`` frame staff see,
    and, when asked for (a publish), the ``placing`` applicants find their place in."""

    snapshot: QueueSnapshot
    placing: Placing | None = None


def validated(data: dict[str, Any]) -> BaseModel:
    """A frame given as plain JSON values, validated against the models (docs and tests)."""
    model: BaseModel = server_frames.validate_python(data)
    return model
