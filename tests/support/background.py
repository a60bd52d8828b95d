"""``background_reads_settled`` (autouse): a test's database is emptied only once no background
read of the process (the queue coalescer's, the marks poller's) is still running, since such a
read beside the emptying TRUNCATE can deadlock with it (PostgreSQL then aborts the TRUNCATE and
the next test starts on the last one's rows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consult.events.loop import background_idle


@pytest.fixture(autouse=True)
def background_reads_settled() -> Iterator[None]:
    # Autouse fixtures of a conftest are set up after pytest-django's database fixture, so this
    # teardown runs before its flush.
    yield
    assert background_idle(10), "a background database read still runs 10 s after the test"
