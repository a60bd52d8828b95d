"""The WebSocket protocol: every frame in either direction is one of these typed models.

docs/PROTOCOL.md documents each with an example, and docs/protocol.schema.json is generated from
these models (``python manage.py protocol_schema``); tests fail when either drifts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from consult.text_input import text_storable

RequestId = Annotated[str, Field(max_length=64)]
ConsultationRef = Annotated[str, Field(min_length=1, max_length=64)]
# Every number a client sends is bounded: a sequence number fits the database's integer column
# (a last_seq of 1e30 used to be taken and match nothing), an id stays exact in JavaScript.
MAX_SEQ = 2**31 - 1
MAX_ID = 2**53 - 1
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Role = Literal["applicant", "counselor", "system"]
Outcome = Literal["answered", "referred", "needs_documents", "out_of_scope", "other"]
KnowledgeSection = Literal["requirements", "procedure", "legal_basis", "fees"]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Request(_Frame):
    id: RequestId | None = None

    @model_validator(mode="before")
    @classmethod
    def _storable_texts(cls, data: Any) -> Any:
        # Checked before the fields, so the answer is invalid_text whichever field it is.
        if isinstance(data, dict):
            bad = _unstorable_field(data)
            if bad is not None:
                raise PydanticCustomError(
                    "invalid_text",
                    "{field} contains a character that cannot be stored",
                    {"field": bad},
                )
        return data


def _unstorable_field(data: Any, path: str = "") -> str | None:
    """The first field (dotted path) of a frame holding a string that cannot be stored."""
    if isinstance(data, str):
        return None if text_storable(data) else path or "?"
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if not text_storable(str(key)):
                return path or "?"
            found = _unstorable_field(value, name[:80])
            if found is not None:
                return found
    if isinstance(data, list):
        for value in data:
            found = _unstorable_field(value, path)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------- client to server


class Auth(_Request):
    """Applicant's first frame: the token from POST /api/consultations."""

    type: Literal["auth"]
    token: Annotated[str, Field(max_length=400)]
    last_seq: Seq | None = None


class Resume(_Request):
    """Replay every transcript entry after ``last_seq`` from the database, in order."""

    type: Literal["resume"]
    consultation_id: ConsultationRef | None = None
    last_seq: Seq


class ChatSend(_Request):
    """A chat message. The same ``client_msg_id`` again yields the same stored entry."""

    type: Literal["chat.send"]
    consultation_id: ConsultationRef | None = None
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    # Length is checked by the service so that it can answer with ``text_too_long``.
    text: str


class Typing(_Request):
    type: Literal["typing"]
    consultation_id: ConsultationRef | None = None
    active: bool = True


class Read(_Request):
    type: Literal["read"]
    consultation_id: ConsultationRef | None = None
    seq: Seq


class Ping(_Request):
    type: Literal["ping"]


class Leave(_Request):
    """Applicant leaves the queue or ends the consultation."""

    type: Literal["leave"]
    consultation_id: ConsultationRef | None = None


class StatusSet(_Request):
    type: Literal["status.set"]
    status: Literal["available", "away", "offline"]


class OfferAccept(_Request):
    type: Literal["offer.accept"]
    consultation_id: ConsultationRef


class OfferDecline(_Request):
    type: Literal["offer.decline"]
    consultation_id: ConsultationRef


class ConsultationEnd(_Request):
    """The counselor ends the consultation, saying how it went (``outcome``, staff only)."""

    type: Literal["consultation.end"]
    consultation_id: ConsultationRef
    reason: Annotated[str, Field(max_length=40)] = ""
    outcome: Outcome | None = None


class ConsultationTransfer(_Request):
    type: Literal["consultation.transfer"]
    consultation_id: ConsultationRef
    topic: Annotated[str, Field(max_length=40)] | None = None
    counselor_id: RecordId | None = None
    note: Annotated[str, Field(max_length=500)] = ""


class KbInsert(_Request):
    """Send a knowledge-base article (or one ``section`` of it) as a message in the
    consultation's language; the stored entry cites the article in ``data.citation``."""

    type: Literal["kb.insert"]
    consultation_id: ConsultationRef
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)]
    article_id: RecordId
    section: KnowledgeSection | None = None


