"""``GET /api/kb/search``: the counselor's knowledge-base search (staff session only)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from ..errors import DomainError, InvalidInput
from ..models import Language
from ..selectors.knowledge import knowledge_search
from .http import error_response, query_text, staff_of


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
