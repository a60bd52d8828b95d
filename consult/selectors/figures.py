"""Supervisor figures: answered, abandoned, answered within 60 s, wait, handling time, rating.

Reads only. Definitions (also in docs/ARCHITECTURE.md, "Supervisor figures"):

- A consultation counts in the office day (Asia/Jakarta, ``TIME_ZONE``) in which the applicant
  joined (``created_at``), once it is closed (ended or abandoned); open ones count once they close.
- answered: closed after a counselor accepted it at least once (``first_accepted_at`` set).
- abandoned: closed without any counselor ever accepting it (left the queue, or vanished while
  waiting or while it was offered).
- answered within 60 s: ``first_accepted_at - created_at <= 60 s``, as a share of answered plus
  abandoned (an abandoned consultation was not answered in time).
- average wait: mean of ``first_accepted_at - created_at`` over answered consultations.
- average handling time: mean of ``ended_at - first_accepted_at`` over answered consultations.
- average rating: mean of the applicant's rating over answered consultations that have one.
- per topic: the consultation's topic when it closed (after any transfer); per counselor: the
  counselor who held it last (for an abandoned one, the counselor it was offered to, if any).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from ..errors import InvalidInput
from ..models import Consultation, ConsultationStatus, StaffProfile, Topic

# The service-level target: answered within this many seconds of joining.
TARGET_SECONDS = 60
# The longest range a report covers, so that one request cannot scan years of rows.
MAX_RANGE_DAYS = 366

CLOSED_STATUSES = (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED)


@dataclass
class Figures:
    """The figures of one group of closed consultations (a topic, a counselor, or all)."""

    answered: int = 0
    abandoned: int = 0
    within_target: int = 0
    wait_seconds_total: float = 0.0
    handling_seconds_total: float = 0.0
    handling_count: int = 0
    rating_total: int = 0
    rating_count: int = 0

    def add(
        self,
        *,
        created_at: datetime,
        first_accepted_at: datetime | None,
        ended_at: datetime | None,
        rating: int | None,
    ) -> None:
        """Count one closed consultation."""
        if first_accepted_at is None:
            self.abandoned += 1
            return
        self.answered += 1
        wait = (first_accepted_at - created_at).total_seconds()
        self.wait_seconds_total += wait
        if wait <= TARGET_SECONDS:
            self.within_target += 1
        if ended_at is not None:
            self.handling_seconds_total += (ended_at - first_accepted_at).total_seconds()
            self.handling_count += 1
        if rating is not None:
            self.rating_total += rating
            self.rating_count += 1

    @property
    def closed(self) -> int:
        return self.answered + self.abandoned

    @property
    def share_within_target(self) -> float | None:
        """Answered within 60 s over answered plus abandoned (None when there are none)."""
        return self.within_target / self.closed if self.closed else None

    @property
    def average_wait_seconds(self) -> float | None:
        return self.wait_seconds_total / self.answered if self.answered else None

    @property
    def average_handling_seconds(self) -> float | None:
        if not self.handling_count:
            return None
        return self.handling_seconds_total / self.handling_count

    @property
    def average_rating(self) -> float | None:
        return self.rating_total / self.rating_count if self.rating_count else None


@dataclass
class FigureRow:
    """One line of the report: a topic or a counselor and its figures."""

    key: str
    label: str
    figures: Figures = field(default_factory=Figures)


@dataclass
class FiguresReport:
    """Figures for the office days ``date_from`` to ``date_to`` (both included)."""

    date_from: date
    date_to: date
    total: Figures
    topics: list[FigureRow]
    counselors: list[FigureRow]


def office_today() -> date:
    """Today in the office's time zone (Asia/Jakarta)."""
    return timezone.localdate(timezone.now(), timezone.get_default_timezone())


