"""A consumer that ended without closing its Connection row (the database refused the close):
its process's heartbeat keeps the row live, so the runtime closes it on a later sweep tick."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connections

from consult import runtime
from consult.models import Connection, Consultation
from signaling import bridge
from tests.support.applicants import join
from tests.support.sockets import Ws, applicant_ws
from tests.support.staff import make_topic

# Every alias: with PostgreSQL's pool the runtime beats through "lease" (config/settings.py).
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _rows() -> list[tuple[Any, Any]]:
    return list(
        Connection.objects.values_list("pk", "consultation__applicant_grace_deadline").order_by()
    )


async def test_a_row_its_consumer_could_not_close_is_closed_by_the_runtime(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.LOKET = {**settings.LOKET, "SWEEP_INTERVAL": 0.05, "RUN_SWEEPER": False}
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    applicant = await applicant_ws(joined)
    [(connection_id, _)] = await database_sync_to_async(_rows)()

    async def refused(**_: Any) -> None:
        raise OSError("database unreachable")

    monkeypatch.setattr(bridge, "connection_close", refused)
    await applicant.close()
    # The consumer ended; its row is still there, and live (the process still beats).
    assert await database_sync_to_async(_rows)() == [(connection_id, None)]
    assert connection_id in runtime._abandoned

    runtime.ensure_started()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await database_sync_to_async(Connection.objects.exists)():
            assert loop.time() < deadline, "the abandoned row was not closed"
            await asyncio.sleep(0.05)
    finally:
        await runtime.stop()
        # The heartbeat's own pool keeps one connection open, as it does in a serving process.
        if "lease" in connections:
            await sync_to_async(connections["lease"].close_pool)()
    assert connection_id not in runtime._abandoned
    # Closed as the client's close would have: the applicant's grace period runs.
    stored = await database_sync_to_async(Consultation.objects.get)(
        public_id=joined["consultation_id"]
    )
    assert stored.applicant_grace_deadline is not None


async def test_a_row_opened_for_a_consumer_cancelled_meanwhile_is_closed_by_the_runtime(
    settings: Any,
) -> None:
    """Daphne ends the consumer of a client that went away while its open waited its turn in the
    database thread; the open still records the row there, and nobody holds it but the runtime."""
    settings.LOKET = {**settings.LOKET, "SWEEP_INTERVAL": 0.05, "RUN_SWEEPER": False}
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    ws = Ws("/ws/applicant/")
    await ws.connect()
    gate = threading.Event()
    # The database thread is busy (another consumer's long query): the open queues behind it.
    busy = asyncio.ensure_future(database_sync_to_async(gate.wait)(10))
    await ws.send(type="auth", token=joined["token"], last_seq=None)
    await asyncio.sleep(0.2)
    ws.comm.future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ws.comm.future
    gate.set()
    await busy
    # The open ran after its consumer had gone: the row exists, with no consumer to close it.
    [(connection_id, _)] = await database_sync_to_async(_rows)()

    runtime.ensure_started()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await database_sync_to_async(Connection.objects.exists)():
            assert loop.time() < deadline, "the row of the cancelled consumer was not closed"
            await asyncio.sleep(0.05)
    finally:
        await runtime.stop()
        if "lease" in connections:
            await sync_to_async(connections["lease"].close_pool)()
    assert connection_id not in runtime._abandoned
