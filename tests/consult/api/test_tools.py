"""The staff tools over HTTP (knowledge-base search, canned replies) and the staff transcript's
notes, outcome and rating: who may do what, with stable error codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from consult.models import CannedReply, StaffProfile, StaffRole, Topic
from consult.services import consultations, offers
from consult.services.feedback import consultation_rate
from consult.services.knowledge import knowledge_insert
from consult.services.notes import note_add
from tests.support.applicants import reload, waiting_consultation
from tests.support.knowledge import make_article
from tests.support.staff import counselor_online, make_staff, staff_client

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- knowledge base


def test_kb_search_for_staff_in_the_asked_language(topic: Topic, sari: StaffProfile) -> None:
    article = make_article(topic)
    body = staff_client(sari).get("/api/kb/search", {"q": "sertifikat", "language": "en"}).json()
    assert body == {
        "articles": [
            {
                "id": article.pk,
                "topic": "building-approval",
                "title": "Building approval for a house",
                "sections": [
                    {
                        "key": "requirements",
                        "label": "Requirements",
                        "text": "ID card and land certificate.",
                    },
                    {"key": "fees", "label": "Fees (levies)", "text": "Levy under the city bylaw."},
                ],
            }
        ]
    }
    supervisor = staff_client(make_staff("dewi", role=StaffRole.SUPERVISOR))
    assert supervisor.get("/api/kb/search", {"q": "pbg"}).json()["articles"][0]["id"] == (
        article.pk
    )
    assert staff_client(sari).get("/api/kb/search", {"q": "pbg", "topic": "other"}).json() == {
        "articles": []
    }
    refused = staff_client(sari).get("/api/kb/search", {"q": "pbg", "language": "fr"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_input")


def test_kb_search_refuses_anyone_but_staff(topic: Topic) -> None:
    make_article(topic)
    anonymous = Client().get("/api/kb/search", {"q": "pbg"})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthenticated")
    from django.contrib.auth import get_user_model

    plain = get_user_model().objects.create_user(username="plain", password="pw-plain")
    client = Client()
    client.force_login(plain)
    assert client.get("/api/kb/search", {"q": "pbg"}).status_code == 403


# ---------------------------------------------------------------- canned replies


def _post_reply(client: Client, **body: Any) -> Any:
    return client.post("/api/canned-replies", json.dumps(body), content_type="application/json")


def test_canned_replies_list_create_delete(topic: Topic, sari: StaffProfile) -> None:
    budi = make_staff("budi", topics=[topic])
    shared = CannedReply.objects.create(title="Salam", text="Selamat datang.", language="id")
    theirs = CannedReply.objects.create(owner=budi, title="Punya Budi", text="Halo.")
    client = staff_client(sari)
    created = _post_reply(client, title="Penutup", text="Terima kasih.")
    assert created.status_code == 201
    mine = created.json()
    assert (mine["title"], mine["shared"], mine["language"]) == ("Penutup", False, None)
    listed = client.get("/api/canned-replies").json()["replies"]
    assert [(r["id"], r["shared"]) for r in listed] == [(shared.pk, True), (mine["id"], False)]
    # Someone else's reply does not exist for Sari; a shared one is the admin's.
    gone = client.delete(f"/api/canned-replies/{theirs.pk}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")
    kept = client.delete(f"/api/canned-replies/{shared.pk}")
    assert (kept.status_code, kept.json()["error"]["code"]) == (403, "forbidden")
    assert client.delete(f"/api/canned-replies/{mine['id']}").status_code == 204
    assert CannedReply.objects.filter(pk=mine["id"]).count() == 0
    bad = _post_reply(client, title="", text="x")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_input")
    assert _post_reply(client, title=1, text="x").status_code == 400
    assert Client().get("/api/canned-replies").status_code == 401


def test_canned_reply_writes_need_the_csrf_token(sari: StaffProfile) -> None:
    client = staff_client(sari, csrf=True)
    assert _post_reply(client, title="t", text="x").status_code == 403
    client.get("/counselor/")  # the console sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    answer = client.post(
        "/api/canned-replies",
        json.dumps({"title": "t", "text": "x"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert answer.status_code == 201


# ---------------------------------------------------------------- the staff transcript


def test_staff_transcript_shows_notes_citations_outcome_and_rating(
    topic: Topic, sari: StaffProfile
) -> None:
    article = make_article(topic)
    counselor_online(sari)
    consultation = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    knowledge_insert(
        staff=sari,
        consultation_id=consultation.pk,
        article_id=article.pk,
        section="fees",
        client_msg_id="kb-1",
    )
    note_add(staff=sari, consultation_id=consultation.pk, text="Pemohon belum punya KRK")
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari, outcome="referred"
    )
    consultation_rate(consultation_id=consultation.pk, stars=5, comment="Sangat membantu")
    pid = str(reload(consultation).public_id)
    dewi = make_staff("dewi", role=StaffRole.SUPERVISOR)

    page = staff_client(dewi).get(f"/transcripts/{pid}/").content.decode()
    assert "Pemohon belum punya KRK" in page and "timeline__item--note" in page
    assert "Sumber: PBG rumah tinggal · " in page
    assert "Dirujuk ke tempat lain" in page  # the outcome, translated
    assert "5 dari 5" in page and "Sangat membantu" in page

    data = staff_client(dewi).get(f"/api/consultations/{pid}/transcript").json()
    assert data["consultation"]["outcome"] == "referred"
    assert (data["consultation"]["rating"], data["consultation"]["rating_comment"]) == (
        5,
        "Sangat membantu",
    )
    assert [n["text"] for n in data["notes"]] == ["Pemohon belum punya KRK"]
    cited = [e for e in data["entries"] if e["data"].get("citation")]
    assert cited[0]["data"]["citation"]["section"] == "fees"
