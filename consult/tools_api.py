"""Staff JSON API for the counselor's tools: knowledge-base search and canned replies.

Session-authenticated (staff only); writes need Django's CSRF token (``X-CSRFToken``), as any
session-authenticated POST or DELETE. HTTP only: services and selectors do the work.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods

from .errors import DomainError, InvalidInput
from .http import error_response, json_body, query_text, staff_of, text_fields
from .models import Language
from .selectors.knowledge import canned_replies_for, canned_reply_payload, knowledge_search
from .services.replies import canned_reply_create, canned_reply_delete

MAX_BODY = 16 * 1024


@require_GET
def kb_search(request: HttpRequest) -> JsonResponse:
    """GET /api/kb/search?q=&topic=&language=: articles matching the words, best first, in the
    given language (default: the page's)."""
    try:
        staff_of(request)
        language = query_text(request, "language", max_length=8) or get_language() or "id"
        if language not in Language.values:
            raise InvalidInput("language must be id or en.")
        query = query_text(request, "q", max_length=200)
        topic = query_text(request, "topic", max_length=40)
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse(
        {"articles": knowledge_search(query=query, topic_code=topic, language=language)}
    )


@require_http_methods(["GET", "POST"])
def canned_replies(request: HttpRequest) -> JsonResponse:
    """GET /api/canned-replies: own and shared replies; POST {title, text, language}: a new
    personal reply (201)."""
    try:
        staff = staff_of(request)
        if request.method == "POST":
            fields = text_fields(
                json_body(request, max_bytes=MAX_BODY), ("title", "text", "language")
            )
            reply = canned_reply_create(
                staff=staff,
                title=fields["title"],
                text=fields["text"],
                language=fields["language"],
            )
            return JsonResponse(canned_reply_payload(reply), status=201)
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse(
        {"replies": [canned_reply_payload(r) for r in canned_replies_for(staff=staff)]}
    )


@require_http_methods(["DELETE"])
def canned_reply(request: HttpRequest, reply_id: int) -> HttpResponse:
    """DELETE /api/canned-replies/<id>: delete one's own personal reply (204)."""
    try:
        canned_reply_delete(staff=staff_of(request), reply_id=reply_id)
    except DomainError as exc:
        return error_response(exc)
    return HttpResponse(status=204)
