"""Fan-out to connected clients. The only module that talks to the channel layer.

Everything is published after the surrounding transaction commits (``transaction.on_commit``), and
nothing is ever only here: the channel layer is at-most-once, so every frame a client must not miss
is a database row it can fetch again by sequence number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

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
    if layer is None:
        return
    message = _layer_message(frame, consultation_id, audience)
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # The layer is at-most-once anyway; clients recover from the database. Never fail the
        # already-committed write because fan-out failed.
        log.exception("channel layer send to %s failed", group.split(".", 1)[0])


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
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group_user(user_id), message)
        except Exception:
            # The connections re-check their session periodically anyway.
            log.exception("channel layer send of a session check failed")

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
        await layer.group_send(group, message)