def period_bounds(*, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The aware instants [start, end) of the office days ``date_from`` .. ``date_to``."""
    if date_to < date_from:
        raise InvalidInput("The end date is before the start date.")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"A report covers at most {MAX_RANGE_DAYS} days.")
    zone = timezone.get_default_timezone()
    start = datetime.combine(date_from, time.min, tzinfo=zone)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def figures_report(*, date_from: date, date_to: date, language: str = "id") -> FiguresReport:
    """Per topic, per counselor and overall figures of consultations joined in the period."""
    start, end = period_bounds(date_from=date_from, date_to=date_to)
    rows = (
        Consultation.objects.filter(
            created_at__gte=start, created_at__lt=end, status__in=CLOSED_STATUSES
        )
        .order_by()
        .values_list(
            "topic_id", "counselor_id", "created_at", "first_accepted_at", "ended_at", "rating"
        )
        .iterator(chunk_size=2000)
    )
    total = Figures()
    by_topic: dict[int, Figures] = {}
    by_counselor: dict[int, Figures] = {}
    for topic_id, counselor_id, created_at, first_accepted_at, ended_at, rating in rows:
        values: dict[str, Any] = {
            "created_at": created_at,
            "first_accepted_at": first_accepted_at,
            "ended_at": ended_at,
            "rating": rating,
        }
        total.add(**values)
        by_topic.setdefault(topic_id, Figures()).add(**values)
        if counselor_id is not None:
            by_counselor.setdefault(counselor_id, Figures()).add(**values)
    return FiguresReport(
        date_from=date_from,
        date_to=date_to,
        total=total,
        topics=_topic_rows(by_topic, language=language),
        counselors=_counselor_rows(by_counselor),
    )


def _topic_rows(by_topic: dict[int, Figures], *, language: str) -> list[FigureRow]:
    # Every active topic gets a line (a quiet topic is a figure too); inactive ones if they had any.
    topics = Topic.objects.filter(Q(pk__in=list(by_topic)) | Q(active=True))
    return [
        FigureRow(
            key=topic.code,
            label=topic.name_for(language),
            figures=by_topic.get(topic.pk, Figures()),
        )
        for topic in topics.order_by("order", "code")
    ]


def _counselor_rows(by_counselor: dict[int, Figures]) -> list[FigureRow]:
    staff = StaffProfile.objects.filter(pk__in=list(by_counselor)).order_by("display_name", "pk")
    return [
        FigureRow(key=str(member.pk), label=member.display_name, figures=by_counselor[member.pk])
        for member in staff
    ]


CSV_COLUMNS = [
    "date_from",
    "date_to",
    "group",
    "key",
    "name",
    "answered",
    "abandoned",
    "answered_within_60s_share",
    "average_wait_seconds",
    "average_handling_seconds",
    "average_rating",
]


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _csv_lines(report: FiguresReport) -> Iterable[list[str]]:
    sections: list[tuple[str, list[FigureRow]]] = [
        ("total", [FigureRow(key="", label="", figures=report.total)]),
        ("topic", report.topics),
        ("counselor", report.counselors),
    ]
    for group, rows in sections:
        for row in rows:
            figures = row.figures
            yield [
                report.date_from.isoformat(),
                report.date_to.isoformat(),
                group,
                row.key,
                row.label,
                str(figures.answered),
                str(figures.abandoned),
                _number(figures.share_within_target, 4),
                _number(figures.average_wait_seconds, 1),
                _number(figures.average_handling_seconds, 1),
                _number(figures.average_rating, 2),
            ]


def figures_csv(report: FiguresReport) -> str:
    """The report as CSV: figures only, no applicant's data (counselors by display name)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in _csv_lines(report):
        # A name starting with = + - @ would be a formula in a spreadsheet.
        writer.writerow([_spreadsheet_safe(cell) for cell in line])
    return buffer.getvalue()


def _spreadsheet_safe(cell: str) -> str:
    if (cell and cell[0] in "=+@\t\r") or (cell.startswith("-") and not _is_number(cell)):
        return "'" + cell
    return cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
