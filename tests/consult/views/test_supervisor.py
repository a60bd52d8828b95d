"""The supervisor's pages: who may open them, the figures page and its CSV download."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from consult.models import Consultation, ConsultationStatus, StaffProfile, StaffRole, Topic
from tests.support.staff import make_staff, make_topic, staff_client

pytestmark = pytest.mark.django_db

JAKARTA = ZoneInfo("Asia/Jakarta")
DAY = date(2026, 3, 10)
PAGES = ["/supervisor/", "/supervisor/figures/", "/supervisor/figures.csv"]


@pytest.fixture
def people() -> dict[str, StaffProfile]:
    topic = make_topic()
    return {
        "dewi": make_staff("dewi", role=StaffRole.SUPERVISOR),
        "sari": make_staff("sari", topics=[topic]),
    }


@pytest.mark.parametrize("path", PAGES)
def test_supervisors_only(path: str, people: dict[str, StaffProfile]) -> None:
    assert staff_client(people["dewi"]).get(path).status_code == 200
    assert staff_client(people["sari"]).get(path).status_code == 403
    plain = get_user_model().objects.create_user(username="plain", password="x")
    assert staff_client(user=plain).get(path).status_code == 403
    anonymous = Client().get(path)
    assert anonymous.status_code == 302
    assert anonymous.url == f"/login/?next={path}"


def test_the_board_page_is_for_the_staff_socket(people: dict[str, StaffProfile]) -> None:
    html = staff_client(people["dewi"]).get("/supervisor/").content.decode()
    assert 'data-ws-path="/ws/staff/"' in html and "js/board.js" in html
    assert 'id="topic-rows"' in html
    # The navigation leads supervisors to the board and the figures; counselors do not see them.
    assert 'href="/supervisor/figures/"' in html
    counselor_html = staff_client(people["sari"]).get("/counselor/").content.decode()
    assert 'href="/supervisor/"' not in counselor_html


def closed(topic: Topic, counselor: StaffProfile | None, minute: int, wait: int | None) -> None:
    created = datetime(DAY.year, DAY.month, DAY.day, 9, minute, tzinfo=JAKARTA)
    accepted = created + timedelta(seconds=wait) if wait is not None else None
    c = Consultation.objects.create(
        topic=topic,
        applicant_name="Siti Rahayu",
        applicant_phone="081299990000",
        status=ConsultationStatus.ENDED if accepted else ConsultationStatus.ABANDONED,
        counselor=counselor,
        queued_at=created,
        first_accepted_at=accepted,
        ended_at=(accepted or created) + timedelta(seconds=240),
        token_nonce="n",
    )
    Consultation.objects.filter(pk=c.pk).update(created_at=created, rating=4 if accepted else None)


@pytest.fixture
def day_of_work(people: dict[str, StaffProfile]) -> None:
    topic = Topic.objects.get()
    closed(topic, people["sari"], 0, wait=45)
    closed(topic, people["sari"], 10, wait=75)
    closed(topic, None, 20, wait=None)


def test_figures_page_shows_the_chosen_day(
    people: dict[str, StaffProfile], day_of_work: None
) -> None:
    client = staff_client(people["dewi"])
    client.cookies["django_language"] = "en"
    html = client.get(f"/supervisor/figures/?date_from={DAY}&date_to={DAY}").content.decode()
    assert "Office day Tuesday, 10 March 2026" in html
    total = html[html.index('<tr data-key="total">') :]
    assert 'data-col="answered">2<' in total and 'data-col="abandoned">1<' in total
    assert 'data-col="within">33%<' in total
    assert 'data-col="wait">1:00<' in total  # (45 + 75) / 2 s
    assert 'data-col="handling">4:00<' in total
    assert 'data-col="rating">4.0<' in total
    assert "Siti" not in html
    assert f'href="/supervisor/figures.csv?date_from={DAY}&amp;date_to={DAY}"' in html


def test_figures_page_in_indonesian_uses_a_decimal_comma(
    people: dict[str, StaffProfile], day_of_work: None
) -> None:
    html = (
        staff_client(people["dewi"]).get(f"/supervisor/figures/?date_from={DAY}").content.decode()
    )
    assert 'data-col="rating">4,0<' in html


def test_a_bad_range_is_refused_on_the_page_and_in_the_csv(
    people: dict[str, StaffProfile],
) -> None:
    client = staff_client(people["dewi"])
    response = client.get("/supervisor/figures/?date_from=2026-03-10&date_to=2026-03-01")
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert 'data-key="total"' not in response.content.decode()
    response = client.get("/supervisor/figures.csv?date_from=2024-01-01&date_to=2026-03-01")
    assert response.status_code == 400


def test_csv_download(people: dict[str, StaffProfile], day_of_work: None) -> None:
    response = staff_client(people["dewi"]).get(
        f"/supervisor/figures.csv?date_from={DAY}&date_to={DAY}"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="loket-figures-{DAY}-{DAY}.csv"'
    )
    text = response.content.decode()
    assert "Siti" not in text and "0812" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["group"], r["key"]) for r in rows] == [
        ("total", ""),
        ("topic", "building-approval"),
        ("counselor", str(people["sari"].pk)),
    ]
    assert rows[0]["answered"] == "2" and rows[0]["abandoned"] == "1"
    assert rows[0]["answered_within_60s_share"] == "0.3333"
    assert rows[0]["average_wait_seconds"] == "60.0"
    assert rows[2]["name"] == "Sari" and rows[2]["average_rating"] == "4.00"


def test_figures_page_starts_with_today_filled_in(
    people: dict[str, StaffProfile], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consult.views.supervisor.office_today", lambda: DAY)
    monkeypatch.setattr("consult.forms.office_today", lambda: DAY)
    html = staff_client(people["dewi"]).get("/supervisor/figures/").content.decode()
    assert f'name="date_from" value="{DAY}"' in html
    assert f'name="date_to" value="{DAY}"' in html
    assert f"figures.csv?date_from={DAY}&amp;date_to={DAY}" in html
