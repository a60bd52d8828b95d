"""Office hours as the gate on joining, GET /api/office, and offline questions by e-mail."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.test import Client

from consult.errors import InvalidState, OfficeClosed
from consult.models import (
    Consultation,
    OfficeHoliday,
    OfficeHours,
    OfflineQuestion,
    StaffProfile,
    StaffRole,
)
from consult.services import office
from tests.support.applicants import waiting_consultation
from tests.support.staff import make_staff, make_topic, staff_client

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
FRIDAY_EVENING = datetime(2026, 3, 6, 18, 0, tzinfo=WIB)
MONDAY_MORNING = datetime(2026, 3, 9, 10, 0, tzinfo=WIB)
MONDAY_CUT_OFF = datetime(2026, 3, 9, 15, 50, tzinfo=WIB)


@pytest.fixture
def clock(settings: Any) -> Any:
    """Enforce office hours and set the office-hours clock: ``clock(datetime)``."""

    def set_clock(moment: datetime, *, enforce: bool = True) -> None:
        settings.LOKET = {**settings.LOKET, "ENFORCE_HOURS": enforce, "FAKE_NOW": moment}

    return set_clock


def _json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _join(**overrides: Any) -> Any:
    body = {"name": "Ani", "phone": "081234567890", "topic": "building-approval"}
    body.update(overrides)
    return _json(Client(), "/api/consultations", body)


QUESTION = {
    "name": "Ani Wijaya",
    "email": "ani@example.id",
    "phone": "0812 3456 7890",
    "topic": "building-approval",
    "question": "Apakah PBG perlu gambar arsitek?\nRumah saya dua lantai.",
    "language": "id",
}


def _ask(**overrides: Any) -> Any:
    return _json(Client(), "/api/offline-questions", {**QUESTION, **overrides})


# ---------------------------------------------------------------- joining and office status


def test_joining_outside_hours_is_refused_with_the_next_opening(clock: Any) -> None:
    make_topic()
    clock(FRIDAY_EVENING)
    response = _join()
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "office_closed"
    assert error["next_opening"] == "2026-03-09T07:30:00+07:00"
    assert "2026-03-09T07:30:00+07:00" in error["message"]
    assert not Consultation.objects.exists()


def test_joining_after_the_last_entry_is_refused_until_the_next_day(clock: Any) -> None:
    make_topic()
    clock(MONDAY_CUT_OFF)
    response = _join()
    assert response.status_code == 409
    assert response.json()["error"]["next_opening"] == "2026-03-10T07:30:00+07:00"


def test_joining_in_office_hours_works(clock: Any) -> None:
    make_topic()
    clock(MONDAY_MORNING)
    assert _join().status_code == 201


def test_hours_not_enforced_lets_anyone_join_at_any_hour(clock: Any) -> None:
    make_topic()
    clock(FRIDAY_EVENING, enforce=False)
    assert _join().status_code == 201


def test_the_join_service_raises_office_closed(clock: Any) -> None:
    make_topic()
    clock(FRIDAY_EVENING)
    with pytest.raises(OfficeClosed) as caught:
        waiting_consultation()
    assert caught.value.code == "office_closed"
    assert caught.value.next_opening == datetime(2026, 3, 9, 7, 30, tzinfo=WIB)


def test_office_endpoint_reports_the_status(clock: Any) -> None:
    clock(MONDAY_CUT_OFF)
    body = Client().get("/api/office").json()
    assert body == {
        "is_open": True,
        "accepts_new": False,
        "next_opening": "2026-03-10T07:30:00+07:00",
        "closes_at": "2026-03-09T16:00:00+07:00",
        "enforced": True,
        "time_zone": "Asia/Jakarta",
    }
    clock(MONDAY_MORNING)
    body = Client().get("/api/office").json()
    assert (body["is_open"], body["accepts_new"], body["next_opening"]) == (True, True, None)


def test_the_schedule_and_holidays_edited_in_admin_apply(clock: Any) -> None:
    make_topic()
    call_command("seed_demo", "--topics-only", stdout=io.StringIO())
    assert OfficeHours.objects.count() == 7
    saturday = OfficeHours.objects.get(weekday=5)
    assert saturday.closed
    saturday.closed = False
    saturday.opens_at, saturday.closes_at, saturday.last_entry_minutes = time(8), time(12), 30
    saturday.full_clean()
    saturday.save()
    OfficeHoliday.objects.create(date=date(2026, 3, 9), name_id="Nyepi", name_en="Day of Silence")

    clock(datetime(2026, 3, 7, 11, 29, tzinfo=WIB))  # Saturday, before the last entry
    assert _join().status_code == 201
    clock(datetime(2026, 3, 7, 11, 30, tzinfo=WIB))
    closed = _join().json()["error"]
    # Sunday closed, Monday a holiday: Tuesday.
    assert closed["next_opening"] == "2026-03-10T07:30:00+07:00"


def test_seed_demo_keeps_an_edited_schedule() -> None:
    call_command("seed_demo", "--topics-only", stdout=io.StringIO())
    monday = OfficeHours.objects.get(weekday=0)
    assert (monday.opens_at, monday.closes_at, monday.last_entry_minutes) == (
        time(7, 30),
        time(16),
        15,
    )
    monday.closes_at = time(15)
    monday.save()
    call_command("seed_demo", "--topics-only", stdout=io.StringIO())
    assert OfficeHours.objects.get(weekday=0).closes_at == time(15)
    assert OfficeHours.objects.filter(closed=True).count() == 2


# ---------------------------------------------------------------- leaving an offline question


def test_an_offline_question_gets_a_reference_number(clock: Any) -> None:
    make_topic()
    clock(FRIDAY_EVENING)
    response = _ask()
    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"LKT-\d{4}-\d{6}", body["reference"])
    item = OfflineQuestion.objects.get(reference=body["reference"])
    assert item.status == "open"
    assert item.applicant_phone == "081234567890"
    assert item.question == QUESTION["question"]
    assert body["reference"].endswith(f"-{item.pk:06d}")
    assert body["reference"][4:8] == str(item.created_at.astimezone(WIB).year)
    second = _ask().json()["reference"]
    assert second != body["reference"]


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"email": ""}, 400, "invalid_input"),
        ({"email": "not-an-address"}, 400, "invalid_input"),
        ({"name": " "}, 400, "invalid_input"),
        ({"phone": "12ab"}, 400, "invalid_input"),
        ({"question": "   "}, 400, "invalid_input"),
        ({"question": "x" * 4001}, 400, "text_too_long"),
        ({"language": "fr"}, 400, "invalid_input"),
        ({"topic": "no-such-topic"}, 404, "not_found"),
        ({"question": 5}, 400, "invalid_input"),
    ],
)
def test_offline_question_validation(overrides: dict[str, Any], status: int, code: str) -> None:
    make_topic()
    response = _ask(**overrides)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not OfflineQuestion.objects.exists()


def test_offline_question_takes_4000_characters_and_json_only() -> None:
    make_topic()
    assert _ask(question="x" * 4000, phone="").status_code == 201
    bad = Client().post("/api/offline-questions", data="{", content_type="application/json")
    assert bad.json()["error"]["code"] == "bad_json"
    form = Client().post("/api/offline-questions", data={"name": "Ani"})
    assert form.json()["error"]["code"] == "invalid_input"


# ---------------------------------------------------------------- the staff's panel


@pytest.fixture
def people() -> dict[str, StaffProfile]:
    building, health = make_topic("building-approval"), make_topic("health-permit")
    return {
        "sari": make_staff("sari", topics=[building]),
        "budi": make_staff("budi", topics=[health]),
        "dewi": make_staff("dewi", role=StaffRole.SUPERVISOR),
    }


def test_counselors_see_their_topics_and_supervisors_all(people: dict[str, StaffProfile]) -> None:
    building = _ask().json()["reference"]
    health = _ask(topic="health-permit", question="Izin apotek?").json()["reference"]

    def listed(who: str, query: str = "") -> list[str]:
        response = staff_client(people[who]).get("/api/staff/offline-questions" + query)
        assert response.status_code == 200
        return [q["reference"] for q in response.json()["questions"]]

    assert listed("sari") == [building]
    assert listed("budi") == [health]
    assert listed("dewi") == [building, health]
    assert listed("dewi", "?status=answered") == []
    summary = staff_client(people["sari"]).get("/api/staff/offline-questions").json()
    assert (
        summary["questions"][0]["excerpt"]
        == "Apakah PBG perlu gambar arsitek? Rumah saya dua lantai."
    )
    assert "applicant_email" not in summary["questions"][0]

    detail = staff_client(people["sari"]).get(f"/api/staff/offline-questions/{building}")
    assert detail.status_code == 200
    question = detail.json()["question"]
    assert question["question"] == QUESTION["question"]
    assert question["applicant_phone"] == "081234567890"
    assert "applicant_email" not in question
    other = staff_client(people["sari"]).get(f"/api/staff/offline-questions/{health}")
    assert other.status_code == 403
    missing = staff_client(people["dewi"]).get("/api/staff/offline-questions/LKT-2026-999999")
    assert missing.status_code == 404


def test_the_panel_is_for_staff_only(people: dict[str, StaffProfile]) -> None:
    reference = _ask().json()["reference"]
    assert Client().get("/api/staff/offline-questions").status_code == 401
    user = get_user_model().objects.create_user(username="visitor", password="pw-visitor")
    client = Client()
    client.force_login(user)
    assert client.get("/api/staff/offline-questions").status_code == 403
    assert client.get(f"/api/staff/offline-questions/{reference}").status_code == 403
    answer = _json(client, f"/api/staff/offline-questions/{reference}/answer", {"text": "Ya."})
    assert answer.status_code == 403
    bad = staff_client(people["sari"]).get("/api/staff/offline-questions?status=closed")
    assert bad.json()["error"]["code"] == "invalid_input"


def _answer(staff: StaffProfile, reference: str, text: str) -> Any:
    return _json(
        staff_client(staff), f"/api/staff/offline-questions/{reference}/answer", {"text": text}
    )


def test_an_answer_goes_out_by_email_in_indonesian(
    people: dict[str, StaffProfile], mailoutbox: list[Any]
) -> None:
    reference = _ask().json()["reference"]
    text = "Ya, untuk bangunan dua lantai gambar arsitek diperlukan."
    response = _answer(people["sari"], reference, text)
    assert response.status_code == 200, response.content
    question = response.json()["question"]
    assert (question["status"], question["answer"], question["answered_by"]) == (
        "answered",
        text,
        "Sari",
    )
    assert question["answered_at"]
    item = OfflineQuestion.objects.get(reference=reference)
    assert item.answered_by == people["sari"] and item.answered_at is not None

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ani@example.id"]
    assert mail.subject == f"Jawaban atas pertanyaan Anda {reference}"
    assert mail.extra_headers["Content-Language"] == "id"
    assert "Yth. Ani Wijaya," in mail.body
    assert f"Nomor referensi: {reference}" in mail.body
    assert "> Apakah PBG perlu gambar arsitek?\n> Rumah saya dua lantai." in mail.body
    assert f"Jawaban kami:\n{text}" in mail.body
    assert "Topik: Topik building-approval" in mail.body


def test_an_answer_goes_out_by_email_in_english(
    people: dict[str, StaffProfile], mailoutbox: list[Any]
) -> None:
    reference = _ask(language="en", question="Do I need an architect?").json()["reference"]
    assert _answer(people["dewi"], reference, "Yes, for two storeys.").status_code == 200
    (mail,) = mailoutbox
    assert mail.subject == f"Answer to your question {reference}"
    assert mail.extra_headers["Content-Language"] == "en"
    assert "Dear Ani Wijaya," in mail.body
    assert f"Reference number: {reference}" in mail.body
    assert "Topic: Topic building-approval" in mail.body
    assert "> Do I need an architect?" in mail.body
    assert "Our answer:\nYes, for two storeys." in mail.body
    assert "Dewi" in mail.body


def test_answering_twice_is_refused_and_sends_nothing_more(
    people: dict[str, StaffProfile], mailoutbox: list[Any]
) -> None:
    reference = _ask().json()["reference"]
    assert _answer(people["sari"], reference, "Ya.").status_code == 200
    again = _answer(people["dewi"], reference, "Tidak.")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_state"
    assert len(mailoutbox) == 1
    item = OfflineQuestion.objects.get(reference=reference)
    assert (item.answer, item.answered_by) == ("Ya.", people["sari"])
    with pytest.raises(InvalidState):
        office.offline_question_answer(staff=people["sari"], reference=reference, text="Lagi.")


def test_a_counselor_of_another_topic_may_not_answer(
    people: dict[str, StaffProfile], mailoutbox: list[Any]
) -> None:
    reference = _ask().json()["reference"]
    response = _answer(people["budi"], reference, "Ya.")
    assert response.status_code == 403
    empty = _answer(people["sari"], reference, "  ")
    assert empty.json()["error"]["code"] == "invalid_input"
    assert mailoutbox == []
    assert OfflineQuestion.objects.get(reference=reference).status == "open"


def test_the_answer_needs_the_csrf_token(people: dict[str, StaffProfile]) -> None:
    reference = _ask().json()["reference"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["sari"].user)
    refused = _json(client, f"/api/staff/offline-questions/{reference}/answer", {"text": "Ya."})
    assert refused.status_code == 403
    assert OfflineQuestion.objects.get(reference=reference).status == "open"


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")


def test_a_failed_email_leaves_the_question_open(
    people: dict[str, StaffProfile], settings: Any
) -> None:
    reference = _ask().json()["reference"]
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    response = _answer(people["sari"], reference, "Ya.")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "mail_failed"
    item = OfflineQuestion.objects.get(reference=reference)
    assert (item.status, item.answer, item.answered_by) == ("open", "", None)


# ---------------------------------------------------------------- the pages


def test_the_closed_applicant_page_says_when_it_opens_in_the_applicants_language(
    clock: Any,
) -> None:
    make_topic()
    clock(FRIDAY_EVENING)
    html = Client().get("/").content.decode()
    assert "Kantor sedang tutup" in html
    assert "Konsultasi langsung dibuka kembali pada Senin, 9 Maret 2026 pukul 07.30 WIB." in html
    assert 'id="offline-form"' in html
    assert 'id="join-form" class="form" novalidate hidden' in html
    english = Client()
    english.cookies["django_language"] = "en"
    html = english.get("/").content.decode()
    assert "The office is closed" in html
    assert (
        "Live consultations start again on Monday, 9 March 2026 at 07:30 (Jakarta time, WIB)."
        in html
    )
    assert '<input type="hidden" name="language" value="en">' in html

    clock(MONDAY_CUT_OFF)
    html = Client().get("/").content.decode()
    assert "Tidak ada konsultasi baru hari ini" in html
    assert "Selasa, 10 Maret 2026 pukul 07.30" in html


def test_the_open_applicant_page_has_only_the_join_form(clock: Any) -> None:
    make_topic()
    clock(MONDAY_MORNING)
    html = Client().get("/").content.decode()
    assert 'id="offline-form"' not in html
    assert 'id="join-form" class="form" novalidate>' in html


def test_the_console_has_the_offline_panel(people: dict[str, StaffProfile]) -> None:
    html = staff_client(people["sari"]).get("/counselor/").content.decode()
    assert 'id="offline-panel"' in html and "Pertanyaan luring" in html
