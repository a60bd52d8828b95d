"""Redis holds every write (``CLIENT PAUSE ... WRITE``) while an applicant chats.

* Counselor on another Daphne process: the messages are stored and acked at once, because the
  database thread only hands the group sends to the process's sender
  (consult/events/sender.py) and never waits for the layer; the push to the other process is
  held by Redis, and when the pause ends the counselor gets each message live, once and in
  order. (Before the sender, the database thread sent from the commit callback and waited for
  Redis, so no ack came until the pause ended: this test failed.)
* Counselor on the same process: each message reaches it during the pause, because a process
  delivers to its own sockets without Redis (``LoketRedisChannelLayer.deliver_local``). (With
  channels_redis' own group send every message waited for Redis: this test failed.)

On a redis-server of the test's own (pausing the shared one would pause every other test).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from tests.support.live import LiveSocket
from tests.support.servers import RedisServer

from .conftest import OfficeFactory
from .office import ping

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

MESSAGES = 4
# Longer than the test needs: the pause is ended by CLIENT UNPAUSE as soon as the acks are in.
# Should an ack not come, Redis ends the pause itself before the test's own timeouts.
PAUSE_MS = 20_000
# The acks must all arrive well inside the layer's send bound (consult.events.layer.SEND_TIMEOUT,
# 3 s): a send held that long is given up, which is what a waiting database thread would show.
ACK_WITHIN = 2.0


def entries(frames: list[dict[str, Any]], public_id: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "entry" and f["consultation_id"] == public_id]


async def _chat_during_pause(
    url: str, applicant: LiveSocket, counselor: LiveSocket, public_id: str, *, local: bool
) -> list[int]:
    """Send MESSAGES chat messages while Redis holds writes; their seqs. ``local``: the
    counselor must get each of them during the pause (else: none of them)."""
    control = redis.Redis.from_url(url)
    loop = asyncio.get_running_loop()
    seen_before = len(entries(counselor.frames, public_id))
    try:
        assert control.execute_command("CLIENT", "PAUSE", str(PAUSE_MS), "WRITE")
        paused_at = loop.time()
        acks = []
        for index in range(1, MESSAGES + 1):
            ack = await applicant.request(
                f"m-{index}",
                timeout=ACK_WITHIN,
                type="chat.send",
                client_msg_id=f"m-{index}",
                text=f"pesan {index} selama jeda",
            )
            acks.append(ack)
            if local:
                await counselor.wait_for(
                    lambda f, seq=ack["entry"]["seq"]: f["type"] == "entry" and f["seq"] == seq,
                    what=f"message {index} during the pause",
                    timeout=ACK_WITHIN,
                )
        acked_in = loop.time() - paused_at
        if not local:
            # The group sends are still held by Redis: nothing new has reached the counselor.
            assert len(entries(counselor.frames, public_id)) == seen_before
    finally:
        control.execute_command("CLIENT", "UNPAUSE")
        control.close()
    assert acked_in < ACK_WITHIN, acked_in
    return [ack["entry"]["seq"] for ack in acks]


async def _each_once_in_order(counselor: LiveSocket, public_id: str, seqs: list[int]) -> None:
    assert seqs == list(range(seqs[0], seqs[0] + MESSAGES))
    await counselor.wait_for(
        lambda f: f["type"] == "entry" and f.get("seq") == seqs[-1],
        what="the last message sent during the pause",
    )
    # Delivered live (the layer, not a resync: no ping was sent), in order; a ping then finds
    # nothing missing, and nothing came twice.
    await ping(counselor, "p-after")
    every = [e["seq"] for e in entries(counselor.frames, public_id)]
    assert [seq for seq in every if seq in seqs] == seqs
    assert len(every) == len(set(every))
    texts = [e["text"] for e in entries(counselor.frames, public_id) if e["seq"] in seqs]
    assert texts == [f"pesan {i} selama jeda" for i in range(1, MESSAGES + 1)]


async def _first_message(applicant: LiveSocket, counselor: LiveSocket) -> None:
    # Live delivery works before the pause (and the counselor has everything so far).
    first = await applicant.request(
        "m-0", type="chat.send", client_msg_id="m-0", text="sebelum jeda"
    )
    await counselor.wait_for(
        lambda f: f["type"] == "entry" and f.get("seq") == first["entry"]["seq"],
        what="the message sent before the pause",
    )


@pytest.mark.parametrize(
    "local", [False, True], ids=["counselor-on-another-process", "counselor-on-the-same-process"]
)
async def test_each_message_is_acked_and_delivered_once_in_order_while_redis_holds_writes(
    office: OfficeFactory, own_redis: RedisServer, local: bool
) -> None:
    built = office(own_redis.url)
    counselor_name = built.create_staff("counselor")
    servers = built.start("A") if local else built.start("A", "B")
    applicant_on, counselor_on = servers[0], servers[-1]
    counselor_http = await built.login(counselor_on, counselor_name)
    joined, applicant, counselor = await built.accepted(applicant_on, counselor_on, counselor_http)
    public_id = joined["consultation_id"]
    await _first_message(applicant, counselor)
    seqs = await _chat_during_pause(own_redis.url, applicant, counselor, public_id, local=local)
    await _each_once_in_order(counselor, public_id, seqs)
