"""Chat messages stored from the event loop (PostgreSQL): the common case of every message.

``append_many`` runs the chat append's one statement (``transcript._one_statement``: take the
next sequence numbers, insert, commit, all in one statement in autocommit) on a connection of
the loop's pool (``consult.loop_db``), then publishes the entries it stored, from the loop, now
that they are committed. It never raises and never decides a refusal: whenever the statement
does not store every message (the author may not write, a ``client_msg_id`` seen before, a
message the rules refuse, no free connection, a connection lost, no answer within
``STATEMENT_DEADLINE``) it answers None, and the
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
database first (through the database thread), as for any frame the layer reorders. The
statement and its publishing are shielded from the caller's cancellation (a socket closing
while its message is being stored): what commits is published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

import psycopg

from .. import loop_db
from ..models import StaffProfile, TranscriptEntry
from .transcript import _message_refusal, _one_statement, _publish_stored

log = logging.getLogger(__name__)
_warned_at = -60.0


def _warn_once_a_minute(exc: BaseException) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= 60:
        _warned_at = now
        log.warning("chat append on the loop refused by PostgreSQL: %s", type(exc).__name__)


# A statement that has not answered after this long (seconds) is given up: its connection is
# closed and the database thread's path takes the messages (and finds them, if it committed).
STATEMENT_DEADLINE = 10.0


async def append_many(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[TranscriptEntry] | None:
    """Store ``messages`` ((text, client_msg_id), in order) of one author to one consultation
    in one statement on the loop, and publish them; the stored entries, or None if the database
    thread's path must take them (see the module).

    The statement and its publishing run as a task of their own, shielded: a caller cancelled
    meanwhile (its socket closing) does not stop them, so a message committed is published."""
    try:
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
    except Exception as exc:
        log.warning("chat append on the loop not tried: %s", type(exc).__name__)
        return None
    if built is None:
        return None
    task = asyncio.ensure_future(
        _store_and_publish(
            found,
            built,
            consultation_id=consultation_id,
            author_role=author_role,
            author=author,
            messages=messages,
        )
    )
    return await asyncio.shield(task)


async def _store_and_publish(
    found: loop_db.LoopPool,
    built: tuple[str, list[Any], datetime],
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[TranscriptEntry] | None:
    sql, params, created_at = built
    try:
        async with found.connection() as conn:
            rows = await asyncio.wait_for(_rows(conn, sql, params), STATEMENT_DEADLINE)
    except psycopg.IntegrityError:
        # A repeat among them: the statement (and the numbers it took) was undone.
        return None
    except (psycopg.OperationalError, TimeoutError) as exc:
        # No connection free in time, one PostgreSQL closed, or no answer: the thread's path
        # retries them (and finds them stored if the statement committed after all).
        log.info("chat append on the loop fell back to the database thread: %s", type(exc).__name__)
        found.trouble()
        return None
    except psycopg.Error as exc:
        # Anything else PostgreSQL refused (not the connection): the thread's path says what.
        _warn_once_a_minute(exc)
        return None
    if not rows:
        return None
    try:
        return _publish_stored(
            rows,
            consultation_id=consultation_id,
            author_role=author_role,
            author=author,
            messages=messages,
            created_at=created_at,
            committed=True,
        )
    except Exception:
        # Committed: the client's retry finds the entries, the other side reads them.
        log.exception("chat messages stored on the loop could not be published")
        return None


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str, params: list[Any]) -> list[Any]:
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall()
