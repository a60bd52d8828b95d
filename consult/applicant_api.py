"""The applicant after the consultation: rating it, and reading (printing, saving) the transcript.

The applicant has no account, only the consultation's token, and a token must never be in a URL
(URLs end up in logs, browser history and Referer headers). So:

- the rating is ``POST /api/consultations/<id>/rating`` with ``Authorization: Bearer <token>``;
- what to prepare while waiting (the topic's requirements checklist) is ``GET
  /api/consultations/<id>/requirements`` with the same header;
- the transcript page is opened by a form that POSTs the token to ``/c/<id>/transcript``; the
  server answers with a short-lived, HttpOnly, SameSite=Strict cookie limited to ``/c/<id>/``
  (signed: the consultation and its token nonce, valid 15 minutes) and a 303 redirect to the same
  address, which it then serves by GET. The page can be reloaded, printed and saved; nothing
  secret is in its address.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .errors import DomainError, InvalidInput
from .http import applicant_consultation, applicant_from_bearer, error_response, json_body
from .models import Consultation, Topic
from .selectors.knowledge import applicant_transcript, citation_label
from .selectors.requirements import topic_requirements
from .services.feedback import consultation_rate

MAX_BODY = 8192
VIEW_COOKIE = "loket_transcript"
VIEW_MAX_AGE = 15 * 60
_VIEW_SALT = "loket.applicant-transcript-view"


# No session is involved: the token travels in a header that a cross-site form cannot set.
@csrf_exempt
@require_POST
def rating_submit(request: HttpRequest, public_id: str) -> JsonResponse:
    """POST /api/consultations/<id>/rating {stars: 1-5, comment}: the applicant rates, once."""
    try:
        consultation = applicant_from_bearer(request, public_id=public_id)
        data = json_body(request, max_bytes=MAX_BODY)
        stars, comment = data.get("stars"), data.get("comment") or ""
        if isinstance(stars, bool) or not isinstance(stars, int):
            raise InvalidInput("stars must be a whole number from 1 to 5.")
        rated = consultation_rate(consultation_id=consultation.pk, stars=stars, comment=comment)
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({"rating": rated.rating, "comment": rated.rating_comment}, status=201)


@require_GET
def requirements(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET /api/consultations/<id>/requirements: what the applicant should prepare, from the
    requirements of their topic's active knowledge-base articles, in the consultation's language."""
    try:
        consultation = applicant_from_bearer(request, public_id=public_id)
    except DomainError as exc:
        return error_response(exc)
    language = consultation.language
    lists = topic_requirements(topic_id=consultation.topic_id, language=language)
    return _private(JsonResponse({"language": language, "articles": lists}))


def _private(response: HttpResponse) -> HttpResponse:
    # The page shows a personal conversation: no cache keeps it, no link leaks its address.
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _refused(request: HttpRequest) -> HttpResponse:
    return _private(render(request, "consult/applicant_transcript_refused.html", status=403))


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
    consultation = (
        Consultation.objects.select_related("topic", "counselor").filter(pk=data["c"]).first()
    )
    if (
        consultation is None
        or str(consultation.public_id) != public_id
        or not secrets.compare_digest(consultation.token_nonce, str(data.get("n", "")))
    ):
        return None
    return consultation


@require_http_methods(["GET", "POST"])
def transcript_page(request: HttpRequest, public_id: str) -> HttpResponse:
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
        return _private(response)
    viewed = _viewer_consultation(request, public_id)
    if viewed is None:
        return _refused(request)
    language = get_language() or "id"
    names = {topic.code: topic.name_for(language) for topic in Topic.objects.all()}
    entries = applicant_transcript(consultation=viewed)
    rows = [
        (entry, names.get(str(entry.data.get("topic", "")), ""), citation_label(entry.data))
        for entry in entries
    ]
    return _private(
        render(
            request,
            "consult/applicant_transcript.html",
            {"consultation": viewed, "rows": rows, "topic_name": viewed.topic.name_for(language)},
        )
    )
