"""Queue arithmetic with no database: when a waiting video reserves a counselor, and the wait
estimate of a waiting consultation from its position and its topic's figures.

Pure functions of their arguments, the clock and settings, so both the queue selectors (in the
database thread) and the placing listener (``consult.events.queue_fanout``, on the event loop,
for every local waiting applicant of a changed topic) use them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from .events.frames import QueuePosition
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


def reserve_in(*, video_since: str | None, now: datetime | None = None) -> float:
    """Seconds until the head video (waiting since ``video_since``) reserves a counselor; 0 once
    it has, or when no video waits."""
    if not video_since:
        return 0.0
    cutoff = video_reserve_cutoff(now=now or timezone.now())
    return (datetime.fromisoformat(video_since) - cutoff).total_seconds()


def placed_wait(
    *, mode: str, position: int, figures: Mapping[str, Any], reserve: float = 0.0
) -> int | None:
    """``wait_estimate`` of the ``position``-th waiting consultation of ``mode`` with a topic's
    figures (a ``queue.snapshot`` or a placing head: the staffing and the handling time);
    ``reserve`` is ``reserve_in`` of the topic's head video (used for a video only)."""
    return wait_estimate(
        mode=mode,
        position=position,
        staffed=int(figures["staffed_slots"]),
        free=int(figures["free_slots"]),
        handling=float(figures["handling_seconds"]),
        counselors=int(figures["staffed_counselors"]),
        free_counselors=int(figures["free_counselors"]),
        reserve_in=reserve if mode == Mode.VIDEO else 0.0,
    )


def position_frame(
    *,
    public_id: str,
    mode: str,
    position: int,
    figures: Mapping[str, Any],
    video_since: str | None,
    as_of: str,
) -> QueuePosition:
    """The ``queue.position`` frame of the ``position``-th waiting consultation of its mode."""
    return QueuePosition(
        type="queue.position",
        consultation_id=public_id,
        position=position,
        estimated_wait_seconds=placed_wait(
            mode=mode,
            position=position,
            figures=figures,
            reserve=reserve_in(video_since=video_since) if mode == Mode.VIDEO else 0.0,
        ),
        as_of=as_of,
    )
