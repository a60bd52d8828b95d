"""Inserting a knowledge-base article into a consultation, as a message that cites it."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import translation

from ..errors import ClientMsgIdReused, InvalidInput, NotFound, TextTooLong
from ..models import (
    AuthorRole,
    ConsultationStatus,
    EntryKind,
    KnowledgeArticle,
    KnowledgeSection,
    StaffProfile,
    TranscriptEntry,
)
from ..selectors.consultations import consultation_holder_check
from .locking import consultation_lock
from .transcript import entry_add


def knowledge_text(article: KnowledgeArticle, *, section: str | None, language: str) -> str:
    """The article (or one section of it) as chat text in ``language``: title, then each
    non-empty section under its label."""
    keys = [section] if section else list(KnowledgeSection.values)
    parts = [article.title_for(language)]
    with translation.override(language):
        for key in keys:
            body = article.section_for(key, language).strip()
            if body:
                parts.append(f"{KnowledgeSection(key).label}:\n{body}")
    return "\n\n".join(parts)


def knowledge_insert(
    *,
    staff: StaffProfile,
    consultation_id: int,
    article_id: int,
    section: str | None,
    client_msg_id: str,
) -> tuple[TranscriptEntry, bool]:
    """The counselor sends an article (or one section) as a message in the consultation's
    language; the entry's data cites the article. The same ``client_msg_id`` again returns the
    stored entry (False: not created now)."""
    if section is not None and section not in KnowledgeSection.values:
        raise InvalidInput("section must be one of " + ", ".join(KnowledgeSection.values) + ".")
    if not client_msg_id or len(client_msg_id) > 64:
        raise InvalidInput("client_msg_id must be 1 to 64 characters.")
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        existing = (
            TranscriptEntry.objects.filter(consultation=consultation, client_msg_id=client_msg_id)
            .select_related("author")
            .first()
        )
        if existing is not None:
            if existing.author_role != AuthorRole.COUNSELOR or existing.author_id != staff.pk:
                raise InvalidInput("client_msg_id was already used by someone else.")
            citation = (existing.data or {}).get("citation") or {}
            if (citation.get("article_id"), citation.get("section")) != (article_id, section):
                raise ClientMsgIdReused()
            return existing, False
        consultation_holder_check(
            consultation,
            staff_id=staff.pk if staff.is_counselor else None,
            statuses=(ConsultationStatus.ACTIVE,),
        )
        article = (
            KnowledgeArticle.objects.select_related("topic")
            .filter(pk=article_id, active=True)
            .first()
        )
        if article is None:
            raise NotFound("No such knowledge-base article.")
        language = consultation.language
        text = knowledge_text(article, section=section, language=language)
        if section is not None and text == article.title_for(language):
            raise InvalidInput("The article has nothing in that section.")
        if len(text) > settings.LOKET["MAX_TEXT"]:
            raise TextTooLong("The article is too long for one message; insert one section.")
        entry = entry_add(
            consultation,
            kind=EntryKind.MESSAGE,
            author_role=AuthorRole.COUNSELOR,
            author=staff,
            text=text,
            data={
                "citation": {
                    "article_id": article.pk,
                    "topic": article.topic.code,
                    "title": article.title_for(language),
                    "section": section,
                }
            },
            client_msg_id=client_msg_id,
        )
    return entry, True
