"""Fixtures of the fault suite: Redis (the shared one under a prefix of the test's own, or a
redis-server the test starts and stops) and an ``Office`` of Daphne processes on the module's
database (``e2e_database``, tests/support/processes.py), stopped and cleaned up after the test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.needs import postgres_url, reachable, redis_server_path
from tests.support.processes import attach_logs
from tests.support.servers import (
    FAST_TIMINGS,
    Database,
    RedisServer,
    process_env,
    redis_forget,
)

from .idle import idle_links
from .office import Office

OfficeFactory = Callable[..., Office]


class Background:
    """A fault scenario that mostly waits, run in a thread of its own (with its own event loop,
    database and Daphne processes) while the other fault tests run."""

    def __init__(
        self,
        name: str,
        scenario: Callable[[Office], Awaitable[None]],
        *,
        template: Database,
        redis: str,
        log_dir: Path,
    ) -> None:
        self.name = name
        self.scenario = scenario
        self.template = template
        self.redis = redis
        self.log_dir = log_dir
        self.office: Office | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"fault-{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # handed to the test that collects the outcome
            self.error = exc

    async def _main(self) -> None:
        database = Database(postgres_url())
        database.create(template=self.template.name)
        prefix = f"loket-faults-{uuid.uuid4().hex[:8]}"
        env = process_env(
            database_url=database.url,
            redis_url=self.redis,
            redis_prefix=prefix,
            LOKET_RUNTIME="1",
            **FAST_TIMINGS,
        )
        self.office = Office(database, env, self.log_dir)
        try:
            await self.scenario(self.office)
        finally:
            await self.office.close_sockets()
            for server in self.office.servers:
                server.stop()
            with contextlib.suppress(Exception):
                redis_forget(self.redis, prefix)
            database.drop()

    def logs(self) -> list[tuple[str, str]]:
        return self.office.logs() if self.office is not None else []

    def outcome(self, timeout: float) -> None:
        """Wait for the scenario; raise what it raised (an AssertionError says what broke)."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"the {self.name} scenario did not finish in {timeout}s")
        if self.error is not None:
            raise self.error


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect the idle-links outcome last: its scenario runs from the start of the suite, in the
    background, and the other tests' time is what it overlaps."""
    items.sort(key=lambda item: item.path.name == "test_idle.py")


@pytest.fixture(scope="session", autouse=True)
def idle_in_background(
    request: pytest.FixtureRequest,
    migrated_template: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Background | None]:
    """Start tests/faults/idle.py at the beginning of the fault suite if test_idle.py is in the
    run (and Redis answers; otherwise test_idle.py's ``shared_redis`` skips or fails it)."""
    selected = any(item.path.name == "test_idle.py" for item in request.session.items)
    redis = os.environ.get("REDIS_URL", "")
    if not selected or not redis or not reachable(redis, 6379):
        yield None
        return
    background = Background(
        "idle links",
        idle_links,
        template=migrated_template,
        redis=redis,
        log_dir=tmp_path_factory.mktemp("idle-logs"),
    )
    background.start()
    yield background
    background.thread.join(240)


@pytest.fixture
def own_redis(log_dir: Path, request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A redis-server of this test's own, so that stopping it touches no one else."""
    redis_server_path()
    server = RedisServer(log_dir)
    attach_logs(request, lambda: [("redis-server log", server.log_path.read_text())])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def office(
    e2e_database: Database, log_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[OfficeFactory]:
    """Make an ``Office`` on ``redis`` (a URL) with FAST_TIMINGS and ``extra`` settings.

    Its sockets are closed, its processes stopped and its channel-layer keys deleted afterwards.
    """
    made: list[tuple[Office, str, str]] = []

    def make(redis: str, **extra: str) -> Office:
        prefix = f"loket-faults-{uuid.uuid4().hex[:8]}"
        settings = {"LOKET_RUNTIME": "1", **FAST_TIMINGS, **extra}
        env = process_env(
            database_url=e2e_database.url, redis_url=redis, redis_prefix=prefix, **settings
        )
        built = Office(e2e_database, env, log_dir)
        attach_logs(request, built.logs)
        made.append((built, redis, prefix))
        return built

    try:
        yield make
    finally:
        for built, redis, prefix in made:
            await built.close_sockets()
            for server in built.servers:
                server.resume_if_paused()
                server.stop()
            # The test's own Redis may be gone already.
            with contextlib.suppress(Exception):
                redis_forget(redis, prefix)
