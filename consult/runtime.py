"""Process start-up of a serving process, and its background work.

``serve`` is the start-up: config/asgi.py calls it once, and only ASGI servers load that module
to serve it. Under Daphne (Twisted's asyncio reactor; Daphne sends no ASGI lifespan events) it
waits until the reactor runs, then starts the background loop (``LOKET_RUNTIME``) on the serving
event loop, closes the pre-call checks before shutdown, and prints ``LOKET_READY_MESSAGE``. A
server that sends ASGI lifespan events gets the same from ``lifespan`` (signaling/routing.py).
A process that imports the application without serving it (a unit test, a ``manage.py``
command) runs no reactor and gets no lifespan event, so it starts nothing.

The background loop renews this process's connection leases and sweeps due deadlines, in a
thread of its own (not Channels' database thread), so consumers' queued database work never
delays a renewal past the lease. Every server process runs one; all of them may sweep at once,
since each due row is handled in its own transaction that re-checks the deadline under a row
lock. Leases are renewed from the process's first WebSocket on (``connection_held``): until then
there is nothing to renew, and the lease's database connection stays closed.
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

from .events import loop as events_loop
from .events import sender as events_sender
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


# Set once a consumer of this process holds a Connection row: there are leases to renew.
_renewing = False
# ``serve`` ran (it registers its start-up once per process).
_serving = False


def connection_held() -> None:
    """A consumer of this process holds a Connection row: renew this process's leases from now
    on (the lease's own database connection is opened at the first renewal)."""
    global _renewing
    _renewing = True


def connection_abandoned(connection_id: Any) -> None:
    """The consumer of ``connection_id`` ended without closing its row: stop renewing it."""
    _abandoned.add(connection_id)


def _renew_and_sweep(abandoned: set[Any], renew: bool, sweep: bool) -> None:
    """Renew this process's leases, then sweep: in one go, so this process never reaps a row of
    its own live sockets (renewed a moment before), however late the sweep runs."""
    close_old_connections()
    try:
        if renew:
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
                        _renew_and_sweep,
                        set(_abandoned),
                        _renewing,
                        settings.LOKET["RUN_SWEEPER"],
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
    """Start this process's background loop once, on the running event loop."""
    global _task
    events_loop.bind()
    if _task is not None and not _task.done():
        return
    _task = asyncio.get_running_loop().create_task(_loop(), name="loket-runtime")


def serve(*, ready_message: str = "") -> None:
    """The start-up of a serving process (config/asgi.py), registered once per process.

    Daphne loads the application before it starts Twisted's reactor and binds its ports before
    the reactor runs, so "when running" is "serving": then ``ready_message`` is printed (``make
    run`` says when the server is ready), the pre-call checks get their shutdown trigger, and
    the background loop starts on the loop's first turn (startup triggers fire before the
    asyncio loop runs). Without a reactor nothing happens here (see ``lifespan``).
    """
    global _serving
    if _serving:
        return
    _serving = True
    reactor: Any = sys.modules.get("twisted.internet.reactor")
    if reactor is None:
        return
    reactor.callWhenRunning(_reactor_running, reactor, ready_message)


def _reactor_running(reactor: Any, ready_message: str) -> None:
    if ready_message:
        print(ready_message, flush=True)
    from twisted.internet import defer

    def close_checks() -> Any:
        # Daphne's own cancellation of open connections uses the same hook.
        return defer.Deferred.fromFuture(asyncio.ensure_future(_before_shutdown()))

    reactor.addSystemEventTrigger("before", "shutdown", close_checks)
    if settings.LOKET["RUN_RUNTIME"]:
        reactor.callLater(0, ensure_started)


async def _before_shutdown() -> None:
    """What Daphne's shutdown waits for: the queued group sends, then the pre-call checks."""
    await events_sender.flush()
    await _close_prechecks()


async def _close_prechecks() -> None:
    """Close this process's pre-call check peers (their media would otherwise outlive it)."""
    from .rtc.precheck import get_precheck_service

    service = get_precheck_service()
    if service.peer_count:
        log.info("closing %d pre-call check peer(s) before shutdown", service.peer_count)
    await service.shutdown()


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI lifespan, for a server that sends it (Daphne does not): the start-up of ``serve``
    on ``lifespan.startup``, the background loop stopped and the pre-call checks closed on
    ``lifespan.shutdown``."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.LOKET["RUN_RUNTIME"]:
                ensure_started()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop()
            await _close_prechecks()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def stop() -> None:
    """Stop the background loop (tests, shutdown), then send what the sender still holds (as far
    as it goes in a moment)."""
    global _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
        _task = None
    await events_sender.flush()
