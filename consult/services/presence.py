"""Presence: connection rows, server process heartbeats, grace periods, and the counselor's
status.

A connection row lives while its server process's heartbeat (``ServerProcess``, one row per
process, renewed by ``process_beat``) does. When a client closes its last connection, its owner
gets a grace deadline; when a process dies, its heartbeat lapses and the sweeper
(``sweeper.py``) of any other process treats the owners of its connections as disconnected
(counselors at once, applicants with their grace period). A counselor who is gone is lost: what
they held goes back to the queue.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..errors import Forbidden, InvalidInput
from ..events import publish
from ..events.frames import ConsultationState
from ..models import (
    HELD_STATUSES,
    OPEN_STATUSES,
    Connection,
    ConnectionRole,
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    ServerProcess,
    StaffProfile,
)
from ..selectors.consultations import consultation_is_held, staff_consultations
from ..selectors.privacy import live_policy
from ..selectors.queue import queue_snapshots
from ..selectors.topics import topics_active
from .consultations import consultation_release
from .locking import consultation_lock, staff_lock
from .routing import queue_dispatch
from .tokens import applicant_token_verify

log = logging.getLogger(__name__)


def _lease() -> timedelta:
    return timedelta(seconds=settings.LOKET["CONNECTION_LEASE"])


def connection_open(
    *,
    role: str,
    server_id: str,
    channel_name: str,
    staff: StaffProfile | None = None,
    consultation: Consultation | None = None,
) -> Connection:
    """Record a new live connection and cancel its owner's grace period.

    The process's heartbeat is renewed in the same transaction, so a new connection lives for one
    lease even in a process whose runtime does not beat, and never without a heartbeat row (a
    sweeper's removal of a lapsed one either commits first, and the upsert inserts it anew, or
    waits and finds it renewed). It is the transaction's last statement: the heartbeat's row lock
    is held only until the commit, never while the transaction waits for the owner's rows (the
    runtime's beat would wait behind it).
    """
    now = timezone.now()
    with transaction.atomic():
        connection = Connection.objects.create(
            role=role,
            staff=staff,
            consultation=consultation,
            server_id=server_id,
            channel_name=channel_name,
            opened_at=now,
        )
        if staff is not None:
            StaffProfile.objects.filter(pk=staff.pk).update(grace_deadline=None)
        if consultation is not None and role == ConnectionRole.APPLICANT:
            Consultation.objects.filter(pk=consultation.pk).update(applicant_grace_deadline=None)
        process_beat(server_id=server_id)
    if staff is not None and role == ConnectionRole.COUNSELOR:
        # An available counselor who reconnects is routable again: their places count once more.
        queue_dispatch(counselor_ids=[staff.pk])
    return connection


def applicant_connection_open(*, token: str, server_id: str, channel_name: str) -> dict[str, Any]:
    """An applicant's socket: verify the token and, while the consultation is open, record the
    connection; returns it with the applicant's view of the consultation."""
    consultation = applicant_token_verify(token=token)
    connection_id = None
    if consultation.is_open:
        connection_id = connection_open(
            role=ConnectionRole.APPLICANT,
            server_id=server_id,
            channel_name=channel_name,
            consultation=consultation,
        ).pk
    return {
        "connection_id": connection_id,
        "consultation_id": consultation.pk,
        "topic_id": consultation.topic_id,
        "state": ConsultationState.of(consultation, for_staff=False),
    }


def staff_connection_open(*, user: Any, server_id: str, channel_name: str) -> dict[str, Any] | None:
    """A staff socket of an authenticated session: the active staff member behind it (None if
    there is none), with what they hold and the queues they watch. A counselor's connection is
    recorded (a supervisor's is not: they take no consultations)."""
    staff = StaffProfile.objects.filter(user=user, user__is_active=True).first()
    if staff is None:
        return None
    connection_id = None
    held: list[Consultation] = []
    if staff.is_counselor:
        connection_id = connection_open(
            role=ConnectionRole.COUNSELOR,
            server_id=server_id,
            channel_name=channel_name,
            staff=staff,
        ).pk
        held = staff_consultations(staff=staff)
        topic_ids = list(staff.topics.values_list("pk", flat=True))
    else:
        topic_ids = [t.pk for t in topics_active()]
    return {
        "staff": staff,
        "connection_id": connection_id,
        "held": [(c.pk, c.topic_id, ConsultationState.of(c, for_staff=True)) for c in held],
        "topic_ids": topic_ids,
        "snapshots": queue_snapshots(topic_ids=topic_ids),
        # The masking policy of the live console for this role (docs/RECORDS.md): None when it
        # shows everything, as by default for a counselor.
        "live_mask": live_policy(staff.role),
    }


