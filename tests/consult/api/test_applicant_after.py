"""The applicant after the consultation, over HTTP: rating with the token, and the transcript page
opened by POSTing the token (never in a URL) and served from a short-lived cookie."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from consult.models import Consultation, KnowledgeArticle, StaffProfile, Topic
from consult.services import consultations, offers
from consult.services.knowledge import knowledge_insert
from consult.services.notes import note_add
from consult.services.tokens import applicant_token_issue
from tests.support.applicants import reload, say, waiting_consultation
from tests.support.staff import counselor_online, make_staff

pytestmark = pytest.mark.django_db


def _active(staff: StaffProfile, name: str = "Ani") -> tuple[Consultation, str]:
    counselor_online(staff)
    consultation = waiting_consultation(name=name)
    offers.offer_accept(staff=staff, consultation_id=consultation.pk)
    consultation = reload(consultation)
    return consultation, applicant_token_issue(consultation=consultation)


def _rate(consultation: Consultation, token: str | None, **body: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(
        f"/api/consultations/{consultation.public_id}/rating",
        json.dumps(body),
        content_type="application/json",
        **headers,
    )


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# ---------------------------------------------------------------- rating


def test_the_applicant_rates_once_after_the_end(sari: StaffProfile) -> None:
    consultation, token = _active(sari)
    assert _code(_rate(consultation, token, stars=5)) == (409, "invalid_state")
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    assert _code(_rate(consultation, token, stars=9)) == (400, "invalid_input")
    assert _code(_rate(consultation, token, stars="5")) == (400, "invalid_input")
    answer = _rate(consultation, token, stars=4, comment="Jelas")
    assert (answer.status_code, answer.json()) == (201, {"rating": 4, "comment": "Jelas"})
    assert _code(_rate(consultation, token, stars=1)) == (409, "already_rated")
    assert (reload(consultation).rating, reload(consultation).rating_comment) == (4, "Jelas")


def test_only_the_consultations_own_token_may_rate(sari: StaffProfile) -> None:
    consultation, _ = _active(sari)
    other, other_token = _active(sari, name="Budi")
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    assert _code(_rate(consultation, None, stars=5)) == (401, "token_invalid")
    assert _code(_rate(consultation, "forged", stars=5)) == (401, "token_invalid")
    assert _code(_rate(consultation, other_token, stars=5)) == (403, "forbidden")
    assert reload(consultation).rating is None and reload(other).rating is None


# ---------------------------------------------------------------- transcript page


def _open(client: Client, consultation: Consultation, token: str) -> Any:
    return client.post(f"/c/{consultation.public_id}/transcript", {"token": token})


def test_the_transcript_page_opens_from_a_posted_token_and_shows_no_notes(
    topic: Topic, sari: StaffProfile
) -> None:
    article = KnowledgeArticle.objects.create(
        topic=topic,
        title_id="PBG rumah tinggal",
        title_en="Building approval",
        requirements_id="KTP dan sertifikat tanah.",
    )
    consultation, token = _active(sari)
    say(consultation, "a-1", "Apa syarat PBG?")
    knowledge_insert(
        staff=sari,
        consultation_id=consultation.pk,
        article_id=article.pk,
        section="requirements",
        client_msg_id="kb-1",
    )
    note_add(staff=sari, consultation_id=consultation.pk, text="RAHASIA: cek ulang KRK")
    consultations.consultation_transfer(
        staff=sari,
        consultation_id=consultation.pk,
        topic_code="building-approval",
        counselor_id=make_staff("budi", topics=[topic]).pk,
        note="RAHASIA: pemohon sulit",
    )

    client = Client()
    opened = _open(client, consultation, token)
    assert opened.status_code == 303
    path = f"/c/{consultation.public_id}/transcript"
    assert opened["Location"] == path
    cookie = opened.cookies["loket_transcript"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == f"/c/{consultation.public_id}/" and int(cookie["max-age"]) == 900
    assert token not in cookie.value

    page = client.get(path)
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store, private"
    assert page["Referrer-Policy"] == "no-referrer"
    html = page.content.decode()
    assert "Apa syarat PBG?" in html
    assert "KTP dan sertifikat tanah." in html
    assert "Sumber: PBG rumah tinggal · Persyaratan" in html
    assert "Sari mengalihkan konsultasi" in html  # the transfer event, without its note
    assert "RAHASIA" not in html
    assert token not in html


def test_the_transcript_page_refuses_without_a_valid_token_or_cookie(sari: StaffProfile) -> None:
    consultation, token = _active(sari)
    other, other_token = _active(sari, name="Budi")
    path = f"/c/{consultation.public_id}/transcript"
    assert Client().get(path).status_code == 403
    # A token in the query string is not a way in.
    assert Client().get(path, {"token": token}).status_code == 403
    assert _open(Client(), consultation, "forged").status_code == 403
    assert _open(Client(), consultation, other_token).status_code == 403
    # The cookie of one consultation does not open another's page.
    client = Client()
    assert _open(client, other, other_token).status_code == 303
    client.cookies["loket_transcript"]["path"] = "/"
    assert client.get(path).status_code == 403
    assert client.get(f"/c/{other.public_id}/transcript").status_code == 200
    # Rotating the consultation's nonce (revoking its tokens) closes the page too.
    Consultation.objects.filter(pk=other.pk).update(token_nonce="rotated")
    assert client.get(f"/c/{other.public_id}/transcript").status_code == 403