class NoteAdd(_Request):
    """An internal note on a consultation, for staff only (``note``); never sent to the
    applicant. Length is checked by the service (``text_too_long`` above 2000 characters)."""

    type: Literal["note.add"]
    consultation_id: ConsultationRef
    text: str


class CallStart(_Request):
    """Start a call in a video consultation (both sides agreed to video when it began)."""

    type: Literal["call.start"]
    consultation_id: ConsultationRef | None = None
    audio_only: bool = False


class CallRequest(_Request):
    """Ask the other participant for a call (``call_requested``); in a video consultation the
    call starts at once."""

    type: Literal["call.request"]
    consultation_id: ConsultationRef | None = None
    audio_only: bool = False


class CallAccept(_Request):
    """Accept the other participant's call request: the call starts (``call_started``)."""

    type: Literal["call.accept"]
    consultation_id: ConsultationRef | None = None
    audio_only: bool = False


class CallDecline(_Request):
    """Decline the other participant's call request, or withdraw one's own (``call_declined``)."""

    type: Literal["call.decline"]
    consultation_id: ConsultationRef | None = None


class CallStateReport(_Request):
    """The call's connection state as this participant sees it; recorded when it changes."""

    type: Literal["call.state"]
    consultation_id: ConsultationRef | None = None
    state: Literal["connected", "reconnecting", "failed"]
    audio_only: bool | None = None


class CallEnd(_Request):
    """Hang up: the call ends (``call_ended``), the consultation goes on."""

    type: Literal["call.end"]
    consultation_id: ConsultationRef | None = None


class RtcDescription(_Request):
    """An SDP offer or answer, relayed to the other participant only."""

    type: Literal["rtc.offer", "rtc.answer"]
    consultation_id: ConsultationRef | None = None
    sdp: Annotated[str, Field(max_length=32_000)]


class IceCandidate(BaseModel):
    model_config = ConfigDict(extra="allow")
    candidate: Annotated[str, Field(max_length=1000)]
    sdpMid: Annotated[str, Field(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=65535)] | None = None
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None


class RtcIce(_Request):
    type: Literal["rtc.ice"]
    consultation_id: ConsultationRef | None = None
    candidate: IceCandidate | None = None


class RtcHangup(_Request):
    type: Literal["rtc.hangup"]
    consultation_id: ConsultationRef | None = None


ClientMessage = Annotated[
    Auth
    | Resume
    | ChatSend
    | Typing
    | Read
    | Ping
    | Leave
    | StatusSet
    | OfferAccept
    | OfferDecline
    | ConsultationEnd
    | ConsultationTransfer
    | KbInsert
    | NoteAdd
    | CallStart
    | CallRequest
    | CallAccept
    | CallDecline
    | CallStateReport
    | CallEnd
    | RtcDescription
    | RtcIce
    | RtcHangup,
    Field(discriminator="type"),
]
CLIENT_TYPES: frozenset[str] = frozenset(
    {
        "auth",
        "resume",
        "chat.send",
        "typing",
        "read",
        "ping",
        "leave",
        "status.set",
        "offer.accept",
        "offer.decline",
        "consultation.end",
        "consultation.transfer",
        "kb.insert",
        "note.add",
        "call.start",
        "call.request",
        "call.accept",
        "call.decline",
        "call.state",
        "call.end",
        "rtc.offer",
        "rtc.answer",
        "rtc.ice",
        "rtc.hangup",
    }
)
APPLICANT_TYPES = frozenset(
    {
        "auth",
        "resume",
        "chat.send",
        "typing",
        "read",
        "ping",
        "leave",
        "call.start",
        "call.request",
        "call.accept",
        "call.decline",
        "call.state",
        "call.end",
        "rtc.offer",
        "rtc.answer",
        "rtc.ice",
        "rtc.hangup",
    }
)
_client_adapter: TypeAdapter[Any] = TypeAdapter(ClientMessage)


# ---------------------------------------------------------------- server to client


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


class WaitingItem(_Frame):
    consultation_id: str
    position: int
    mode: Literal["chat", "video"]
    language: Literal["id", "en"]
    waiting_since: str | None
    requeued: bool


