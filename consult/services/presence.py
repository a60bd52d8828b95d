"""Presence: leased connection rows, grace periods, and the sweeper's due work.

A connection row lives while its server process renews its lease. When a client closes its last
connection, its owner gets a grace deadline; when a process dies, its rows' leases lapse and the
sweeper of any other process treats the owner as disconnected (counselors at once, applicants
with their grace period).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import (
    HELD_STATUSES,
    OPEN_STATUSES,
    Connection,
    ConnectionRole,
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    StaffProfile,
)
from .lifecycle import applicant_abandon, counselor_lose, offer_expire
from .routing import queue_dispatch, queues_publish
from .video import call_request_expire

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
    """Record a new live connection and cancel its owner's grace period."""
    now = timezone.now()
    with transaction.atomic():
        connection = Connection.objects.create(
            role=role,
            staff=staff,
            consultation=consultation,
            server_id=server_id,
            channel_name=channel_name,
            opened_at=now,
            lease_expires_at=now + _lease(),
        )
        if staff is not None:
            StaffProfile.objects.filter(pk=staff.pk).update(grace_deadline=None)
        if consultation is not None and role == ConnectionRole.APPLICANT:
            Consultation.objects.filter(pk=consultation.pk).update(applicant_grace_deadline=None)
    if staff is not None and role == ConnectionRole.COUNSELOR:
        # An available counselor who reconnects is routable again: their places count once more.
        queue_dispatch(counselor_ids=[staff.pk])
    return connection


def _grace_start(
    *, role: str, staff_id: int | None, consultation_id: int | None, now_grace_from: bool
) -> None:
    """Start the owner's grace period if it has no other live connection."""
    now = timezone.now()
    if role == ConnectionRole.COUNSELOR and staff_id is not None:
        if Connection.objects.filter(staff_id=staff_id, lease_expires_at__gt=now).exists():
            return
        grace = 0 if not now_grace_from else settings.LOKET["COUNSELOR_GRACE"]
        StaffProfile.objects.filter(pk=staff_id, grace_deadline__isnull=True).update(
            grace_deadline=now + timedelta(seconds=grace)
        )
        # Routing counts only connected counselors: their places no longer count in any topic.
        queues_publish(counselor_ids=[staff_id])
    elif role == ConnectionRole.APPLICANT and consultation_id is not None:
        if Connection.objects.filter(
            consultation_id=consultation_id,
            role=ConnectionRole.APPLICANT,
            lease_expires_at__gt=now,
        ).exists():
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
        connection.delete()
        _grace_start(
            role=connection.role,
            staff_id=connection.staff_id,
            consultation_id=connection.consultation_id,
            now_grace_from=True,
        )


def connections_renew(
    *, server_id: str, except_ids: Collection[Any] = (), using: str = "default"
) -> int:
    """Extend the lease of every connection this server process holds, except ``except_ids``
    (rows whose consumer ended without closing them: they lapse and are reaped), through the
    database alias ``using``."""
    rows = Connection.objects.using(using).filter(server_id=server_id)
    if except_ids:
        rows = rows.exclude(pk__in=list(except_ids))
    return rows.update(lease_expires_at=timezone.now() + _lease())


def connections_reap() -> int:
    """Remove connections whose process stopped renewing them; their owners are disconnected."""
    now = timezone.now()
    reaped = 0
    for connection_id in list(
        Connection.objects.filter(lease_expires_at__lte=now).values_list("pk", flat=True)[:500]
    ):
        with transaction.atomic():
            connection = (
                Connection.objects.select_for_update()
                .filter(pk=connection_id, lease_expires_at__lte=now)
                .first()
            )
            if connection is None:
                continue
            connection.delete()
            # A lapsed lease means the server process died: the counselor is lost at once (their
            # applicants should not wait a grace period for a process that will not come back);
            # the applicant still gets the grace period to reconnect to another process.
            _grace_start(
                role=connection.role,
                staff_id=connection.staff_id,
                consultation_id=connection.consultation_id,
                now_grace_from=False,
            )
            reaped += 1
    return reaped


def sweep_due() -> dict[str, int]:
    """Handle every due deadline once. Safe to run in every process at the same time."""
    reaped = connections_reap()
    # Read the clock after reaping: a lapsed lease sets its counselor's grace deadline to "now",
    # which must already count as due in this same sweep (lost at once, not one sweep later).
    now = timezone.now()
    done = {"reaped": reaped, "offers": 0, "counselors": 0, "abandoned": 0, "call_requests": 0}
    for consultation_id in list(
        Consultation.objects.filter(
            status=ConsultationStatus.OFFERED, offer_expires_at__lte=now
        ).values_list("pk", flat=True)[:200]
    ):
        done["offers"] += int(offer_expire(consultation_id=consultation_id))
    lost = StaffProfile.objects.filter(grace_deadline__lte=now).values_list("pk", flat=True)[:200]
    for staff_id in list(lost):
        if Connection.objects.filter(staff_id=staff_id, lease_expires_at__gt=now).exists():
            StaffProfile.objects.filter(pk=staff_id).update(grace_deadline=None)
            continue
        counselor_lose(staff_id=staff_id)
        done["counselors"] += 1
    # Counselors marked available or holding work with no connection at all and no deadline
    # (a process died before it could record anything): give them the lapse treatment.
    orphaned = (
        StaffProfile.objects.filter(grace_deadline__isnull=True)
        .exclude(connections__lease_expires_at__gt=now)
        .filter(pk__in=Consultation.objects.filter(status__in=HELD_STATUSES).values("counselor_id"))
        .values_list("pk", flat=True)[:200]
    )
    for staff_id in list(orphaned):
        StaffProfile.objects.filter(pk=staff_id, grace_deadline__isnull=True).update(
            grace_deadline=now + timedelta(seconds=settings.LOKET["COUNSELOR_GRACE"])
        )
    StaffProfile.objects.filter(
        status=CounselorStatus.AVAILABLE, grace_deadline__isnull=True
    ).exclude(connections__lease_expires_at__gt=now).update(status=CounselorStatus.OFFLINE)
    for consultation_id in list(
        Consultation.objects.filter(
            status__in=OPEN_STATUSES, applicant_grace_deadline__lte=now
        ).values_list("pk", flat=True)[:200]
    ):
        done["abandoned"] += int(applicant_abandon(consultation_id=consultation_id))
    for consultation_id in list(
        Consultation.objects.filter(call_request_expires_at__lte=now).values_list("pk", flat=True)[
            :200
        ]
    ):
        done["call_requests"] += int(call_request_expire(consultation_id=consultation_id))
    # Safety net for any trigger that was missed (e.g. a process died between commit and routing).
    queue_dispatch()
    return done
