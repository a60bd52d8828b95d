"""Channel-layer group names and the audience a published frame is meant for.

Pure names: imports nothing of Loket. Services pick groups through consult.events.publish;
consumers join them (signaling/consumers).
"""

from __future__ import annotations

import hashlib

GROUP_SUPERVISORS = "supervisors"


def group_consultation(consultation_id: int) -> str:
    """Everyone taking part in one consultation (applicant and counselor connections)."""
    return f"consultation.{consultation_id}"


def group_staff(staff_id: int) -> str:
    """Every connection of one staff member (offers, their list of consultations)."""
    return f"staff.{staff_id}"


def group_topic(topic_id: int) -> str:
    """Counselors serving a topic (its queue) and supervisors."""
    return f"topic.{topic_id}"


def group_placing(topic_id: int) -> str:
    """The placing listeners of the processes with waiting applicants of a topic (one member
    per process: ``consult.events.queue_fanout``), never a connection."""
    return f"placing.{topic_id}"


def group_user(user_id: int) -> str:
    """Every staff connection of one login account (counselor or supervisor)."""
    return f"user.{user_id}"


# Which kind of connection may forward a published frame.
AUDIENCE_ALL = "all"
AUDIENCE_APPLICANT = "applicant"
AUDIENCE_STAFF = "staff"

# Channel-layer message types. ``loket.frame`` carries a server frame (the consumer's handler is
# ``loket_frame``); ``loket.session_check`` asks staff connections to re-check their session
# (``session_check`` in signaling/session_guard.py).
FRAME_EVENT = "loket.frame"
SESSION_CHECK_EVENT = "loket.session_check"


def session_digest(session_key: str | None) -> str | None:
    """A stand-in for a session key on the channel layer (the key itself is a credential)."""
    if not session_key:
        return None
    return hashlib.sha256(session_key.encode()).hexdigest()
