"""Appending to a consultation's transcript: gapless sequence numbers, idempotent messages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import events
from ..errors import Forbidden, InvalidInput, InvalidState, NotFound, TextTooLong
from ..models import (
    OPEN_STATUSES,
    AuthorRole,
    Consultation,
    ConsultationStatus,
    EntryKind,
    StaffProfile,
    TranscriptEntry,
)
from ..payloads import entry_payload


def consultation_lock(*, consultation_id: int) -> Consultation:
    """Lock one consultation row for the rest of the transaction (no-op lock on SQLite)."""
    consultation = (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("topic", "counselor")
        .filter(pk=consultation_id)
        .first()
    )
    if consultation is None:
        raise NotFound()
    return consultation


def entry_add(
    consultation: Consultation,
    *,
    kind: str,
    author_role: str,
    author: StaffProfile | None = None,
    text: str = "",
    event: str = "",
    data: dict[str, Any] | None = None,
    client_msg_id: str | None = None,
) -> TranscriptEntry:
    """Append one entry to a consultation already locked by the caller, and publish it."""
    consultation.last_seq += 1
    Consultation.objects.filter(pk=consultation.pk).update(last_seq=consultation.last_seq)
    entry = TranscriptEntry.objects.create(
        consultation=consultation,
        seq=consultation.last_seq,
        kind=kind,
        author_role=author_role,
        author=author,
        text=text,
        event=event,
        data=data or {},
        client_msg_id=client_msg_id,
        created_at=timezone.now(),
    )
    events.publish(
        [events.group_consultation(consultation.pk)],
        entry_payload(entry, public_id=str(consultation.public_id)),
        consultation_id=consultation.pk,
    )
    return entry


def system_event_add(
    consultation: Consultation, *, event: str, data: dict[str, Any] | None = None
) -> TranscriptEntry:
    """Record a system event (joined, transferred, call started...) in the locked consultation."""
    return entry_add(
        consultation, kind=EntryKind.EVENT, author_role=AuthorRole.SYSTEM, event=event, data=data
    )


def _entry_by_client_msg_id(
    consultation: Consultation, client_msg_id: str
) -> TranscriptEntry | None:
    """The entry already stored under ``client_msg_id``: a narrow query, as there rarely is one."""
    found = list(
        TranscriptEntry.objects.filter(consultation_id=consultation.pk, client_msg_id=client_msg_id)
        .order_by()
        .values_list("pk", flat=True)[:1]
    )
    if not found:
        return None
    entry = TranscriptEntry.objects.select_related("author").get(pk=found[0])
    entry.consultation = consultation
    return entry


def transcript_append(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    text: str,
    client_msg_id: str,
) -> tuple[TranscriptEntry, bool]:
    """Store a chat message; the same ``client_msg_id`` again returns the stored entry.

    Returns the entry and whether it was created now (False for a repeat); ``entry.consultation``
    is loaded (its public id is what clients know it by).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("The message is empty.")
    if len(text) > settings.LOKET["MAX_TEXT"]:
        raise TextTooLong()
    if not client_msg_id or len(client_msg_id) > 64:
        raise InvalidInput("client_msg_id must be 1 to 64 characters.")
    with transaction.atomic():
        # The hot path of every chat message: lock only the row, load only the columns used
        # here (the full lock with topic and counselor cost more CPU than the rest together).
        try:
            consultation = (
                Consultation.objects.select_for_update()
                .only("public_id", "status", "counselor_id", "last_seq")
                .get(pk=consultation_id)
            )
        except Consultation.DoesNotExist:
            raise NotFound() from None
        existing = _entry_by_client_msg_id(consultation, client_msg_id)
        if existing is not None:
            if existing.author_role != author_role or existing.author_id != (
                author.pk if author else None
            ):
                raise InvalidInput("client_msg_id was already used by someone else.")
            return existing, False
        if author_role == AuthorRole.COUNSELOR:
            if author is None or consultation.counselor_id != author.pk:
                raise Forbidden()
            if consultation.status != ConsultationStatus.ACTIVE:
                raise InvalidState()
        elif consultation.status not in OPEN_STATUSES:
            # An applicant may write while waiting; the counselor reads it on accepting.
            raise InvalidState()
        entry = entry_add(
            consultation,
            kind=EntryKind.MESSAGE,
            author_role=author_role,
            author=author,
            text=text,
            client_msg_id=client_msg_id,
        )
    return entry, True


def read_mark(*, consultation_id: int, reader_role: str, seq: int) -> int:
    """Record the highest sequence number a side has read; returns the stored value."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        seq = max(0, min(seq, consultation.last_seq))
        field = (
            "applicant_read_seq" if reader_role == AuthorRole.APPLICANT else "counselor_read_seq"
        )
        current = getattr(consultation, field)
        if seq <= current:
            return int(current)
        Consultation.objects.filter(pk=consultation.pk).update(**{field: seq})
        events.publish(
            [events.group_consultation(consultation.pk)],
            {
                "type": "read",
                "consultation_id": str(consultation.public_id),
                "role": reader_role,
                "seq": seq,
            },
            consultation_id=consultation.pk,
        )
        return seq
