"""Queue arithmetic with no database: when a waiting video reserves a counselor, the wait
estimate, and a waiting consultation's position read off its topic's published snapshot.

Pure functions of their arguments, the clock and settings, so both the queue selectors (in the
database thread) and the applicant consumer (on the event loop, for every published snapshot)
use them."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from .events.frames import Placing, QueuePosition
from .models import Mode


def video_reserve_cutoff(*, now: datetime) -> datetime:
    """A video consultation waiting since this instant or earlier reserves a counselor."""
    return now - timedelta(seconds=settings.LOKET["VIDEO_RESERVE_AFTER"])


def wait_estimate(
    *,
    mode: str = Mode.CHAT,
    position: int,
    staffed: int,
    free: int,
    handling: float,
    counselors: int = 0,
    free_counselors: int = 0,
    reserve_in: float = 0.0,
) -> int | None:
    """Estimated seconds until a counselor takes the ``position``-th waiting consultation of
    its mode (1 = next) in a topic. None when nobody is staffed.

    A chat: chat places free up at ``staffed / handling`` per second on average and ``free`` are
    open now, so the p-th chat waits about ``(p - free) * handling / staffed``. A video needs a
    counselor with nothing else: ``free_counselors`` are so now, and each of the ``counselors``
    frees fully about once per ``handling``; it may first have to wait ``reserve_in`` seconds
    until the head video reserves a counselor (chats pass it until then).
    """
    if mode == Mode.VIDEO:
        if counselors <= 0:
            return None
        ahead = position - free_counselors
        if ahead <= 0:
            return 0
        return math.ceil(max(0.0, reserve_in) + ahead * handling / counselors)
    if staffed <= 0:
        return None
    ahead = position - free
    if ahead <= 0:
        return 0
    return math.ceil(ahead * handling / staffed)


def queue_position_from_snapshot(
    *, snapshot: dict[str, Any], placing: Placing, consultation_id: int, public_id: str
) -> QueuePosition | None:
    """The ``queue.position`` frame of one waiting consultation, read off its topic's snapshot
    (the ``queue.snapshot`` frame's values: the staffing) and what travels beside it
    (``placing``: the queue's internal order, each one's mode, the head video's waiting_since).

    The position counts the waiting consultations of the same mode ahead (chats and videos queue
    separately within a topic; see docs/ARCHITECTURE.md). None if it is not in the queue.
    ``public_id`` is the consultation's id as its frames name it.
    """
    order = placing.order
    if consultation_id not in order:
        return None
    index = order.index(consultation_id)
    modes = placing.modes
    letter = modes[index]
    mode = Mode.VIDEO if letter == "v" else Mode.CHAT
    position = modes.count(letter, 0, index + 1)
    reserve_in = 0.0
    if mode == Mode.VIDEO and placing.video_since:
        head_since = datetime.fromisoformat(placing.video_since)
        reserve_in = (head_since - video_reserve_cutoff(now=timezone.now())).total_seconds()
    return QueuePosition(
        type="queue.position",
        consultation_id=public_id,
        position=position,
        estimated_wait_seconds=wait_estimate(
            mode=mode,
            position=position,
            staffed=int(snapshot["staffed_slots"]),
            free=int(snapshot["free_slots"]),
            handling=float(snapshot["handling_seconds"]),
            counselors=int(snapshot["staffed_counselors"]),
            free_counselors=int(snapshot["free_counselors"]),
            reserve_in=reserve_in,
        ),
    )
