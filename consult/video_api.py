"""HTTP API for video: ICE servers for a call, and the applicant's pre-call check.

Applicants authenticate with their consultation token (``Authorization: Bearer <token>``), the
counselor with their session. The pre-call check views are async: the aiortc peers live on the
event loop of the server process (``consult.precheck``), and every ORM call goes through
``sync_to_async``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .errors import DomainError, InvalidInput, InvalidState, NotFound
from .http import (
    applicant_consultation,
    applicant_from_bearer,
    bearer_token,
    error_response,
    json_body,
    staff_of,
)
from .models import OPEN_STATUSES, Consultation, ConsultationStatus, Mode
from .precheck import get_precheck_service
from .selectors.consultations import consultation_counselor_check
from .services.calls import precheck_result_record
from .turn import ice_servers_for

log = logging.getLogger(__name__)

MAX_PRECHECK_BODY = 80 * 1024


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
    consultation_counselor_check(consultation, staff_id=staff.pk if staff.is_counselor else None)
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


# ---------------------------------------------------------------- pre-call check


def _precheck_owner(request: HttpRequest, public_id: str, *, starting: bool) -> Consultation:
    """The applicant's consultation; to start a check it must be open and of mode video."""
    consultation = applicant_from_bearer(request, public_id=public_id)
    if starting and (consultation.status not in OPEN_STATUSES or consultation.mode != Mode.VIDEO):
        raise InvalidState("A connection check is for an open video consultation.")
    return consultation


async def _record_verdict(consultation: Consultation, report: dict[str, Any]) -> None:
    """Store a settled verdict: the final one, or one measured for long enough."""
    if report["state"] != "ended" and "short_measurement" in report["reasons"]:
        return
    await sync_to_async(precheck_result_record)(
        consultation_id=consultation.pk, verdict=report["verdict"], reasons=report["reasons"]
    )


# No session is involved (the token travels in a header a cross-site form cannot set).
@csrf_exempt
@require_POST
async def precheck_start(request: HttpRequest, public_id: str) -> JsonResponse:
    """POST /api/consultations/<id>/precheck {sdp, type}: answer the applicant's offer with the
    server's own peer; returns {check_id, sdp, type}."""
    try:
        consultation = await sync_to_async(_precheck_owner)(request, public_id, starting=True)
        data = json_body(request, max_bytes=MAX_PRECHECK_BODY)
        sdp, kind = data.get("sdp"), data.get("type")
        if not isinstance(sdp, str) or not isinstance(kind, str):
            raise InvalidInput("sdp and type must be strings.")
        answer = await get_precheck_service().start(
            session_key=str(consultation.public_id), offer_sdp=sdp, offer_type=kind
        )
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse(answer, status=201)


@csrf_exempt
@require_http_methods(["GET", "DELETE"])
async def precheck_check(request: HttpRequest, public_id: str, check_id: str) -> JsonResponse:
    """GET: the check's measurements and verdict; DELETE: stop it, and get its final report."""
    try:
        consultation = await sync_to_async(_precheck_owner)(request, public_id, starting=False)
        service = get_precheck_service()
        session_key = str(consultation.public_id)
        if request.method == "DELETE":
            await service.stop(check_id, session_key=session_key)
        report = await service.report(check_id, session_key=session_key)
        await _record_verdict(consultation, report)
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse(report)
