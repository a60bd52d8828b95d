"""HTTP API for video: ICE servers for a call, and the applicant's pre-call check.

Applicants authenticate with their consultation token (``Authorization: Bearer <token>``), the
counselor with their session. The pre-call check views are async: the aiortc peers live on the
event loop of the server process (``consult.precheck``), and every ORM call goes through
``sync_to_async``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .api import staff_of
from .errors import DomainError, Forbidden, InvalidInput, InvalidState, NotFound, TokenInvalid
from .models import OPEN_STATUSES, Consultation, ConsultationStatus, Mode
from .precheck import PrecheckService, get_precheck_service
from .services.tokens import applicant_token_verify
from .services.video import precheck_result_record
from .turn import ice_servers_for

log = logging.getLogger(__name__)

_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "invalid_state": 409,
    "token_invalid": 401,
    "token_expired": 401,
    "precheck_busy": 503,
    "precheck_invalid_offer": 400,
    "precheck_not_found": 404,
    "precheck_failed": 500,
}
MAX_PRECHECK_BODY = 80 * 1024


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


# ---------------------------------------------------------------- pre-call check

_hooked: PrecheckService | None = None


def _precheck_service() -> PrecheckService:
    """The process's pre-call check service, closed with the process when Daphne stops.

    Daphne runs on Twisted's asyncio reactor and offers no ASGI lifespan events, so the service is
    shut down by a "before shutdown" reactor trigger: Daphne's own cancellation of open
    connections uses the same hook. Under another server nothing is registered (see
    docs/VIDEO.md).
    """
    global _hooked
    service = get_precheck_service()
    if service is _hooked:
        return service
    reactor: Any = sys.modules.get("twisted.internet.reactor")
    if reactor is not None and getattr(reactor, "running", False):
        from twisted.internet import defer

        def close_checks() -> Any:
            log.info("closing %d pre-call check peer(s) before shutdown", service.peer_count)
            return defer.Deferred.fromFuture(asyncio.ensure_future(service.shutdown()))

        reactor.addSystemEventTrigger("before", "shutdown", close_checks)
    _hooked = service
    return service


def _precheck_owner(token: str | None, public_id: str, *, starting: bool) -> Consultation:
    """The applicant's consultation; to start a check it must be open and of mode video."""
    if token is None:
        raise TokenInvalid("Send the applicant token as Authorization: Bearer <token>.")
    consultation = _applicant_consultation(token, public_id)
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


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise InvalidInput("Send application/json.")
    if len(request.body) > MAX_PRECHECK_BODY:
        raise InvalidInput("The request is too large.")
    try:
        data = json.loads(request.body)
    except ValueError:
        raise InvalidInput("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return data


# No session is involved (the token travels in a header a cross-site form cannot set).
@csrf_exempt
@require_POST
async def precheck_start(request: HttpRequest, public_id: str) -> JsonResponse:
    """POST /api/consultations/<id>/precheck {sdp, type}: answer the applicant's offer with the
    server's own peer; returns {check_id, sdp, type}."""
    try:
        token = _bearer(request)
        consultation = await sync_to_async(_precheck_owner)(token, public_id, starting=True)
        data = _json_body(request)
        sdp, kind = data.get("sdp"), data.get("type")
        if not isinstance(sdp, str) or not isinstance(kind, str):
            raise InvalidInput("sdp and type must be strings.")
        answer = await _precheck_service().start(
            session_key=str(consultation.public_id), offer_sdp=sdp, offer_type=kind
        )
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(answer, status=201)


@csrf_exempt
@require_http_methods(["GET", "DELETE"])
async def precheck_check(request: HttpRequest, public_id: str, check_id: str) -> JsonResponse:
    """GET: the check's measurements and verdict; DELETE: stop it, and get its final report."""
    try:
        token = _bearer(request)
        consultation = await sync_to_async(_precheck_owner)(token, public_id, starting=False)
        service = _precheck_service()
        session_key = str(consultation.public_id)
        if request.method == "DELETE":
            await service.stop(check_id, session_key=session_key)
        report = await service.report(check_id, session_key=session_key)
        await _record_verdict(consultation, report)
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(report)
