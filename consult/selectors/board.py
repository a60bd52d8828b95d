"""The supervisor's live board: the whole office at one moment, as the ``board`` frame.

The supervisor's page starts from this snapshot and then applies the live frames every supervisor
connection receives anyway: ``queue.snapshot`` (a topic's queue), ``consultation.state`` (one
consultation, with its counselor's id) and ``counselor.status``. Counselor categories on the page:
offline and away by their status; an available counselor holding at least one consultation
(offered or active) is busy, one holding none is available.
"""

from __future__ import annotations

from django.db import connection, transaction

from ..events.frames import (
    Board,
    BoardConsultation,
    BoardCounselor,
    BoardTopic,
    now_iso,
)
from ..models import (
    HELD_STATUSES,
    Consultation,
    StaffProfile,
    StaffRole,
    Topic,
)
from .queue import queue_snapshots


def board_snapshot() -> Board:
    """Topics, their queues, counselors and the consultations they hold, read together."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # One snapshot for every query below (SQLite's transaction already holds the lock).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        topics = list(Topic.objects.filter(active=True).order_by("order", "code"))
        # Each bounded: the first LOKET_QUEUE_SNAPSHOT_ITEMS waiting and the counts.
        queues = [view.snapshot for view in queue_snapshots(topic_ids=[t.pk for t in topics])]
        codes = {topic.pk: topic.code for topic in Topic.objects.all()}
        counselors = list(
            StaffProfile.objects.filter(role=StaffRole.COUNSELOR, user__is_active=True)
            .prefetch_related("topics")
            .order_by("display_name", "pk")
        )
        held = list(
            Consultation.objects.filter(status__in=HELD_STATUSES)
            .order_by("offered_at", "pk")
            .values("public_id", "topic_id", "status", "mode", "in_call", "counselor_id")
        )
        return Board(
            type="board",
            server_time=now_iso(),
            topics=[
                BoardTopic(code=topic.code, name_id=topic.name_id, name_en=topic.name_en)
                for topic in topics
            ],
            queues=queues,
            counselors=[
                BoardCounselor(
                    counselor_id=member.pk,
                    name=member.display_name,
                    status=member.status,
                    capacity=member.capacity,
                    topics=sorted(codes[t.pk] for t in member.topics.all()),
                )
                for member in counselors
            ],
            consultations=[
                BoardConsultation(
                    consultation_id=str(row["public_id"]),
                    topic=codes[row["topic_id"]],
                    status=row["status"],
                    mode=row["mode"],
                    in_call=row["in_call"],
                    counselor_id=row["counselor_id"],
                )
                for row in held
            ],
        )
