"""``background_reads_settled`` (autouse): a test's database is emptied only once no background
read of the process (the queue coalescer's, the marks poller's) is still running, since such a
read beside the emptying TRUNCATE can deadlock with it (PostgreSQL then aborts the TRUNCATE and
the next test starts on the last one's rows).

``close_background_connections``, once per run when a test used the database: the threads that
outlive a test (the marks poller's, the last loop's queue coalescer, asgiref's one thread for
``sync_to_async`` in an async test) close their database connections before the test databases
are dropped (PostgreSQL refuses to drop a database someone is connected to: the run's
PytestWarning "is being accessed by other users")."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections

from consult.events import queue_fanout
from consult.events.loop import background_idle
from signaling import bridge


@pytest.fixture(autouse=True)
def background_reads_settled() -> Iterator[None]:
    # Autouse fixtures of a conftest are set up after pytest-django's database fixture, so this
    # teardown runs before its flush.
    yield
    assert background_idle(10), "a background database read still runs 10 s after the test"


def close_background_connections() -> None:
    """What ``django_db_setup`` (tests/conftest.py) runs before the test databases are dropped:
    each long-lived thread closes its own connections (they are thread-local); one that does
    not answer in 10 s does not keep the others from closing theirs."""
    executors = [bridge._marks_thread, SyncToAsync.single_thread_executor]
    coalescer = queue_fanout._coalescer
    if coalescer is not None:
        executors.append(coalescer.executor)
    for executor in executors:
        try:
            executor.submit(connections.close_all).result(timeout=10)
        except (TimeoutError, RuntimeError) as exc:
            warnings.warn(
                f"a background thread kept its database connection: {exc!r}", stacklevel=1
            )
