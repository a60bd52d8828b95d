"""The serving event loop of this process, for code in a thread that hands work to it.

A service runs in a database thread and registers what it publishes with
``transaction.on_commit``; the sending itself belongs on the event loop that serves the
process's sockets (so the database thread never waits for Redis). ``bind`` remembers that loop
(``consult.runtime`` binds it at start-up, every consumer when it starts); ``serving_loop`` gives
it to a thread, or None where there is none running (a management command, a synchronous test),
in which case the caller does its work in place, as before.

Imports asyncio only.
"""

from __future__ import annotations

import asyncio
import threading

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
