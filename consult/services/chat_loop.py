"""Chat messages stored from the event loop (PostgreSQL): the common case of every message.

``append_many`` runs the chat append's one statement (``transcript._one_statement``: take the
next sequence numbers, insert, commit, all in one statement in autocommit) on a connection of
the loop's pool (``consult.loop_db``), then publishes the entries it stored, from the loop, now
that they are committed. It never raises and never decides a refusal: whenever the statement
does not store every message (the author may not write, a ``client_msg_id`` seen before, a
message the rules refuse, no free connection, a connection lost) it answers None, and the
caller takes the database thread's path (``transcript.transcript_append_many``), which says
what became of each message. A statement whose commit's answer was lost with its connection
is found there as a repeat: stored once, acked with its entry; its entry was not published, and
the other side gets it from the database with its next entry, ping or resume.

What it keeps of the database thread's guarantees: durably committed (``synchronous_commit`` as
configured) before anyone hears of it; gapless numbers (the statement takes them under the
consultation's row lock); each message once (the unique constraint). Appends of several
conversations are in flight at once, each on a connection of its own. Two writers to one
consultation on one process may publish out of order (their statements commit in ``seq``
order, their answers come back in either); a connection that sees a gap reads it from the
database first, as for any frame the layer reorders.
"""

from __future__ import annotations

import logging

import psycopg

from .. import loop_db
from ..events import publish
from ..models import StaffProfile, TranscriptEntry
from .transcript import _message_refusal, _one_statement, _stored_entries

log = logging.getLogger(__name__)


async def append_many(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[TranscriptEntry] | None:
    """Store ``messages`` ((text, client_msg_id), in order) of one author to one consultation
    in one statement on the loop, and publish them; the stored entries, or None if the database
    thread's path must take them (see the module)."""
    found = loop_db.pool()
    if found is None or not messages:
        return None
    if any(_message_refusal(text, client_msg_id) for text, client_msg_id in messages):
        return None
    built = _one_statement(
        consultation_id=consultation_id,
        author_role=author_role,
        author=author,
        messages=messages,
    )
    if built is None:
        return None
    sql, params, created_at = built
    try:
        async with found.connection() as conn:
            cursor = await conn.execute(sql, params)
            rows = await cursor.fetchall()
    except psycopg.IntegrityError:
        # A repeat among them: the statement (and the numbers it took) was undone.
        return None
    except psycopg.Error as exc:
        # No connection free in time, or one PostgreSQL closed: the thread's path retries it.
        log.info("chat append on the loop fell back to the database thread: %s", type(exc).__name__)
        found.trouble()
        return None
    if not rows:
        return None
    consultation, stored = _stored_entries(
        rows,
        consultation_id=consultation_id,
        author_role=author_role,
        author=author,
        messages=messages,
        created_at=created_at,
    )
    for entry in stored:
        publish.entry_appended(consultation, entry, committed=True)
    return stored
