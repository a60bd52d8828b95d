"""Reads. Pure queries with no side effects (except ``transcript_read``, which records access)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from .errors import Forbidden, NotFound
from .models import (
    HELD_STATUSES,
    Connection,
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    Mode,
    StaffProfile,
    StaffRole,
    Topic,
    TranscriptAccess,
    TranscriptEntry,
)
from .payloads import iso

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def entries_after(
    *, consultation_id: int, after_seq: int, limit: int = 500
) -> list[TranscriptEntry]:
    """Transcript entries with seq > after_seq, in order (at most ``limit``)."""
    return list(
        TranscriptEntry.objects.filter(consultation_id=consultation_id, seq__gt=after_seq)
        .select_related("author")
        .order_by("seq")[:limit]
    )


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
    """Available counselors with a current connection lease (serving ``topic_id``, if given).

    Each is annotated with ``load``, the consultations they hold, and ``full_load``, how many of
    those are video consultations or in a call: one of those takes the whole capacity.
    """
    counselors = StaffProfile.objects.filter(
        role=StaffRole.COUNSELOR, status=CounselorStatus.AVAILABLE
    ).filter(Exists(Connection.objects.filter(staff=OuterRef("pk"), lease_expires_at__gt=now)))
    if topic_id is not None:
        counselors = counselors.filter(topics__pk=topic_id)
    held = Q(consultations__status__in=HELD_STATUSES)
    return counselors.annotate(
        load=Count("consultations", filter=held, distinct=True),
        full_load=Count(
            "consultations",
            filter=held & (Q(consultations__mode=Mode.VIDEO) | Q(consultations__in_call=True)),
            distinct=True,
        ),
    )


def staffed_capacity(*, topic_id: int) -> tuple[int, int]:
    """(staffed slots, free slots) of available, connected counselors serving the topic."""
    rows = counselors_available(now=timezone.now(), topic_id=topic_id).values_list(
        "capacity", "load", "full_load"
    )
    staffed = 0
    free = 0
    for capacity, load, full in rows:
        staffed += capacity
        free += 0 if full else max(0, capacity - load)
    return staffed, free


def wait_estimate(*, position: int, staffed: int, free: int, handling: float) -> int | None:
    """Estimated seconds until a counselor takes position ``position`` (1 = next).

    Slots free up at ``staffed / handling`` per second on average, and ``free`` are open now, so
    the p-th in line waits about ``(p - free) * handling / staffed``. None when nobody is staffed.
    """
    if staffed <= 0:
        return None
    ahead = position - free
    if ahead <= 0:
        return 0
    return math.ceil(ahead * handling / staffed)


def queue_snapshot(*, topic_id: int) -> dict[str, Any]:
    """The topic's queue as published: order, waiting details for staff, estimate inputs."""
    topic = Topic.objects.get(pk=topic_id)
    waiting = list(
        Consultation.objects.filter(topic_id=topic_id, status=ConsultationStatus.WAITING)
        .order_by("-priority", "queued_at", "pk")
        .values("pk", "public_id", "mode", "language", "queued_at", "priority")
    )
    staffed, free = staffed_capacity(topic_id=topic_id)
    handling = handling_seconds(topic_id=topic_id)
    return {
        "type": "queue.snapshot",
        "topic": topic.code,
        "order": [row["pk"] for row in waiting],
        "waiting": [
            {
                "consultation_id": str(row["public_id"]),
                "position": index + 1,
                "mode": row["mode"],
                "language": row["language"],
                "waiting_since": iso(row["queued_at"]),
                "requeued": row["priority"] > 0,
            }
            for index, row in enumerate(waiting)
        ],
        "staffed_slots": staffed,
        "free_slots": free,
        "handling_seconds": round(handling, 1),
    }


