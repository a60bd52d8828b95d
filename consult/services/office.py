"""The office outside the queue: office hours as the gate on joining, and offline questions.

An offline question is left while the office is closed and answered later by a counselor of its
topic; the answer goes to the applicant by e-mail, in their language, with the reference number.
"""

from __future__ import annotations

import logging
import smtplib

from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..contact import contact_clean
from ..errors import (
    Forbidden,
    InvalidInput,
    InvalidState,
    MailFailed,
    NotFound,
    OfficeClosed,
    TextTooLong,
)
from ..hours import OFFICE_TZ
from ..models import Language, OfflineQuestion, OfflineQuestionStatus, StaffProfile
from ..selectors.office import office_closed_status, offline_question_get
from ..selectors.topics import topic_active_get
from .locking import row_lock

log = logging.getLogger(__name__)

MAX_QUESTION = 4000


def office_check_accepting() -> None:
    """Refuse (OfficeClosed) when the office takes no new applicants now and hours are enforced."""
    closed = office_closed_status()
    if closed is not None:
        raise OfficeClosed(next_opening=closed.next_opening)


def _clean_text(raw: str, *, field: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty.")
    if len(text) > MAX_QUESTION:
        raise TextTooLong(f"The {field} is longer than {MAX_QUESTION} characters.")
    return text


def offline_question_submit(
    *,
    name: str,
    email: str,
    phone: str = "",
    topic_code: str,
    question: str,
    language: str = Language.ID,
) -> OfflineQuestion:
    """Record a question left outside office hours; returns it with its reference number."""
    name, phone, email = contact_clean(name=name, phone=phone, email=email, email_required=True)
    text = _clean_text(question, field="question")
    if language not in Language.values:
        raise InvalidInput("language must be id or en.")
    topic = topic_active_get(code=topic_code)
    now = timezone.now()
    with transaction.atomic():
        item = OfflineQuestion.objects.create(
            topic=topic,
            applicant_name=name,
            applicant_email=email,
            applicant_phone=phone,
            language=language,
            question=text,
            created_at=now,
        )
        item.reference = f"LKT-{now.astimezone(OFFICE_TZ).year}-{item.pk:06d}"
        item.save(update_fields=["reference"])
    return item


def _answer_mail(item: OfflineQuestion, *, counselor: StaffProfile) -> EmailMessage:
    quoted = "\n".join(f"> {line}" if line else ">" for line in item.question.splitlines())
    with translation.override(item.language):
        subject = _("Answer to your question %(reference)s") % {"reference": item.reference}
        lines = [
            _("Dear %(name)s,") % {"name": item.applicant_name},
            "",
            _(
                "Thank you for your question to the permit office. "
                "A counselor has answered it below."
            ),
            "",
            _("Reference number: %(reference)s") % {"reference": item.reference},
            _("Topic: %(topic)s") % {"topic": item.topic.name_for(item.language)},
            "",
            _("Your question:"),
            quoted,
            "",
            _("Our answer:"),
            item.answer,
            "",
            _("If you have further questions, quote the reference number %(reference)s.")
            % {"reference": item.reference},
            "",
            _("Kind regards,"),
            _("%(counselor)s, the permit office's online consultation")
            % {"counselor": counselor.display_name},
        ]
    return EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        to=[item.applicant_email],
        headers={"Content-Language": item.language},
    )


def offline_question_answer(*, staff: StaffProfile, reference: str, text: str) -> OfflineQuestion:
    """Answer an open offline question by e-mail and mark it answered by ``staff``, now."""
    answer = _clean_text(text, field="answer")
    if not (staff.is_counselor or staff.is_supervisor):
        raise Forbidden()
    offline_question_get(staff=staff, reference=reference)  # NotFound / Forbidden first
    with transaction.atomic():
        item = row_lock(
            OfflineQuestion.objects.select_related("topic").filter(
                reference=reference.strip().upper()
            )
        )
        if item is None:
            raise NotFound()
        if item.status != OfflineQuestionStatus.OPEN:
            raise InvalidState("This question has already been answered.")
        item.status = OfflineQuestionStatus.ANSWERED
        item.answer = answer
        item.answered_by = staff
        item.answered_at = timezone.now()
        item.save(update_fields=["status", "answer", "answered_by", "answered_at"])
        # Sent inside the transaction: if the mail server refuses it, the question stays open
        # and can be answered again; an answer recorded but never sent would be lost silently.
        try:
            _answer_mail(item, counselor=staff).send()
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("offline answer %s: e-mail failed: %s", item.reference, type(exc).__name__)
            raise MailFailed() from None
    return item
