"""The applicant's page: join form, waiting room, chat (or, while the office is closed, the
offline question form)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..selectors.office import office_closed_status
from ..selectors.topics import topics_active


def applicant_page(request: HttpRequest) -> HttpResponse:
    """The applicant's page: join form, waiting room, chat."""
    topics = topics_active()
    # Outside office hours the join form gives way to the offline question form.
    closed = office_closed_status()
    return render(request, "consult/applicant.html", {"topics": topics, "office_closed": closed})