class QueueSnapshot(_Frame):
    """A topic's queue for staff: who waits (no personal data), and the staffing behind it."""

    type: Literal["queue.snapshot"]
    topic: str
    waiting: list[WaitingItem]
    # Chat places of the available, connected counselors serving the topic, and how many are free.
    staffed_slots: int
    free_slots: int
    # Those counselors, and how many have nothing else (could take a video consultation now).
    staffed_counselors: int
    free_counselors: int
    handling_seconds: float


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


ServerMessage = Annotated[
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
_server_adapter: TypeAdapter[Any] = TypeAdapter(ServerMessage)

# Every error code a client can receive, with its meaning (docs/PROTOCOL.md lists the same).
ERROR_CODES: dict[str, str] = {
    "bad_json": "The frame is not valid JSON, or not a JSON object.",
    "unknown_type": "The frame's type is not one this connection accepts.",
    "invalid_message": "A field is missing or has a wrong type or value.",
    "invalid_input": "A value is refused by the service (empty text, wrong phone...).",
    "invalid_text": "A text holds a character that cannot be stored (NUL, unpaired surrogate).",
    "frame_too_large": "The frame is larger than 64 KiB.",
    "text_too_long": "The message text is longer than 4000 characters.",
    "client_msg_id_reused": "The client_msg_id was already used for a different message.",
    "rate_limited": (
        "Too many requests: over the connection's chat limit (LOKET_CHAT_RATE, by default 20 in "
        "10 s) or frame limit (LOKET_FRAME_RATE, by default 200 in 10 s)."
    ),
    "auth_required": "The first frame on an applicant connection must be auth.",
    "token_invalid": "The token is not valid (closes the connection, code 4401).",
    "token_expired": "The token has expired (closes the connection, code 4401).",
    "forbidden": "You may not act on this consultation.",
    "not_found": "No such consultation, topic or counselor.",
    "invalid_state": "The consultation's state does not allow this now.",
    "over_capacity": "The counselor has no free capacity for this.",
    "office_closed": "Outside office hours (or after the last entry): no new consultations.",
    "unavailable": (
        "The server lost its database connection; send the same frame again (a chat.send with "
        "the same client_msg_id is stored once)."
    ),
    "internal": "The server failed; nothing was stored. Try again.",
}

# The server cannot serve the connection right now (its database is unreachable): reconnect
# with backoff (1013 is the WebSocket standard's "try again later").
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408


class ProtocolError(Exception):
    """A frame that cannot be parsed; carries the error code and the request id if readable."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def _request_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    if isinstance(value, str) and len(value) <= 64 and text_storable(value):
        return value
    return None


def parse_client(text: str | None, *, allowed: frozenset[str] = CLIENT_TYPES) -> Any:
    """Parse one client frame into its model, or raise ProtocolError with a stable code."""
    if text is None:
        raise ProtocolError("bad_json", "Binary frames are not accepted.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "The frame must be a JSON object.")
    request_id = _request_id(data)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "The frame has no type.", request_id)
    if kind not in allowed:
        raise ProtocolError("unknown_type", f"Unknown message type {kind[:40]!r}.", request_id)
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        unstorable = [err for err in exc.errors() if err["type"] == "invalid_text"]
        if unstorable:
            field = str((unstorable[0].get("ctx") or {}).get("field", "?"))
            raise ProtocolError(
                "invalid_text",
                f"{field} contains a character that cannot be stored "
                "(NUL or an unpaired surrogate).",
                request_id,
            ) from None
        fields = sorted({".".join(str(p) for p in err["loc"][1:]) or "?" for err in exc.errors()})
        raise ProtocolError(
            "invalid_message", f"Invalid or missing field(s): {', '.join(fields)}.", request_id
        ) from None


def server_frame(data: dict[str, Any]) -> str:
    """Validate an outgoing frame against the models and serialise it."""
    model = _server_adapter.validate_python(data)
    return str(model.model_dump_json())


def error_frame(code: str, message: str, request_id: str | None = None) -> str:
    """An ``error`` frame with a stable code."""
    return server_frame({"type": "error", "id": request_id, "code": code, "message": message})


def json_schema() -> dict[str, Any]:
    """The JSON schema of both directions, for docs/protocol.schema.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Loket WebSocket protocol",
        "client_to_server": _client_adapter.json_schema(),
        "server_to_client": _server_adapter.json_schema(),
        "error_codes": ERROR_CODES,
    }
