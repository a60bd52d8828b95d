"""Fixtures for tests that run real processes: a migrated PostgreSQL database per test module,
the shared Redis, a log directory per test, and the logs of every child process attached to a
failing test's report. Registered for the whole suite by tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.support.needs import postgres_url, redis_url
from tests.support.servers import Database, manage, process_env

# Each source returns (title, text) sections to show under a failed test's report.
LOG_SOURCES = pytest.StashKey[list[Callable[[], list[tuple[str, str]]]]]()


def attach_logs(
    request: pytest.FixtureRequest, source: Callable[[], list[tuple[str, str]]]
) -> None:
    """Show what ``source`` returns (child process logs) if the current test fails."""
    request.node.stash.setdefault(LOG_SOURCES, []).append(source)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for source in item.stash.get(LOG_SOURCES, []):
            for title, text in source():
                report.sections.append((title, text[-20000:] or "(empty)"))
    return report


@pytest.fixture(scope="session")
def migrated_template() -> Iterator[Database]:
    """One migrated database with the demo topics, copied for each module (not migrated again)."""
    template = Database(postgres_url())
    template.create()
    try:
        env = process_env(database_url=template.url)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--topics-only")
        yield template
    finally:
        template.drop()


@pytest.fixture(scope="module")
def e2e_database(migrated_template: Database) -> Iterator[Database]:
    """A fresh, migrated PostgreSQL database with the demo topics, for one test module: a copy of
    the migrated template."""
    database = Database(postgres_url())
    database.create(template=migrated_template.name)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture(scope="session")
def shared_redis() -> str:
    """Redis for the channel layer. Session-scoped like ``migrated_template``, so that a test
    asking for it before the database is skipped (or failed) for Redis first."""
    return redis_url()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
