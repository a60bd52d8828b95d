"""Knowledge-base articles in the test database."""

from __future__ import annotations

from typing import Any

from consult.models import KnowledgeArticle, Topic


def make_article(topic: Topic, **fields: Any) -> KnowledgeArticle:
    """An active article of ``topic``: a house's building approval with its requirements and
    fees in both languages, unless ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "title_id": "PBG rumah tinggal",
        "title_en": "Building approval for a house",
        "requirements_id": "KTP dan sertifikat tanah.",
        "requirements_en": "ID card and land certificate.",
        "fees_id": "Retribusi sesuai Perda.",
        "fees_en": "Levy under the city bylaw.",
        **fields,
    }
    return KnowledgeArticle.objects.create(topic=topic, **values)
