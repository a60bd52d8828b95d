"""The transcript pages: staff search and read closed consultations (every read is recorded);
the applicant reads their own after the end.

The applicant has no account, only the consultation's token, and a token must never be in a URL
(URLs end up in logs, browser history and Referer headers). So their page is opened by a form
that POSTs the token to ``/c/<id>/transcript``; the server answers with a short-lived, HttpOnly,
SameSite=Strict cookie limited to ``/c/<id>/`` (signed: the consultation and its token nonce,
valid 15 minutes) and a 303 redirect to the same address, which it then serves by GET. The page
can be reloaded, printed and saved; nothing secret is in its address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ..api.http import applicant_consultation, response_private, staff_of
from ..errors import DomainError, NotFound
from ..forms import TranscriptSearchForm
from ..models import Consultation, StaffProfile
from ..selectors.consultations import consultation_for_viewer
from ..selectors.knowledge import applicant_transcript, citation_label, notes_of
from ..selectors.topics import topic_names
from ..selectors.transcript import transcript_counselor_name, transcript_search
from ..services.transcript import transcript_open
from .decorators import staff_required

if TYPE_CHECKING:
    from django.db.models import QuerySet

TRANSCRIPTS_PER_PAGE = 25
VIEW_COOKIE = "loket_transcript"
VIEW_MAX_AGE = 15 * 60
_VIEW_SALT = "loket.applicant-transcript-view"


@staff_required
def transcripts_page(request: HttpRequest, staff: StaffProfile) -> HttpResponse:
    """Closed consultations a staff member may read (supervisors: all), searched and paged."""
    form = TranscriptSearchForm(request.GET or None, staff=staff, language=get_language() or "id")
    problem = None
    results: Sequence[Consultation] | QuerySet[Consultation] = []
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
        consultation, entries = transcript_open(staff=staff, public_id=public_id, via="page")
    except NotFound:
        raise Http404() from None
    except DomainError:
        return HttpResponseForbidden(_("You may not read this transcript."))
    names = topic_names(language=get_language() or "id")
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


# ---------------------------------------------------------------- the applicant's own


def _refused(request: HttpRequest) -> HttpResponse:
    return response_private(
        render(request, "consult/applicant_transcript_refused.html", status=403)
    )


def _viewer_consultation(request: HttpRequest, public_id: str) -> Consultation | None:
    """The consultation the view cookie admits to, if it is this one and still valid."""
    raw = request.COOKIES.get(VIEW_COOKIE, "")
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=_VIEW_SALT, max_age=VIEW_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        return None
    return consultation_for_viewer(
        consultation_id=data["c"], public_id=public_id, token_nonce=str(data.get("n", ""))
    )


@require_http_methods(["GET", "POST"])
def applicant_transcript_page(request: HttpRequest, public_id: str) -> HttpResponse:
    """/c/<id>/transcript: POST the token (from the applicant's page) to open it; GET shows it
    while the short-lived view cookie is valid."""
    if request.method == "POST":
        try:
            consultation = applicant_consultation(
                token=request.POST.get("token", ""), public_id=public_id
            )
        except DomainError:
            return _refused(request)
        response = HttpResponse(status=303)
        response["Location"] = request.path
        response.set_cookie(
            VIEW_COOKIE,
            signing.dumps({"c": consultation.pk, "n": consultation.token_nonce}, salt=_VIEW_SALT),
            max_age=VIEW_MAX_AGE,
            path=f"/c/{public_id}/",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Strict",
        )
        return response_private(response)
    viewed = _viewer_consultation(request, public_id)
    if viewed is None:
        return _refused(request)
    language = get_language() or "id"
    names = topic_names(language=language)
    entries = applicant_transcript(consultation=viewed)
    rows = [
        (entry, names.get(str(entry.data.get("topic", "")), ""), citation_label(entry.data))
        for entry in entries
    ]
    return response_private(
        render(
            request,
            "consult/applicant_transcript.html",
            {"consultation": viewed, "rows": rows, "topic_name": viewed.topic.name_for(language)},
        )
    )
