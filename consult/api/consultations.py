"""The applicant's consultation: joining the queue, what to prepare while waiting, the rating.

The applicant has no account, only the consultation's token; after joining it travels as
``Authorization: Bearer <token>`` (never in a URL: URLs end up in logs, browser history and
Referer headers).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ..errors import DomainError, InvalidInput
from ..guard.throttle import throttle_join
from ..selectors.requirements import topic_requirements
from ..services.consultations import consultation_join
from ..services.feedback import consultation_rate
from .http import (
    applicant_from_bearer,
    error_response,
    json_body,
    response_private,
    text_fields,
)

MAX_BODY = 8192


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


# No session is involved: the token travels in a header that a cross-site form cannot set.
@csrf_exempt
@require_POST
def rating_submit(request: HttpRequest, public_id: str) -> JsonResponse:
    """POST /api/consultations/<id>/rating {stars: 1-5, comment}: the applicant rates, once."""
    try:
        consultation = applicant_from_bearer(request, public_id=public_id)
        data = json_body(request, max_bytes=MAX_BODY)
        stars, comment = data.get("stars"), data.get("comment") or ""
        if isinstance(stars, bool) or not isinstance(stars, int):
            raise InvalidInput("stars must be a whole number from 1 to 5.")
        rated = consultation_rate(consultation_id=consultation.pk, stars=stars, comment=comment)
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({"rating": rated.rating, "comment": rated.rating_comment}, status=201)


@require_GET
def requirements(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET /api/consultations/<id>/requirements: what the applicant should prepare, from the
    requirements of their topic's active knowledge-base articles, in the consultation's language."""
    try:
        consultation = applicant_from_bearer(request, public_id=public_id)
    except DomainError as exc:
        return error_response(exc)
    language = consultation.language
    lists = topic_requirements(topic_id=consultation.topic_id, language=language)
    return response_private(JsonResponse({"language": language, "articles": lists}))
