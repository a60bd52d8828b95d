"""Reads for routing and the queue: who is available with what load, video reservations, the
topics' queue snapshots (bounded: counts and the first rows) and placings (the whole order, ids
only, for a publish), each waiting consultation's position and wait estimate without reading the
queue (the topics themselves are in ``topics``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..estimate import position_frame, video_reserve_cutoff
from ..events.frames import (
    Placing,
    QueuePlacing,
    QueuePosition,
    QueueSnapshot,
    QueueView,
    WaitingItem,
    as_of_now,
    iso,
)
from ..models import (
    HELD_STATUSES,
    Connection,
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    DeclinedOffer,
    Mode,
    StaffProfile,
    StaffRole,
    Topic,
)
from .waiting import video_heads

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def handling_seconds(*, topic_id: int) -> float:
    """Mean handling time of the topic's recent ended consultations (the default if none)."""
    sample = settings.LOKET["HANDLING_SAMPLE"]
    rows = list(
        Consultation.objects.filter(
            topic_id=topic_id,
            status=ConsultationStatus.ENDED,
            first_accepted_at__isnull=False,
            ended_at__isnull=False,
        )
        .order_by("-ended_at")
        .values_list("first_accepted_at", "ended_at")[:sample]
    )
    if not rows:
        return float(settings.LOKET["DEFAULT_HANDLING_SECONDS"])
    total = sum(
        (ended - accepted).total_seconds() for accepted, ended in rows if accepted and ended
    )
    return max(1.0, total / len(rows))


class CounselorLoad(TypedDict):
    load: int
    full_load: int


def counselors_available(
    *, now: datetime, topic_id: int | None = None
) -> QuerySet[WithAnnotations[StaffProfile, CounselorLoad]]:
    """Available counselors with a live connection (serving ``topic_id``, if given).

    Each is annotated with ``load``, the consultations they hold, and ``full_load``, how many of
    those are video consultations or in a call: one of those takes the whole capacity.
    """
    counselors = StaffProfile.objects.filter(
        role=StaffRole.COUNSELOR, status=CounselorStatus.AVAILABLE
    ).filter(Exists(Connection.objects.live(now).filter(staff=OuterRef("pk"))))
    if topic_id is not None:
        counselors = counselors.filter(topics__pk=topic_id)
    # Counted per counselor through ``consult_counselor_load`` (counselor, status): only the
    # rows they hold are read, never the consultations they ended before (a join over those
    # grew with every day of history).
    return counselors.annotate(
        load=_held_count(Q()),
        full_load=_held_count(Q(mode=Mode.VIDEO) | Q(in_call=True)),
    )


def _held_count(which: Q) -> Coalesce:
    """How many of ``which`` the outer counselor holds (offered or active)."""
    held = (
        Consultation.objects.filter(which, counselor=OuterRef("pk"), status__in=HELD_STATUSES)
        .order_by()
        .values("counselor")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(held, output_field=IntegerField()), 0)


@dataclass
class Seat:
    """An available, connected counselor as routing and the wait estimate see them."""

    staff: StaffProfile
    topic_ids: set[int]
    load: int
    full: bool  # holding a video consultation or a call: takes the whole capacity
    # The waiting video consultation this counselor is kept for: no new chats are offered to them.
    reserved_for: int | None = None
    assigned: list[Consultation] = field(default_factory=list)

    @property
    def chat_places(self) -> int:
        """Chat places free now (none while reserved for a video)."""
        if self.full or self.reserved_for is not None:
            return 0
        return max(0, self.staff.capacity - self.load)

    @property
    def fully_free(self) -> bool:
        return not self.full and self.load == 0

    @property
    def has_room(self) -> bool:
        """Whether some offer could fit now: a chat place, or fully free (a video)."""
        return self.fully_free or self.chat_places > 0

    def free_for(self, consultation: Consultation) -> bool:
        """Whether an offer of ``consultation`` fits now."""
        if consultation.mode == Mode.VIDEO:
            return self.fully_free and self.reserved_for in (None, consultation.pk)
        return self.chat_places > 0

    def fairness_key(self) -> tuple[float, int]:
        """Longest since the last assignment first (never assigned: first of all)."""
        last = self.staff.last_assigned_at
        return (last.timestamp() if last else 0.0, self.staff.pk)


