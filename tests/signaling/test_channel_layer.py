"""The real ASGI app on the real Redis channel layer: idle sockets, a Redis outage, recovery.

The outage tests start their own redis-server on a free port (the shared one is never stopped)
and point the channel layer at it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from consult.events import layer as events
from consult.models import Connection, TranscriptEntry
from tests.support.applicants import join
from tests.support.needs import missing, redis_url
from tests.support.sockets import (
    Ws,
    accepted,
    applicant_ws,
    close_code,
    counselor_and_applicant,
    drain,
    staff_ws,
)
from tests.support.staff import make_staff, make_topic

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

# channels_redis waits this long in one blocking pop (RedisChannelLayer.brpop_timeout).
BLOCKING_POP = 5


@pytest.fixture(autouse=True)
def _fresh_health(monkeypatch: pytest.MonkeyPatch) -> None:
    # The layer's health is per process; every test starts with a healthy layer.
    if hasattr(events, "LayerHealth"):
        monkeypatch.setattr(events, "layer_health", events.LayerHealth())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server of this test only, without persistence (a restart forgets everything)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            ["redis-server", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(settings: Any) -> Iterator[RedisServer]:
    redis_url()  # the suite's Redis settings (REDIS_URL) are the ones under test
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed")
    server = RedisServer(_free_port())
    server.start()
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    hosts = layers["default"]["CONFIG"]["hosts"]
    url = f"redis://127.0.0.1:{server.port}/0"
    hosts[0] = {**hosts[0], "address": url} if isinstance(hosts[0], dict) else url
    settings.CHANNEL_LAYERS = layers
    settings.LOKET = {**settings.LOKET, "LAYER_POLL": 0.5}
    yield server
    server.stop()


async def _pair() -> tuple[Ws, Ws, dict[str, Any], Any]:
    _, staff, joined = await counselor_and_applicant()
    applicant, counselor = await accepted(staff, joined)
    return applicant, counselor, joined, staff


async def _say(ws: Ws, text: str, cid: str | None = None) -> dict[str, Any]:
    extra = {"consultation_id": cid} if cid else {}
    await ws.send(id=text, type="chat.send", client_msg_id=text, text=text, **extra)
    return await ws.recv_until("ack", id=text, timeout=10)


@sync_to_async
def _stored(text: str) -> int:
    return TranscriptEntry.objects.filter(text=text).count()


@sync_to_async
def _connection_rows() -> int:
    return Connection.objects.count()


async def _eventually(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.1)


async def _layer_down() -> bool:
    return events.layer_health.down


async def _typing_reaches(sender: Ws, receiver: Ws, timeout: float = 15) -> dict[str, Any]:
    """Send typing until ``receiver`` gets it (typing is only ever delivered by the layer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await sender.send(type="typing", active=True)
        # receive_nothing waits without cancelling the application (a receive timeout would).
        while not await receiver.nothing(0.5):
            frame = await receiver.recv()
            if frame["type"] == "typing":
                return frame
    raise AssertionError("typing never arrived: the receiver did not (re-)join its groups")


async def test_an_idle_counselor_socket_outlives_the_layers_blocking_pop() -> None:
    """redis-py 8 reads with a 5 s timeout by default, exactly channels_redis' blocking pop:
    without Loket's socket timeout the idle receive timed out and the socket closed with 1011."""
    redis_url()
    topic = await sync_to_async(make_topic)()
    staff = await sync_to_async(make_staff)("sari", topics=[topic])
    counselor = await staff_ws(staff)
    await drain(counselor)
    # The silence is the behaviour under test: longer than one blocking pop, nothing sent.
    await asyncio.sleep(BLOCKING_POP + 2)
    await counselor.send(id="s", type="status.set", status="available")
    await counselor.recv_until("ack", id="s", timeout=5)
    # Published through the layer to this counselor's group, so the receive is still alive.
    status = await counselor.recv_until("counselor.status", timeout=5)
    assert status["status"] == "available"
    await counselor.close()


async def test_an_unauthenticated_socket_is_closed_by_the_auth_timeout_not_by_redis(
    settings: Any,
) -> None:
    """It used to be closed with 1011 at ~6 s (the idle receive timing out), not 4408."""
    redis_url()
    settings.LOKET = {**settings.LOKET, "AUTH_TIMEOUT": BLOCKING_POP + 3}
    ws = Ws("/ws/applicant/")
    await ws.connect()
    started = time.monotonic()
    assert await close_code(ws, timeout=BLOCKING_POP + 10) == 4408
    assert time.monotonic() - started >= BLOCKING_POP + 2


async def test_a_socket_closed_while_redis_is_down_leaves_no_connection_row(
    own_redis: RedisServer,
) -> None:
    topic = await sync_to_async(make_topic)()
    staff = await sync_to_async(make_staff)("sari", topics=[topic])
    counselor = await staff_ws(staff)
    assert await _connection_rows() == 1
    own_redis.stop()
    await counselor.close()

    async def no_rows() -> bool:
        return await _connection_rows() == 0

    await _eventually(no_rows)


async def test_chat_is_stored_acked_and_delivered_from_the_database_while_redis_is_down(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="consult.events")
    applicant, counselor, joined, _ = await _pair()
    cid = joined["consultation_id"]
    own_redis.stop()
    # Both sockets are on this process, which delivers to its own sockets without Redis: it is
    # their receive from Redis that notices the outage (within its retry), and from then on
    # they are also served from the database.
    await _eventually(_layer_down)

    ack = await _say(applicant, "selama redis mati")
    assert ack["duplicate"] is False
    assert await _stored("selama redis mati") == 1
    entry = await counselor.recv_until("entry", timeout=10, text="selama redis mati")
    assert entry["seq"] == ack["entry"]["seq"]
    await _say(counselor, "dijawab dari database", cid)
    await applicant.recv_until("entry", timeout=10, text="dijawab dari database")

    own_redis.start()
    # Typing is never stored: it is delivered by the layer only (here from this process's own
    # group members, which the restarted, empty Redis does not know until the sockets re-join).
    typing = await _typing_reaches(applicant, counselor)
    assert typing["role"] == "applicant"
    await _say(applicant, "redis kembali")
    await counselor.recv_until("entry", timeout=5, text="redis kembali")

    outages = [r for r in caplog.records if "unavailable" in r.getMessage()]
    recoveries = [r for r in caplog.records if "back after" in r.getMessage()]
    assert (len(outages), len(recoveries)) == (1, 1), [r.getMessage() for r in caplog.records]
    assert all(r.exc_info is None for r in caplog.records)
    await applicant.close()
    await counselor.close()


async def test_state_changes_and_new_sockets_work_while_redis_is_down(
    own_redis: RedisServer,
) -> None:
    applicant, counselor, joined, staff = await _pair()
    cid = joined["consultation_id"]
    own_redis.stop()

    # A new socket opens although its groups cannot be joined.
    second = await staff_ws(staff)
    await drain(second)
    await counselor.send(id="end", type="consultation.end", consultation_id=cid, reason="done")
    await counselor.recv_until("ack", id="end", timeout=10)
    ended = await applicant.recv_until("consultation.state", timeout=10, status="ended")
    assert ended["version"] > 0
    await second.recv_until("consultation.state", timeout=10, status="ended")

    # A new applicant waits in the queue; the counselor, available, gets its offer from the
    # database (the offer frame was never published).
    await counselor.send(id="avail", type="status.set", status="available")
    await counselor.recv_until("ack", id="avail", timeout=10)
    other = await sync_to_async(join)()
    waiting = await applicant_ws(other)
    offer = await counselor.recv_until(
        "consultation.state", timeout=10, consultation_id=other["consultation_id"]
    )
    assert offer["status"] == "offered"
    await counselor.send(id="acc", type="offer.accept", consultation_id=other["consultation_id"])
    await counselor.recv_until("ack", id="acc", timeout=10)
    await waiting.recv_until("consultation.state", timeout=10, status="active")

    own_redis.start()
    # The sockets that connected during the outage join their groups on recovery: a live-only
    # frame (typing) reaches them.
    await _typing_reaches(waiting, second)
    for ws in (applicant, counselor, second, waiting):
        await ws.close()


def _commands(port: int) -> dict[str, int]:
    """Calls per command so far on the test's own redis-server (INFO commandstats)."""
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_a_group_send_to_this_processs_channels_arrives_without_a_redis_push(
    own_redis: RedisServer,
) -> None:
    """Both members receive on this process: each gets the message (a copy of its own) at once,
    also the one whose receive is the instance's pop from Redis, and nothing is pushed to
    Redis for them (no EVAL, no ZADD to a channel). A message from Redis still arrives."""
    channel_layer = get_channel_layer()
    assert isinstance(channel_layer, events.LoketRedisChannelLayer)
    first, second = await channel_layer.new_channel(), await channel_layer.new_channel()
    for channel in (first, second):
        await channel_layer.group_add("local-test", channel)
    receiving = [asyncio.ensure_future(channel_layer.receive(c)) for c in (first, second)]
    await asyncio.sleep(0.2)  # both waiting, one of them on the pop from Redis
    before = _commands(own_redis.port)
    await channel_layer.group_send("local-test", {"type": "test.hello", "items": [1]})
    done, _ = await asyncio.wait(receiving, timeout=1)
    after = _commands(own_redis.port)
    assert len(done) == 2
    got = [task.result() for task in receiving]
    assert got == [{"type": "test.hello", "items": [1]}] * 2
    got[0]["items"].append(2)
    assert got[1]["items"] == [1]
    pushed = {name: after.get(name, 0) - before.get(name, 0) for name in ("eval", "zadd")}
    assert pushed == {"eval": 0, "zadd": 0}, after

    # A message that comes through Redis (channels_redis' own send, as another process sends)
    # is received as before.
    receiving_again = asyncio.ensure_future(channel_layer.receive(first))
    await RedisChannelLayer.send(channel_layer, first, {"type": "test.remote"})
    assert await asyncio.wait_for(receiving_again, 5) == {"type": "test.remote"}
    for channel in (first, second):
        await channel_layer.group_discard("local-test", channel)


async def test_two_layers_of_one_process_keep_their_groups_and_a_full_local_channel_refuses(
    own_redis: RedisServer,
) -> None:
    """Two layers of one process (another alias, another prefix) each deliver a group send only
    to their own members, even of a group with the same name; a ``send`` to a local channel at
    capacity raises ``ChannelFull`` (as channels_redis' does) and drops nothing already in it."""
    channel_layer = get_channel_layer()
    assert isinstance(channel_layer, events.LoketRedisChannelLayer)
    config = copy.deepcopy(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    other = events.LoketRedisChannelLayer(**{**config, "prefix": "other", "capacity": 2})
    mine, theirs = await channel_layer.new_channel(), await other.new_channel()
    await channel_layer.group_add("same-name", mine)
    await other.group_add("same-name", theirs)
    receiving = [
        asyncio.ensure_future(channel_layer.receive(mine)),
        asyncio.ensure_future(other.receive(theirs)),
    ]
    await asyncio.sleep(0.2)
    await channel_layer.group_send("same-name", {"type": "test.mine"})
    await other.group_send("same-name", {"type": "test.theirs"})
    got = await asyncio.wait_for(asyncio.gather(*receiving), 5)
    assert got == [{"type": "test.mine"}, {"type": "test.theirs"}]
    # Neither got the other layer's message.
    for layer_, channel in ((channel_layer, mine), (other, theirs)):
        extra = asyncio.ensure_future(layer_.receive(channel))
        done, _ = await asyncio.wait({extra}, timeout=0.5)
        assert not done, extra.result()
        extra.cancel()
        await asyncio.wait({extra})

    await other.send(theirs, {"type": "test.one"})
    await other.send(theirs, {"type": "test.two"})
    with pytest.raises(ChannelFull):
        await other.send(theirs, {"type": "test.three"})
    # Through the breaker, a full channel is a refusal by a working layer, not an outage.
    assert await events.layer_call(other.send(theirs, {"type": "test.three"})) is False
    assert not events.layer_health.down
    assert await asyncio.wait_for(other.receive(theirs), 5) == {"type": "test.one"}
    assert await asyncio.wait_for(other.receive(theirs), 5) == {"type": "test.two"}
    await channel_layer.group_discard("same-name", mine)
    await other.group_discard("same-name", theirs)
