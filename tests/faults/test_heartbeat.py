"""The heartbeat holds while the database thread is loaded.

A counselor holding a chat and its applicant are connected to process A, with a short lease
(``LOKET_CONNECTION_LEASE=2``). The test holds a row lock on the counselor's StaffProfile from a
connection of its own, and the counselor sends ``status.set``, whose write needs that row: A's
Channels database thread waits on the lock (so does everything queued behind it there) for more
than three leases, while process B sweeps; the applicant's next message, stored from the event
loop on a connection of its own, is acked during the hold. A's heartbeat
runs in a thread of its own, so after the lock is released nothing was reaped: the counselor is
not lost, the chat not requeued, and both sockets still hear each other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import psycopg
import pytest

from tests.support.servers import DaphneServer

from .conftest import OfficeFactory
from .office import Office, Side, converse, has_seq, received, transcript

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

LEASE = 2
HOLD = 3.5 * LEASE  # seconds A's database thread waits on the lock


def heartbeat_live(office: Office, server: DaphneServer) -> bool:
    """Whether ``server``'s heartbeat row is current (SERVER_ID is host:pid:nonce)."""
    return bool(
        office.scalar(
            "SELECT count(*) FROM consult_serverprocess WHERE server_id LIKE %s "
            "AND expires_at > now()",
            f"%:{server.pid}:%",
        )
    )


def connection_ids(office: Office, server: DaphneServer) -> set[str]:
    with office.database.connect() as conn:
        rows = conn.execute(
            "SELECT id::text FROM consult_connection WHERE server_id LIKE %s",
            (f"%:{server.pid}:%",),
        ).fetchall()
    return {row[0] for row in rows}


def lock_waiters(office: Office) -> int:
    """Backends of this database waiting for a lock (A's database thread, once it is stuck)."""
    return int(
        office.scalar(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a database condition (nothing announces it) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(check):
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def test_a_blocked_database_thread_reaps_nothing(
    office: OfficeFactory, shared_redis: str
) -> None:
    built = office(shared_redis, LOKET_CONNECTION_LEASE=str(LEASE))
    username = built.create_staff("counselor")
    supervisor = built.create_staff("supervisor")
    server_a, server_b = built.start("A", "B")
    counselor_http = await built.login(server_a, username)
    supervisor_http = await built.login(server_b, supervisor)
    joined, applicant_socket, staff_socket = await built.accepted(
        server_a, server_a, counselor_http
    )
    public_id = joined["consultation_id"]
    applicant = Side("applicant", applicant_socket, {})
    counselor = Side("counselor", staff_socket, {"consultation_id": public_id})
    await converse(applicant, counselor, 1, "before")
    staff_id = built.scalar(
        "SELECT s.id FROM consult_staffprofile s JOIN auth_user u ON u.id = s.user_id "
        "WHERE u.username = %s",
        username,
    )
    held = await asyncio.to_thread(connection_ids, built, server_a)
    assert len(held) == 2  # the counselor's and the applicant's
    # A row of a process that never beat: the sweepers reap it during the hold, which shows
    # they were sweeping while A's database thread was stuck.
    ghost = str(uuid.uuid4())
    built.scalar(
        "INSERT INTO consult_connection (id, role, server_id, channel_name, opened_at) "
        "VALUES (%s, 'applicant', 'ghost:0:0', 'ghost', now()) RETURNING 1",
        ghost,
    )

    lock = await asyncio.to_thread(psycopg.connect, built.database.url)
    try:
        await asyncio.to_thread(
            lock.execute,
            "SELECT id FROM consult_staffprofile WHERE id = %s FOR UPDATE",
            (staff_id,),
        )
        await staff_socket.send(id="blocked", type="status.set", status="available")
        await until(lambda: lock_waiters(built) >= 1, 10, "A's database thread waits on the lock")
        # A chat message does not wait for A's database thread: it is stored from the event
        # loop, on a connection of its own (consult/services/chat_loop.py), during the hold.
        await applicant_socket.send(id="queued", **applicant.compose("a-queued"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        beats = 0
        lapsed: list[float] = []  # when A's heartbeat was seen lapsed, into the hold
        while loop.time() - started < HOLD:
            if not await asyncio.to_thread(heartbeat_live, built, server_a):
                lapsed.append(round(loop.time() - started, 1))
            beats += 1
            await asyncio.sleep(0.25)
        assert lock_waiters(built) >= 1, "A's database thread stopped waiting during the hold"
        acked = [f for f in applicant_socket.frames if f.get("id") == "queued"]
        assert [f["type"] for f in acked] == ["ack"], acked
        assert not [f for f in staff_socket.frames if f.get("id") == "blocked"]
        assert not built.scalar("SELECT count(*) FROM consult_connection WHERE id = %s", ghost)
    finally:
        await asyncio.to_thread(lock.rollback)
        await asyncio.to_thread(lock.close)

    # The work queued in A's database thread goes through once the lock is released.
    reply = await staff_socket.wait_for(lambda f: f.get("id") == "blocked", what="blocked")
    assert reply["type"] == "ack", reply
    await counselor.socket.wait_for(has_seq(acked[0]["entry"]["seq"]), what="the message sent")
    assert await asyncio.to_thread(connection_ids, built, server_a) == held
    assert built.scalar("SELECT status FROM consult_staffprofile WHERE id = %s", staff_id) == (
        "available"
    )
    await converse(applicant, counselor, 2, "after")
    assert not lapsed, f"A's heartbeat was seen lapsed {lapsed} s into the hold"

    stored = await transcript(supervisor_http, public_id)
    assert stored["consultation"]["status"] == "active"
    events = [e["event"] for e in stored["entries"] if e["kind"] == "event"]
    assert events == ["joined", "counselor_joined"]
    last = len(stored["entries"])
    expected = [e["client_msg_id"] for e in stored["entries"] if e["kind"] == "message"]
    assert len(expected) == 2 + 1 + 4
    for side in (applicant, counselor):
        await side.socket.wait_for(has_seq(last, public_id), what=f"seq {last} ({side.role})")
        fresh, _ = received(side.frames, public_id)
        got = [e["client_msg_id"] for e in fresh if e["kind"] == "message"]
        assert got == expected, side.role
    print(f"\nheartbeat: live at all {beats} checks over a {HOLD:.0f}s hold of A's database thread")
