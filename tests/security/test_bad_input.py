"""Hostile input over HTTP: a clear 400 with a stable code, never a 500, and nothing stored
changes. Run on PostgreSQL (DATABASE_URL): NUL in text is PostgreSQL's DataError, and the
unpaired surrogate an encoding error on any database.

WebSocket frames: tests/signaling/test_bad_input.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from consult.models import (
    CannedReply,
    Consultation,
    ConsultationStatus,
    OfflineQuestion,
    StaffProfile,
    StaffRole,
)
from consult.services.tokens import applicant_token_issue
from tests.support.applicants import waiting_consultation
from tests.support.needs import postgres_url
from tests.support.phones import new_phone
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
SURROGATE = "a\ud800b"  # json.dumps writes it as the escape "\ud800", as an attacker would
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff"


@pytest.fixture(autouse=True)
def _on_postgresql() -> None:
    postgres_url()
    assert connection.vendor == "postgresql"


def _post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.content
    return str(response.json()["error"]["code"])


@pytest.fixture
def office() -> dict[str, Any]:
    topic = make_topic()
    return {
        "topic": topic,
        "sari": make_staff("sari", topics=[topic]),
        "dewi": make_staff("dewi", role=StaffRole.SUPERVISOR),
    }


def _client(staff: StaffProfile) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


# ----------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "query",
    [
        "date_to=9999-12-31",
        "date_from=9999-12-31",
        "date_from=9999-12-01&date_to=9999-12-31",
        "date_to=0001-01-01",
        "date_from=0001-01-01&date_to=0001-01-02",
    ],
)
@pytest.mark.parametrize(
    "path", ["/transcripts/", "/supervisor/figures/", "/supervisor/figures.csv"]
)
def test_a_date_at_the_end_of_the_calendar_is_refused_with_400(
    office: dict[str, Any], path: str, query: str
) -> None:
    response = _client(office["dewi"]).get(f"{path}?{query}")
    assert response.status_code == 400, response.content[:300]
    if path != "/supervisor/figures.csv":
        assert 'role="alert"' in response.content.decode()


def test_the_transcript_search_refuses_nul_in_its_words(office: dict[str, Any]) -> None:
    response = _client(office["dewi"]).get("/transcripts/?q=garasi%00")
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


# ------------------------------------------------------------ NUL in a query or a path


@pytest.mark.parametrize(
    "query", ["topic=building%00", "q=izin%00", "language=id%00", "q=a&topic=%00"]
)
def test_knowledge_search_refuses_nul(office: dict[str, Any], query: str) -> None:
    response = _client(office["sari"]).get(f"/api/kb/search?{query}")
    assert _error(response) == "invalid_text"


def test_an_offline_question_reference_with_nul_is_refused(office: dict[str, Any]) -> None:
    client = _client(office["sari"])
    assert _error(client.get("/api/staff/offline-questions/LKT-2026-000001%00")) == "invalid_text"
    assert _error(client.get("/api/staff/offline-questions?status=open%00")) == "invalid_text"
    response = client.post(
        "/api/staff/offline-questions/LKT%00/answer",
        data=json.dumps({"text": "Jawaban"}),
        content_type="application/json",
    )
    assert _error(response) == "invalid_text"


# ------------------------------------------------------- NUL and surrogates in JSON bodies

JOIN = {"name": "Ani", "topic": "building-approval", "mode": "chat"}
QUESTION = {
    "name": "Ani",
    "email": "ani@example.id",
    "topic": "building-approval",
    "question": "Apakah PBG perlu gambar arsitek?",
}


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize("field", ["name", "email", "topic", "mode", "language", "phone"])
def test_joining_refuses_unstorable_text_in_any_field(
    office: dict[str, Any], field: str, bad: str
) -> None:
    body = {**JOIN, "phone": new_phone(), field: bad}
    assert _error(_post(Client(), "/api/consultations", body)) == "invalid_text"
    assert not Consultation.objects.exists()


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize("field", ["name", "email", "question", "topic"])
def test_an_offline_question_refuses_unstorable_text(
    office: dict[str, Any], field: str, bad: str
) -> None:
    body = {**QUESTION, field: bad}
    assert _error(_post(Client(), "/api/offline-questions", body)) == "invalid_text"
    assert not OfflineQuestion.objects.exists()


def test_a_key_with_a_surrogate_is_refused_too(office: dict[str, Any]) -> None:
    body = {**JOIN, "phone": new_phone(), SURROGATE: "x"}
    assert _error(_post(Client(), "/api/consultations", body)) == "invalid_text"


@pytest.mark.parametrize(
    "name", [ZERO_WIDTH, " \u200b ", "\u2060\u180e", "\u3000\u00a0", "Ani\nWijaya", "A\x07ni"]
)
def test_a_name_without_a_visible_character_or_with_a_control_one_is_refused(
    office: dict[str, Any], name: str
) -> None:
    response = _post(Client(), "/api/consultations", {**JOIN, "phone": new_phone(), "name": name})
    assert _error(response) in {"invalid_input", "invalid_text"}
    response = _post(Client(), "/api/offline-questions", {**QUESTION, "name": name})
    assert _error(response) in {"invalid_input", "invalid_text"}
    assert not Consultation.objects.exists()
    assert not OfflineQuestion.objects.exists()


@pytest.mark.parametrize("name", ["Ani", "\u00c9lodie", "\u0410\u043d\u0438", "\U0001f600 Ani"])
def test_ordinary_names_are_still_taken(office: dict[str, Any], name: str) -> None:
    response = _post(Client(), "/api/consultations", {**JOIN, "phone": new_phone(), "name": name})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_an_offline_answer_refuses_unstorable_text(office: dict[str, Any], bad: str) -> None:
    reference = _post(Client(), "/api/offline-questions", QUESTION).json()["reference"]
    client = _client(office["sari"])
    response = client.post(
        f"/api/staff/offline-questions/{reference}/answer",
        data=json.dumps({"text": f"Jawaban {bad}"}),
        content_type="application/json",
    )
    assert _error(response) == "invalid_text"
    assert OfflineQuestion.objects.get().status == "open"


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize("field", ["title", "text", "language"])
def test_a_canned_reply_refuses_unstorable_text(
    office: dict[str, Any], field: str, bad: str
) -> None:
    body = {"title": "Salam", "text": "Selamat pagi", field: bad}
    assert _error(_post(_client(office["sari"]), "/api/canned-replies", body)) == "invalid_text"
    assert not CannedReply.objects.exists()


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_a_rating_comment_refuses_unstorable_text(office: dict[str, Any], bad: str) -> None:
    consultation = waiting_consultation()
    # Over, with a counselor who took part: the only state in which a rating is taken.
    Consultation.objects.filter(pk=consultation.pk).update(
        status=ConsultationStatus.ENDED, first_accepted_at=consultation.created_at
    )
    token = applicant_token_issue(consultation=Consultation.objects.get(pk=consultation.pk))
    response = Client().post(
        f"/api/consultations/{consultation.public_id}/rating",
        data=json.dumps({"stars": 5, "comment": f"bagus {bad}"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert _error(response) == "invalid_text"
    assert Consultation.objects.get(pk=consultation.pk).rating is None


# ------------------------------------------------------------------- numbers in a path


def test_a_canned_reply_id_beyond_the_database_integer_is_not_found(
    office: dict[str, Any],
) -> None:
    response = _client(office["sari"]).delete(f"/api/canned-replies/{10**30}")
    assert _error(response, 404) == "not_found"
