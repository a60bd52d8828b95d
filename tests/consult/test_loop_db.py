"""The event loop's PostgreSQL connections (consult/loop_db.py) on the real database: the bound,
the wait for a free connection, a connection PostgreSQL closed, and closing with the loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest

from consult import loop_db
from tests.support.needs import postgres_url

pytestmark = pytest.mark.django_db(transaction=True)


def _pool(size: int, timeout: float = 0.5) -> loop_db.LoopPool:
    postgres_url()
    return loop_db.LoopPool(loop_db._connection_kwargs(), size, timeout)


async def _backend(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT pg_backend_pid()")
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_at_most_size_connections_a_caller_waits_for_one_and_gives_up_in_time() -> None:
    pool = _pool(1)
    async with pool.connection() as first:
        pid = await _backend(first)
        # The bound is reached: a second caller waits, and gives up after the timeout.
        with pytest.raises(psycopg.OperationalError):
            async with pool.connection():
                pass
        waiting = asyncio.ensure_future(_use(pool))
        await asyncio.sleep(0.05)
        assert not waiting.done()
    # Returned: the waiting caller gets that same connection.
    assert await asyncio.wait_for(waiting, 2) == pid
    assert pool.size == 1
    await pool.close()


async def _use(pool: loop_db.LoopPool) -> int:
    async with pool.connection() as conn:
        return await _backend(conn)


async def test_a_connection_postgresql_closed_fails_once_and_the_next_caller_gets_a_fresh_one() -> (
    None
):
    pool = _pool(2)
    first_pid = await _use(pool)
    with psycopg.connect(**loop_db._connection_kwargs()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first_pid])
    with pytest.raises(psycopg.OperationalError):
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
    # The broken one was dropped; the next caller opens a new backend.
    assert pool.size == 0
    assert await _use(pool) != first_pid
    await pool.close()


async def test_the_loops_pool_is_closed_with_its_loop(settings: Any) -> None:
    postgres_url()
    settings.LOKET = {**settings.LOKET, "DB_LOOP_POOL_SIZE": 2}
    found = loop_db.pool()
    assert found is not None and found is loop_db.pool()
    pid = await _use(found)

    assert await asyncio.to_thread(_alive, pid)
    # A loop of its own, closed the way asyncio.run closes one (its tasks cancelled first).
    other_pid: list[int] = []
    pending: list[asyncio.Task[None]] = []

    async def on_other_loop() -> None:
        other = loop_db.pool()
        assert other is not None and other is not found
        other_pid.append(await _use(other))
        # A task the runner cancels before it closes the loop.
        pending.append(asyncio.ensure_future(asyncio.sleep(60)))

    await asyncio.to_thread(asyncio.run, on_other_loop())
    assert await asyncio.to_thread(_gone, other_pid[0])
    assert await asyncio.to_thread(_alive, pid)  # this loop's own stays
    await found.close()


def _alive(pid: int) -> bool:
    with psycopg.connect(**loop_db._connection_kwargs()) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        found = row.fetchone()
        return bool(found and found[0])


def _gone(pid: int) -> bool:
    """Whether the backend ``pid`` has exited (it takes PostgreSQL a moment after the close)."""
    deadline = time.monotonic() + 5
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
