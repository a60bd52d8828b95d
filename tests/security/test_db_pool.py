"""PostgreSQL connections stay bounded under concurrent HTTP requests.

Before the pool, each ASGI request thread kept its own connection (CONN_MAX_AGE 60): 40 concurrent
requests opened 57 backends. With the pool a process holds at most LOKET_DB_POOL_MAX_SIZE, and
requests beyond that wait their turn instead of failing.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.live import HttpClient
from tests.support.servers import DaphneServer, Database, process_env

pytestmark = [pytest.mark.processes, pytest.mark.postgres]


POOL_MAX = 4
REQUESTS = 48
# Each answer reads the database: topics, office hours, the login page's session/CSRF.
PATHS = ["/api/topics", "/api/office", "/"]


def _backends(database: Database) -> int:
    """Backends connected to the test database, other than this sampling connection."""
    with database.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_concurrent_requests_share_a_bounded_pool(e2e_database: Database, tmp_path: Path) -> None:
    env = process_env(
        database_url=e2e_database.url,
        LOKET_RUNTIME="1",
        LOKET_DB_POOL_MAX_SIZE=str(POOL_MAX),
        # The run's own LOKET_DB_CONN_MAX_AGE=0 is not inherited; this is the deployed default.
    )
    server = DaphneServer("pool", env, tmp_path)
    server.start()
    try:
        server.wait_ready()
        peak = 0
        sampling = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not sampling.is_set():
                peak = max(peak, _backends(e2e_database))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        barrier = threading.Barrier(REQUESTS)

        def one(index: int) -> int:
            barrier.wait(timeout=60)
            return HttpClient(server.http_url).get(PATHS[index % len(PATHS)]).status

        try:
            with ThreadPoolExecutor(REQUESTS) as executor:
                statuses = list(executor.map(one, range(REQUESTS)))
            # Whatever the process keeps after the burst counts too.
            time.sleep(1)
        finally:
            sampling.set()
            sampler.join()
        assert statuses == [200] * REQUESTS, statuses
        assert 0 < peak <= POOL_MAX, f"{peak} backends for a pool of {POOL_MAX}"
        assert _backends(e2e_database) <= POOL_MAX
    finally:
        server.stop()
