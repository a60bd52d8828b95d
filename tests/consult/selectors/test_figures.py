"""Supervisor figures: consultations with known timestamps give exact numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from consult.errors import InvalidInput
from consult.models import Consultation, ConsultationStatus, StaffProfile, Topic
from consult.selectors import figures
from consult.selectors.figures import figures_csv, figures_report
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db

JAKARTA = ZoneInfo("Asia/Jakarta")
DAY = date(2026, 3, 10)


def at(hour: int, minute: int = 0, second: int = 0, day: date = DAY) -> datetime:
    """An instant given in office (Jakarta) time."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=JAKARTA)


def consultation(
    topic: Topic,
    *,
    created: datetime,
    status: str,
    counselor: StaffProfile | None = None,
    wait: float | None = None,
    handling: float | None = None,
    rating: int | None = None,
    name: str = "Ani",
) -> Consultation:
    """A consultation whose timestamps are exactly as given (seconds after ``created``)."""
    accepted = created + timedelta(seconds=wait) if wait is not None else None
    ended: datetime | None = None
    if status in (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED):
        ended = (accepted or created) + timedelta(seconds=handling or 5)
    c = Consultation.objects.create(
        topic=topic,
        applicant_name=name,
        applicant_phone="081234567890",
        status=status,
        counselor=counselor,
        queued_at=created,
        accepted_at=accepted,
        first_accepted_at=accepted,
        ended_at=ended,
        token_nonce="n",
    )
    # created_at is auto_now_add: set the known instant afterwards.
    Consultation.objects.filter(pk=c.pk).update(created_at=created, rating=rating)
    return c


@pytest.fixture
def office() -> dict[str, Any]:
    t1 = make_topic("building-approval")
    t2 = make_topic("health-permit")
    ana = make_staff("ana", topics=[t1, t2])
    budi = make_staff("budi", topics=[t2])
    ended, abandoned = ConsultationStatus.ENDED, ConsultationStatus.ABANDONED
    # t1, Ana: answered in 30 s, handled 10 min, rated 5.
    consultation(t1, created=at(9), status=ended, counselor=ana, wait=30, handling=600, rating=5)
    # t1, Ana: answered in 90 s; the applicant vanished during the chat (abandoned after being
    # accepted is answered), handled 300 s, no rating.
    consultation(t1, created=at(9, 5), status=abandoned, counselor=ana, wait=90, handling=300)
    # t1: left the queue before anyone took it.
    consultation(t1, created=at(9, 20), status=abandoned)
    # t2, Budi: answered at exactly 60 s (within the target), handled 20 min, rated 3.
    consultation(t2, created=at(10), status=ended, counselor=budi, wait=60, handling=1200, rating=3)
    # t2, Budi: offered to Budi, the applicant left before he accepted.
    consultation(t2, created=at(10, 30), status=abandoned, counselor=budi)
    # t1, Ana: joined at the first second of the office day (17:00 UTC the day before).
    consultation(t1, created=at(0, 0, 0), status=ended, counselor=ana, wait=10, handling=100)
    # Still open: not counted until it closes.
    consultation(t1, created=at(11), status=ConsultationStatus.ACTIVE, counselor=ana, wait=5)
    consultation(t2, created=at(11, 5), status=ConsultationStatus.WAITING)
    # The last second of the day before (16:59:59 UTC): another office day.
    consultation(
        t2,
        created=at(23, 59, 59, day=DAY - timedelta(days=1)),
        status=ended,
        counselor=budi,
        wait=120,
        handling=60,
        rating=1,
    )
    return {"t1": t1, "t2": t2, "ana": ana, "budi": budi}


