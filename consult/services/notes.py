"""Internal notes on a consultation: staff only, never in the applicant's transcript.

A note is not a transcript entry (no sequence number, not in the consultation's group): it is
published only to staff groups with the staff audience, and a staff connection forwards it only
for a consultation it holds, or to supervisors.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..errors import InvalidInput, TextTooLong
from ..events import publish
from ..models import Consultation, ConsultationStatus, InternalNote, NoteKind, StaffProfile
from ..selectors.consultations import consultation_holder_check
from .locking import consultation_lock

MAX_NOTE = 2000


def note_record(
    consultation: Consultation, *, author: StaffProfile | None, text: str, kind: str
) -> InternalNote:
    """Store a note on a consultation locked by the caller; staff hear of it after commit."""
    note = InternalNote.objects.create(
        consultation=consultation,
        author=author,
        kind=kind,
        text=text,
        created_at=timezone.now(),
    )
    publish.note_added(consultation, note)
    return note


def note_add(*, staff: StaffProfile, consultation_id: int, text: str) -> InternalNote:
    """The counselor holding an active consultation writes a note about it for colleagues."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("The note is empty.")
    if len(text) > MAX_NOTE:
        raise TextTooLong(f"A note is at most {MAX_NOTE} characters.")
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        consultation_holder_check(
            consultation,
            staff_id=staff.pk if staff.is_counselor else None,
            statuses=(ConsultationStatus.ACTIVE,),
        )
        return note_record(consultation, author=staff, text=text, kind=NoteKind.NOTE)
