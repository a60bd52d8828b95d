"""``GET /api/ice-servers?consultation=<id>``: the iceServers for one participant's call.

The applicant authenticates with the consultation's token (``Authorization: Bearer <token>``),
the counselor with their session.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..errors import DomainError, Forbidden, InvalidState, NotFound
from ..models import Consultation, ConsultationStatus
from ..rtc.turn import ice_servers_for
from .http import applicant_consultation, bearer_token, error_response, staff_of


def _participant(request: HttpRequest, public_id: str) -> tuple[Consultation, str]:
    """The consultation and the caller's role in it: its applicant (token) or the counselor
    holding it (session). Anyone else is refused."""
    try:
        uuid.UUID(public_id)
    except ValueError:
        raise NotFound() from None
    token = bearer_token(request)
    if token is not None:
        return applicant_consultation(token=token, public_id=public_id), "applicant"
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
        return error_response(exc)
    servers = ice_servers_for(participant_id=f"{role}-{consultation.public_id}")
    response = JsonResponse({"iceServers": servers})
    # The TURN credential is personal and short-lived: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response
