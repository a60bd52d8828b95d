"""Transcript reads: entries after a sequence number (replay), a whole transcript for staff, and
the transcripts page's search."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from ..events.frames import Entry
from ..models import (
    Consultation,
    ConsultationStatus,
    EntryKind,
    IdentifierToken,
    StaffProfile,
    TranscriptEntry,
)
from .consultations import consultation_for_staff
from .figures import office_today, period_bounds
from .privacy import query_tokens


def entries_after(*, consultation_id: int, after_seq: int, limit: int = 500) -> list[Entry]:
    """The transcript entries with seq > after_seq, in order (at most ``limit``), as the frames
    a replay sends."""
    public_id = str(
        Consultation.objects.values_list("public_id", flat=True).get(pk=consultation_id)
    )
    return [
        Entry.of(entry, public_id=public_id)
        for entry in TranscriptEntry.objects.filter(
            consultation_id=consultation_id, seq__gt=after_seq
        )
        .select_related("author")
        .order_by("seq")[:limit]
    ]


def transcript_read(
    *, staff: StaffProfile, public_id: str
) -> tuple[Consultation, list[TranscriptEntry]]:
    """The whole transcript, for a staff member allowed to read it. Pages and the API open it
    through ``services.transcript.transcript_open``, which records the read: every read of a
    transcript is audited."""
    consultation = consultation_for_staff(staff=staff, public_id=public_id)
    entries = list(
        TranscriptEntry.objects.filter(consultation=consultation)
        .select_related("author")
        .order_by("seq")
    )
    return consultation, entries


CLOSED = (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED)
# Without dates the list shows the last 30 office days.
DEFAULT_DAYS = 30
MAX_TEXT_QUERY = 200


@dataclass(frozen=True)
class TranscriptQuery:
    """What a staff member searches for; every field is optional."""

    date_from: date | None = None
    date_to: date | None = None
    topic: str = ""
    counselor_id: int | None = None
    outcome: str = ""
    rating: int | None = None
    text: str = ""
    # Keyed hashes of identifiers typed in full (``privacy.query_tokens``): the page puts these
    # in its URL instead of the identifier itself.
    tokens: frozenset[str] = frozenset()

    def period(self) -> tuple[date, date]:
        """The office days searched: as given; without an end, up to today; without a start,
        the 30 days up to the end."""
        date_to = self.date_to or max(office_today(), self.date_from or office_today())
        date_from = self.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
        return date_from, date_to


def transcripts_visible(*, staff: StaffProfile) -> QuerySet[Consultation]:
    """Closed consultations a staff member may read: supervisors all, counselors those they held
    or took part in (before a transfer)."""
    qs = Consultation.objects.filter(status__in=CLOSED)
    if not staff.is_supervisor:
        took_part = TranscriptEntry.objects.filter(consultation=OuterRef("pk"), author=staff)
        qs = qs.filter(Q(counselor=staff) | Exists(took_part))
    return qs


def transcript_search(*, staff: StaffProfile, query: TranscriptQuery) -> QuerySet[Consultation]:
    """The closed consultations matching ``query`` that ``staff`` may read, newest first.

    Dates are office days (Asia/Jakarta) of joining; ``text`` matches any message, case-insensitive.
    """
    date_from, date_to = query.period()
    start, end = period_bounds(date_from=date_from, date_to=date_to)
    qs = transcripts_visible(staff=staff).filter(created_at__gte=start, created_at__lt=end)
    if query.topic:
        qs = qs.filter(topic__code=query.topic)
    if query.counselor_id is not None:
        qs = qs.filter(counselor_id=query.counselor_id)
    if query.outcome:
        qs = qs.filter(outcome=query.outcome)
    if query.rating is not None:
        qs = qs.filter(rating=query.rating)
    text = query.text.strip()[:MAX_TEXT_QUERY]
    tokens = set(query.tokens) | query_tokens(text)
    if tokens:
        # An identifier typed in full (a NIK with or without its dots, a phone number as 08...
        # or +62...) finds the consultation by its keyed hash (IdentifierToken), whatever the
        # way it was written in the conversation or the contact details.
        qs = qs.filter(
            Exists(IdentifierToken.objects.filter(consultation=OuterRef("pk"), token__in=tokens))
        )
    elif text:
        # Matched against the text with its identifiers masked (``search_text``, where it
        # differs), so that a search cannot probe the digits the results would mask.
        said = TranscriptEntry.objects.filter(
            Q(search_text__isnull=True, text__icontains=text) | Q(search_text__icontains=text),
            consultation=OuterRef("pk"),
            kind=EntryKind.MESSAGE,
        )
        qs = qs.filter(Exists(said))
    return (
        qs.select_related("topic", "counselor")
        .annotate(counselor_shown=_counselor_shown())
        .order_by("-created_at", "-pk")
    )


def _counselor_shown() -> Coalesce:
    """The counselor a result row names: the one holding it at the end or, for a consultation
    that ended without one (transferred to a queue, then abandoned there), the last one who
    joined it, by the name the transcript recorded then."""
    last_joined = (
        TranscriptEntry.objects.filter(consultation=OuterRef("pk"), event="counselor_joined")
        .order_by("-seq")
        .annotate(name=KeyTextTransform("counselor", "data"))
        .values("name")[:1]
    )
    return Coalesce(F("counselor__display_name"), Subquery(last_joined), output_field=CharField())


def transcript_counselor_name(
    *, consultation: Consultation, entries: Iterable[TranscriptEntry]
) -> str:
    """The counselor a transcript names, by the same rule as a search result's row ("" if none
    ever joined)."""
    if consultation.counselor is not None:
        return consultation.counselor.display_name
    name = ""
    for entry in entries:
        if entry.event == "counselor_joined":
            name = str(entry.data.get("counselor") or "")
    return name
