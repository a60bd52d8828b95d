"""The HTTP API and the transcript pages: validation with stable codes, and who may read what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from consult.models import Consultation, TranscriptAccess, TranscriptEntry
from consult.services import consultations, offers
from consult.services.tokens import applicant_token_issue
from tests.support.applicants import reload, say, waiting_consultation
from tests.support.staff import counselor_online, make_staff, make_topic, staff_client

pytestmark = pytest.mark.django_db


def _post(body: Any, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return Client().post("/api/consultations", data=data, content_type=content_type)


VALID = {"name": "Ani", "phone": "0812 3456 7890", "topic": "building-approval"}


# ---------------------------------------------------------------- topics and joining


def test_topics_lists_active_topics_in_order() -> None:
    make_topic("health-permit")
    make_topic("building-approval")
    hidden = make_topic("retired")
    hidden.active = False
    hidden.save()
    response = Client().get("/api/topics")
    assert response.status_code == 200
    topics = response.json()["topics"]
    assert [t["code"] for t in topics] == ["building-approval", "health-permit"]
    assert set(topics[0]) == {"code", "name_id", "name_en"}
    assert Client().post("/api/topics").status_code == 405


def test_join_returns_id_token_and_socket_url() -> None:
    make_topic()
    response = _post({**VALID, "email": "ani@example.org", "mode": "video", "language": "en"})
    assert response.status_code == 201
    body = response.json()
    assert body["ws_url"] == "ws://testserver/ws/applicant/"
    assert body["token"] and body["token_max_age_seconds"] == 12 * 3600
    stored = Consultation.objects.get(public_id=body["consultation_id"])
    assert (stored.mode, stored.language, stored.status) == ("video", "en", "waiting")
    assert (stored.applicant_phone, stored.applicant_email) == ("081234567890", "ani@example.org")


def test_join_with_email_only_is_accepted() -> None:
    make_topic()
    assert (
        _post({"name": "Ani", "email": "ani@example.org", "topic": "building-approval"}).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "Ani", "topic": "building-approval"}, 400, "invalid_input"),
        ({**VALID, "phone": "", "email": "ani@"}, 400, "invalid_input"),
        ({**VALID, "phone": "not a phone"}, 400, "invalid_input"),
        ({**VALID, "phone": "123"}, 400, "invalid_input"),
        ({**VALID, "name": ""}, 400, "invalid_input"),
        ({**VALID, "name": ["Ani"]}, 400, "invalid_input"),
        ({**VALID, "mode": "fax"}, 400, "invalid_input"),
        ({**VALID, "topic": "no-such-topic"}, 404, "not_found"),
        ({**VALID, "topic": ""}, 404, "not_found"),
        ("{not json", 400, "bad_json"),
        ("[1, 2]", 400, "bad_json"),
        ("x" * 9000, 400, "invalid_input"),
    ],
)
def test_join_validation(body: Any, status: int, code: str) -> None:
    make_topic()
    response = _post(body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert Consultation.objects.count() == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_join_requires_json(content_type: str) -> None:
    make_topic()
    response = _post(json.dumps(VALID), content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert Consultation.objects.count() == 0


def test_join_refuses_other_methods() -> None:
    assert Client().get("/api/consultations").status_code == 405


# ---------------------------------------------------------------- transcripts


@pytest.fixture
def ended() -> dict[str, Any]:
    """An ended consultation between applicant Ani and counselor Sari, with one message each."""
    topic = make_topic()
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    consultation = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    for author, text in [(None, "Halo"), (sari, "Selamat siang")]:
        say(consultation, text, text, by=author)
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    return {
        "consultation": reload(consultation),
        "sari": sari,
        "budi": make_staff("budi", topics=[topic]),
        "dewi": make_staff("dewi", role="supervisor"),
    }


def _api(public_id: Any) -> str:
    return f"/api/consultations/{public_id}/transcript"


def test_a_supervisor_reads_any_transcript_and_the_read_is_recorded(
    ended: dict[str, Any],
) -> None:
    consultation = ended["consultation"]
    response = staff_client(ended["dewi"]).get(_api(consultation.public_id))
    assert response.status_code == 200
    body = response.json()
    assert body["consultation"]["status"] == "ended"
    assert body["consultation"]["ended_at"]
    assert [e["seq"] for e in body["entries"]] == [1, 2, 3, 4, 5]
    assert [e["text"] for e in body["entries"] if e["kind"] == "message"] == [
        "Halo",
        "Selamat siang",
    ]
    access = TranscriptAccess.objects.get()
    assert (access.consultation_id, access.reader_id, access.via) == (
        consultation.pk,
        ended["dewi"].user_id,
        "api",
    )


def test_a_counselor_reads_only_their_own_transcripts(ended: dict[str, Any]) -> None:
    public_id = ended["consultation"].public_id
    assert staff_client(ended["sari"]).get(_api(public_id)).status_code == 200
    refused = staff_client(ended["budi"]).get(_api(public_id))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "Halo" not in refused.content.decode()
    assert list(TranscriptAccess.objects.values_list("reader_id", flat=True)) == [
        ended["sari"].user_id
    ]


def test_a_counselor_who_transferred_keeps_reading_what_they_wrote() -> None:
    topic = make_topic()
    health = make_topic("health-permit")
    sari = make_staff("sari", topics=[topic])
    budi = make_staff("budi", topics=[health])
    counselor_online(sari)
    counselor_online(budi)
    consultation = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    say(consultation, "k", "Saya teruskan", by=sari)
    consultations.consultation_transfer(
        staff=sari, consultation_id=consultation.pk, topic_code="health-permit"
    )
    assert reload(consultation).counselor_id == budi.pk
    assert staff_client(sari).get(_api(consultation.public_id)).status_code == 200
    assert staff_client(budi).get(_api(consultation.public_id)).status_code == 200


def test_applicants_and_anonymous_visitors_cannot_read_transcripts(ended: dict[str, Any]) -> None:
    public_id = ended["consultation"].public_id
    anonymous = Client().get(_api(public_id))
    # An API answers JSON, not a redirect to the login page.
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    # The applicant's token is not a way in.
    token = applicant_token_issue(consultation=ended["consultation"])
    with_token = Client().get(
        _api(public_id) + f"?token={token}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert with_token.status_code == 401
    plain_user = get_user_model().objects.create_user(username="warga", password="pw")
    refused = staff_client(user=plain_user).get(_api(public_id))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert TranscriptAccess.objects.count() == 0
    assert "Halo" not in anonymous.content.decode() + refused.content.decode()


def test_an_unknown_transcript_is_not_found(ended: dict[str, Any]) -> None:
    client = staff_client(ended["dewi"])
    for public_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = client.get(_api(public_id))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert TranscriptAccess.objects.count() == 0


def test_the_transcript_pages_follow_the_same_rules(ended: dict[str, Any]) -> None:
    consultation = ended["consultation"]
    page = f"/transcripts/{consultation.public_id}/"

    listing = staff_client(ended["dewi"]).get("/transcripts/")
    assert listing.status_code == 200 and page in listing.content.decode()
    shown = staff_client(ended["dewi"]).get(page)
    assert shown.status_code == 200
    assert "Selamat siang" in shown.content.decode()
    assert TranscriptAccess.objects.get().via == "page"

    assert page in staff_client(ended["sari"]).get("/transcripts/").content.decode()
    assert staff_client(ended["sari"]).get(page).status_code == 200
    assert page not in staff_client(ended["budi"]).get("/transcripts/").content.decode()
    assert staff_client(ended["budi"]).get(page).status_code == 403

    assert Client().get(page).status_code == 302
    assert Client().get("/transcripts/").status_code == 302
    plain_user = get_user_model().objects.create_user(username="warga", password="pw")
    assert staff_client(user=plain_user).get(page).status_code == 403
    assert staff_client(user=plain_user).get("/transcripts/").status_code == 403
    assert staff_client(ended["dewi"]).get("/transcripts/not-a-uuid/").status_code == 404
    assert TranscriptAccess.objects.count() == 2
    assert TranscriptEntry.objects.filter(consultation=consultation).count() == 5