def test_one_office_day_per_topic_counselor_and_total(office: dict[str, Any]) -> None:
    report = figures_report(date_from=DAY, date_to=DAY)

    total = report.total
    assert (total.answered, total.abandoned, total.within_target) == (4, 2, 3)
    assert total.share_within_target == 0.5
    assert total.average_wait_seconds == pytest.approx((30 + 90 + 60 + 10) / 4)
    assert total.average_handling_seconds == pytest.approx((600 + 300 + 1200 + 100) / 4)

    topics = {row.key: row.figures for row in report.topics}
    assert list(topics) == ["building-approval", "health-permit"]
    t1, t2 = topics["building-approval"], topics["health-permit"]
    assert (t1.answered, t1.abandoned, t1.within_target) == (3, 1, 2)
    assert t1.share_within_target == 0.5
    assert t1.average_wait_seconds == pytest.approx(130 / 3)
    assert t1.average_handling_seconds == pytest.approx(1000 / 3)
    assert (t2.answered, t2.abandoned, t2.within_target) == (1, 1, 1)
    assert t2.share_within_target == 0.5
    assert t2.average_wait_seconds == 60
    assert t2.average_handling_seconds == 1200

    counselors = {row.label: row.figures for row in report.counselors}
    assert list(counselors) == ["Ana", "Budi"]
    ana, budi = counselors["Ana"], counselors["Budi"]
    assert (ana.answered, ana.abandoned, ana.within_target) == (3, 0, 2)
    assert ana.share_within_target == pytest.approx(2 / 3)
    # The abandoned offer is Budi's: it was offered to him.
    assert (budi.answered, budi.abandoned, budi.within_target) == (1, 1, 1)

    assert total.average_rating == 4.0  # 5 and 3; the unrated one does not count
    assert t1.average_rating == 5.0 and t2.average_rating == 3.0
    assert ana.average_rating == 5.0 and budi.average_rating == 3.0


def test_a_date_range_takes_in_the_day_before(office: dict[str, Any]) -> None:
    report = figures_report(date_from=DAY - timedelta(days=1), date_to=DAY)
    assert (report.total.answered, report.total.abandoned, report.total.within_target) == (5, 2, 3)
    assert report.total.share_within_target == pytest.approx(3 / 7)
    assert report.total.average_wait_seconds == pytest.approx((30 + 90 + 60 + 10 + 120) / 5)
    budi = {row.label: row.figures for row in report.counselors}["Budi"]
    assert budi.answered == 2 and budi.average_handling_seconds == pytest.approx(630)
    assert budi.average_rating == 2.0


def test_a_quiet_day_lists_the_topics_with_no_figures(office: dict[str, Any]) -> None:
    report = figures_report(date_from=DAY + timedelta(days=1), date_to=DAY + timedelta(days=1))
    assert report.total.closed == 0
    assert report.total.share_within_target is None
    assert report.total.average_wait_seconds is None
    assert [row.key for row in report.topics] == ["building-approval", "health-permit"]
    assert report.counselors == []


def test_today_is_the_office_day_in_jakarta(monkeypatch: pytest.MonkeyPatch) -> None:
    # 18:00 UTC on the 10th is 01:00 on the 11th in Jakarta.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 3, 10, 18, 0, tzinfo=UTC))
    assert figures.office_today() == date(2026, 3, 11)


def test_a_range_must_be_in_order_and_at_most_a_year() -> None:
    with pytest.raises(InvalidInput):
        figures_report(date_from=DAY, date_to=DAY - timedelta(days=1))
    with pytest.raises(InvalidInput):
        figures_report(date_from=DAY - timedelta(days=366), date_to=DAY)
    start, end = figures.period_bounds(date_from=DAY, date_to=DAY)
    assert start == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_csv_has_the_same_figures_and_no_applicant_data(office: dict[str, Any]) -> None:
    consultation(
        office["t1"],
        created=at(12),
        status=ConsultationStatus.ABANDONED,
        name="Siti Rahayu",
    )
    office["ana"].display_name = "=HYPERLINK(1)"
    office["ana"].save()
    text = figures_csv(figures_report(date_from=DAY, date_to=DAY))
    assert "Siti" not in text and "Ani" not in text and "0812" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["group"] for r in rows] == ["total", "topic", "topic", "counselor", "counselor"]
    total = rows[0]
    assert total["answered"] == "4" and total["abandoned"] == "3"
    assert total["answered_within_60s_share"] == f"{3 / 7:.4f}"
    assert total["average_wait_seconds"] == "47.5"
    assert total["average_handling_seconds"] == "550.0"
    topic = rows[2]
    assert (topic["key"], topic["name"]) == ("health-permit", "Topik health-permit")
    assert topic["average_handling_seconds"] == "1200.0"
    assert total["average_rating"] == "4.00"
    names = [r["name"] for r in rows if r["group"] == "counselor"]
    # A name a spreadsheet would run as a formula is quoted.
    assert names == ["'=HYPERLINK(1)", "Budi"]