def queue_position(*, consultation: Consultation) -> dict[str, Any] | None:
    """The waiting consultation's position and estimate, as the ``queue.position`` frame."""
    if consultation.status != ConsultationStatus.WAITING:
        return None
    ahead = (
        Consultation.objects.filter(
            topic_id=consultation.topic_id, status=ConsultationStatus.WAITING
        )
        .filter(
            Q(priority__gt=consultation.priority)
            | Q(priority=consultation.priority, queued_at__lt=consultation.queued_at)
            | Q(
                priority=consultation.priority,
                queued_at=consultation.queued_at,
                pk__lt=consultation.pk,
            )
        )
        .count()
    )
    staffed, free = staffed_capacity(topic_id=consultation.topic_id)
    position = ahead + 1
    return {
        "type": "queue.position",
        "consultation_id": str(consultation.public_id),
        "position": position,
        "estimated_wait_seconds": wait_estimate(
            position=position,
            staffed=staffed,
            free=free,
            handling=handling_seconds(topic_id=consultation.topic_id),
        ),
    }


def staff_consultations(*, staff: StaffProfile) -> list[Consultation]:
    """The consultations a counselor holds now (offered to them or active)."""
    return list(
        Consultation.objects.filter(counselor=staff, status__in=HELD_STATUSES)
        .select_related("topic", "counselor")
        .order_by("offered_at")
    )


def consultation_for_staff(*, staff: StaffProfile, public_id: str) -> Consultation:
    """A consultation a staff member may see: supervisors any, counselors only their own."""
    consultation = (
        Consultation.objects.select_related("topic", "counselor")
        .filter(public_id=public_id)
        .first()
        if _is_uuid(public_id)
        else None
    )
    if consultation is None:
        raise NotFound()
    if staff.is_supervisor:
        return consultation
    if consultation.counselor_id == staff.pk:
        return consultation
    if TranscriptEntry.objects.filter(consultation=consultation, author=staff).exists():
        # They took part before a transfer: their own messages are part of their record.
        return consultation
    raise Forbidden()


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def transcript_read(
    *, staff: StaffProfile, public_id: str, via: str
) -> tuple[Consultation, list[TranscriptEntry]]:
    """The whole transcript, for a staff member allowed to read it; the read is recorded."""
    consultation = consultation_for_staff(staff=staff, public_id=public_id)
    TranscriptAccess.objects.create(consultation=consultation, reader=staff.user, via=via)
    entries = list(
        TranscriptEntry.objects.filter(consultation=consultation)
        .select_related("author")
        .order_by("seq")
    )
    return consultation, entries


def topic_active_get(*, code: str) -> Topic:
    """The active topic with this code (applicants may join it), or NotFound."""
    topic = Topic.objects.filter(code=code, active=True).first()
    if topic is None:
        raise NotFound("No such topic.")
    return topic


def topics_active() -> list[Topic]:
    """Topics applicants may join, in display order."""
    return list(Topic.objects.filter(active=True).order_by("order", "code"))


def consultation_sync_marks(*, consultation_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each consultation's state version and last sequence number (one query, for resync)."""
    return {
        pk: (version, last_seq)
        for pk, version, last_seq in Consultation.objects.filter(
            pk__in=consultation_ids
        ).values_list("pk", "version", "last_seq")
    }


def counselor_sync_marks(
    *, staff_id: int, followed_ids: list[int]
) -> tuple[str, dict[int, tuple[int, int, bool]]]:
    """A counselor's status, and for what they hold or follow: version, last seq, held now.

    One query (the status rides along as a row with id 0), since it runs before every pong.
    """
    consultations = Consultation.objects.filter(
        Q(pk__in=followed_ids) | Q(counselor_id=staff_id, status__in=HELD_STATUSES)
    ).values_list("pk", "version", "last_seq", "counselor_id", "status")
    status_row = (
        StaffProfile.objects.filter(pk=staff_id)
        .annotate(row_id=Value(0), row_version=Value(0), row_seq=Value(0), row_holder=Value(0))
        .values_list("row_id", "row_version", "row_seq", "row_holder", "status")
    )
    status = ""
    marks: dict[int, tuple[int, int, bool]] = {}
    for pk, version, last_seq, counselor_id, row_status in consultations.union(
        status_row, all=True
    ):
        if pk == 0:
            status = str(row_status)
        else:
            held = counselor_id == staff_id and row_status in HELD_STATUSES
            marks[int(pk)] = (int(version), int(last_seq), held)
    return status, marks
