"""The serving event loop of this process, for code in a thread that hands work to it.

A service runs in a database thread and registers what it publishes with
``transaction.on_commit``; the sending itself belongs on the event loop that serves the
process's sockets (so the database thread never waits for Redis). ``bind`` remembers that loop
(``consult.runtime`` binds it at start-up, every consumer when it starts); ``serving_loop`` gives
it to a thread, or None where there is none running (a management command, a synchronous test),
in which case the caller does its work in place, as before.

Imports the standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

_bound: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def bind(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Remember ``loop`` (by default the running one) as this process's serving loop."""
    global _bound
    target = loop if loop is not None else asyncio.get_running_loop()
    with _lock:
        _bound = target


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """The bound loop while it runs, else None."""
    loop = _bound
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


def on_serving_loop() -> bool:
    """Whether the caller runs on the serving loop's own thread."""
    loop = serving_loop()
    if loop is None:
        return False
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


# Database work this process runs in background threads of its own (the queue coalescer's reads,
# the marks poller's): how much is running now, for ``background_idle``.
_running = 0
_idle = threading.Condition()


@contextlib.contextmanager
def background_work() -> Iterator[None]:
    """Count the enclosed work (in any thread) as background database work running now."""
    global _running
    with _idle:
        _running += 1
    try:
        yield
    finally:
        with _idle:
            _running -= 1
            _idle.notify_all()


def background_idle(timeout: float) -> bool:
    """Wait until no background database work runs (at most ``timeout`` seconds); whether none
    does. A test's database is emptied only then: a read still running beside the emptying
    TRUNCATE can deadlock with it."""
    with _idle:
        return _idle.wait_for(lambda: _running == 0, timeout=timeout)
