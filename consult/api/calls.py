"""``GET /api/ice-servers?consultation=<id>``: the iceServers for one participant's call.

The applicant authenticates with the consultation's token (``Authorization: Bearer <token>``),
the counselor with their session.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..errors import DomainError, NotFound
from ..models import Consultation
from ..rtc.turn import ice_servers_for
from ..selectors.consultations import call_participant_check, consultation_get_by_public
from .http import applicant_consultation, bearer_token, error_response, staff_of


def _participant(request: HttpRequest, public_id: str) -> tuple[Consultation, str]:
    """The active consultation and the caller's role in its call: its applicant (token) or the
    counselor holding it (session). Anyone else is refused (``call_participant_check``)."""
    try:
        uuid.UUID(public_id)
    except ValueError:
        raise NotFound() from None
    token = bearer_token(request)
    if token is not None:
        consultation = applicant_consultation(token=token, public_id=public_id)
        role, staff_id = "applicant", None
    else:
        staff = staff_of(request)
        consultation = consultation_get_by_public(public_id=public_id)
        role, staff_id = "counselor", staff.pk if staff.is_counselor else None
    call_participant_check(
        consultation,
        role=role,
        staff_id=staff_id,
        inactive="ICE servers are given for active consultations only.",
    )
    return consultation, role


@require_GET
def ice_servers(request: HttpRequest) -> JsonResponse:
    """GET /api/ice-servers?consultation=<id>: the iceServers for one participant's call.

    ``[]`` when no STUN/TURN server is configured: the client must then use ``iceServers: []``
    (host candidates only) and contact no public STUN server.
    """
    try:
        consultation, role = _participant(request, request.GET.get("consultation", ""))
    except DomainError as exc:
        return error_response(exc)
    servers = ice_servers_for(participant_id=f"{role}-{consultation.public_id}")
    response = JsonResponse({"iceServers": servers})
    # The TURN credential is personal and short-lived: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response
