"""Staff JSON API for the counselor's tools: knowledge-base search and canned replies.

Session-authenticated (staff only); writes need Django's CSRF token (``X-CSRFToken``), as any
session-authenticated POST or DELETE. HTTP only: services and selectors do the work.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods

from .api import staff_of
from .errors import DomainError, InvalidInput
from .models import Language
from .services.replies import canned_reply_create, canned_reply_delete
from .tools_selectors import canned_replies_for, canned_reply_payload, knowledge_search

_STATUS = {"not_found": 404, "forbidden": 403, "invalid_state": 409}
MAX_BODY = 16 * 1024


def _error(exc: DomainError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": exc.message}}, status=_STATUS.get(exc.code, 400)
    )


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise InvalidInput("Send application/json.")
    if len(request.body) > MAX_BODY:
        raise InvalidInput("The request is too large.")
    try:
        data = json.loads(request.body)
    except ValueError:
        raise InvalidInput("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string.")
    return value


@require_GET
def kb_search(request: HttpRequest) -> JsonResponse:
    """GET /api/kb/search?q=&topic=&language=: articles matching the words, best first, in the
    given language (default: the page's)."""
    try:
        staff_of(request)
        language = request.GET.get("language") or get_language() or "id"
        if language not in Language.values:
            raise InvalidInput("language must be id or en.")
        query = request.GET.get("q", "")[:200]
        topic = request.GET.get("topic", "")[:40]
    except DomainError as exc:
        return _error(exc)
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
            data = _json_body(request)
            reply = canned_reply_create(
                staff=staff,
                title=_text(data, "title"),
                text=_text(data, "text"),
                language=_text(data, "language"),
            )
            return JsonResponse(canned_reply_payload(reply), status=201)
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(
        {"replies": [canned_reply_payload(r) for r in canned_replies_for(staff=staff)]}
    )


@require_http_methods(["DELETE"])
def canned_reply(request: HttpRequest, reply_id: int) -> HttpResponse:
    """DELETE /api/canned-replies/<id>: delete one's own personal reply (204)."""
    try:
        canned_reply_delete(staff=staff_of(request), reply_id=reply_id)
    except DomainError as exc:
        return _error(exc)
    return HttpResponse(status=204)
