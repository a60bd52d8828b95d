"""Fixtures for tests that run real processes: a dedicated database per test module, and the
logs of every child process attached to a failing test's report."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.services import postgres_url

from .servers import Database, manage, process_env

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


@pytest.fixture(scope="module")
def e2e_database() -> Iterator[Database]:
    """A fresh, migrated PostgreSQL database with the demo topics, for one test module."""
    database = Database(postgres_url())
    database.create()
    try:
        env = process_env(database_url=database.url)
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--topics-only")
        yield database
    finally:
        database.drop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
