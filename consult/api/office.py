"""``GET /api/office``: whether the office is open and takes new applicants, and when it opens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..hours import OFFICE_TZ
from ..selectors.office import office_status_now


def _local(value: Any) -> str | None:
    """ISO 8601 in the office's time zone (+07:00), or None."""
    return value.astimezone(OFFICE_TZ).isoformat() if value is not None else None


@require_GET
def office(request: HttpRequest) -> JsonResponse:
    """GET /api/office: whether the office is open and takes new applicants, and when it opens."""
    status = office_status_now()
    enforced = settings.LOKET["ENFORCE_HOURS"]
    return JsonResponse(
        {
            "is_open": status.is_open,
            "accepts_new": status.accepts_new,
            "next_opening": _local(status.next_opening),
            "closes_at": _local(status.closes_at),
            # False where hours are not enforced (LOKET_ENFORCE_HOURS=0): joining always works.
            "enforced": enforced,
            "time_zone": str(OFFICE_TZ),
        }
    )
