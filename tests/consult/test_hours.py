"""office_status at the edges of the office's day, week and holidays, from any time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from consult.hours import DayHours, OfficeStatus, Schedule, default_schedule, office_status

WIB = ZoneInfo("Asia/Jakarta")
# 2026-03-06 is a Friday, 2026-03-09 a Monday.
FRIDAY, MONDAY, TUESDAY = date(2026, 3, 6), date(2026, 3, 9), date(2026, 3, 10)


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=WIB)


WEEK = default_schedule()


def test_before_opening_is_closed_and_opens_at_0730() -> None:
    assert office_status(at(MONDAY, 7, 29), WEEK) == OfficeStatus(
        is_open=False, accepts_new=False, next_opening=at(MONDAY, 7, 30), closes_at=None
    )
    assert office_status(at(MONDAY, 7, 29, 59), WEEK).accepts_new is False


def test_at_0730_it_is_open_and_takes_applicants_until_four() -> None:
    assert office_status(at(MONDAY, 7, 30), WEEK) == OfficeStatus(
        is_open=True, accepts_new=True, next_opening=None, closes_at=at(MONDAY, 16, 0)
    )


def test_the_last_entry_is_15_minutes_before_closing() -> None:
    assert office_status(at(MONDAY, 15, 44, 59), WEEK).accepts_new is True
    assert office_status(at(MONDAY, 15, 45), WEEK) == OfficeStatus(
        is_open=True, accepts_new=False, next_opening=at(TUESDAY, 7, 30), closes_at=at(MONDAY, 16)
    )


def test_at_four_it_is_closed_until_the_next_morning() -> None:
    assert office_status(at(MONDAY, 15, 59, 59), WEEK).is_open is True
    assert office_status(at(MONDAY, 16, 0), WEEK) == OfficeStatus(
        is_open=False, accepts_new=False, next_opening=at(TUESDAY, 7, 30), closes_at=None
    )


@pytest.mark.parametrize(
    "moment",
    [at(FRIDAY, 16, 0), at(FRIDAY, 20, 0), at(date(2026, 3, 7), 10, 0), at(date(2026, 3, 8), 23)],
)
def test_friday_evening_and_the_weekend_open_on_monday(moment: datetime) -> None:
    status = office_status(moment, WEEK)
    assert (status.is_open, status.accepts_new) == (False, False)
    assert status.next_opening == at(MONDAY, 7, 30)


def test_a_holiday_on_monday_moves_the_opening_to_tuesday() -> None:
    week = default_schedule(frozenset({MONDAY}))
    assert office_status(at(FRIDAY, 18, 0), week).next_opening == at(TUESDAY, 7, 30)
    on_the_day = office_status(at(MONDAY, 10, 0), week)
    assert on_the_day == OfficeStatus(False, False, at(TUESDAY, 7, 30), None)


def test_an_instant_in_utc_is_judged_in_jakarta_time() -> None:
    # 00:29 UTC on Monday is 07:29 in Jakarta (UTC+7); 00:30 UTC is 07:30.
    before = office_status(datetime(2026, 3, 9, 0, 29, tzinfo=UTC), WEEK)
    assert not before.is_open
    assert before.next_opening == datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
    # Returned in the office's time zone, ready to show.
    assert before.next_opening is not None
    assert before.next_opening.utcoffset() == timedelta(hours=7)
    assert office_status(datetime(2026, 3, 9, 0, 30, tzinfo=UTC), WEEK).accepts_new
    # Sunday 23:30 UTC is already Monday 06:30 in Jakarta: it opens an hour later, not next week.
    sunday_utc = office_status(datetime(2026, 3, 8, 23, 30, tzinfo=UTC), WEEK)
    assert sunday_utc.next_opening == at(MONDAY, 7, 30)
    # Friday 08:50 UTC is 15:50 in Jakarta: open, past the last entry.
    late = office_status(datetime(2026, 3, 6, 8, 50, tzinfo=UTC), WEEK)
    assert (late.is_open, late.accepts_new, late.closes_at) == (True, False, at(FRIDAY, 16))
    assert late.next_opening == at(MONDAY, 7, 30)


def test_other_offsets_give_the_same_answer_as_utc() -> None:
    instant = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
    tokyo = instant.astimezone(ZoneInfo("Asia/Tokyo"))
    assert office_status(tokyo, WEEK) == office_status(instant, WEEK)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        office_status(datetime(2026, 3, 9, 8, 0), WEEK)


def test_per_weekday_hours_and_cut_off() -> None:
    week = Schedule(
        days={
            0: DayHours(time(8, 0), time(15, 0), last_entry_minutes=30),
            4: DayHours(time(7, 30), time(11, 30), last_entry_minutes=0),
        }
    )
    assert office_status(at(MONDAY, 14, 29), week).accepts_new
    assert office_status(at(MONDAY, 14, 30), week) == OfficeStatus(
        True, False, at(date(2026, 3, 13), 7, 30), at(MONDAY, 15)
    )
    assert office_status(at(FRIDAY, 11, 29), week).accepts_new
    assert office_status(at(FRIDAY, 11, 30), week).next_opening == at(MONDAY, 8, 0)


def test_a_schedule_that_never_opens_has_no_next_opening() -> None:
    assert office_status(at(MONDAY, 9), Schedule(days={})) == OfficeStatus(False, False, None, None)
