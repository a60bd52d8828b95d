"""A consumer stopped past its channel's capacity: the Daphne process serving the counselor is
stopped (SIGSTOP) while the applicant's typing indicator fills the counselor's channel, then the
applicant writes, leaves (the consultation ends) and a new applicant's offer arrives: every one
of those frames is dropped by the full channel. After SIGCONT and the page's next ping the
counselor has every entry of the ended consultation once, sees it ended (not open), and gets the
offer in time to accept it. The sending process logs the overflow once, not once per frame."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import OfficeFactory
from .office import Side, entry_key, ping, received, state_of, transcript

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

CAPACITY = 20  # messages per channel (LOKET_CHANNEL_CAPACITY; 1000 as deployed)
FLOOD = CAPACITY * 3
MESSAGES = 6
STOPPED = 8.0
ENDED = ("ended", "abandoned")


async def test_stopped_consumer_recovers_entries_and_state_after_overflow(
    office: OfficeFactory, shared_redis: str
) -> None:
    built = office(
        shared_redis,
        # A stopped process renews no lease: long enough leases and offers that the pause alone
        # does not count as the process dying.
        LOKET_CONNECTION_LEASE="60",
        LOKET_OFFER_TIMEOUT="60",
        # The applicant's flood of typing frames is let through (the limit is per connection).
        LOKET_FRAME_RATE="5000/10",
        LOKET_CHANNEL_CAPACITY=str(CAPACITY),
    )
    (
        server_a,
        server_b,
        _,
        supervisor_http,
        joined,
        applicant_socket,
        staff_socket,
    ) = await built.chat_across("A")
    public_id = joined["consultation_id"]
    applicant = Side("applicant", applicant_socket, {})
    counselor = Side("counselor", staff_socket, {"consultation_id": public_id})
    for index in range(2):
        await counselor.say(f"c-before-{index}")
        await applicant.say(f"a-before-{index}")
    await staff_socket.wait_for(
        lambda f: f["type"] == "entry" and f["client_msg_id"] == "a-before-1",
        what="the applicant's last message before the stop",
    )

    loop = asyncio.get_running_loop()
    log_offset = len(server_a.log())
    server_b.pause()
    paused_at = loop.time()
    for index in range(FLOOD):
        await applicant_socket.send(type="typing", consultation_id=public_id, active=index % 2 == 0)
    # The applicant's process works through the flood (one channel-layer send per frame).
    assert (await ping(applicant_socket, "ping-flood", timeout=30))["type"] == "pong"
    for index in range(MESSAGES):
        await applicant.say(f"a-stopped-{index}")
    await applicant_socket.request("leave", type="leave")
    await applicant_socket.wait_for(state_of(public_id, *ENDED), what="the end, applicant")
    newcomer = await built.join(server_a, name="Budi")
    newcomer_socket, _ = await built.applicant(server_a, newcomer["token"])
    await newcomer_socket.wait_for(
        lambda f: f["type"] == "entry" and f["event"] == "joined", what="the newcomer's entry"
    )
    # Stopped for at least STOPPED seconds, and until all of the above was sent.
    await asyncio.sleep(max(0.0, paused_at + STOPPED - loop.time()))
    stopped_for = loop.time() - paused_at
    server_b.resume()

    # The page's periodic ping; it and the server's own recovery bring back what was dropped.
    assert (await ping(staff_socket, "ping-after", timeout=30))["type"] == "pong"
    stored = await transcript(supervisor_http, public_id)
    entries = stored["entries"]
    end = stored["consultation"]["status"]
    assert end in ENDED
    await staff_socket.wait_for(
        lambda f: (
            f["type"] == "entry" and f["consultation_id"] == public_id and f["seq"] == len(entries)
        ),
        timeout=15,
        what="the ended consultation's last entry at the counselor",
    )
    await staff_socket.wait_for(
        state_of(public_id, end), timeout=15, what="the end at the counselor"
    )
    await staff_socket.wait_for(
        state_of(newcomer["consultation_id"], "offered"), timeout=15, what="the new offer"
    )
    await staff_socket.request(
        "accept-newcomer", type="offer.accept", consultation_id=newcomer["consultation_id"]
    )
    await newcomer_socket.wait_for(
        lambda f: f["type"] == "entry" and f["event"] == "counselor_joined",
        what="counselor_joined at the newcomer",
    )

    # Every entry of the ended consultation once, in order, as stored; its last state is ended.
    fresh, _ = received(staff_socket.frames, public_id)
    assert [entry_key(e) for e in fresh] == [entry_key(e) for e in entries]
    states: list[dict[str, Any]] = [f for f in staff_socket.frames if state_of(public_id)(f)]
    assert states[-1]["status"] == end, [s["status"] for s in states]
    # The overflow happened, and was logged once rather than per dropped frame.
    overflow = [
        line for line in server_a.log_since(log_offset).splitlines() if "over capacity" in line
    ]
    assert 1 <= len(overflow) <= 2, overflow[:5]
    print(f"\noverflow: counselor's process stopped {stopped_for:.1f}s; {len(overflow)} log lines")
