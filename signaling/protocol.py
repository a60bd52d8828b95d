"""The WebSocket protocol, client to server: every frame a client sends is one of these typed
models; the error codes and close codes; the JSON schema of both directions.

The server's frames are typed in consult/events/frames.py. docs/PROTOCOL.md documents every
frame of either direction with an example, and docs/protocol.schema.json is generated from both
(``python manage.py protocol_schema``); tests fail when either drifts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from consult.events import frames
from consult.events.frames import Error, IceCandidate, Outcome
from consult.text_input import text_storable

RequestId = Annotated[str, Field(max_length=64)]
ConsultationRef = Annotated[str, Field(min_length=1, max_length=64)]
# Every number a client sends is bounded: a sequence number fits the database's integer column
# (a last_seq of 1e30 used to be taken and match nothing), an id stays exact in JavaScript.
MAX_SEQ = 2**31 - 1
MAX_ID = 2**53 - 1
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
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
# Every ``type`` a client frame can have.
CLIENT_TYPES: frozenset[str] = frozenset(
    kind
    for model in ClientMessage.__origin__.__args__  # type: ignore[attr-defined]
    for kind in model.model_fields["type"].annotation.__args__
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
    "sealed": "The consultation is over and its transcript sealed: nothing can be added to it.",
    "chain_broken": "The consultation's stored record is damaged: nothing more is added to it.",
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


def error_frame(code: str, message: str, request_id: str | None = None) -> str:
    """An ``error`` frame with a stable code."""
    return Error(type="error", id=request_id, code=code, message=message).model_dump_json()


def json_schema() -> dict[str, Any]:
    """The JSON schema of both directions, for docs/protocol.schema.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Loket WebSocket protocol",
        "client_to_server": _client_adapter.json_schema(),
        "server_to_client": frames.server_frames.json_schema(),
        "error_codes": ERROR_CODES,
    }