# The compiled ``counselors_available`` query per database vendor, with the position of its one
# varying parameter (the heartbeat time): compiling it cost more than running it (~3 ms of
# Python on every routing pass and every queue snapshot).
_AVAILABLE_SQL: dict[str, tuple[str, tuple[Any, ...], int]] = {}
_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)


def _counselors_available_rows(now: datetime) -> list[Any]:
    """``counselors_available(now=now)`` run from its compiled text (the same query)."""
    ops = connection.ops
    compiled = _AVAILABLE_SQL.get(connection.vendor)
    if compiled is None:
        sql, params = counselors_available(now=_AS_OF).query.sql_with_params()
        marker = ops.adapt_datetimefield_value(_AS_OF)
        found = [n for n, value in enumerate(params) if value == marker]
        if len(found) != 1:
            return list(counselors_available(now=now))
        compiled = _AVAILABLE_SQL[connection.vendor] = (sql, tuple(params), found[0])
    sql, params, at = compiled
    values: list[Any] = list(params)
    values[at] = ops.adapt_datetimefield_value(now)
    return list(StaffProfile.objects.raw(sql, values))


def seats_available(*, now: datetime) -> list[Seat]:
    """Every available, connected counselor with their topics and load."""
    staff = _counselors_available_rows(now)
    topics: dict[int, set[int]] = {s.pk: set() for s in staff}
    links = StaffProfile.topics.through.objects.filter(staffprofile_id__in=list(topics))
    for staff_id, topic_id in links.values_list("staffprofile_id", "topic_id"):
        topics[staff_id].add(topic_id)
    return [Seat(staff=s, topic_ids=topics[s.pk], load=s.load, full=s.full_load > 0) for s in staff]


def declined_recently(*, now: datetime, consultation_ids: list[int]) -> set[tuple[int, int]]:
    """(consultation, counselor) pairs still in the decline cooldown."""
    cooldown = now - timedelta(seconds=settings.LOKET["DECLINE_COOLDOWN"])
    return set(
        DeclinedOffer.objects.filter(
            consultation_id__in=consultation_ids, at__gt=cooldown
        ).values_list("consultation_id", "counselor_id")
    )


def _serves(seat: Seat, consultation: Consultation) -> bool:
    """The seat may be offered the consultation: its named colleague, or one serving its topic."""
    if consultation.target_counselor_id is not None:
        return seat.staff.pk == consultation.target_counselor_id
    return consultation.topic_id in seat.topic_ids


def seats_reserve(
    *,
    waiting: list[Consultation],
    seats: list[Seat],
    declined: set[tuple[int, int]],
    now: datetime,
) -> None:
    """Keep a counselor for each video consultation that has waited too long (on ``seats``).

    ``waiting`` is in queue order. Per topic only the first waiting video counts (FIFO within a
    mode); once it has waited ``LOKET_VIDEO_RESERVE_AFTER`` it holds the least-loaded counselor
    serving the topic who has not declined it, so that counselor drains to fully free instead of
    taking new chats. A named colleague of a transfer is that video's only candidate.
    """
    cutoff = video_reserve_cutoff(now=now)
    seen: set[tuple[str, int]] = set()
    for consultation in waiting:
        if consultation.mode != Mode.VIDEO:
            continue
        target = consultation.target_counselor_id
        key = ("counselor", target) if target is not None else ("topic", consultation.topic_id)
        if key in seen:
            continue
        seen.add(key)
        if consultation.queued_at is None or consultation.queued_at > cutoff:
            continue
        candidates = [
            s
            for s in seats
            if s.reserved_for is None
            and _serves(s, consultation)
            and (consultation.pk, s.staff.pk) not in declined
        ]
        if candidates:
            seat = min(candidates, key=lambda s: (s.load, s.fairness_key()))
            seat.reserved_for = consultation.pk


