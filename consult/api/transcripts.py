"""``GET /api/consultations/<id>/transcript``: the whole record, for staff allowed to read it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..errors import DomainError
from ..events.frames import ConsultationState, Entry, NoteFrame
from ..models import MaskOutput
from ..selectors.knowledge import notes_of
from ..selectors.privacy import masked_name, masked_text, policy
from ..services.transcript import transcript_open
from .http import error_response, staff_of


@require_GET
def transcript(request: HttpRequest, public_id: str) -> JsonResponse:
    """GET /api/consultations/<id>/transcript: the whole record, for those allowed to read it."""
    try:
        staff = staff_of(request)
        consultation, entries = transcript_open(staff=staff, public_id=public_id, via="api")
    except DomainError as exc:
        return error_response(exc)
    pid = str(consultation.public_id)
    # Personal identifiers as the masking policy says for the reader's role (docs/RECORDS.md).
    actions = policy(staff.role, MaskOutput.TRANSCRIPT)
    state = ConsultationState.of(consultation, for_staff=True).model_dump()
    state["applicant_name"] = masked_name(consultation.applicant_name, actions["name"]) or None
    state["created_at"] = consultation.created_at.isoformat()
    state["ended_at"] = consultation.ended_at.isoformat() if consultation.ended_at else None
    state["rating_comment"] = masked_text(consultation.rating_comment, actions) or None
    shown = []
    for entry in entries:
        frame = Entry.of(entry, public_id=pid).model_dump()
        if isinstance(frame.get("text"), str):
            frame["text"] = masked_text(frame["text"], actions)
        shown.append(frame)
    notes = []
    for note in notes_of(consultation_id=consultation.pk):
        frame = NoteFrame.of(note, public_id=pid).model_dump()
        frame["text"] = masked_text(frame["text"], actions)
        notes.append(frame)
    return JsonResponse(
        {
            "consultation": state,
            "entries": shown,
            # Staff only: internal notes are never part of what the applicant receives.
            "notes": notes,
        }
    )
