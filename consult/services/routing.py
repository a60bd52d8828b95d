"""Routing: offering waiting consultations to counselors.

One routing pass runs under a single database-wide lock (``DispatchLock``): across any number of
server processes at most one pass decides at a time, so no consultation is offered twice, no
counselor goes over capacity, and FIFO within a topic holds even though counselors serve
overlapping topics. A pass is a handful of queries; see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import events
from ..models import (
    Consultation,
    ConsultationStatus,
    DeclinedOffer,
    DispatchLock,
    Mode,
    StaffProfile,
)
from ..payloads import consultation_payload
from ..selectors import counselors_available, queue_snapshot


@dataclass
class _Seat:
    """A counselor as routing sees them during one pass."""

    staff: StaffProfile
    topic_ids: set[int]
    load: int
    full: bool  # holding a video consultation or a call: takes the whole capacity
    assigned: list[Consultation] = field(default_factory=list)

    def free_for(self, consultation: Consultation) -> bool:
        if self.full:
            return False
        if consultation.mode == Mode.VIDEO:
            return self.load == 0
        return self.load < self.staff.capacity


def _seats(now: datetime) -> list[_Seat]:
    staff = counselors_available(now=now).prefetch_related("topics")
    return [
        _Seat(
            staff=s,
            topic_ids={t.pk for t in s.topics.all()},
            load=s.load,
            full=s.full_load > 0,
        )
        for s in staff
    ]


def _fairness_key(seat: _Seat) -> tuple[float, int]:
    last = seat.staff.last_assigned_at
    return (last.timestamp() if last else 0.0, seat.staff.pk)


def queue_dispatch() -> list[int]:
    """Offer every waiting consultation that can be placed now; returns the offered ids."""
    offered: list[Consultation] = []
    touched_topics: set[int] = set()
    with transaction.atomic():
        DispatchLock.objects.select_for_update().get_or_create(pk=1)
        # The time of the decision, read once the lock is held: a pass may wait behind passes of
        # other processes, and its offers must not be stamped earlier than theirs.
        now = timezone.now()
        waiting = list(
            Consultation.objects.filter(status=ConsultationStatus.WAITING)
            .select_related("topic")
            .order_by("-priority", "queued_at", "pk")[:1000]
        )
        if not waiting:
            return []
        seats = _seats(now)
        if not seats:
            return []
        cooldown = now - timedelta(seconds=settings.LOKET["DECLINE_COOLDOWN"])
        declined = set(
            DeclinedOffer.objects.filter(
                consultation_id__in=[c.pk for c in waiting], at__gt=cooldown
            ).values_list("consultation_id", "counselor_id")
        )
        blocked_topics: set[int] = set()
        for consultation in waiting:
            targeted = consultation.target_counselor_id is not None
            if not targeted and consultation.topic_id in blocked_topics:
                continue
            if targeted:
                candidates = [s for s in seats if s.staff.pk == consultation.target_counselor_id]
            else:
                candidates = [s for s in seats if consultation.topic_id in s.topic_ids]
            with_room = [s for s in candidates if s.free_for(consultation)]
            eligible = [s for s in with_room if (consultation.pk, s.staff.pk) not in declined]
            if not eligible:
                if not with_room and not targeted:
                    # FIFO: nobody behind the head of this topic may overtake it.
                    blocked_topics.add(consultation.topic_id)
                continue
            seat = min(eligible, key=_fairness_key)
            seat.load += 1
            if consultation.mode == Mode.VIDEO:
                seat.full = True
            seat.staff.last_assigned_at = now
            seat.assigned.append(consultation)
            consultation.status = ConsultationStatus.OFFERED
            consultation.counselor = seat.staff
            consultation.offered_at = now
            consultation.offer_expires_at = now + timedelta(seconds=settings.LOKET["OFFER_TIMEOUT"])
            offered.append(consultation)
            touched_topics.add(consultation.topic_id)
        if not offered:
            return []
        for consultation in offered:
            Consultation.objects.filter(
                pk=consultation.pk, status=ConsultationStatus.WAITING
            ).update(
                status=ConsultationStatus.OFFERED,
                counselor=consultation.counselor,
                offered_at=now,
                offer_expires_at=consultation.offer_expires_at,
            )
        StaffProfile.objects.filter(pk__in=[s.staff.pk for s in seats if s.assigned]).update(
            last_assigned_at=now
        )
        for consultation in offered:
            publish_consultation_state(consultation)
        for topic_id in touched_topics:
            publish_queue(topic_id=topic_id)
    return [c.pk for c in offered]


def publish_consultation_state(
    consultation: Consultation, *, previous_counselor_id: int | None = None
) -> None:
    """After commit: the consultation's state to its participants and the counselors concerned.

    Bumps the consultation's ``version`` in the caller's transaction first, so the frame carries
    the version the database has: a connection that missed the frame sees a higher version when
    it re-reads (``BaseConsumer.resync``) and re-sends the state.
    """
    Consultation.objects.filter(pk=consultation.pk).update(version=F("version") + 1)
    consultation.version = (
        Consultation.objects.filter(pk=consultation.pk).values_list("version", flat=True).get()
    )
    events.publish(
        [events.group_consultation(consultation.pk)],
        consultation_payload(consultation, for_staff=False),
        consultation_id=consultation.pk,
        audience=events.AUDIENCE_APPLICANT,
    )
    staff_groups = [events.GROUP_SUPERVISORS]
    for staff_id in (consultation.counselor_id, previous_counselor_id):
        if staff_id:
            staff_groups.append(events.group_staff(staff_id))
    events.publish(
        staff_groups,
        consultation_payload(consultation, for_staff=True),
        consultation_id=consultation.pk,
        audience=events.AUDIENCE_STAFF,
    )


def publish_queue(*, topic_id: int) -> None:
    """After commit: the topic's queue order and estimate inputs, read fresh at that moment."""

    def send() -> None:
        snapshot = queue_snapshot(topic_id=topic_id)
        events.publish([events.group_topic(topic_id), events.GROUP_SUPERVISORS], snapshot)

    events.publish_callback(send)


def counselor_topic_ids(staff: StaffProfile) -> list[int]:
    """The topics whose queues this counselor serves."""
    return list(staff.topics.values_list("pk", flat=True))


__all__ = [
    "counselor_topic_ids",
    "publish_consultation_state",
    "publish_queue",
    "queue_dispatch",
]
