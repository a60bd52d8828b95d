"""PostgreSQL backends terminated mid-chat (a failover, a restart, an administrator's
``pg_terminate_backend``): the frame that hits the dead connection is refused with the stable,
retryable ``unavailable`` code (never ``internal``), the same ``chat.send`` sent again is stored
exactly once, and the conversation goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.live import LiveSocket

from .conftest import OfficeFactory
from .office import Office, Side, entry_key, received, transcript

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

RETRYABLE = "unavailable"
ROUNDS = 3


def terminate_backends(office: Office) -> int:
    """Terminate every backend of the test database but the test's own; how many there were."""
    with office.database.connect() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (office.database.name,),
        ).fetchall()
    return len(rows)


async def say_until_stored(side: Side, client_msg_id: str, refusals: list[str]) -> None:
    """Send one message; while it is refused with the retryable code, send the same again."""
    frame = side.compose(client_msg_id)
    for attempt in range(3):
        request_id = f"req-{client_msg_id}-{attempt}"
        await side.socket.send(id=request_id, **frame)
        reply = await side.socket.wait_for(
            lambda f, rid=request_id: f.get("id") == rid and f["type"] in ("ack", "error"),
            what=f"reply to {request_id}",
        )
        if reply["type"] == "ack":
            # Never stored before: a refused attempt stored nothing.
            assert reply["duplicate"] is False, reply
            return
        assert reply["code"] == RETRYABLE, reply
        refusals.append(f"{side.role}:{client_msg_id}")
    raise AssertionError(f"{client_msg_id} refused three times")


@pytest.mark.parametrize("pool", ["1", "0"], ids=["pool", "no-pool"])
async def test_terminated_backends_refuse_one_frame_retryably_and_store_its_retry_once(
    office: OfficeFactory, shared_redis: str, pool: str
) -> None:
    """With the connection pool (the default) a dead pooled connection is found by the pool's
    check before it is handed out, so a frame rarely meets one; without it (LOKET_DB_POOL=0,
    persistent per-thread connections) the first frame on each dead connection is refused with
    ``unavailable``. Either way nothing is lost or stored twice, and nothing is logged as a
    traceback."""
    # No background sweeps or renewals during the test (a long lease, a slow loop): the first
    # query after each termination is then a chat frame's, not the process's own housekeeping.
    built = office(
        shared_redis,
        LOKET_CONNECTION_LEASE="120",
        LOKET_SWEEP_INTERVAL_MS="60000",
        LOKET_DB_POOL=pool,
        LOKET_DB_CONN_MAX_AGE="0" if pool == "1" else "60",
    )
    (
        server_a,
        server_b,
        _,
        supervisor_http,
        joined,
        applicant_socket,
        staff_socket,
    ) = await built.chat_across()
    public_id = joined["consultation_id"]
    applicant = Side("applicant", applicant_socket, {})
    counselor = Side("counselor", staff_socket, {"consultation_id": public_id})

    refusals: list[str] = []
    terminated: list[int] = []
    for round_ in range(ROUNDS):
        for side in (applicant, counselor):
            await say_until_stored(side, f"{side.role[0]}-before-{round_}", refusals)
        terminated.append(await asyncio.to_thread(terminate_backends, built))
        # Both sides write at once into the dead connections.
        await asyncio.gather(
            *(
                say_until_stored(side, f"{side.role[0]}-after-{round_}", refusals)
                for side in (applicant, counselor)
            )
        )

    # The conversation goes on: a status change and a read receipt are served as usual.
    await staff_socket.request("status-again", type="status.set", status="available")
    stored = await transcript(supervisor_http, public_id)
    entries = stored["entries"]
    last = len(entries)
    await applicant.socket.request("read", type="read", seq=last)

    # Each process held a database connection, and each termination cost at least one frame.
    assert all(count >= 2 for count in terminated), terminated
    if pool == "0":
        assert len(refusals) >= ROUNDS, refusals
    for server in (server_a, server_b):
        assert "Traceback" not in server.log(), server.name

    # Every message stored once, in each author's order; both sides saw the same record.
    for side in (applicant, counselor):
        mine = [e["client_msg_id"] for e in entries if e["author_role"] == side.role]
        assert mine == side.sent, side.role
        await side.socket.wait_for(
            lambda f: f["type"] in ("entry", "ack") and (f.get("entry") or f).get("seq") == last,
            what=f"seq {last} on the {side.role}'s side",
        )
    expected = [entry_key(e) for e in entries]
    for side in (applicant, counselor):
        fresh, _ = received(side.frames, public_id)
        assert [entry_key(e) for e in fresh] == expected, side.role
    assert stored["consultation"]["status"] == "active"
    assert_no_internal(applicant_socket, staff_socket)


def assert_no_internal(*sockets: LiveSocket) -> None:
    errors: list[dict[str, Any]] = [
        f for socket in sockets for f in socket.frames if f["type"] == "error"
    ]
    assert all(f["code"] == RETRYABLE for f in errors), errors
