"""The counselor's console; the page fills itself from the staff WebSocket."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..models import StaffProfile
from ..selectors.topics import topics_active
from .decorators import staff_required


@staff_required
def counselor_page(request: HttpRequest, staff: StaffProfile) -> HttpResponse:
    """The counselor's console."""
    topics = topics_active()
    return render(request, "consult/counselor.html", {"staff": staff, "topics": topics})
