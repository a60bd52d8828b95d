"""Plain-dict shapes of domain objects as they travel to clients.

``signaling/protocol.py`` holds the typed wire models; these builders produce exactly those
shapes (the consumer validates every outgoing frame against the models, so the two cannot drift).
"""

from __future__ import annotations

from typing import Any

from .models import Consultation, InternalNote, TranscriptEntry


def iso(value: Any) -> str | None:
    """ISO 8601 in UTC, or None."""
    return value.isoformat() if value is not None else None


def entry_payload(entry: TranscriptEntry, *, public_id: str) -> dict[str, Any]:
    """One transcript entry as the ``entry`` frame carries it."""
    return {
        "type": "entry",
        "consultation_id": public_id,
        "seq": entry.seq,
        "kind": entry.kind,
        "author_role": entry.author_role,
        "author_name": entry.author.display_name if entry.author_id and entry.author else None,
        "text": entry.text,
        "event": entry.event or None,
        "data": entry.data or {},
        "client_msg_id": entry.client_msg_id,
        "created_at": iso(entry.created_at),
    }


def consultation_payload(consultation: Consultation, *, for_staff: bool) -> dict[str, Any]:
    """The consultation's state. Staff see the applicant's name; contact details are never sent."""
    counselor = consultation.counselor
    return {
        "type": "consultation.state",
        "consultation_id": str(consultation.public_id),
        "status": consultation.status,
        "topic": consultation.topic.code,
        "mode": consultation.mode,
        "language": consultation.language,
        "counselor_name": counselor.display_name if counselor else None,
        "counselor_id": consultation.counselor_id if for_staff else None,
        "applicant_name": consultation.applicant_name if for_staff else None,
        "last_seq": consultation.last_seq,
        "version": consultation.version,
        "in_call": consultation.in_call,
        "offer_expires_at": iso(consultation.offer_expires_at)
        if consultation.status == "offered"
        else None,
        "queued_at": iso(consultation.queued_at),
        "ended_by": consultation.ended_by or None,
        "end_reason": consultation.end_reason or None,
        "call_requested_by": consultation.call_requested_by or None,
        "precheck_verdict": consultation.precheck_verdict or None,
        # How the counselor closed it: staff only.
        "outcome": (consultation.outcome or None) if for_staff else None,
        # The applicant's own rating (so the page knows it was given); staff see it too.
        "rating": consultation.rating,
    }


def note_payload(note: InternalNote, *, public_id: str) -> dict[str, Any]:
    """An internal note as the staff-only ``note`` frame carries it."""
    return {
        "type": "note",
        "consultation_id": public_id,
        "note_id": note.pk,
        "kind": note.kind,
        "author_name": note.author.display_name if note.author_id and note.author else None,
        "text": note.text,
        "created_at": iso(note.created_at),
    }
