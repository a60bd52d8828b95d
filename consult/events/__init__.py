"""Fan-out to connected clients. The only module that talks to the channel layer.

Everything is published after the surrounding transaction commits (``transaction.on_commit``), and
nothing is ever only here: the channel layer is at-most-once, so every frame a client must not miss
is a database row it can fetch again by sequence number.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

# A group send normally takes a millisecond; one that has not finished in this long is given up,
# so a Redis that hangs (rather than refuses) does not hold up the database thread behind it.
SEND_TIMEOUT = 3.0
# After a failed send, sends are skipped this long before one is tried again.
BREAKER_SECONDS = 5.0
# Probing whether the layer is back: at most once this often per process.
PROBE_INTERVAL = 1.0
PROBE_GROUP = "loket.probe"


class LayerHealth:
    """Whether this process can reach the channel layer: one per process, shared by threads.

    The first failure opens an outage (logged once, without a traceback); while it lasts,
    publishers skip their sends (a circuit breaker: one send is tried again every
    ``BREAKER_SECONDS``) and consumers deliver from the database. The first success closes it
    (logged once, with how long it lasted) and ``outage`` counts up, which tells every degraded
    consumer of this process to re-join its groups.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.outage = 0
        self.last_probe = 0.0
        # Called (from any thread) when an outage opens: consumers that have not hit the failure
        # themselves must still re-join later, since a restarted Redis forgets every group.
        self.listeners: list[Any] = []

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        """A layer operation failed: open an outage if none is open."""
        now = time.monotonic()
        with self._lock:
            self.retry_at = now + BREAKER_SECONDS
            if self.down_since is not None:
                return
            self.down_since = now
            self.outage += 1
        for listener in list(self.listeners):
            listener()
        log.warning(
            "channel layer unavailable (%s); connections stay open and are served from the "
            "database until it is back",
            type(exc).__name__,
        )

    def succeeded(self) -> None:
        """A layer operation worked: close the outage if one is open."""
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning(
                "channel layer back after %.1f s; connections re-join their groups",
                time.monotonic() - since,
            )

    def may_try(self) -> bool:
        """Whether a publisher should try the layer now (closed breaker, or its retry is due)."""
        if self.down_since is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self.retry_at:
                return False
            # Half-open: this caller tries; the others keep skipping until it reports.
            self.retry_at = now + BREAKER_SECONDS
            return True


layer_health = LayerHealth()


async def layer_call(operation: Any) -> bool:
    """Await one channel-layer operation (a coroutine); False if the layer failed it."""
    try:
        await asyncio.wait_for(operation, SEND_TIMEOUT)
    except Exception as exc:
        layer_health.failed(exc)
        return False
    layer_health.succeeded()
    return True


async def layer_probe(channel_name: str) -> bool:
    """Whether the layer answers again (a harmless group discard), at most once a second."""
    if not layer_health.down:
        return True
    layer = get_channel_layer()
    now = time.monotonic()
    if layer is None or now - layer_health.last_probe < PROBE_INTERVAL:
        return False
    layer_health.last_probe = now
    return await layer_call(layer.group_discard(PROBE_GROUP, channel_name))


# Channel-layer message type; the consumer's handler is ``loket_frame``.
FRAME_EVENT = "loket.frame"


def group_consultation(consultation_id: int) -> str:
    """Everyone taking part in one consultation (applicant and counselor connections)."""
    return f"consultation.{consultation_id}"


def group_staff(staff_id: int) -> str:
    """Every connection of one staff member (offers, their list of consultations)."""
    return f"staff.{staff_id}"


def group_topic(topic_id: int) -> str:
    """Counselors serving a topic (its queue) and supervisors."""
    return f"topic.{topic_id}"


GROUP_SUPERVISORS = "supervisors"


def group_user(user_id: int) -> str:
    """Every staff connection of one login account (counselor or supervisor)."""
    return f"user.{user_id}"


# Channel-layer message type asking staff connections to re-check their session
# (``session_check`` in signaling/session_guard.py).
SESSION_CHECK_EVENT = "loket.session_check"


AUDIENCE_ALL = "all"
AUDIENCE_APPLICANT = "applicant"
AUDIENCE_STAFF = "staff"


def _layer_message(
    frame: dict[str, Any], consultation_id: int | None, audience: str
) -> dict[str, Any]:
    """The channel-layer event a consumer's ``loket_frame`` handler receives."""
    return {
        "type": FRAME_EVENT,
        "frame": frame,
        "consultation_id": consultation_id,
        "audience": audience,
    }


def _send_now(
    group: str, frame: dict[str, Any], consultation_id: int | None, audience: str
) -> None:
    layer = get_channel_layer()
    if layer is None or not layer_health.may_try():
        # Skipped while the layer is down: the layer is at-most-once anyway, and consumers
        # serve their clients from the database until it is back.
        return
    message = _layer_message(frame, consultation_id, audience)
    # Never fail the already-committed write because fan-out failed (layer_call catches).
    async_to_sync(layer_call)(layer.group_send(group, message))


def publish(
    groups: Iterable[str],
    frame: dict[str, Any],
    *,
    consultation_id: int | None = None,
    audience: str = AUDIENCE_ALL,
) -> None:
    """Send ``frame`` to every group once the current transaction commits.

    ``audience`` tells consumers which kind of connection may forward it (applicant, staff, all).
    """
    targets = list(dict.fromkeys(groups))

    def send() -> None:
        for group in targets:
            _send_now(group, frame, consultation_id, audience)

    transaction.on_commit(send)


def publish_callback(callback: Any) -> None:
    """Run ``callback`` (which builds and publishes frames from fresh reads) after commit."""
    transaction.on_commit(callback)


def publish_session_check(*, user_id: int, revoked_session: str | None = None) -> None:
    """After commit, tell every staff connection of ``user_id`` to re-check its session now.

    ``revoked_session`` is the digest of a session that is ending (logout): connections on it
    close without waiting for the database to say so.
    """
    message = {"type": SESSION_CHECK_EVENT, "revoked_session": revoked_session}

    def send() -> None:
        layer = get_channel_layer()
        # Through the same breaker as every other send: while the layer is down a logout must
        # not wait on it, and the connections re-check their session periodically anyway.
        if layer is None or not layer_health.may_try():
            return
        async_to_sync(layer_call)(layer.group_send(group_user(user_id), message))

    transaction.on_commit(send)


async def publish_ephemeral(
    groups: Iterable[str],
    frame: dict[str, Any],
    *,
    consultation_id: int | None,
    sender_channel: str,
    audience: str = AUDIENCE_ALL,
) -> None:
    """Fan out a frame that is never stored (typing, WebRTC signaling), skipping its sender."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {**_layer_message(frame, consultation_id, audience), "sender": sender_channel}
    for group in dict.fromkeys(groups):
        if not layer_health.may_try() or not await layer_call(layer.group_send(group, message)):
            return
