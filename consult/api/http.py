"""What every JSON API endpoint (and the pages) share: the request body, who is asking, the error
response, and the headers of a private answer.

The applicant has no account, only the consultation's token, sent as ``Authorization: Bearer
<token>``; staff have their Django session. Views catch ``DomainError`` and answer with
``error_response``, so one table decides the HTTP status of every error code.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ..errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    RateLimited,
    TokenInvalid,
    Unauthenticated,
)
from ..models import Consultation, StaffProfile
from ..selectors.staff import staff_of_user
from ..services.tokens import applicant_token_verify
from ..text_input import json_texts_check, text_check

# Codes not listed here are the client's mistake: 400.
_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "unauthenticated": 401,
    "invalid_state": 409,
    "office_closed": 409,
    "already_queued": 409,
    "rate_limited": 429,
    "already_rated": 409,
    "token_invalid": 401,
    "token_expired": 401,
    "mail_failed": 502,
    "precheck_busy": 503,
    "precheck_invalid_offer": 400,
    "precheck_not_found": 404,
    "precheck_failed": 500,
}


class BadJson(DomainError):
    code = "bad_json"
    message = "The body is not valid JSON."


def error_response(exc: DomainError) -> JsonResponse:
    """``{"error": {"code", "message", ...}}`` with the status of the error's code."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    # Some errors carry more for the client (office_closed: when the office next opens).
    error.update(getattr(exc, "details", {}))
    response = JsonResponse({"error": error}, status=_STATUS.get(exc.code, 400))
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def response_private(response: HttpResponse) -> HttpResponse:
    """``response`` marked as personal: the applicant's own conversation (or what to prepare for
    it), which no cache may keep and no link may leak the address of."""
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def json_body(request: HttpRequest, *, max_bytes: int) -> dict[str, Any]:
    """The request's JSON object body; InvalidInput (not JSON, too large) or BadJson."""
    if request.content_type != "application/json":
        raise InvalidInput("Send application/json.")
    if len(request.body) > max_bytes:
        raise InvalidInput("The request is too large.")
    try:
        data = json.loads(request.body)
    except ValueError:
        raise BadJson() from None
    if not isinstance(data, dict):
        raise BadJson("The body must be a JSON object.")
    json_texts_check(data)
    return data


def query_text(request: HttpRequest, name: str, *, max_length: int) -> str:
    """The query parameter ``name`` ("" without it), cut to ``max_length``; InvalidText if it
    holds a NUL (``%00``)."""
    return text_check(request.GET.get(name, "")[:max_length], field=name)


def text_fields(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """The string fields ``keys`` of a JSON body; a missing or null field is ``""``."""
    fields = {}
    for key in keys:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidInput(f"{key} must be a string.")
        fields[key] = value
    return fields


def staff_of(request: HttpRequest) -> StaffProfile:
    """The staff profile of the logged-in user; Unauthenticated without a session (an API answers
    401 with JSON, not a redirect to the login page), Forbidden for a user who is not staff."""
    if not request.user.is_authenticated:
        raise Unauthenticated()
    staff = staff_of_user(user_id=request.user.pk)
    if staff is None:
        raise Forbidden("Staff only.")
    return staff


_BEARER_HINT = "Send the applicant token as Authorization: Bearer <token>."


def bearer_token(request: HttpRequest) -> str | None:
    """The token of the ``Authorization: Bearer`` header; None without the header."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid(_BEARER_HINT)
    return token.strip()


def applicant_consultation(*, token: str, public_id: str) -> Consultation:
    """The consultation the applicant token admits to, which must be the one in the URL."""
    consultation = applicant_token_verify(token=token)
    if str(consultation.public_id) != public_id:
        raise Forbidden()
    return consultation


def applicant_from_bearer(request: HttpRequest, *, public_id: str) -> Consultation:
    """The consultation of the request's bearer token (required), which must be ``public_id``.

    Sync (it reads the database): async views call it through ``sync_to_async``.
    """
    token = bearer_token(request)
    if token is None:
        raise TokenInvalid(_BEARER_HINT)
    return applicant_consultation(token=token, public_id=public_id)
