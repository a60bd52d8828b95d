"""What an applicant should prepare for their topic: the requirements sections of the topic's
knowledge-base articles, as checklists.

Only the requirements section is read here, never the rest of an article: the applicant's page gets
the list of documents to have at hand while waiting, nothing written for counselors alone.
"""

from __future__ import annotations

import re
from typing import TypedDict

from ..models import KnowledgeArticle

# "1." "2)" "-" "*" "•" (or an en dash) at the start of a line: the article's own numbering or
# bullet, which the page replaces with its own.
_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*\u2022\u00b7\u2013])\s+")


class RequirementsList(TypedDict):
    title: str
    items: list[str]


def requirement_items(text: str) -> list[str]:
    """The requirements text as checklist items: one item per numbered or bulleted line (a line
    without a marker continues the item before it); with no markers at all, one item per line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not any(_MARKER.match(line) for line in lines):
        return lines
    items: list[str] = []
    for line in lines:
        marked = _MARKER.match(line)
        if marked:
            items.append(line[marked.end() :].strip())
        elif items:
            items[-1] = f"{items[-1]} {line}"
        else:
            items.append(line)
    return [item for item in items if item]


def topic_requirements(*, topic_id: int, language: str) -> list[RequirementsList]:
    """The active articles of the topic that list requirements, in their order, each as its title
    and its requirements in ``language`` (Indonesian where the English text is empty)."""
    articles = KnowledgeArticle.objects.filter(topic_id=topic_id, active=True).order_by(
        "order", "pk"
    )
    found: list[RequirementsList] = []
    for article in articles:
        items = requirement_items(article.section_for("requirements", language))
        if items:
            found.append({"title": article.title_for(language), "items": items})
    return found
