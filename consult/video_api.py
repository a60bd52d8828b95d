"""HTTP API for video: ICE servers for a call.

Applicants authenticate with their consultation token (``Authorization: Bearer <token>``), the
counselor with their session.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .api import staff_of
from .errors import DomainError, Forbidden, InvalidState, NotFound, TokenInvalid
from .models import Consultation, ConsultationStatus
from .services.tokens import applicant_token_verify
from .turn import ice_servers_for

_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "invalid_state": 409,
    "token_invalid": 401,
    "token_expired": 401,
}


def _error(exc: DomainError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": exc.code, "message": exc.message}}, status=_STATUS.get(exc.code, 400)
    )


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("Send the applicant token as Authorization: Bearer <token>.")
    return token.strip()


def _applicant_consultation(token: str, public_id: str) -> Consultation:
    """The consultation the token admits to, which must be the one in the URL."""
    consultation = applicant_token_verify(token=token)
    if str(consultation.public_id) != public_id:
        raise Forbidden()
    return consultation


def _participant(request: HttpRequest, public_id: str) -> tuple[Consultation, str]:
    """The consultation and the caller's role in it: its applicant (token) or the counselor
    holding it (session). Anyone else is refused."""
    try:
        uuid.UUID(public_id)
    except ValueError:
        raise NotFound() from None
    token = _bearer(request)
    if token is not None:
        return _applicant_consultation(token, public_id), "applicant"
    staff = staff_of(request)
    consultation = Consultation.objects.filter(public_id=public_id).first()
    if consultation is None:
        raise NotFound()
    if not staff.is_counselor or consultation.counselor_id != staff.pk:
        raise Forbidden()
    return consultation, "counselor"


@require_GET
def ice_servers(request: HttpRequest) -> JsonResponse:
    """GET /api/ice-servers?consultation=<id>: the iceServers for one participant's call.

    ``[]`` when no STUN/TURN server is configured: the client must then use ``iceServers: []``
    (host candidates only) and contact no public STUN server.
    """
    try:
        consultation, role = _participant(request, request.GET.get("consultation", ""))
        if consultation.status != ConsultationStatus.ACTIVE:
            raise InvalidState("ICE servers are given for active consultations only.")
    except DomainError as exc:
        return _error(exc)
    servers = ice_servers_for(participant_id=f"{role}-{consultation.public_id}")
    response = JsonResponse({"iceServers": servers})
    # The TURN credential is personal and short-lived: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response
