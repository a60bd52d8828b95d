"""The sweeper: every due deadline handled once (connections of lapsed processes reaped, offers
and call requests expired, lost counselors requeued, vanished applicants abandoned), safe to run
in every process at the same time. ``consult/runtime.py`` runs it in each server process;
``loket_sweeper`` runs it on its own.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..models import (
    HELD_STATUSES,
    OPEN_STATUSES,
    Connection,
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    ServerProcess,
    StaffProfile,
)
from .calls import call_request_expire
from .consultations import applicant_abandon
from .locking import row_lock
from .offers import offer_expire
from .presence import connection_drop, counselor_lose
from .records import checkpoint_due, office_key_register, seal_pending
from .retention import retention_purge
from .routing import queue_dispatch

# The retention purge runs in each process's sweeper once an hour (and at its first sweep, with
# the office key made and published if there is none yet).
PURGE_EVERY = 3600.0
_purged_at = -PURGE_EVERY


def connections_reap() -> int:
    """Remove connections whose server process's heartbeat lapsed (or was never recorded); their
    owners are disconnected. Then forget lapsed heartbeats that no connection refers to."""
    now = timezone.now()
    reaped = 0
    for connection_id in list(Connection.objects.lapsed(now).values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            connection = row_lock(Connection.objects.lapsed(now).filter(pk=connection_id))
            if connection is None:
                continue
            # A lapsed heartbeat means the server process died: the counselor is lost at once
            # (their applicants should not wait a grace period for a process that will not come
            # back); the applicant still gets the grace period to reconnect to another process.
            connection_drop(connection, now_grace_from=False)
            reaped += 1
    # One statement: a process that beats again meanwhile (it was only stalled) either renews
    # first (its row no longer matches) or finds its row gone and inserts it anew.
    ServerProcess.objects.filter(expires_at__lte=now).filter(
        ~Exists(Connection.objects.filter(server_id=OuterRef("server_id")))
    ).delete()
    return reaped


def sweep_due() -> dict[str, int]:
    """Handle every due deadline once. Safe to run in every process at the same time."""
    reaped = connections_reap()
    # Read the clock after reaping: a lapsed heartbeat sets its counselor's grace deadline to "now",
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
        if Connection.objects.live(now).filter(staff_id=staff_id).exists():
            StaffProfile.objects.filter(pk=staff_id).update(grace_deadline=None)
            continue
        counselor_lose(staff_id=staff_id)
        done["counselors"] += 1
    connected = Exists(Connection.objects.live(now).filter(staff=OuterRef("pk")))
    # Counselors marked available or holding work with no connection at all and no deadline
    # (a process died before it could record anything): give them the lapse treatment.
    orphaned = (
        StaffProfile.objects.filter(grace_deadline__isnull=True)
        .filter(~connected)
        .filter(pk__in=Consultation.objects.filter(status__in=HELD_STATUSES).values("counselor_id"))
        .values_list("pk", flat=True)[:200]
    )
    for staff_id in list(orphaned):
        StaffProfile.objects.filter(pk=staff_id, grace_deadline__isnull=True).update(
            grace_deadline=now + timedelta(seconds=settings.LOKET["COUNSELOR_GRACE"])
        )
    StaffProfile.objects.filter(
        status=CounselorStatus.AVAILABLE, grace_deadline__isnull=True
    ).filter(~connected).update(status=CounselorStatus.OFFLINE)
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
    # Records (docs/RECORDS.md): consultations over but not sealed (from before records), and a
    # checkpoint of the log when it has grown.
    done["sealed"] = seal_pending()
    done["checkpoints"] = int(checkpoint_due(min_age=settings.LOKET["CHECKPOINT_INTERVAL"]))
    global _purged_at
    if time.monotonic() - _purged_at >= PURGE_EVERY:
        office_key_register()
        _purged_at = time.monotonic()
        done["purged"] = sum(retention_purge().values())
    return done
