"""Reads for the counselor's tools (knowledge base, canned replies, internal notes) and the
applicant's own transcript."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import F, Q
from django.utils import translation

from ..events.frames import NoteFrame
from ..models import (
    CannedReply,
    Consultation,
    InternalNote,
    KnowledgeArticle,
    KnowledgeSection,
    StaffProfile,
    TranscriptEntry,
)
from .consultations import consultation_is_held

_TITLE_FIELDS = ("title_id", "title_en")
_BODY_FIELDS = tuple(f"{key}_{lang}" for key in KnowledgeSection.values for lang in ("id", "en"))
MAX_WORDS = 8


def _words(query: str) -> list[str]:
    words = [w for w in re.split(r"[\s,;:.!?()\"']+", (query or "").lower()) if len(w) >= 2]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def _score(article: KnowledgeArticle, words: list[str]) -> int:
    """Title hits weigh more than body hits; an article matching every word ranks first."""
    score = 0
    matched = 0
    for word in words:
        in_title = any(word in getattr(article, f).lower() for f in _TITLE_FIELDS)
        in_body = sum(word in getattr(article, f).lower() for f in _BODY_FIELDS)
        score += 5 * in_title + in_body
        matched += bool(in_title or in_body)
    return score + (20 if words and matched == len(words) else 0)


def article_payload(article: KnowledgeArticle, *, language: str) -> dict[str, Any]:
    """An article for the console, in ``language``: its title and its non-empty sections."""
    with translation.override(language):
        sections = [
            {
                "key": key,
                "label": str(KnowledgeSection(key).label),
                "text": article.section_for(key, language),
            }
            for key in KnowledgeSection.values
            if article.section_for(key, language).strip()
        ]
    return {
        "id": article.pk,
        "topic": article.topic.code,
        "title": article.title_for(language),
        "sections": sections,
    }


def knowledge_search(
    *, query: str, topic_code: str = "", language: str = "id", limit: int = 20
) -> list[dict[str, Any]]:
    """Active articles matching any word of ``query`` (in either language), best first; with no
    words, the topic's articles in their order."""
    words = _words(query)
    articles = KnowledgeArticle.objects.filter(active=True).select_related("topic")
    if topic_code:
        articles = articles.filter(topic__code=topic_code)
    if words:
        any_word = Q()
        for word in words:
            for field in _TITLE_FIELDS + _BODY_FIELDS:
                any_word |= Q(**{f"{field}__icontains": word})
        articles = articles.filter(any_word)
    found = list(articles.order_by("topic__order", "order", "pk")[:200])
    if words:
        # Stable sort: equal scores keep the topic and article order.
        found.sort(key=lambda article: -_score(article, words))
    return [article_payload(article, language=language) for article in found[:limit]]


def citation_label(data: dict[str, Any]) -> str:
    """The "source" line of an entry that cites an article, in the active language ("" if none)."""
    citation = data.get("citation") if isinstance(data, dict) else None
    if not isinstance(citation, dict):
        return ""
    title = str(citation.get("title") or "")
    section = citation.get("section")
    if section in KnowledgeSection.values:
        return f"{title} · {KnowledgeSection(section).label}"
    return title


def canned_replies_for(*, staff: StaffProfile) -> list[CannedReply]:
    """The staff member's own canned replies and the shared ones."""
    return list(
        CannedReply.objects.filter(Q(owner=staff) | Q(owner__isnull=True)).order_by(
            F("owner").asc(nulls_first=True), "title", "pk"
        )
    )


def canned_reply_payload(reply: CannedReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "title": reply.title,
        "text": reply.text,
        "language": reply.language or None,
        "shared": reply.owner_id is None,
    }


def notes_of(*, consultation_id: int) -> list[InternalNote]:
    """A consultation's internal notes, oldest first (callers check who may read them)."""
    return list(
        InternalNote.objects.filter(consultation_id=consultation_id)
        .select_related("author")
        .order_by("created_at", "pk")
    )


def applicant_transcript(*, consultation: Consultation) -> list[TranscriptEntry]:
    """What the applicant may read of their consultation: every transcript entry (messages,
    system events, citations). Internal notes are a separate model and never part of it."""
    return list(
        TranscriptEntry.objects.filter(consultation=consultation)
        .select_related("author")
        .order_by("seq")
    )


def notes_for_holder(*, staff_id: int, consultation_id: int) -> list[NoteFrame]:
    """The internal notes of a consultation as ``note`` frames, only while ``staff_id`` holds it
    (none otherwise)."""
    consultation = (
        Consultation.objects.filter(pk=consultation_id)
        .only("public_id", "counselor_id", "status")
        .first()
    )
    if consultation is None or not consultation_is_held(
        counselor_id=consultation.counselor_id, status=consultation.status, staff_id=staff_id
    ):
        return []
    public_id = str(consultation.public_id)
    return [
        NoteFrame.of(note, public_id=public_id)
        for note in notes_of(consultation_id=consultation_id)
    ]
