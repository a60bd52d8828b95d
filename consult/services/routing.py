"""Routing: offering waiting consultations to counselors.

One routing pass runs under a single database-wide lock (``DispatchLock``): across any number of
server processes at most one pass decides at a time, so no consultation is offered twice, no
counselor goes over capacity, and FIFO within a topic and mode holds even though counselors serve
overlapping topics. A pass is a handful of queries; see docs/ARCHITECTURE.md (Routing).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..events import publish
from ..models import (
    Consultation,
    ConsultationStatus,
    DispatchLock,
    Mode,
    StaffProfile,
)
from ..selectors.queue import Seat, seats_available, seats_reserve
from ..selectors.waiting import (
    declined_waiting,
    video_heads,
    waiting_heads,
    waiting_targets,
)


def queue_dispatch(
    *, counselor_ids: Iterable[int | None] = (), topic_ids: Iterable[int | None] = ()
) -> list[int]:
    """Offer every waiting consultation that can be placed now; returns the offered ids.

    Every service that changes a counselor's capacity or availability (``counselor_ids``) or a
    topic's queue (``topic_ids``) calls this once it has committed: after the pass, the queue of
    each of those topics, of each topic those counselors serve, and of each topic served by a
    counselor offered something now is published once (their estimates and free places changed).
    The pass itself always considers every waiting consultation of every topic.
    """
    with transaction.atomic():
        offered = _dispatch_pass()
        publish.queues_changed(
            counselor_ids=[*counselor_ids, *(c.counselor_id for c in offered)],
            topic_ids=[*topic_ids, *(c.topic_id for c in offered)],
        )
    return [c.pk for c in offered]


def _dispatch_pass() -> list[Consultation]:
    """One routing pass under the dispatch lock (in the caller's transaction)."""
    offered: list[Consultation] = []
    DispatchLock.objects.select_for_update().get_or_create(pk=1)
    # The time of the decision, read once the lock is held: a pass may wait behind passes of
    # other processes, and its offers must not be stamped earlier than theirs.
    now = timezone.now()
    seats = seats_available(now=now)
    # No seat with room (every counselor full, in a call or with a video): nothing can be
    # offered, whatever waits. A reservation only ever lowers a seat's room, so none is read.
    if not any(s.has_room for s in seats):
        return []
    # Only the heads a pass could reach, per topic and mode and per named colleague: the cost of
    # a pass does not grow with the queues (selectors.waiting), and every topic with a free place
    # is served whatever the length of the others.
    declined = declined_waiting(now=now)
    targets = waiting_targets(seats=seats)
    videos = video_heads(seats=seats, targets=targets)
    seats_reserve(waiting=videos, seats=seats, declined=declined.pairs, now=now)
    waiting = waiting_heads(seats=seats, declined=declined, targets=targets, videos=videos)
    if not waiting:
        return []
    # FIFO holds within a topic and a mode: a head that cannot be placed for lack of room blocks
    # the rest of its mode in its topic, but a chat may pass a video that no counselor could take
    # now (the video's reservation keeps it from starving).
    blocked: set[tuple[int, str]] = set()
    for consultation in waiting:
        targeted = consultation.target_counselor_id is not None
        lane = (consultation.topic_id, consultation.mode)
        if not targeted and lane in blocked:
            continue
        if targeted:
            candidates = [s for s in seats if s.staff.pk == consultation.target_counselor_id]
        else:
            candidates = [s for s in seats if consultation.topic_id in s.topic_ids]
        with_room = [s for s in candidates if s.free_for(consultation)]
        eligible = [s for s in with_room if (consultation.pk, s.staff.pk) not in declined.pairs]
        if not eligible:
            if not with_room and not targeted:
                blocked.add(lane)
            continue
        reserved = [s for s in eligible if s.reserved_for == consultation.pk]
        seat = reserved[0] if reserved else min(eligible, key=Seat.fairness_key)
        _offer(consultation, seat, seats=seats, now=now)
        offered.append(consultation)
    if not offered:
        return []
    written: list[Consultation] = []
    for consultation in offered:
        # The pass read the queue without locking its rows: one may have ended meanwhile (the
        # applicant left or was abandoned). Such an offer is not made, and nothing is published
        # for it: an "offered" state with a newer version would replace the real end for good.
        if Consultation.objects.filter(
            pk=consultation.pk, status=ConsultationStatus.WAITING
        ).update(
            status=ConsultationStatus.OFFERED,
            counselor=consultation.counselor,
            offered_at=now,
            offer_expires_at=consultation.offer_expires_at,
        ):
            written.append(consultation)
    counselors = {c.counselor_id for c in written}
    StaffProfile.objects.filter(pk__in=counselors).update(last_assigned_at=now)
    for consultation in written:
        publish.consultation_changed(consultation)
    return written


def _offer(consultation: Consultation, seat: Seat, *, seats: list[Seat], now: datetime) -> None:
    """Record the decision in this pass's view (written by the caller)."""
    for other in seats:
        if other.reserved_for == consultation.pk:
            # Placed: its reservation, wherever it was, is released for this pass's later chats.
            other.reserved_for = None
    seat.load += 1
    if consultation.mode == Mode.VIDEO:
        seat.full = True
    seat.staff.last_assigned_at = now
    seat.assigned.append(consultation)
    consultation.status = ConsultationStatus.OFFERED
    consultation.counselor = seat.staff
    consultation.offered_at = now
    consultation.offer_expires_at = now + timedelta(seconds=settings.LOKET["OFFER_TIMEOUT"])


__all__ = [
    "queue_dispatch",
]
