"""Reads about the office outside the queue: its schedule and status, and offline questions."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db.models import QuerySet

from ..errors import Forbidden, NotFound
from ..hours import (
    OFFICE_TZ,
    SEARCH_DAYS,
    DayHours,
    OfficeStatus,
    Schedule,
    default_schedule,
    office_clock,
    office_status,
)
from ..models import OfficeHoliday, OfficeHours, OfflineQuestion, StaffProfile


def office_schedule(*, today: date) -> Schedule:
    """The weekly schedule and the holidays from ``today`` on (the default week if none is set)."""
    last = today + timedelta(days=SEARCH_DAYS)
    holidays = frozenset(
        OfficeHoliday.objects.filter(date__gte=today, date__lte=last).values_list("date", flat=True)
    )
    rows = list(OfficeHours.objects.all())
    if not rows:
        return default_schedule(holidays)
    days = {
        row.weekday: DayHours(
            opens=row.opens_at, closes=row.closes_at, last_entry_minutes=row.last_entry_minutes
        )
        for row in rows
        if not row.closed and row.opens_at is not None and row.closes_at is not None
    }
    return Schedule(days=days, holidays=holidays)


def office_status_now() -> OfficeStatus:
    """The office's status at this moment (the office-hours clock, see ``office_clock``)."""
    now = office_clock()
    return office_status(now, office_schedule(today=now.astimezone(OFFICE_TZ).date()))


def offline_questions_visible(*, staff: StaffProfile) -> QuerySet[OfflineQuestion]:
    """Offline questions a staff member may see: supervisors all, counselors their topics'."""
    qs = OfflineQuestion.objects.select_related("topic", "answered_by")
    if not staff.is_supervisor:
        qs = qs.filter(topic__in=staff.topics.all())
    return qs


def offline_questions_list(
    *, staff: StaffProfile, status: str | None = None, limit: int = 200
) -> list[OfflineQuestion]:
    """The staff member's offline questions, oldest first (open ones are answered in order)."""
    qs = offline_questions_visible(staff=staff)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("created_at", "pk")[:limit])


def offline_question_get(*, staff: StaffProfile, reference: str) -> OfflineQuestion:
    """One offline question by its reference, if the staff member may see it."""
    question = (
        OfflineQuestion.objects.select_related("topic", "answered_by")
        .filter(reference=reference.strip().upper())
        .first()
    )
    if question is None:
        raise NotFound("No such offline question.")
    if not staff.is_supervisor and not staff.topics.filter(pk=question.topic_id).exists():
        raise Forbidden("This question is for another topic.")
    return question


def office_closed_status() -> OfficeStatus | None:
    """The office's status if joining the queue is refused now, None if it is possible."""
    if not settings.LOKET["ENFORCE_HOURS"]:
        return None
    status = office_status_now()
    return None if status.accepts_new else status
