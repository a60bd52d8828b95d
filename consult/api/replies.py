"""The counselor's canned replies: ``/api/canned-replies`` (list, create) and
``/api/canned-replies/<id>`` (delete).

Session-authenticated (staff only); writes need Django's CSRF token (``X-CSRFToken``), as any
session-authenticated POST or DELETE. HTTP only: services and selectors do the work.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from ..errors import DomainError
from ..selectors.knowledge import canned_replies_for, canned_reply_payload
from ..services.replies import canned_reply_create, canned_reply_delete
from .http import error_response, json_body, staff_of, text_fields

MAX_BODY = 16 * 1024


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
