"""Redis stopped for 30 s mid-conversation, then started again empty (no persistence: every group
and queued message is gone), under two Daphne processes.

The database is the source of truth: through the outage both sides' messages are stored and
acked, and each side gets the other's from the database (the server fills the gaps itself, no
client ping needed). Connections stay open, or are resumed by the client as the protocol says
(reconnect with the last sequence number, send again what was not acked). After the restart
nothing is lost or doubled (both clients' entries against the supervisor transcript API), live
delivery works across processes again, and new connections work at the first attempt.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from websockets.exceptions import WebSocketException

from tests.support.live import HttpClient, LiveSocket
from tests.support.servers import DaphneServer, RedisServer

from .conftest import OfficeFactory
from .office import (
    Office,
    Side,
    contiguous_seq,
    converse,
    entry_key,
    has_seq,
    received,
    state_of,
    transcript,
)

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

OUTAGE = 30.0
MESSAGES_IN_OUTAGE = 5  # per side, spread over the first two thirds of the outage
# At most this many log lines per process for the whole outage and recovery ("say it once").
LOG_LINES = 40
ACCESS_LINE = re.compile(r"^\S+:\d+ - - \[")


class Participant(Side):
    """A side that resumes as a client must when its socket closes: reconnect with the last
    sequence number it has, and send again what was not acknowledged."""

    def __init__(
        self,
        role: str,
        socket: LiveSocket,
        ref: dict[str, str],
        reopen: Any,
        public_id: str,
    ) -> None:
        super().__init__(role, socket, ref)
        self.reopen = reopen
        self.public_id = public_id
        self.reconnects = 0

    async def ensure_open(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while self.socket.closed is not None:
            if loop.time() > deadline:
                raise AssertionError(f"{self.role} could not reconnect: {self.socket.closed!r}")
            try:
                socket = await self.reopen(contiguous_seq(self.frames, self.public_id))
            except (OSError, AssertionError, TimeoutError, WebSocketException):
                await asyncio.sleep(0.5)
                continue
            self.sockets.append(socket)
            self.reconnects += 1

    async def say_acked(self, client_msg_id: str, within: float = 10) -> dict[str, Any]:
        """Send until acked (the same frame again after a reconnect), within ``within`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        frame = self.compose(client_msg_id)
        attempt = 0
        while True:
            await self.ensure_open(deadline)
            attempt += 1
            request_id = f"req-{client_msg_id}-{attempt}"
            socket = self.socket
            await socket.send(id=request_id, **frame)
            try:
                reply = await socket.wait_for(
                    lambda f, rid=request_id: f.get("id") == rid and f["type"] in ("ack", "error"),
                    timeout=max(0.1, deadline - loop.time()),
                    what=f"reply to {request_id}",
                )
            except AssertionError:
                if socket.closed is None or loop.time() > deadline:
                    raise
                continue
            assert reply["type"] == "ack", reply
            return reply


async def open_applicant(office: Office, server: DaphneServer, token: str, last_seq: int) -> Any:
    socket, _ = await office.applicant(server, token, last_seq)
    return socket


async def open_counselor(
    office: Office, server: DaphneServer, client: HttpClient, public_id: str, last_seq: int
) -> Any:
    socket, _ = await office.staff(server, client)
    await socket.request("resume", type="resume", consultation_id=public_id, last_seq=last_seq)
    return socket


async def test_redis_down_for_30s_loses_nothing_and_recovers(
    office: OfficeFactory, own_redis: RedisServer
) -> None:
    built = office(own_redis.url)
    (
        server_a,
        server_b,
        counselor_http,
        supervisor_http,
        joined,
        applicant_socket,
        staff_socket,
    ) = await built.chat_across()
    public_id = joined["consultation_id"]
    applicant = Participant(
        "applicant",
        applicant_socket,
        {},
        lambda seq: open_applicant(built, server_a, joined["token"], seq),
        public_id,
    )
    counselor = Participant(
        "counselor",
        staff_socket,
        {"consultation_id": public_id},
        lambda seq: open_counselor(built, server_b, counselor_http, public_id, seq),
        public_id,
    )
    await converse(applicant, counselor, 3, "before")

    loop = asyncio.get_running_loop()
    offsets = {server.name: len(server.log()) for server in (server_a, server_b)}
    await asyncio.to_thread(own_redis.stop)
    stopped_at = loop.time()

    # Through the outage each side writes, one message every few seconds, each acked in time.
    async def write(side: Participant) -> None:
        for index in range(MESSAGES_IN_OUTAGE):
            await side.say_acked(f"{side.role[0]}-outage-{index}")
            await asyncio.sleep(OUTAGE * 0.6 / MESSAGES_IN_OUTAGE)

    await asyncio.gather(write(applicant), write(counselor))
    stored_in_outage = int(
        built.scalar("SELECT last_seq FROM consult_consultation WHERE public_id = %s", public_id)
    )
    # ...and each gets the other's from the database while Redis is still down.
    for side in (applicant, counselor):
        await side.socket.wait_for(
            has_seq(stored_in_outage, public_id),
            timeout=max(1.0, stopped_at + OUTAGE - 1 - loop.time()),
            what=f"seq {stored_in_outage} on the {side.role}'s side during the outage",
        )
    assert loop.time() - stopped_at < OUTAGE, "the outage phase overran"
    await asyncio.sleep(stopped_at + OUTAGE - loop.time())

    await asyncio.to_thread(own_redis.start)
    restarted_at = loop.time()

    # New connections work at the first attempt, on both processes: a counselor's second tab
    # on A, and a new applicant whose offer must reach the counselor's sockets.
    second_tab, _ = await built.staff(server_a, counselor_http)
    newcomer = await built.join(server_b, name="Budi")
    newcomer_socket, newcomer_ready = await built.applicant(server_b, newcomer["token"])
    assert [c["status"] for c in newcomer_ready["consultations"]] in (["waiting"], ["offered"])
    await counselor.ensure_open(loop.time() + 10)
    await counselor.socket.wait_for(
        state_of(newcomer["consultation_id"], "offered"), what="the newcomer's offer"
    )
    await second_tab.wait_for(
        state_of(newcomer["consultation_id"], "offered"), what="the offer on the second tab"
    )
    await counselor.socket.request(
        "accept-newcomer", type="offer.accept", consultation_id=newcomer["consultation_id"]
    )
    await newcomer_socket.wait_for(
        lambda f: f["type"] == "entry" and f["event"] == "counselor_joined",
        what="counselor_joined at the newcomer",
    )
    recovered_after = loop.time() - restarted_at

    # Live delivery across the two processes works again.
    await applicant.ensure_open(loop.time() + 10)
    for index in range(3):
        sent = await counselor.say_acked(f"c-after-{index}")
        await applicant.socket.wait_for(has_seq(sent["entry"]["seq"], public_id), timeout=5)
        sent = await applicant.say_acked(f"a-after-{index}")
        await counselor.socket.wait_for(has_seq(sent["entry"]["seq"], public_id), timeout=5)

    stored = await transcript(supervisor_http, public_id)
    entries = stored["entries"]
    last = len(entries)
    for side in (applicant, counselor):
        await side.socket.wait_for(has_seq(last, public_id), what=f"seq {last} at {side.role}")

    # The record: gapless, every message once, in each author's order.
    assert [e["seq"] for e in entries] == list(range(1, last + 1))
    for side in (applicant, counselor):
        mine = [e["client_msg_id"] for e in entries if e["author_role"] == side.role]
        assert mine == side.sent, side.role
    assert len(applicant.sent) == len(counselor.sent) == 3 + MESSAGES_IN_OUTAGE + 3
    assert stored["consultation"]["status"] == "active"

    # Each side: every entry exactly once, in order, as stored.
    expected = [entry_key(e) for e in entries]
    for side in (applicant, counselor):
        fresh, repeats = received(side.frames, public_id)
        assert [entry_key(e) for e in fresh] == expected, side.role
        for entry in repeats:
            assert entry_key(entry) == expected[entry["seq"] - 1], side.role

    # The logs say it once per outage, not per frame.
    for server in (server_a, server_b):
        written = server.log_since(offsets[server.name])
        # Daphne's access lines (one per request or socket) are not the application's logging.
        logged = [line for line in written.splitlines() if not ACCESS_LINE.match(line)]
        assert len(logged) <= LOG_LINES, written[-5000:]
        assert written.count("Traceback") <= 1, written[-5000:]

    print(
        f"\nredis outage: reconnects applicant {applicant.reconnects}, counselor "
        f"{counselor.reconnects}; recovered {recovered_after:.1f}s after the restart; "
        f"{last} entries"
    )
