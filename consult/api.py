"""JSON HTTP API: topics, joining the queue, transcripts. HTTP only; services do the work."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .errors import DomainError
from .events.frames import ConsultationState, Entry, NoteFrame
from .http import error_response, json_body, staff_of, text_fields
from .selectors.knowledge import notes_of
from .selectors.queue import topics_active
from .selectors.transcript import transcript_read
from .services.consultations import consultation_join
from .services.transcript import transcript_access_record
from .throttle import throttle_join

MAX_BODY = 8192


@require_GET
def topics(request: HttpRequest) -> JsonResponse:
    """GET /api/topics: the topics applicants may choose."""
    return JsonResponse(
        {
            "topics": [
                {"code": t.code, "name_id": t.name_id, "name_en": t.name_en}
                for t in topics_active()
            ]
        }
    )


def _ws_url(request: HttpRequest, path: str) -> str:
    # A site declared to be served over TLS is reached over wss:// even when the request the
    # proxy forwarded arrived in plain HTTP.
    scheme = "wss" if request.is_secure() or settings.LOKET["TLS"] else "ws"
    return f"{scheme}://{request.get_host()}{path}"


# Applicants have no session to forge a request with: the endpoint takes JSON only and returns a
# token, so CSRF protection adds nothing here (a cross-site form cannot send application/json).
@csrf_exempt
@require_POST
def consultation_create(request: HttpRequest) -> JsonResponse:
    """POST /api/consultations: join the queue; returns the id, an applicant token and WS URL."""
    try:
        fields = text_fields(
            json_body(request, max_bytes=MAX_BODY),
            ("name", "phone", "email", "topic", "mode", "language"),
        )
        throttle_join(request, phone=fields["phone"], email=fields["email"])
        consultation, token = consultation_join(
            name=fields["name"],
            phone=fields["phone"],
            email=fields["email"],
            topic_code=fields["topic"],
            mode=fields["mode"] or "chat",
            language=fields["language"] or "id",
            applicant_grace_seconds=settings.LOKET["APPLICANT_GRACE"],
        )
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse(
        {
            "consultation_id": str(consultation.public_id),
            "token": token,
            "ws_url": _ws_url(request, "/ws/applicant/"),
            "token_max_age_seconds": settings.LOKET["TOKEN_MAX_AGE"],
        },
        status=201,
    )


@require_GET
def transcript(request: HttpRequest, public_id: str) -> JsonResponse:
    """GET /api/consultations/<id>/transcript: the whole record, for those allowed to read it."""
    try:
        staff = staff_of(request)
        consultation, entries = transcript_read(staff=staff, public_id=public_id)
        transcript_access_record(consultation=consultation, reader=staff.user, via="api")
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
