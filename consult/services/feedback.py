"""The applicant's rating of a consultation that is over."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..errors import DomainError, InvalidInput, InvalidState
from ..events import publish
from ..models import Consultation, ConsultationStatus
from .locking import consultation_lock
from .records import rating_addendum

MAX_COMMENT = 1000


class AlreadyRated(DomainError):
    code = "already_rated"
    message = "This consultation has been rated already."


def consultation_rate(*, consultation_id: int, stars: int, comment: str = "") -> Consultation:
    """Store the applicant's 1-to-5 rating and optional comment, once, after the end of a
    consultation a counselor took part in."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise InvalidInput("stars must be a whole number from 1 to 5.")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise InvalidInput(f"comment must be text of at most {MAX_COMMENT} characters.")
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        over = consultation.status in (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED)
        if not over or consultation.first_accepted_at is None:
            raise InvalidState("Only a consultation with a counselor that is over can be rated.")
        if consultation.rating is not None:
            raise AlreadyRated()
        consultation.rating = stars
        consultation.rating_comment = comment.strip()
        consultation.rated_at = timezone.now()
        consultation.save(update_fields=["rating", "rating_comment", "rated_at"])
        if consultation.sealed_at is not None:
            rating_addendum(consultation)
        publish.consultation_changed(consultation)
    return consultation
