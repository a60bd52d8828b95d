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

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ..api.http import applicant_consultation, response_private, staff_of
from ..api.records import bundle_response, consultation_bundle
from ..errors import DomainError, NotFound
from ..forms import TranscriptSearchForm
from ..models import Consultation, MaskOutput, MaskRole, StaffProfile
from ..selectors.consultations import consultation_for_viewer
from ..selectors.knowledge import applicant_transcript, citation_label, notes_of
from ..selectors.privacy import masked_name, masked_text, policy, query_tokens
from ..selectors.records import reads_of
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


_TOKEN = re.compile(r"^[a-z]{1,15}:[0-9a-f]{64}$")
MAX_TOKENS = 10


def _search_tokens(request: HttpRequest) -> frozenset[str]:
    """The keyed identifier hashes of a search URL (``idt``), well-formed ones only."""
    raw = request.GET.get("idt", "")
    return frozenset(t for t in raw.split(",")[:MAX_TOKENS] if _TOKEN.match(t))


def _without_identifiers(params: QueryDict) -> HttpResponse | None:
    """A search whose words hold a personal identifier typed in full goes on at a URL where
    they are replaced by the identifier's keyed hash (``idt``): the identifier is in no URL
    the page links to, no browser history entry after this one and no access log line."""
    text = params.get("q", "")
    tokens = query_tokens(text)
    if not tokens:
        return None
    kept = params.copy()
    for name in ("q", "csrfmiddlewaretoken", "page"):
        kept.pop(name, None)
    kept["idt"] = ",".join(sorted(tokens))
    return _see_other(kept)


def _see_other(params: QueryDict) -> HttpResponse:
    """303 to the search page's GET URL with ``params``."""
    response = HttpResponseRedirect(f"{reverse('transcripts')}?{params.urlencode()}")
    response.status_code = 303
    return response


@staff_required
@require_http_methods(["GET", "POST"])
def transcripts_page(request: HttpRequest, staff: StaffProfile) -> HttpResponse:
    """Closed consultations a staff member may read (supervisors: all), searched and paged.

    The search form is sent by POST and answered with a redirect to its GET URL, so that an
    identifier typed in it (a NIK, a phone number) never lands in a URL in clear."""
    if request.method == "POST":
        redirect = _without_identifiers(request.POST)
        if redirect is not None:
            return redirect
        kept = request.POST.copy()
        kept.pop("csrfmiddlewaretoken", None)
        return _see_other(kept)
    redirect = _without_identifiers(request.GET)
    if redirect is not None:
        return redirect
    form = TranscriptSearchForm(request.GET or None, staff=staff, language=get_language() or "id")
    problem = None
    results: Sequence[Consultation] | QuerySet[Consultation] = []
    if form.is_bound and not form.is_valid():
        problem = " ".join(str(error) for errors in form.errors.values() for error in errors)
    else:
        try:
            query = replace(form.query(), tokens=_search_tokens(request))
            results = transcript_search(staff=staff, query=query)
        except DomainError:
            problem = _("Choose a range of at most 366 days, the end not before the start.")
    page = Paginator(results, TRANSCRIPTS_PER_PAGE).get_page(request.GET.get("page"))
    # The applicant's name as the masking policy shows it in search results.
    name_action = policy(staff.role, MaskOutput.SEARCH)["name"]
    for consultation in page.object_list:
        consultation.applicant_shown = masked_name(consultation.applicant_name, name_action)
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
            "by_identifier": bool(_search_tokens(request)),
        },
        # The page says what is wrong with the filters; the status says it to a script.
        status=400 if problem else 200,
    )


MIN_REASON = 5


def _reveal_asked(request: HttpRequest, staff: StaffProfile) -> tuple[int | None, str, str]:
    """A supervisor's request to reveal one masked message (POST ``seq`` and ``reason``): the
    seq and reason, or a problem to show."""
    if request.method != "POST":
        return None, "", ""
    if not staff.is_supervisor:
        return None, "", _("Only a supervisor may reveal a masked value.")
    raw_seq = request.POST.get("seq", "")
    reason = " ".join(request.POST.get("reason", "").split())[:200]
    if not raw_seq.isdigit() or len(raw_seq) > 9:
        return None, "", _("Choose the message to reveal.")
    if len(reason) < MIN_REASON:
        return None, "", _("Say why you need to see it (at least 5 characters).")
    return int(raw_seq), reason, ""


@login_required
@require_http_methods(["GET", "POST"])
def transcript_page(request: HttpRequest, public_id: str) -> HttpResponse:
    """One transcript, personal identifiers masked as the policy says for the reader's role;
    the read is recorded. A supervisor may reveal one masked message with a reason (POST), and
    that reveal is recorded with its reason."""
    try:
        staff = staff_of(request)
    except DomainError:
        return HttpResponseForbidden(_("You may not read this transcript."))
    reveal_seq, reason, problem = _reveal_asked(request, staff)
    try:
        consultation, entries = transcript_open(
            staff=staff,
            public_id=public_id,
            via="reveal" if reveal_seq is not None else "page",
            reason=reason,
            seq=reveal_seq,
        )
    except NotFound:
        raise Http404() from None
    except DomainError:
        return HttpResponseForbidden(_("You may not read this transcript."))
    actions = policy(staff.role, MaskOutput.TRANSCRIPT)
    names = topic_names(language=get_language() or "id")
    rows: list[dict[str, Any]] = []
    for entry in entries:
        shown = entry.text if entry.seq == reveal_seq else masked_text(entry.text, actions)
        rows.append(
            {
                "entry": entry,
                "text": shown,
                "masked": shown != entry.text,
                "revealed": entry.seq == reveal_seq and masked_text(entry.text, actions) != shown,
                "topic_name": names.get(str(entry.data.get("topic", "")), ""),
                "source": citation_label(entry.data),
                "at": entry.created_at,
            }
        )
    # Internal notes (staff only) take their place in the timeline by time.
    rows += [
        {"note": note, "text": masked_text(note.text, actions), "at": note.created_at}
        for note in notes_of(consultation_id=consultation.pk)
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
            "applicant_shown": masked_name(consultation.applicant_name, actions["name"]),
            "comment_shown": masked_text(consultation.rating_comment, actions),
            "reads": reads_of(consultation_id=consultation.pk) if staff.is_supervisor else None,
            "problem": problem,
        },
        status=400 if problem else 200,
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
    # Their own copy, as the masking policy shows it (by default, whole).
    actions = policy(MaskRole.APPLICANT, MaskOutput.OWN_COPY)
    for entry in entries:
        entry.text = masked_text(entry.text, actions)
    rows = [
        (entry, names.get(str(entry.data.get("topic", "")), ""), citation_label(entry.data))
        for entry in entries
    ]
    return response_private(
        render(
            request,
            "consult/applicant_transcript.html",
            {
                "consultation": viewed,
                "rows": rows,
                "topic_name": viewed.topic.name_for(language),
                # UU 27/2022: the data subject may know who accessed their data.
                "reads": reads_of(consultation_id=viewed.pk),
            },
        )
    )


@require_http_methods(["GET"])
def applicant_evidence(request: HttpRequest, public_id: str) -> HttpResponse:
    """/c/<id>/evidence.json: the applicant's evidence bundle (docs/RECORDS.md), while the view
    cookie of their transcript page is valid."""
    viewed = _viewer_consultation(request, public_id)
    if viewed is None:
        return _refused(request)
    return bundle_response(consultation_bundle(viewed, audience="applicant"))
