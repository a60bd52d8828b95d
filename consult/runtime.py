"""Per-process background work: renew this process's connection leases and sweep due deadlines.

Every server process runs one of these; all of them may sweep at once, since each due row is
handled in its own transaction that re-checks the deadline under a row lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from .services.presence import connections_renew, sweep_due

log = logging.getLogger(__name__)

SERVER_ID = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_task: asyncio.Task[None] | None = None
# The Connection rows this process's consumers hold open. Only these are renewed: a row whose
# consumer ended without closing it (the database was unreachable at that moment) lapses and
# is reaped, instead of being renewed as long as the process lives.
_held: set[Any] = set()


def connection_held(connection_id: Any) -> None:
    """A consumer of this process opened ``connection_id``; renew it from now on."""
    _held.add(connection_id)


def connection_released(connection_id: Any) -> None:
    """The consumer of ``connection_id`` ended; stop renewing it."""
    _held.discard(connection_id)


async def _loop() -> None:
    lease = settings.LOKET["CONNECTION_LEASE"]
    sweep_every = settings.LOKET["SWEEP_INTERVAL"]
    renew_every = max(0.5, lease / 3)
    loop = asyncio.get_running_loop()
    next_renew = loop.time()
    while True:
        try:
            if loop.time() >= next_renew:
                await database_sync_to_async(connections_renew)(
                    server_id=SERVER_ID, connection_ids=set(_held)
                )
                next_renew = loop.time() + renew_every
            if settings.LOKET["RUN_SWEEPER"]:
                await database_sync_to_async(sweep_due)()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background sweep failed; retrying")
        await asyncio.sleep(min(sweep_every, renew_every))


def ensure_started() -> None:
    """Start this process's background loop once (called on the first ASGI connection)."""
    global _task
    if _task is not None and not _task.done():
        return
    _task = asyncio.get_running_loop().create_task(_loop(), name="loket-runtime")


async def stop() -> None:
    """Stop the background loop (tests, shutdown)."""
    global _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
        _task = None
