"""The records' public endpoints (docs/RECORDS.md): keys, checkpoints, proofs, the standalone
verifier, and evidence bundles for the applicant and for staff."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from ..errors import DomainError, InvalidInput, NotFound
from ..models import Checkpoint, Consultation, MaskOutput, MaskRole
from ..records import loket_verify
from ..selectors.consultations import consultation_for_staff
from ..selectors.privacy import policy
from ..selectors.records import (
    Audience,
    b64,
    checkpoint_of_size,
    evidence_bundle,
    keys_document,
)
from ..services.records import (
    checkpoint_publish,
    consistency_proof,
    log_size,
    office_key_register,
    read_record,
)
from .http import applicant_from_bearer, bearer_token, error_response, response_private, staff_of


def _public(response: HttpResponse, *, max_age: int) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={max_age}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def keys(request: HttpRequest) -> HttpResponse:
    """GET /.well-known/loket/keys: every public key the office has signed with, and the one it
    signs with now."""
    office_key_register()
    return _public(JsonResponse(keys_document()), max_age=300)


def _note(checkpoint: Checkpoint) -> HttpResponse:
    return HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")


@require_GET
def checkpoint_latest(request: HttpRequest) -> HttpResponse:
    """GET /.well-known/loket/checkpoint: a signed checkpoint of the whole log as it is now."""
    return _public(_note(checkpoint_publish()), max_age=0)


@require_GET
def checkpoint_at(request: HttpRequest, size: int) -> HttpResponse:
    """GET /api/records/checkpoints/<size>: the checkpoint the office published at that size."""
    found = checkpoint_of_size(size)
    if found is None:
        return error_response(NotFound("No checkpoint of that size was published."))
    return _public(_note(found), max_age=86400)


def _size_arg(request: HttpRequest, name: str) -> int:
    raw = request.GET.get(name, "")
    if not raw.isdigit() or len(raw) > 15:
        raise InvalidInput(f"{name} must be a tree size (a whole number).")
    return int(raw)


@require_GET
def consistency(request: HttpRequest) -> HttpResponse:
    """GET /api/records/consistency?first=M&second=N: the RFC 9162 consistency proof that the
    log of N leaves extends the log of M."""
    try:
        first, second = _size_arg(request, "first"), _size_arg(request, "second")
        if not first <= second <= log_size():
            raise InvalidInput("Need first <= second <= the log's size.")
    except DomainError as exc:
        return error_response(exc)
    proof = b64(consistency_proof(first, second))
    return _public(JsonResponse({"first": first, "second": second, "proof": proof}), max_age=60)


@require_GET
def verifier_script(request: HttpRequest) -> HttpResponse:
    """GET /.well-known/loket/loket_verify.py: the standalone verifier, to run offline."""
    source = Path(loket_verify.__file__).read_text(encoding="utf-8")
    response = HttpResponse(source, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="loket_verify.py"'
    return _public(response, max_age=300)


def bundle_response(bundle: dict[str, Any]) -> HttpResponse:
    """A bundle as a JSON download (never cached: it holds a transcript)."""
    response = HttpResponse(
        json.dumps(bundle, ensure_ascii=False, indent=1), content_type="application/json"
    )
    name = f"loket-evidence-{bundle['consultation']}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response_private(response)


def consultation_bundle(
    consultation: Consultation, *, audience: Audience, role: str = MaskRole.APPLICANT
) -> dict[str, Any]:
    """The bundle of a consultation against a checkpoint covering all its statements, texts as
    the masking policy lets ``role`` read them: the applicant's own copy, or staff's export."""
    # The latest checkpoint, or a new one if the log has grown since: it covers every statement.
    checkpoint = checkpoint_publish()
    output = MaskOutput.OWN_COPY if role == MaskRole.APPLICANT else MaskOutput.EXPORT
    return evidence_bundle(
        consultation, checkpoint=checkpoint, audience=audience, actions=policy(role, output)
    )


@require_GET
def evidence(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET /api/consultations/<id>/evidence: the evidence bundle; the applicant's copy with
    their token (``Authorization: Bearer``), the staff copy (notes included) with a staff
    session allowed to read the transcript, that read recorded (via "export")."""
    try:
        if bearer_token(request) is not None:
            consultation = applicant_from_bearer(request, public_id=public_id)
            return bundle_response(consultation_bundle(consultation, audience="applicant"))
        staff = staff_of(request)
        consultation = consultation_for_staff(staff=staff, public_id=public_id)
    except DomainError as exc:
        return error_response(exc)
    read_record(consultation_id=consultation.pk, reader=staff.user, via="export")
    return bundle_response(consultation_bundle(consultation, audience="staff", role=staff.role))


VERIFY_PAGE = Path(settings.BASE_DIR) / "static" / "records" / "verify.html"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def _inline_hashes(page: str, tag: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for found_tag, body in _INLINE.findall(page)
        if found_tag == tag
    )


@csp_exempt()
@require_GET
def verify_page(request: HttpRequest) -> HttpResponse:
    """GET /.well-known/loket/verify.html: the offline verification page, one file with its
    script and style inline (so it can be saved and opened without a network). Its policy
    allows exactly those inline blocks, by their hashes, and no network at all."""
    page = VERIFY_PAGE.read_text(encoding="utf-8")
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {_inline_hashes(page, 'script')}; "
        f"style-src {_inline_hashes(page, 'style')}; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'; connect-src 'none'"
    )
    return _public(response, max_age=300)
