"""PostgreSQL connections for code that runs on the event loop itself.

Django's ORM runs in the database thread every consumer shares (``database_sync_to_async``):
each call is a hop to that thread and back, waits behind every other connection's call, and
draws a connection from Django's pool with a health check (one empty round trip). The chat
append, the one write on every message, is a single SQL statement
(``consult.services.transcript._one_statement``), so it runs on the loop instead, on these
connections (``consult.services.chat_loop``): no thread hop, no queue behind other work, and
appends of several conversations in flight at once (PostgreSQL commits them together).

``LoopPool``: at most ``LOKET["DB_LOOP_POOL_SIZE"]`` psycopg ``AsyncConnection``s of one event
loop (a loop's connections cannot serve another), with the connection parameters of Django's
``default`` database, in autocommit. An idle connection is reused (the most recently returned
first), a new one is opened while there are fewer than the bound, and a caller otherwise waits
up to ``WAIT_FOR_CONNECTION`` seconds for one to come back (then it takes the database thread's
path). Nothing is checked before use: a connection that a restarted PostgreSQL closed fails its
statement, the caller falls back, and ``trouble`` closes the other idle connections (they went
the same way) so that the next callers open fresh ones. A connection returned broken, or not
idle, is closed, and so is one idle for more than ``MAX_IDLE`` (a firewall or proxy may have
dropped it silently); TCP keepalives are on (``KEEPALIVES``). No background task: the pool
lives in its loop's callers alone, and is closed before its loop closes (``_close_with``),
also when the loop's tasks were cancelled first (as ``asyncio.run`` does), which psycopg_pool's
``AsyncConnectionPool``, whose worker tasks its close awaits, cannot do (see
docs/ARCHITECTURE.md, "Dependencies").

PostgreSQL only; on SQLite ``pool()`` is None.

Imports Django's settings and connections, and psycopg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import pq

log = logging.getLogger(__name__)

# How long a caller waits for a connection (a free one, or a new one to open) before it takes
# the database thread's path instead (seconds).
WAIT_FOR_CONNECTION = 2.0
# An idle connection older than this is closed rather than reused (seconds).
MAX_IDLE = 300.0
# TCP keepalives on every connection (libpq's parameters, unless the database settings say
# otherwise): a backend gone without a word is noticed in about a minute, not never.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
_POSTGRESQL = "django.db.backends.postgresql"


class _Slot:
    """Handed to a waiting caller instead of a connection: room for one more, kept for it."""


_SLOT = _Slot()
_Handed = psycopg.AsyncConnection[Any] | _Slot


class LoopPool:
    """Connections of one event loop, at most ``size`` (see the module)."""

    def __init__(self, kwargs: dict[str, Any], size: int, timeout: float) -> None:
        self._kwargs = kwargs
        self._size = size
        self._timeout = timeout
        # Idle connections with when each came back (the most recent last).
        self._idle: list[tuple[psycopg.AsyncConnection[Any], float]] = []
        # Connections that exist or are kept for a caller: idle, in use, being opened, or
        # reserved for a waiting caller that will open one (``_SLOT``).
        self._count = 0
        # Callers waiting for a connection, in order: handed one that comes back, or a slot.
        self._waiting: deque[asyncio.Future[_Handed]] = deque()
        self.closed = False

    @property
    def size(self) -> int:
        """How many connections exist now (idle, in use, or being opened)."""
        return self._count

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for one statement (raises ``psycopg.OperationalError`` if none comes
        within the timeout, or it cannot be opened). One that the block leaves broken, in a
        transaction or mid-query (a cancelled statement) is closed, not reused."""
        conn = await self._take()
        try:
            yield conn
        finally:
            self._give_back(conn)

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while True:
            if self.closed:
                raise psycopg.OperationalError("the loop's connection pool is closed")
            while self._idle:
                conn, since = self._idle.pop()
                if loop.time() - since <= MAX_IDLE:
                    return conn
                # Idle too long: a firewall or proxy may have dropped it without a word.
                self._discard(conn)
            if self._count < self._size:
                self._count += 1
                return await self._open()
            waiter: asyncio.Future[_Handed] = loop.create_future()
            self._waiting.append(waiter)
            try:
                handed = await asyncio.wait_for(
                    asyncio.shield(waiter), max(0.0, deadline - loop.time())
                )
            except BaseException as exc:
                self._abandon(waiter)
                if isinstance(exc, TimeoutError):
                    raise psycopg.OperationalError("no free connection on the loop") from None
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiter)
            if isinstance(handed, _Slot):
                return await self._open()
            return handed

    def _abandon(self, waiter: asyncio.Future[_Handed]) -> None:
        """A caller stops waiting (timed out, cancelled): what was handed to it meanwhile goes
        to the next caller (or back to the idle ones, or the slot is freed)."""
        if not waiter.done():
            waiter.cancel()
            return
        if waiter.cancelled() or waiter.exception() is not None:
            return
        handed = waiter.result()
        if isinstance(handed, _Slot):
            self._count -= 1
            self._free_slot()
        else:
            self._give_back(handed)

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        """Open a connection in a slot already counted (``_count``)."""
        try:
            return await asyncio.wait_for(
                psycopg.AsyncConnection.connect(**self._kwargs), self._timeout
            )
        except BaseException as exc:
            self._count -= 1
            self._free_slot()
            if isinstance(exc, TimeoutError):
                raise psycopg.OperationalError("connecting timed out") from None
            raise

    def _give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if (
            self.closed
            or conn.closed
            or conn.broken
            or conn.info.transaction_status != pq.TransactionStatus.IDLE
        ):
            self._discard(conn)
            self._free_slot()
            return
        if not self._hand_over(conn):
            self._idle.append((conn, asyncio.get_running_loop().time()))

    def _free_slot(self) -> None:
        """Room for one more connection: kept for the first caller waiting, if any."""
        if self._waiting and self._count < self._size:
            self._count += 1
            if not self._hand_over(_SLOT):
                self._count -= 1

    def _hand_over(self, handed: _Handed) -> bool:
        """Give a connection (or a slot) to the first caller still waiting; whether one was."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return True
        return False

    def _discard(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._count -= 1
        # Closed at once, without the loop: a broken connection has nothing to say goodbye to.
        conn.pgconn.finish()

    def trouble(self) -> None:
        """A statement failed for want of a connection (PostgreSQL restarted, most likely):
        close the idle connections, which went the same way, so the next callers open fresh
        ones instead of drawing them one after the other."""
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._discard(conn)
        for _ in idle:
            self._free_slot()

    async def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        self.closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._count -= 1
            with contextlib.suppress(Exception):
                await conn.close()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(psycopg.OperationalError("the loop's pool closed"))


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopPool] = weakref.WeakKeyDictionary()


def _connection_kwargs() -> dict[str, Any]:
    """Django's connection parameters of the default database, for a plain psycopg connection:
    without Django's cursor class and adapters (the statements here bind plain values)."""
    params = dict(connections[DEFAULT_DB_ALIAS].get_connection_params())
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    params["autocommit"] = True
    for key, value in KEEPALIVES.items():
        params.setdefault(key, value)
    return params


def pool() -> LoopPool | None:
    """This loop's pool, or None where there is none (SQLite, or ``DB_LOOP_POOL_SIZE`` 0)."""
    size = int(settings.LOKET["DB_LOOP_POOL_SIZE"])
    if size <= 0 or settings.DATABASES[DEFAULT_DB_ALIAS]["ENGINE"] != _POSTGRESQL:
        return None
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        found = LoopPool(_connection_kwargs(), size, WAIT_FOR_CONNECTION)
        _pools[loop] = found
        _close_with(loop, found)
    return found


def _close_with(loop: asyncio.AbstractEventLoop, found: LoopPool) -> None:
    """Close ``found`` when ``loop`` closes (just before: the connections are the loop's), so no
    backend outlives the loop that served it."""
    original = loop.close

    def close(self: asyncio.AbstractEventLoop) -> None:
        self.close = original  # type: ignore[method-assign]
        if _pools.get(self) is found:
            del _pools[self]
        if not found.closed and not self.is_closed() and not self.is_running():
            try:
                self.run_until_complete(found.close())
            except Exception as exc:
                log.warning(
                    "closing the loop's database connections failed: %s", type(exc).__name__
                )
        original()

    loop.close = types.MethodType(close, loop)  # type: ignore[method-assign]
