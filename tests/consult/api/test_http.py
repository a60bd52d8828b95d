"""What every JSON endpoint answers alike: a body that is not a JSON object, another content type,
a body too large, and an applicant token in the wrong form."""

from __future__ import annotations

import pytest
from django.test import Client

from consult.models import StaffRole
from consult.services.tokens import applicant_token_issue
from tests.support.applicants import waiting_consultation
from tests.support.staff import make_staff, make_topic, staff_client

pytestmark = pytest.mark.django_db


def _staff_client(role: str = StaffRole.COUNSELOR) -> Client:
    return staff_client(make_staff("sari", role=role, topics=[make_topic()]))


def _endpoint(name: str) -> tuple[Client, str, dict[str, str]]:
    """A client, a URL and headers that get past authentication to the endpoint's body."""
    make_topic()
    if name == "join":
        return Client(), "/api/consultations", {}
    if name == "offline-question":
        return Client(), "/api/offline-questions", {}
    if name == "canned-reply":
        return _staff_client(), "/api/canned-replies", {}
    if name == "offline-answer":
        return _staff_client(), "/api/staff/offline-questions/LKT-2026-000001/answer", {}
    consultation = waiting_consultation()
    token = applicant_token_issue(consultation=consultation)
    url = f"/api/consultations/{consultation.public_id}/rating"
    return Client(), url, {"HTTP_AUTHORIZATION": f"Bearer {token}"}


ENDPOINTS = ["join", "offline-question", "canned-reply", "offline-answer", "rating"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("{not json", "application/json", (400, "bad_json")),
        ("[1, 2]", "application/json", (400, "bad_json")),
        ('"text"', "application/json", (400, "bad_json")),
        ("{}", "text/plain", (400, "invalid_input")),
        ('{"text": "' + "x" * 90_000 + '"}', "application/json", (400, "invalid_input")),
    ],
)
def test_a_json_endpoint_refuses_a_body_that_is_not_a_small_json_object(
    endpoint: str, body: str, content_type: str, expected: tuple[int, str]
) -> None:
    client, url, headers = _endpoint(endpoint)
    response = client.post(url, data=body, content_type=content_type, **headers)
    assert (response.status_code, response.json()["error"]["code"]) == expected


@pytest.mark.parametrize("endpoint", ["join", "offline-question", "canned-reply", "offline-answer"])
def test_text_fields_must_be_strings(endpoint: str) -> None:
    client, url, headers = _endpoint(endpoint)
    body = {"name": 1, "email": 1, "title": 1, "text": 1}
    response = client.post(url, data=body, content_type="application/json", **headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_input")
    assert "must be a string" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer   ", "Basic abc", "Bearer not-a-token"]
)
def test_the_applicant_token_is_a_bearer_header(authorization: str | None) -> None:
    make_topic()
    consultation = waiting_consultation()
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = Client().get(f"/api/consultations/{consultation.public_id}/requirements", **headers)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "token_invalid")


def test_a_token_for_another_consultation_is_forbidden() -> None:
    make_topic()
    mine = waiting_consultation()
    other = waiting_consultation(name="Budi")
    token = applicant_token_issue(consultation=mine)
    response = Client().get(
        f"/api/consultations/{other.public_id}/requirements",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
