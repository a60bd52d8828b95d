"""Process start-up of a serving process, and its background work.

``serve`` is the start-up: config/asgi.py calls it once, and only ASGI servers load that module
to serve it. Under Daphne (Twisted's asyncio reactor; Daphne sends no ASGI lifespan events) it
waits until the reactor runs, then starts the background loop (``LOKET_RUNTIME``) on the serving
event loop, closes the pre-call checks before shutdown, and prints ``LOKET_READY_MESSAGE``. A
server that sends ASGI lifespan events gets the same from ``lifespan`` (signaling/routing.py),
except the garbage collector's schedule and log (``consult.collector``), which only a Daphne
process gets (under Daphne's reactor).
A process that imports the application without serving it (a unit test, a ``manage.py``
command) runs no reactor and gets no lifespan event, so it starts nothing.

The background work, in threads of their own (not Channels' database thread, so consumers'
queued database work never delays it): the heartbeat, this process's ``ServerProcess`` row
renewed every lease/3 in one upsert through the ``LEASE_DB`` alias (its own connection, outside
the request pool) and in a thread that does nothing else, so neither a loaded database thread nor
a sweep waiting on a row lock delays it past the lease; and the sweep, which first retries closing
the rows of consumers that ended without closing them (``connection_abandoned``: with one
heartbeat per process, a row nobody closes would live as long as the process), then sweeps due
deadlines. Every server process sweeps; all of them may at once, since each due row is handled in
its own transaction that re-checks the deadline under a row lock. The heartbeat beats from the
process's first WebSocket on (``connection_held``): until then there is nothing to keep alive,
and the lease's database connection stays closed.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

from .collector import Collector, watch_full_collections
from .events import loop as events_loop
from .events import sender as events_sender
from .services.presence import connection_close, process_beat
from .services.sweeper import sweep_due

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVER_ID = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_tasks: list[asyncio.Task[None]] = []
# Rows of this process whose consumer ended but could not close them (the database was
# unreachable then, or the close was cancelled). The process's heartbeat keeps them live, so the
# sweep loop retries closing them until it succeeds.
_abandoned: set[Any] = set()


# Set once a consumer of this process holds a Connection row: there is a heartbeat to keep.
_renewing = False
# ``serve`` ran (it registers its start-up once per process).
_serving = False


def connection_held() -> None:
    """A consumer of this process holds a Connection row: beat from now on (the lease's own
    database connection is opened at the first beat)."""
    global _renewing
    _renewing = True


def connection_abandoned(connection_id: Any) -> None:
    """The consumer of ``connection_id`` ended without closing its row: close it later."""
    _abandoned.add(connection_id)


def _beat() -> None:
    """Renew this process's heartbeat through its own database connection."""
    close_old_connections()
    try:
        process_beat(server_id=SERVER_ID, using=settings.LOKET["LEASE_DB"])
    finally:
        close_old_connections()


def _close_abandoned(abandoned: set[Any]) -> set[Any]:
    """Close what ``connection_abandoned`` left; the ids closed (or already gone)."""
    closed = set()
    failed: Exception | None = None
    for connection_id in abandoned:
        try:
            connection_close(connection_id=connection_id)
        except Exception as exc:
            failed = exc
            continue
        closed.add(connection_id)
    if failed is not None:
        log.warning(
            "closing %d abandoned connection row(s) failed (%s); retrying",
            len(abandoned) - len(closed),
            failed,
        )
    return closed


def _close_and_sweep(abandoned: set[Any], sweep: bool) -> set[Any]:
    close_old_connections()
    try:
        closed = _close_abandoned(abandoned) if abandoned else set()
        if sweep:
            sweep_due()
        return closed
    finally:
        close_old_connections()


async def _in(executor: ThreadPoolExecutor, func: Callable[[], T]) -> T:
    # What the work publishes after commit is handed to this loop's sender
    # (``consult.events.sender``); sync_to_async also keeps asgiref's context for it.
    return await sync_to_async(func, thread_sensitive=False, executor=executor)()


def _retire(executor: ThreadPoolExecutor) -> None:
    """End a loop's own thread, which closes its database connection first (else a persistent
    one is left open, idle on the server, until something collects it)."""
    with contextlib.suppress(RuntimeError):  # the interpreter is already shutting down
        executor.submit(connections.close_all)
    executor.shutdown(wait=False)


async def _beat_loop() -> None:
    every = max(0.5, settings.LOKET["CONNECTION_LEASE"] / 3)
    # A thread of its own: in Channels' database thread a beat queued behind a reconnect
    # storm's opens and closes ran more than a lease late; behind a sweep it would wait for
    # whatever row lock the sweep waits for.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loket-beat")
    try:
        while True:
            if _renewing:
                try:
                    await _in(executor, _beat)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("heartbeat failed; retrying")
            await asyncio.sleep(every)
    finally:
        _retire(executor)


async def _sweep_loop() -> None:
    every = min(settings.LOKET["SWEEP_INTERVAL"], max(0.5, settings.LOKET["CONNECTION_LEASE"] / 3))
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loket-sweep")
    try:
        while True:
            try:
                closed = await _in(
                    executor,
                    functools.partial(
                        _close_and_sweep, set(_abandoned), settings.LOKET["RUN_SWEEPER"]
                    ),
                )
                _abandoned.difference_update(closed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background sweep failed; retrying")
            await asyncio.sleep(every)
    finally:
        _retire(executor)


def ensure_started() -> None:
    """Start this process's background loops (heartbeat, sweep) once, on the running event
    loop."""
    events_loop.bind()
    if _tasks and not all(task.done() for task in _tasks):
        return
    loop = asyncio.get_running_loop()
    _tasks[:] = [
        loop.create_task(_beat_loop(), name="loket-beat"),
        loop.create_task(_sweep_loop(), name="loket-sweep"),
    ]


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
    watch_full_collections(settings.LOKET["GC_LOG_MS"] / 1000)
    Collector(full_every=settings.LOKET["GC_FULL_S"]).start(reactor.callLater)
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
    """Stop the background loops (tests, shutdown), then send what the sender still holds (as far
    as it goes in a moment)."""
    tasks, _tasks[:] = list(_tasks), []
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await events_sender.flush()