def _waiting_of(topic_id: int, mode: str) -> QuerySet[Consultation]:
    """One topic's waiting consultations of one mode, in queue order: an ordered scan of the
    partial index ``consult_waiting_lane`` (topic, mode, -priority, queued_at, id)."""
    return Consultation.objects.filter(
        status=ConsultationStatus.WAITING, topic_id=topic_id, mode=mode
    ).order_by("-priority", "queued_at", "pk")


MODES: tuple[str, str] = (Mode.CHAT, Mode.VIDEO)


class Staffing(TypedDict):
    staffed_slots: int
    free_slots: int
    staffed_counselors: int
    free_counselors: int


@dataclass
class StaffingView:
    """Every available counselor with this moment's video reservations, read once and shared by
    the snapshots of several topics."""

    seats: list[Seat]
    video_topics: dict[int, int]  # waiting video consultation -> its topic

    def of_topic(self, topic_id: int) -> Staffing:
        """The topic's staffing as routing sees it now, for the snapshot and the estimates.

        Chat places: summed capacity of the available, connected counselors serving the topic,
        and how many of those places are free (none of a counselor in a call, with a video
        consultation, or kept for a waiting video). Counselors: how many serve the topic, and how
        many are fully free (could take a video consultation of this topic now).
        """
        serving = [s for s in self.seats if topic_id in s.topic_ids]
        return {
            "staffed_slots": sum(s.staff.capacity for s in serving),
            "free_slots": sum(s.chat_places for s in serving),
            "staffed_counselors": len(serving),
            "free_counselors": sum(
                1
                for s in serving
                if s.fully_free
                and (s.reserved_for is None or self.video_topics.get(s.reserved_for) == topic_id)
            ),
        }


def staffing_view() -> StaffingView:
    """Available counselors, their load and the video reservations, as of now."""
    now = timezone.now()
    seats = seats_available(now=now)
    videos = video_heads(seats=seats) if seats else []
    if videos:
        seats_reserve(
            waiting=videos,
            seats=seats,
            declined=declined_recently(now=now, consultation_ids=[c.pk for c in videos]),
            now=now,
        )
    return StaffingView(seats=seats, video_topics={c.pk: c.topic_id for c in videos})


class Counts(TypedDict):
    chats: int
    videos: int
    oldest: datetime | None


def _counts(topic_ids: list[int]) -> dict[int, Counts]:
    """Each topic's waiting by mode and the oldest ``queued_at``: one aggregate query."""
    counts: dict[int, Counts] = {t: {"chats": 0, "videos": 0, "oldest": None} for t in topic_ids}
    rows = (
        Consultation.objects.filter(status=ConsultationStatus.WAITING, topic_id__in=topic_ids)
        .order_by()
        .values("topic_id")
        .annotate(
            chats=Count("pk", filter=Q(mode=Mode.CHAT)),
            videos=Count("pk", filter=Q(mode=Mode.VIDEO)),
            oldest=Min("queued_at"),
        )
    )
    for row in rows:
        counts[row["topic_id"]] = {
            "chats": row["chats"],
            "videos": row["videos"],
            "oldest": row["oldest"],
        }
    return counts


def _first_waiting(topic_id: int, limit: int) -> list[tuple[Any, ...]]:
    """The first ``limit`` waiting of the topic in queue order, whatever their mode: the first
    ``limit`` of each mode (two ordered index scans), merged."""
    rows: list[tuple[Any, ...]] = []
    for mode in MODES:
        rows.extend(
            _waiting_of(topic_id, mode).values_list(
                "priority", "queued_at", "pk", "mode", "public_id", "language"
            )[:limit]
        )
    rows.sort(key=lambda row: (-row[0], row[1], row[2]))
    return rows[:limit]


def _figures(staffing: StaffingView, topic_id: int) -> dict[str, Any]:
    """What a wait estimate needs of a topic: its staffing now and its handling time."""
    return {
        **staffing.of_topic(topic_id),
        "handling_seconds": round(handling_seconds(topic_id=topic_id), 1),
    }


