"""Pages: applicant, counselor, supervisor (transcripts), login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .api import staff_of
from .errors import DomainError, NotFound
from .models import Topic
from .selectors import ended_consultations, transcript_read
from .tools_selectors import citation_label, notes_of


def applicant_page(request: HttpRequest) -> HttpResponse:
    """The applicant's page: join form, waiting room, chat."""
    topics = Topic.objects.filter(active=True).order_by("order", "code")
    return render(request, "consult/applicant.html", {"topics": topics})


@login_required
def counselor_page(request: HttpRequest) -> HttpResponse:
    """The counselor's console."""
    try:
        staff = staff_of(request)
    except DomainError:
        return HttpResponseForbidden(_("Staff only."))
    topics = Topic.objects.filter(active=True).order_by("order", "code")
    return render(request, "consult/counselor.html", {"staff": staff, "topics": topics})


@login_required
def transcripts_page(request: HttpRequest) -> HttpResponse:
    """Ended consultations a staff member may read (supervisors: all)."""
    try:
        staff = staff_of(request)
    except DomainError:
        return HttpResponseForbidden(_("Staff only."))
    items = ended_consultations(staff=staff)[:200]
    return render(request, "consult/transcripts.html", {"staff": staff, "items": items})


@login_required
def transcript_page(request: HttpRequest, public_id: str) -> HttpResponse:
    """One transcript; the read is recorded."""
    try:
        staff = staff_of(request)
        consultation, entries = transcript_read(staff=staff, public_id=public_id, via="page")
    except NotFound:
        raise Http404() from None
    except DomainError:
        return HttpResponseForbidden(_("You may not read this transcript."))
    # Events name topics by code (a transfer's target); the page shows their names.
    language = get_language() or "id"
    names = {topic.code: topic.name_for(language) for topic in Topic.objects.all()}
    rows: list[dict[str, Any]] = [
        {
            "entry": entry,
            "topic_name": names.get(str(entry.data.get("topic", "")), ""),
            "source": citation_label(entry.data),
            "at": entry.created_at,
        }
        for entry in entries
    ]
    # Internal notes (staff only) take their place in the timeline by time.
    rows += [
        {"note": note, "at": note.created_at} for note in notes_of(consultation_id=consultation.pk)
    ]
    rows.sort(key=lambda row: row["at"])
    return render(
        request,
        "consult/transcript.html",
        {"staff": staff, "consultation": consultation, "entries": entries, "rows": rows},
    )
