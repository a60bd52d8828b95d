"""Reads of the waiting consultations a routing pass could place: per lane, only the heads.

A lane is a topic and a mode (the consultations without a named colleague), or a named colleague
and a mode (transfers to them). Each is read in queue order (``-priority, queued_at, pk``)
through the partial indexes on waiting rows (``consult_waiting_lane``, ``consult_waiting_target``),
and only as far as the pass could go: the cost of a pass does not grow with the length of the
queues (docs/ARCHITECTURE.md, Routing).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection

from ..models import Consultation, ConsultationStatus, DeclinedOffer, Mode, Topic

if TYPE_CHECKING:
    from .queue import Seat

# A lane: ("topic", topic id, mode) or ("counselor", staff id, mode).
Lane = tuple[str, int, str]
MODES: tuple[str, ...] = (Mode.CHAT, Mode.VIDEO)


def _order_key(consultation: Consultation) -> tuple[int, datetime, int]:
    assert consultation.queued_at is not None
    return (-consultation.priority, consultation.queued_at, consultation.pk)


def queue_order(consultations: list[Consultation]) -> list[Consultation]:
    """``consultations`` without repeats, in queue order."""
    unique = {c.pk: c for c in consultations}
    return sorted(unique.values(), key=_order_key)


def _lane_sql(lane: Lane, limit: int) -> tuple[str, list[object]]:
    """The first ``limit`` rows of one lane in queue order, every column: an ordered scan of the
    lane's partial index (``status = 'waiting'`` is written out so that the index applies
    whatever the parameter binding)."""
    kind, key, mode = lane
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in Consultation._meta.concrete_fields)
    if kind == "counselor":
        of_lane = f"{qn('target_counselor_id')} = %s"
    else:
        of_lane = f"{qn('topic_id')} = %s AND {qn('target_counselor_id')} IS NULL"
    # Only quoted identifiers and a constant are written into the text; the values are parameters.
    sql = (
        f"SELECT {columns} FROM {qn(Consultation._meta.db_table)}"  # noqa: S608
        f" WHERE {qn('status')} = '{ConsultationStatus.WAITING.value}' AND {qn('mode')} = %s"
        f" AND {of_lane}"
        f" ORDER BY {qn('priority')} DESC, {qn('queued_at')} ASC, {qn('id')} ASC LIMIT %s"
    )
    return sql, [mode, key, limit]


@dataclass
class Declined:
    """The waiting consultations still in a decline cooldown: the (consultation, counselor)
    pairs, and how many such consultations each lane has."""

    pairs: set[tuple[int, int]]
    per_lane: Counter[Lane]


def declined_waiting(*, now: datetime) -> Declined:
    """Every waiting consultation's declines within ``LOKET_DECLINE_COOLDOWN``."""
    cooldown = now - timedelta(seconds=settings.LOKET["DECLINE_COOLDOWN"])
    rows = DeclinedOffer.objects.filter(
        at__gt=cooldown, consultation__status=ConsultationStatus.WAITING
    ).values_list(
        "consultation_id",
        "counselor_id",
        "consultation__topic_id",
        "consultation__mode",
        "consultation__target_counselor_id",
    )
    pairs: set[tuple[int, int]] = set()
    lanes: dict[int, Lane] = {}
    for consultation_id, counselor_id, topic_id, mode, target_id in rows:
        pairs.add((consultation_id, counselor_id))
        lanes[consultation_id] = (
            ("counselor", target_id, mode) if target_id is not None else ("topic", topic_id, mode)
        )
    return Declined(pairs=pairs, per_lane=Counter(lanes.values()))


def waiting_targets(*, seats: list[Seat]) -> set[tuple[int, str]]:
    """(named colleague, mode) of the waiting transfers to a colleague with a seat."""
    return set(
        Consultation.objects.filter(
            status=ConsultationStatus.WAITING,
            target_counselor_id__in=[s.staff.pk for s in seats],
        )
        .values_list("target_counselor_id", "mode")
        .distinct()
    )