def _video_since(topic_id: int) -> str | None:
    """The topic's first waiting video's ``waiting_since`` (its reservation clock)."""
    return iso(_waiting_of(topic_id, Mode.VIDEO).values_list("queued_at", flat=True).first())


def queue_snapshot(*, topic_id: int) -> QueueView:
    """The topic's ``queue.snapshot`` as staff see it (see ``queue_snapshots``)."""
    return queue_snapshots(topic_ids=[topic_id])[0]


def queue_snapshots(*, topic_ids: list[int], placing: bool = False) -> list[QueueView]:
    """The snapshots of several topics (in the order given), from one read of the staffing.

    Bounded whatever the queue's length: the counts come from one aggregate query and only the
    first ``LOKET_QUEUE_SNAPSHOT_ITEMS`` rows of each topic are fetched. With ``placing`` (a
    publish of a change) each view also carries the whole queue's ids by mode for the
    applicants' placing listeners: one ordered index scan per topic and mode, ids only.
    Every frame carries the ``as_of`` of the moment this read began."""
    as_of = as_of_now()
    topics = Topic.objects.in_bulk(topic_ids)
    limit = settings.LOKET["QUEUE_SNAPSHOT_ITEMS"]
    counts = _counts(topic_ids)
    staffing = staffing_view()
    views = []
    for topic_id in topic_ids:
        count = counts[topic_id]
        figures = _figures(staffing, topic_id)
        snapshot = QueueSnapshot(
            type="queue.snapshot",
            topic=topics[topic_id].code,
            waiting=[
                WaitingItem(
                    consultation_id=str(public_id),
                    position=index + 1,
                    mode=mode,
                    language=language,
                    waiting_since=iso(queued),
                    requeued=priority > 0,
                )
                for index, (priority, queued, _, mode, public_id, language) in enumerate(
                    _first_waiting(topic_id, limit)
                )
            ],
            waiting_count=count["chats"] + count["videos"],
            waiting_chats=count["chats"],
            waiting_videos=count["videos"],
            oldest_waiting_since=iso(count["oldest"]),
            as_of=as_of,
            **figures,
        )
        placed = None
        if placing:
            chats = list(_waiting_of(topic_id, Mode.CHAT).values_list("pk", flat=True))
            videos = list(_waiting_of(topic_id, Mode.VIDEO).values_list("pk", flat=True))
            placed = Placing(
                head=QueuePlacing(
                    type="queue.placing",
                    topic_id=topic_id,
                    as_of=as_of,
                    video_since=_video_since(topic_id) if videos else None,
                    **figures,
                ),
                chats=chats,
                videos=videos,
            )
        views.append(QueueView(snapshot=snapshot, placing=placed))
    return views


def queue_position(
    *, consultation: Consultation | None = None, consultation_id: int | None = None
) -> QueuePosition | None:
    """The waiting consultation's position and estimate, as the ``queue.position`` frame (None
    when it is not waiting). Give the consultation, or its id.

    Read without the queue: a COUNT of the waiting of its topic and mode ahead of it (through
    the partial index ``consult_waiting_lane``), the staffing, and the head video's clock."""
    as_of = as_of_now()
    if consultation is None:
        assert consultation_id is not None
        consultation = Consultation.objects.get(pk=consultation_id)
    if consultation.status != ConsultationStatus.WAITING:
        return None
    priority, queued = consultation.priority, consultation.queued_at
    ahead = (
        _waiting_of(consultation.topic_id, consultation.mode)
        .filter(
            Q(priority__gt=priority)
            | Q(priority=priority, queued_at__lt=queued)
            | Q(priority=priority, queued_at=queued, pk__lt=consultation.pk)
        )
        .count()
    )
    return position_frame(
        public_id=str(consultation.public_id),
        mode=consultation.mode,
        position=ahead + 1,
        figures=_figures(staffing_view(), consultation.topic_id),
        video_since=_video_since(consultation.topic_id)
        if consultation.mode == Mode.VIDEO
        else None,
        as_of=as_of,
    )
