"""What to prepare: the applicant's topic's requirements checklist, in their language, over HTTP
with the applicant token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from consult.models import KnowledgeArticle, Topic
from consult.selectors.requirements import requirement_items, topic_requirements
from tests.support.applicants import join
from tests.support.staff import make_topic

pytestmark = pytest.mark.django_db


def _article(topic: Topic, title: str, **fields: Any) -> KnowledgeArticle:
    return KnowledgeArticle.objects.create(
        topic=topic, title_id=f"{title} (id)", title_en=f"{title} (en)", **fields
    )


def _requirements(joined: dict[str, Any], token: str | None = None) -> Any:
    token = joined["token"] if token is None else token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get(f"/api/consultations/{joined['consultation_id']}/requirements", **headers)


@pytest.fixture
def building() -> Topic:
    topic = make_topic("building-approval")
    _article(
        topic,
        "PBG",
        order=1,
        requirements_id="1. KTP dan NPWP.\n2. Sertifikat tanah\n   atau perjanjian.\n\n3. Gambar.",
        requirements_en=(
            "1. ID card and tax number.\n2. Land certificate\n   or agreement.\n3. Drawings."
        ),
        procedure_id="Daftar di SIMBG.",
        fees_en="The levy is assessed.",
    )
    _article(topic, "SLF", order=2, requirements_id="- PBG yang terbit", requirements_en="")
    _article(topic, "Retired", requirements_id="1. Old form", active=False)
    _article(topic, "Fees only", fees_id="Gratis.")
    return topic


@pytest.fixture
def business() -> Topic:
    topic = make_topic("business-registration")
    _article(topic, "NIB", requirements_id="1. Akta pendirian", requirements_en="1. Deed")
    return topic


def test_items_come_one_per_numbered_line_with_continuations_joined() -> None:
    text = "1. KTP.\n2) Sertifikat\n   atau perjanjian.\n• Gambar\n\n- Bukti PBB"
    assert requirement_items(text) == [
        "KTP.",
        "Sertifikat atau perjanjian.",
        "Gambar",
        "Bukti PBB",
    ]
    assert requirement_items("KTP\n\nNPWP\n") == ["KTP", "NPWP"]
    assert requirement_items("  \n") == []


def test_the_topics_active_articles_with_requirements_in_the_language(
    building: Topic, business: Topic
) -> None:
    assert topic_requirements(topic_id=building.pk, language="id") == [
        {
            "title": "PBG (id)",
            "items": ["KTP dan NPWP.", "Sertifikat tanah atau perjanjian.", "Gambar."],
        },
        {"title": "SLF (id)", "items": ["PBG yang terbit"]},
    ]
    # English, falling back to Indonesian where an article has no English requirements.
    assert topic_requirements(topic_id=building.pk, language="en") == [
        {
            "title": "PBG (en)",
            "items": ["ID card and tax number.", "Land certificate or agreement.", "Drawings."],
        },
        {"title": "SLF (en)", "items": ["PBG yang terbit"]},
    ]
    assert topic_requirements(topic_id=business.pk, language="en") == [
        {"title": "NIB (en)", "items": ["Deed"]}
    ]


def test_the_applicant_gets_their_topics_checklist_in_their_language(
    building: Topic, business: Topic
) -> None:
    joined = join("building-approval", language="en")
    response = _requirements(joined)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"
    body = response.json()
    assert body["language"] == "en"
    assert [a["title"] for a in body["articles"]] == ["PBG (en)", "SLF (en)"]
    assert body["articles"][0]["items"][0] == "ID card and tax number."
    text = json.dumps(body)
    # Another topic's requirements, inactive articles and the other sections stay out.
    for absent in ("Deed", "Akta", "Old form", "Retired", "SIMBG", "levy", "Fees only"):
        assert absent not in text

    indonesian = _requirements(join("business-registration", language="id")).json()
    assert indonesian == {
        "language": "id",
        "articles": [{"title": "NIB (id)", "items": ["Akta pendirian"]}],
    }


def test_nothing_to_prepare_when_the_topic_has_no_article(building: Topic) -> None:
    make_topic("signage")
    response = _requirements(join("signage"))
    assert (response.status_code, response.json()) == (200, {"language": "id", "articles": []})


def test_only_the_consultations_own_token_reads_it(building: Topic) -> None:
    mine = join("building-approval")
    other = join("building-approval", name="Budi")
    for token, status, code in (
        ("", 401, "token_invalid"),
        ("forged", 401, "token_invalid"),
        (other["token"], 403, "forbidden"),
    ):
        response = _requirements(mine, token)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    post = Client().post(
        f"/api/consultations/{mine['consultation_id']}/requirements",
        HTTP_AUTHORIZATION=f"Bearer {mine['token']}",
    )
    assert post.status_code == 405
