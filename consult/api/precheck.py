"""The applicant's pre-call check: ``POST /api/consultations/<id>/precheck`` starts one,
``GET``/``DELETE /api/consultations/<id>/precheck/<check_id>`` reads or stops it.

The applicant authenticates with the consultation's token (``Authorization: Bearer <token>``).
The views are async: the aiortc peers live on the event loop of the server process
(``consult.rtc.precheck``), and every ORM call goes through ``sync_to_async``.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from ..errors import DomainError, InvalidInput
from ..models import Consultation
from ..rtc.precheck import get_precheck_service
from ..rtc.verdict import verdict_settled
from ..selectors.consultations import precheck_consultation_check
from ..services.calls import precheck_result_record
from .http import applicant_from_bearer, error_response, json_body

MAX_PRECHECK_BODY = 80 * 1024


def _precheck_owner(request: HttpRequest, public_id: str, *, starting: bool) -> Consultation:
    """The applicant's consultation; to start a check it must be open and of mode video."""
    consultation = applicant_from_bearer(request, public_id=public_id)
    if starting:
        precheck_consultation_check(consultation)
    return consultation


async def _record_verdict(consultation: Consultation, report: dict[str, Any]) -> None:
    """Store a settled verdict: the final one, or one measured for long enough."""
    if not verdict_settled(report):
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
