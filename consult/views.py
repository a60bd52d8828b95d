"""Pages: applicant, counselor, supervisor (transcripts), login."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .errors import DomainError, NotFound
from .forms import TranscriptSearchForm
from .http import staff_of
from .models import Consultation, Topic
from .selectors.knowledge import citation_label, notes_of
from .selectors.office import office_closed_status
from .selectors.transcript import transcript_counselor_name, transcript_read, transcript_search
from .services.transcript import transcript_access_record

TRANSCRIPTS_PER_PAGE = 25


def applicant_page(request: HttpRequest) -> HttpResponse:
    """The applicant's page: join form, waiting room, chat."""
    topics = Topic.objects.filter(active=True).order_by("order", "code")
    # Outside office hours the join form gives way to the offline question form.
    closed = office_closed_status()
    return render(request, "consult/applicant.html", {"topics": topics, "office_closed": closed})


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
    """Closed consultations a staff member may read (supervisors: all), searched and paged."""
    try:
        staff = staff_of(request)
    except DomainError:
        return HttpResponseForbidden(_("Staff only."))
    form = TranscriptSearchForm(request.GET or None, staff=staff, language=get_language() or "id")
    problem = None
    results = Consultation.objects.none()
    if form.is_bound and not form.is_valid():
        problem = " ".join(str(error) for errors in form.errors.values() for error in errors)
    else:
        try:
            results = transcript_search(staff=staff, query=form.query())
        except DomainError:
            problem = _("Choose a range of at most 366 days, the end not before the start.")
    page = Paginator(results, TRANSCRIPTS_PER_PAGE).get_page(request.GET.get("page"))
    # The page links keep the filters.
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "consult/transcripts.html",
        {
            "staff": staff,
            "form": form,
            "page": page,
            "problem": problem,
            "filters": params.urlencode(),
        },
        # The page says what is wrong with the filters; the status says it to a script.
        status=400 if problem else 200,
    )


@login_required
def transcript_page(request: HttpRequest, public_id: str) -> HttpResponse:
    """One transcript; the read is recorded."""
    try:
        staff = staff_of(request)
        consultation, entries = transcript_read(staff=staff, public_id=public_id)
        transcript_access_record(consultation=consultation, reader=staff.user, via="page")
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
        {
            "staff": staff,
            "consultation": consultation,
            "counselor_name": transcript_counselor_name(consultation=consultation, entries=entries),
            "entries": entries,
            "rows": rows,
        },
    )
