"""The queue reads: a staff snapshot never brings the whole queue into Python, a placing lists it
by mode, and one consultation's position is counted without reading the queue, agreeing with
the placing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consult.models import Consultation, ConsultationStatus, Mode, Topic
from consult.selectors.queue import queue_position, queue_snapshots
from tests.support.staff import make_topic

pytestmark = pytest.mark.django_db

WAITING = 300


def _fill(topic: Topic) -> list[Consultation]:
    """Chats and videos, some requeued (priority 1, ahead of all the others), and two that
    joined at the same instant (ordered by id)."""
    start = timezone.now() - timedelta(hours=1)
    rows = [
        Consultation(
            topic=topic,
            applicant_name=f"Pemohon {i}",
            mode=Mode.VIDEO if i % 7 == 3 else Mode.CHAT,
            status=ConsultationStatus.WAITING,
            priority=1 if i % 50 == 49 else 0,
            queued_at=start + timedelta(seconds=i if i != 11 else 10),
        )
        for i in range(WAITING)
    ]
    return Consultation.objects.bulk_create(rows)


def _in_order(rows: list[Consultation], mode: str) -> list[int]:
    chosen = [c for c in rows if c.mode == mode]
    chosen.sort(key=lambda c: (-c.priority, c.queued_at, c.pk))
    return [c.pk for c in chosen]


def test_a_snapshot_reads_counts_and_the_first_rows_only(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "QUEUE_SNAPSHOT_ITEMS": 5}
    topic = make_topic()
    rows = _fill(topic)
    with CaptureQueriesContext(connection) as queries:
        [view] = queue_snapshots(topic_ids=[topic.pk])
    snapshot = view.snapshot
    assert view.placing is None
    assert snapshot.waiting_count == WAITING
    videos = sum(1 for c in rows if c.mode == Mode.VIDEO)
    assert (snapshot.waiting_chats, snapshot.waiting_videos) == (WAITING - videos, videos)
    order = sorted(rows, key=lambda c: (-c.priority, c.queued_at, c.pk))
    assert [w.consultation_id for w in snapshot.waiting] == [str(c.public_id) for c in order[:5]]
    assert [w.position for w in snapshot.waiting] == [1, 2, 3, 4, 5]
    assert snapshot.waiting[0].requeued
    # Every read of the waiting rows is an aggregate or stops at the listed few.
    reads = [q["sql"] for q in queries.captured_queries if '"consult_consultation"' in q["sql"]]
    waiting_reads = [sql for sql in reads if "'waiting'" in sql]
    assert waiting_reads
    for sql in waiting_reads:
        assert "COUNT(" in sql.upper() or "LIMIT" in sql.upper(), sql


def test_a_placing_lists_each_mode_in_order_and_a_count_gives_the_same_positions() -> None:
    topic = make_topic()
    rows = _fill(topic)
    [view] = queue_snapshots(topic_ids=[topic.pk], placing=True)
    assert view.placing is not None
    chats, videos = _in_order(rows, Mode.CHAT), _in_order(rows, Mode.VIDEO)
    assert (view.placing.chats, view.placing.videos) == (chats, videos)
    assert view.placing.head.as_of == view.snapshot.as_of
    head_video = Consultation.objects.get(pk=videos[0])
    assert view.placing.head.video_since == head_video.queued_at.isoformat()
    for ids in (chats, videos):
        for index in (0, 1, len(ids) // 2, len(ids) - 1):
            with CaptureQueriesContext(connection) as queries:
                frame = queue_position(consultation_id=ids[index])
            assert frame is not None
            assert frame.position == index + 1
            # Counted, not read: no query returns the waiting rows themselves.
            for q in queries.captured_queries:
                sql = q["sql"].upper()
                if '"CONSULT_CONSULTATION"' in sql and "'WAITING'" in sql:
                    assert "COUNT(" in sql or "LIMIT" in sql, q["sql"]
    served = Consultation.objects.get(pk=chats[0])
    served.status = ConsultationStatus.ACTIVE
    served.save(update_fields=["status"])
    assert queue_position(consultation_id=served.pk) is None
    behind = queue_position(consultation_id=chats[1])
    assert behind is not None and behind.position == 1