def _read(reads: list[tuple[Lane, int]]) -> list[Consultation]:
    """The rows of several lanes, each read as far as its limit (``(lane, limit)``): one query,
    a UNION ALL of the lanes' limited reads (each a subquery, which PostgreSQL and SQLite both
    take), written out rather than built by the ORM, whose compiling of a union of a few parts
    cost more than the query; with their topics."""
    if not reads:
        return []
    parts = [_lane_sql(lane, limit) for lane, limit in reads]
    params = [p for _, part_params in parts for p in part_params]
    if len(parts) == 1:
        sql = parts[0][0]
    else:
        sql = " UNION ALL ".join(
            f"SELECT * FROM ({part}) AS lane{n}"  # noqa: S608 (parts of _lane_sql)
            for n, (part, _) in enumerate(parts)
        )
    rows = list(Consultation.objects.raw(sql, params))
    topics = Topic.objects.in_bulk({c.topic_id for c in rows})
    for consultation in rows:
        consultation.topic = topics[consultation.topic_id]
    return rows


def video_heads(
    *, seats: list[Seat], targets: set[tuple[int, str]] | None = None
) -> list[Consultation]:
    """The first waiting video of each topic some seat serves and of each seat's named transfers
    (``targets``: ``waiting_targets``, read if not given), in queue order: all ``seats_reserve``
    looks at."""
    if targets is None:
        targets = waiting_targets(seats=seats)
    topics = sorted({t for s in seats for t in s.topic_ids})
    lanes: list[Lane] = [("topic", t, Mode.VIDEO) for t in topics]
    lanes += [("counselor", staff_id, mode) for staff_id, mode in targets if mode == Mode.VIDEO]
    return queue_order(_read([(lane, 1) for lane in lanes]))


def _places(seats: list[Seat], mode: str) -> int:
    """Offers of ``mode`` these seats could take in one pass, at most (reservations aside: a
    reservation only ever lowers it)."""
    if mode == Mode.VIDEO:
        return sum(1 for s in seats if s.fully_free)
    return sum(0 if s.full else max(0, s.staff.capacity - s.load) for s in seats)


def waiting_heads(
    *,
    seats: list[Seat],
    declined: Declined,
    targets: set[tuple[int, str]],
    videos: list[Consultation],
) -> list[Consultation]:
    """The waiting consultations a pass over ``seats`` could place or must look at, in queue
    order (``seats`` after ``seats_reserve``; ``videos`` its ``video_heads``; ``targets``
    ``waiting_targets``).

    Per topic and mode, the first (free places + declined there + 1) rows: in a full walk of the
    queue each row of the lane is offered (at most its free places), passed for a decline (at
    most its declined ones) or blocks the rest of the lane, so no row further back is ever
    reached. A lane without a free place reads nothing. Per named colleague and mode the same
    count: such a lane never blocks, but a colleague's room only falls during a pass (one kept
    for a video takes nothing else in it: a colleague fully free would have been kept instead),
    so past that count nothing more is offered. Plus ``videos``.
    """
    by_pk = {s.staff.pk: s for s in seats}
    reads: list[tuple[Lane, int]] = []
    for topic_id in sorted({t for s in seats for t in s.topic_ids}):
        serving = [s for s in seats if topic_id in s.topic_ids]
        for mode in MODES:
            lane: Lane = ("topic", topic_id, mode)
            places = _places(serving, mode)
            if places:
                reads.append((lane, places + declined.per_lane[lane] + 1))
    for staff_id, mode in sorted(targets):
        seat = by_pk[staff_id]
        lane = ("counselor", staff_id, mode)
        places = _places([seat], mode)
        if not places:
            continue
        reads.append((lane, places + declined.per_lane[lane] + 1))
    return queue_order([*videos, *_read(reads)])


__all__ = [
    "Declined",
    "declined_waiting",
    "queue_order",
    "video_heads",
    "waiting_heads",
    "waiting_targets",
]
