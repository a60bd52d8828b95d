"""``GET /api/consultations/<id>/transcript``: the whole record, for staff allowed to read it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..errors import DomainError
from ..events.frames import ConsultationState, Entry, NoteFrame
from ..selectors.knowledge import notes_of
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
    state = ConsultationState.of(consultation, for_staff=True).model_dump()
    state["created_at"] = consultation.created_at.isoformat()
    state["ended_at"] = consultation.ended_at.isoformat() if consultation.ended_at else None
    state["rating_comment"] = consultation.rating_comment or None
    return JsonResponse(
        {
            "consultation": state,
            "entries": [Entry.of(e, public_id=pid).model_dump() for e in entries],
            # Staff only: internal notes are never part of what the applicant receives.
            "notes": [
                NoteFrame.of(n, public_id=pid).model_dump()
                for n in notes_of(consultation_id=consultation.pk)
            ],
        }
    )
