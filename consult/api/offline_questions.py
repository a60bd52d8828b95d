"""Offline questions: left while the office is closed, answered by e-mail. HTTP only; services do
the work.

Public: ``POST /api/offline-questions``. Staff (session, CSRF):
``GET /api/staff/offline-questions``, ``GET /api/staff/offline-questions/<reference>`` and
``POST /api/staff/offline-questions/<reference>/answer``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ..errors import DomainError, InvalidInput
from ..events.frames import iso
from ..guard.throttle import throttle_offline_question
from ..models import OfflineQuestion, OfflineQuestionStatus
from ..selectors.office import offline_question_get, offline_questions_list
from ..services.office import offline_question_answer, offline_question_submit
from ..text_input import text_check
from .http import error_response, json_body, query_text, staff_of, text_fields

MAX_BODY = 16 * 1024


# Like joining the queue: JSON only, no session, so CSRF protection adds nothing here.
@csrf_exempt
@require_POST
def offline_question_create(request: HttpRequest) -> JsonResponse:
    """POST /api/offline-questions: leave a question to be answered by e-mail; 201 reference."""
    try:
        fields = text_fields(
            json_body(request, max_bytes=MAX_BODY),
            ("name", "email", "phone", "topic", "question", "language"),
        )
        throttle_offline_question(request, phone=fields["phone"], email=fields["email"])
        item = offline_question_submit(
            name=fields["name"],
            email=fields["email"],
            phone=fields["phone"],
            topic_code=fields["topic"],
            question=fields["question"],
            language=fields["language"] or "id",
        )
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse(
        {"reference": item.reference, "topic": item.topic.code, "created_at": iso(item.created_at)},
        status=201,
    )


def _summary(item: OfflineQuestion) -> dict[str, Any]:
    excerpt = " ".join(item.question.split())
    return {
        "reference": item.reference,
        "topic": item.topic.code,
        "status": item.status,
        "applicant_name": item.applicant_name,
        "language": item.language,
        "excerpt": excerpt if len(excerpt) <= 120 else excerpt[:119] + "…",
        "created_at": iso(item.created_at),
        "answered_at": iso(item.answered_at),
        "answered_by": item.answered_by.display_name if item.answered_by else None,
    }


def _detail(item: OfflineQuestion) -> dict[str, Any]:
    # The e-mail address stays on the server: the answer is sent from here.
    return {
        **_summary(item),
        "question": item.question,
        "answer": item.answer or None,
        "applicant_phone": item.applicant_phone or None,
    }


@require_GET
def staff_offline_questions(request: HttpRequest) -> JsonResponse:
    """GET /api/staff/offline-questions[?status=open|answered]: counselors their topics', oldest
    first; supervisors all."""
    try:
        staff = staff_of(request)
        status = query_text(request, "status", max_length=20)
        if status and status not in OfflineQuestionStatus.values:
            raise InvalidInput("status must be open or answered.")
        items = offline_questions_list(staff=staff, status=status or None)
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({"questions": [_summary(item) for item in items]})


@require_GET
def staff_offline_question(request: HttpRequest, reference: str) -> JsonResponse:
    """GET /api/staff/offline-questions/<reference>: the whole question (and answer)."""
    try:
        staff = staff_of(request)
        item = offline_question_get(staff=staff, reference=text_check(reference, field="reference"))
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({"question": _detail(item)})


@require_POST
def staff_offline_answer(request: HttpRequest, reference: str) -> JsonResponse:
    """POST /api/staff/offline-questions/<reference>/answer (JSON ``text``): send the answer."""
    try:
        staff = staff_of(request)
        fields = text_fields(json_body(request, max_bytes=MAX_BODY), ("text",))
        item = offline_question_answer(
            staff=staff, reference=text_check(reference, field="reference"), text=fields["text"]
        )
    except DomainError as exc:
        return error_response(exc)
    return JsonResponse({"question": _detail(item)})
