"""Per-process background work: renew this process's connection leases and sweep due deadlines.

Runs in a thread of its own (not Channels' database thread), so consumers' queued database work
never delays a renewal past the lease.

Every server process runs one of these; all of them may sweep at once, since each due row is
handled in its own transaction that re-checks the deadline under a row lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from .services.presence import connections_renew
from .services.sweeper import sweep_due

log = logging.getLogger(__name__)

SERVER_ID = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_task: asyncio.Task[None] | None = None
# Rows of this process whose consumer ended but could not close them (the database was
# unreachable then). Every other row of this process is renewed, including one just opened
# whose consumer has not resumed yet; these are not, so they lapse and are reaped instead of
# being renewed as long as the process lives.
_abandoned: set[Any] = set()


def connection_abandoned(connection_id: Any) -> None:
    """The consumer of ``connection_id`` ended without closing its row: stop renewing it."""
    _abandoned.add(connection_id)


def _renew_and_sweep(abandoned: set[Any], sweep: bool) -> None:
    """Renew this process's leases, then sweep: in one go, so this process never reaps a row of
    its own live sockets (renewed a moment before), however late the sweep runs."""
    close_old_connections()
    try:
        connections_renew(
            server_id=SERVER_ID, except_ids=abandoned, using=settings.LOKET["LEASE_DB"]
        )
        if sweep:
            sweep_due()
    finally:
        close_old_connections()


async def _loop() -> None:
    lease = settings.LOKET["CONNECTION_LEASE"]
    sweep_every = settings.LOKET["SWEEP_INTERVAL"]
    renew_every = max(0.5, lease / 3)
    # Not the database thread every consumer queues on: in a reconnect storm hundreds of opens
    # and closes wait there, and a renewal behind them ran more than a lease late, so the
    # sweepers (this process's among them) reaped live sockets' rows.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loket-runtime")
    try:
        while True:
            try:
                # Through sync_to_async (not run_in_executor) so that what the sweep publishes
                # after commit (async_to_sync in events) runs on this loop's channel layer.
                await sync_to_async(
                    functools.partial(
                        _renew_and_sweep, set(_abandoned), bool(settings.LOKET["RUN_SWEEPER"])
                    ),
                    thread_sensitive=False,
                    executor=executor,
                )()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background sweep failed; retrying")
            await asyncio.sleep(min(sweep_every, renew_every))
    finally:
        executor.shutdown(wait=False)


def ensure_started() -> None:
    """Start this process's background loop once (called on the first ASGI connection)."""
    global _task
    if _task is not None and not _task.done():
        return
    _task = asyncio.get_running_loop().create_task(_loop(), name="loket-runtime")


def announce_when_serving(message: str) -> None:
    """Print ``message`` once Daphne listens (``make run`` says when the server is ready).

    Daphne loads the application before it starts Twisted's reactor and binds its ports before
    the reactor runs, so "when running" is "ready". Under any other server nothing happens.
    """
    reactor: Any = sys.modules.get("twisted.internet.reactor")
    if not message or reactor is None:
        return
    reactor.callWhenRunning(lambda: print(message, flush=True))


async def stop() -> None:
    """Stop the background loop (tests, shutdown)."""
    global _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
        _task = None