def connection_drop(connection: Connection, *, now_grace_from: bool) -> None:
    """Delete a connection's row and start its owner's grace period if it was their last."""
    connection.delete()
    _grace_start(
        role=connection.role,
        staff_id=connection.staff_id,
        consultation_id=connection.consultation_id,
        now_grace_from=now_grace_from,
    )


def _grace_start(
    *, role: str, staff_id: int | None, consultation_id: int | None, now_grace_from: bool
) -> None:
    """Start the owner's grace period if it has no other live connection."""
    now = timezone.now()
    if role == ConnectionRole.COUNSELOR and staff_id is not None:
        if Connection.objects.live(now).filter(staff_id=staff_id).exists():
            return
        grace = 0 if not now_grace_from else settings.LOKET["COUNSELOR_GRACE"]
        StaffProfile.objects.filter(pk=staff_id, grace_deadline__isnull=True).update(
            grace_deadline=now + timedelta(seconds=grace)
        )
        # Routing counts only connected counselors: their places no longer count in any topic.
        publish.queues_changed(counselor_ids=[staff_id])
    elif role == ConnectionRole.APPLICANT and consultation_id is not None:
        if (
            Connection.objects.live(now)
            .filter(consultation_id=consultation_id, role=ConnectionRole.APPLICANT)
            .exists()
        ):
            return
        Consultation.objects.filter(
            pk=consultation_id, status__in=OPEN_STATUSES, applicant_grace_deadline__isnull=True
        ).update(
            applicant_grace_deadline=now + timedelta(seconds=settings.LOKET["APPLICANT_GRACE"])
        )


def connection_close(*, connection_id: UUID | str) -> None:
    """A client closed its connection: drop the row and start a grace period if it was the last."""
    with transaction.atomic():
        connection = Connection.objects.filter(pk=connection_id).first()
        if connection is None:
            return
        connection_drop(connection, now_grace_from=True)


def process_beat(*, server_id: str, using: str = "default") -> None:
    """Renew the heartbeat of the server process ``server_id`` for one lease (created if it has
    none, or if a sweeper removed it while the process was stalled), through the database alias
    ``using``: one upsert, whatever the number of the process's connections."""
    now = timezone.now()
    ServerProcess.objects.using(using).bulk_create(
        [ServerProcess(server_id=server_id, started_at=now, expires_at=now + _lease())],
        update_conflicts=True,
        unique_fields=["server_id"],
        update_fields=["expires_at"],
    )


def counselor_status_store(staff: StaffProfile, status: str, *, reason: str = "") -> None:
    """Store and announce the status; the caller runs ``queue_dispatch`` with the counselor."""
    StaffProfile.objects.filter(pk=staff.pk).update(status=status)
    staff.status = status
    publish.counselor_status_changed(staff, reason=reason)


def counselor_status_set(*, staff: StaffProfile, status: str) -> None:
    """The counselor says whether they take new consultations."""
    if not staff.is_counselor:
        raise Forbidden()
    if status not in CounselorStatus.values:
        raise InvalidInput("status must be available, away or offline.")
    with transaction.atomic():
        counselor_status_store(staff, status)
    queue_dispatch(counselor_ids=[staff.pk])


def counselor_lose(*, staff_id: int) -> int:
    """The counselor is gone (grace passed or their process's heartbeat lapsed): requeue what
    they held."""
    with transaction.atomic():
        staff = staff_lock(staff_id=staff_id)
        if staff is None:
            return 0
        held = list(
            Consultation.objects.filter(counselor=staff, status__in=HELD_STATUSES).values_list(
                "pk", flat=True
            )
        )
        requeued_topics: list[int] = []
        for consultation_id in held:
            consultation = consultation_lock(consultation_id=consultation_id)
            if not consultation_is_held(
                counselor_id=consultation.counselor_id,
                status=consultation.status,
                staff_id=staff.pk,
            ):
                # It ended or moved on since the list was read.
                continue
            requeued_topics.append(consultation.topic_id)
            if consultation.status == ConsultationStatus.ACTIVE:
                consultation_release(
                    consultation, front=True, event="requeued", reason="counselor_disconnected"
                )
            else:
                consultation_release(consultation, front=False, event=None, reason="counselor_lost")
        StaffProfile.objects.filter(pk=staff.pk).update(grace_deadline=None)
        if staff.status != CounselorStatus.OFFLINE:
            counselor_status_store(staff, CounselorStatus.OFFLINE, reason="disconnected")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=requeued_topics)
    return len(held)
