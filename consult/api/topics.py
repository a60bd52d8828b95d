"""``GET /api/topics``: the topics applicants may choose."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..selectors.topics import topics_active


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
