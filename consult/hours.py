"""Office hours: when the office is open and when it accepts new applicants.

``office_status`` is a pure function of an instant and a ``Schedule``: no database, no clock, so
its edges can be tested exactly. The schedule is in the office's time zone (Asia/Jakarta, which
has no daylight saving time, but the arithmetic does not rely on that); instants in and out are
timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

OFFICE_TZ = ZoneInfo("Asia/Jakarta")
# How far ahead the next opening is searched for; a schedule closed for longer has none.
SEARCH_DAYS = 400


@dataclass(frozen=True)
class DayHours:
    """One weekday's opening hours; new applicants are taken until ``last_entry_minutes`` before
    closing."""

    opens: time
    closes: time
    last_entry_minutes: int = 15

    @property
    def last_entry(self) -> time:
        moment = datetime.combine(date(2000, 1, 3), self.closes) - timedelta(
            minutes=self.last_entry_minutes
        )
        return moment.time()


@dataclass(frozen=True)
class Schedule:
    """The weekly schedule (Monday is 0; a missing weekday is closed) and the holidays."""

    days: dict[int, DayHours]
    holidays: frozenset[date] = frozenset()

    def hours_on(self, day: date) -> DayHours | None:
        """The hours of a calendar day, or None when the office is closed all day."""
        if day in self.holidays:
            return None
        return self.days.get(day.weekday())


def default_schedule(holidays: frozenset[date] = frozenset()) -> Schedule:
    """Monday to Friday, 07:30 to 16:00, last entry 15 minutes before closing."""
    hours = DayHours(opens=time(7, 30), closes=time(16, 0), last_entry_minutes=15)
    return Schedule(days=dict.fromkeys(range(5), hours), holidays=holidays)


class OfficeStatus(NamedTuple):
    """Whether the office is open now, whether it takes new applicants, when it next does (None
    while it does), and when it closes today (None while it is closed)."""

    is_open: bool
    accepts_new: bool
    next_opening: datetime | None
    closes_at: datetime | None


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=OFFICE_TZ)


def office_status(now: datetime, schedule: Schedule) -> OfficeStatus:
    """The office's status at the instant ``now`` (timezone-aware) under ``schedule``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("office_status needs a timezone-aware instant")
    local = now.astimezone(OFFICE_TZ)
    today = local.date()
    hours = schedule.hours_on(today)
    is_open = accepts_new = False
    closes_at = None
    if hours is not None:
        opens, closes = _at(today, hours.opens), _at(today, hours.closes)
        is_open = opens <= local < closes
        accepts_new = opens <= local < _at(today, hours.last_entry)
        closes_at = closes if is_open else None
    if accepts_new:
        return OfficeStatus(True, True, None, closes_at)
    return OfficeStatus(is_open, False, _next_opening(local, schedule), closes_at)


def _next_opening(local: datetime, schedule: Schedule) -> datetime | None:
    """The first instant after ``local`` at which new applicants are taken."""
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        hours = schedule.hours_on(day)
        if hours is None or hours.last_entry <= hours.opens:
            continue
        opening = _at(day, hours.opens)
        if opening > local:
            return opening
    return None


def office_clock() -> datetime:
    """Now, for office hours: the real clock, or LOKET_FAKE_NOW where a test or demo set it."""
    fake: datetime | None = settings.LOKET["FAKE_NOW"]
    return fake if fake is not None else timezone.now()
