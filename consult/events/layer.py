"""The channel layer itself: whether this process can reach it, and the Redis layer as configured.

* ``LayerHealth`` (one per process, ``layer_health``): a circuit breaker over every layer
  operation; ``layer_call`` bounds one operation and reports to it, ``layer_probe`` asks
  whether a layer that failed answers again.
* ``LoketRedisChannelLayer``: channels_redis builds a plain ``redis.asyncio.ConnectionPool`` from
  each ``hosts`` entry, passing the entry's keys to redis-py unchanged. Loket needs two things
  that cannot be said that way: a pool that makes a burst of commands wait for a free connection
  instead of failing (a 200-socket reconnect storm ran into redis-py's default bound of 100 with
  ``MaxConnectionsError``), and a retry policy object. Both are built here from plain values in
  ``CHANNEL_LAYERS``.
  It also delivers a send to a channel of this process without Redis (see its docstring).
* ``OncePerPeriod``: a log filter for channels_redis' overflow warnings.

Imports channels, channels_redis and redis only, nothing of Loket.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from channels_redis.core import ChannelLock, RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
# channels_redis' own logger, for its overflow line (settings rate-limit it by this name).
overflow_log = logging.getLogger("channels_redis.core")

# A group send normally takes a millisecond; one that has not finished in this long is given up,
# so a Redis that hangs (rather than refuses) does not hold up the database thread behind it.
SEND_TIMEOUT = 3.0
# After a failed send, sends are skipped this long before one is tried again.
BREAKER_SECONDS = 5.0
# Probing whether the layer is back: at most once this often per process.
PROBE_INTERVAL = 1.0
PROBE_GROUP = "loket.probe"


class LayerHealth:
    """Whether this process can reach the channel layer: one per process, shared by threads.

    The first failure opens an outage (logged once, without a traceback); while it lasts,
    publishers skip their sends (a circuit breaker: one send is tried again every
    ``BREAKER_SECONDS``) and consumers deliver from the database. The first success closes it
    (logged once, with how long it lasted) and ``outage`` counts up, which tells every degraded
    consumer of this process to re-join its groups.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.outage = 0
        self.last_probe = 0.0
        # Called (from any thread) when an outage opens: consumers that have not hit the failure
        # themselves must still re-join later, since a restarted Redis forgets every group.
        self.listeners: list[Any] = []

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        """A layer operation failed: open an outage if none is open."""
        now = time.monotonic()
        with self._lock:
            self.retry_at = now + BREAKER_SECONDS
            if self.down_since is not None:
                return
            self.down_since = now
            self.outage += 1
        for listener in list(self.listeners):
            listener()
        log.warning(
            "channel layer unavailable (%s); connections stay open and are served from the "
            "database until it is back",
            type(exc).__name__,
        )

    def succeeded(self) -> None:
        """A layer operation worked: close the outage if one is open."""
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            log.warning(
                "channel layer back after %.1f s; connections re-join their groups",
                time.monotonic() - since,
            )

    def may_try(self) -> bool:
        """Whether a publisher should try the layer now (closed breaker, or its retry is due)."""
        if self.down_since is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self.retry_at:
                return False
            # Half-open: this caller tries; the others keep skipping until it reports.
            self.retry_at = now + BREAKER_SECONDS
            return True


layer_health = LayerHealth()


async def layer_call(operation: Any) -> bool:
    """Await one channel-layer operation (a coroutine); False if the layer failed or refused
    it. A send refused because the channel is full (``ChannelFull``) is the layer working, not
    an outage: False, and the breaker hears of a success."""
    try:
        await asyncio.wait_for(operation, SEND_TIMEOUT)
    except ChannelFull:
        layer_health.succeeded()
        return False
    except Exception as exc:
        layer_health.failed(exc)
        return False
    layer_health.succeeded()
    return True


async def layer_probe(channel_name: str) -> bool:
    """Whether the layer answers again (a harmless group discard), at most once a second."""
    if not layer_health.down:
        return True
    layer = get_channel_layer()
    now = time.monotonic()
    if layer is None or now - layer_health.last_probe < PROBE_INTERVAL:
        return False
    layer_health.last_probe = now
    return await layer_call(layer.group_discard(PROBE_GROUP, channel_name))


# The Redis side of a group send to channels of other processes (one script per shard): for
# each channel key, add the message unless the channel already holds its capacity, and renew
# the key's expiry; the number of channels that were full comes back. The format is
# channels_redis' own (a sorted set per process, scored by time, the message naming its
# channels in ``__asgi_channel__``), so its receivers in other processes read it unchanged.
_PUSH_TO_CHANNELS = """
local full = 0
local n = #KEYS
local now = ARGV[2 * n + 1]
local ttl = ARGV[2 * n + 2]
for i = 1, n do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') >= tonumber(ARGV[n + i]) then
        full = full + 1
    else
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], ttl)
    end
end
return full
"""

# The layer instances of this process by their client prefix, the part of a specific channel's
# name that says which instance receives it ("specific.<client prefix>!<local part>").
_instances: weakref.WeakValueDictionary[str, LoketRedisChannelLayer] = weakref.WeakValueDictionary()
# The groups this process's channels joined, as this process saw it join them (group's Redis
# key -> channel -> when it joined): the local members a group send delivers to without Redis.
# Keyed as Redis keys them, with the layer's prefix, so that two layers of one process (two
# aliases, two prefixes) never deliver into each other's groups of the same name.
_local_members: dict[bytes, dict[str, float]] = {}
# The same, by channel: the local groups (Redis keys) each channel is in (for ``forget``).
_groups_of: dict[str, set[bytes]] = {}


def _leave_locally(key: bytes, channel: str) -> None:
    members = _local_members.get(key)
    if members is not None:
        members.pop(channel, None)
        if not members:
            _local_members.pop(key, None)
    groups = _groups_of.get(channel)
    if groups is not None:
        groups.discard(key)
        if not groups:
            _groups_of.pop(channel, None)


def _owner_of(channel: str) -> LoketRedisChannelLayer | None:
    """The layer instance of this process whose channel ``channel`` is, if any."""
    head, bang, _ = channel.partition("!")
    return _instances.get(head.rpartition(".")[2]) if bang else None


def _failure_retrieved(task: asyncio.Task[None]) -> None:
    # Marks a pop's exception as seen (asyncio logs "never retrieved" otherwise).
    if not task.cancelled():
        task.exception()


class LoketRedisChannelLayer(RedisChannelLayer):
    """channels_redis with a blocking, bounded connection pool and a short retry, and local
    delivery.

    Extra keys in a ``hosts`` entry (besides ``address`` and redis-py's own connection options):
    ``pool_timeout`` (seconds a command waits for a free pooled connection) and ``retries``
    (how often a command is retried after a connection error, with a short jittered backoff:
    enough to replace a pooled connection a restarted Redis closed, short enough that an outage
    is reported within a second instead of stalling every caller).

    **Local delivery.** A group's members are still read from Redis on every group send (the
    group is the whole deployment's), but a member that is a channel of a layer instance of
    this process, receiving on the loop the send runs on, gets the message straight into that
    instance's receive buffer: a copy made by the layer's own serializer, as if it had come
    back from Redis. Only the other processes' members are pushed to Redis. The core layer
    pays eight Redis round trips for a message to one local consumer (four to send: expire,
    members, channel expiry, push; four to receive: blocking pop, backup, backup pop, backup
    clean); this pays one (expire and members, pipelined), and one more per shard holding
    other processes' members (channel expiry and push, pipelined). ``send`` to a local
    channel makes none. Every send from the serving loop to a given local channel takes the
    same path, so what one sender sends to it arrives in the order sent; a send from another
    loop (a thread's ``async_to_sync``) goes through Redis, as from another process.
    Capacity locally is the receive buffer's (``capacity`` messages per channel): a group send
    into a full buffer drops its oldest message (consumers recover it from the database by
    sequence number and version), and a ``send`` to a full local channel raises
    ``ChannelFull``, as channels_redis' own send does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The loop this instance's channels receive on (set by ``receive``): local delivery only
        # from that loop, never into another thread's loop.
        self._home_loop: asyncio.AbstractEventLoop | None = None
        # The one pop from Redis in flight for this instance's channels, and the receivers
        # waiting (by channel) for their buffer to fill.
        self._pop: asyncio.Task[None] | None = None
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._receivers = 0
        _instances[self.client_prefix] = self

    async def receive(self, channel: str) -> Any:
        """The next message of ``channel``: from its buffer, which local sends and this
        instance's one pop from Redis fill.

        channels_redis' own receive lets one caller at a time pop from Redis and does not watch
        that caller's buffer meanwhile, so a message delivered locally to it would wait for the
        next message from Redis. Here the pop is a task of the instance that every receiver
        waits on beside its own buffer: a receiver returns as soon as its buffer has something,
        whoever filled it; a finished pop fills the buffers of the channels its message names
        and the next receiver starts another. A cancelled receiver takes nothing out of its
        buffer, so nothing is lost to it; when the last receiver is cancelled the pop is
        cancelled too, as channels_redis does (what it was popping is in the backup queue once
        the pop returned, and is given back by a later pop; a cancel between the two loses it,
        as in channels_redis, and consumers recover what matters from the database).
        """
        if "!" not in channel:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        real_channel = self.non_local_name(channel)
        assert real_channel.endswith(self.client_prefix + "!"), "Wrong client prefix"
        loop = self._at_home()
        buffer = self.receive_buffer[channel]
        self._receivers += 1
        cancelled = False
        try:
            while buffer.empty():
                pop = self._pop
                if pop is None or pop.done():
                    pop = self._pop = loop.create_task(self._pop_into_buffers(real_channel))
                filled: asyncio.Future[None] = loop.create_future()
                self._waiting.setdefault(channel, []).append(filled)
                try:
                    await asyncio.wait((pop, filled), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiters = self._waiting.get(channel)
                    if waiters is not None and filled in waiters:
                        waiters.remove(filled)
                        if not waiters:
                            del self._waiting[channel]
                if pop.done():
                    if self._pop is pop:
                        self._pop = None
                    failure = None if pop.cancelled() else pop.exception()
                    if failure is not None:
                        # Every waiting receiver raises it: without the traceback of the others.
                        raise failure.with_traceback(None)
            message = buffer.get_nowait()
            if buffer.empty():
                del self.receive_buffer[channel]
            return message
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            self._receivers -= 1
            if self.receive_buffer.get(channel) is buffer and buffer.empty():
                # Nothing left for this receiver (a cancelled one, most likely its consumer
                # ending): its buffer goes, as channels_redis drops it on cancel.
                del self.receive_buffer[channel]
            pop = self._pop
            if cancelled and self._receivers == 0 and pop is not None:
                self._pop = None
                if not pop.cancelling():
                    # Once only: a task that is cancelled twice (here and by a closing loop's
                    # cancel-all) can lose the cancellation in redis-py's read timeout on
                    # Python 3.11 and then pop for ever, and the loop never closes.
                    pop.cancel()

    def _at_home(self) -> asyncio.AbstractEventLoop:
        """The running loop, made this instance's home (where its channels receive)."""
        loop = asyncio.get_running_loop()
        if self._home_loop is not loop:
            # First use, or a new loop (a test's): what waited on the old loop is gone with it,
            # and so are its locks (one held by a pop the old loop never finished would block
            # every pop of the new one).
            self._home_loop, self._pop, self._waiting, self._receivers = loop, None, {}, 0
            self.receive_clean_locks = ChannelLock()
            self.receive_cleaners: list[asyncio.Future[None]] = []
        return loop

    async def _pop_into_buffers(self, real_channel: str) -> None:
        """Pop one message from Redis for this instance's channels and put it in their buffers."""
        task = asyncio.current_task()
        assert task is not None
        # Its failure is read by the receivers waiting on it; when none is left, here.
        task.add_done_callback(_failure_retrieved)
        # channels_redis' receive_single, except that it stops when cancelled: on Python 3.11 a
        # cancel that arrives as redis-py's read timeout expires comes back as an empty pop, and
        # receive_single would pop again for ever (a closing loop then never closes).
        index = self.consistent_hash(real_channel)
        channel_key = self.prefix + real_channel
        await self.receive_clean_locks.acquire(channel_key)
        try:
            content = None
            while content is None:
                if task.cancelling():
                    raise asyncio.CancelledError
                content = await self._brpop_with_clean(
                    index, channel_key, timeout=self.brpop_timeout
                )
            # The message stays in the backup queue until this cleaner removes it.
            cleaner = asyncio.ensure_future(self._clean_receive_backup(index, channel_key))
            self.receive_cleaners.append(cleaner)

            def cleaned(done: asyncio.Future[None], locks: Any = self.receive_clean_locks) -> None:
                if done in self.receive_cleaners:
                    self.receive_cleaners.remove(done)
                locks.release(channel_key)

            cleaner.add_done_callback(cleaned)
        except BaseException:
            self.receive_clean_locks.release(channel_key)
            raise
        message = self.deserialize(content)
        named = message.pop("__asgi_channel__", None)
        for channel in named if isinstance(named, list) else [named]:
            if channel:
                self._put(channel, message)

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        self.receive_buffer[channel].put_nowait(message)
        for filled in self._waiting.pop(channel, ()):
            if not filled.done():
                filled.set_result(None)

    def _local_receiver(self, channel: str) -> LoketRedisChannelLayer | None:
        """The instance of this process that receives ``channel``, if it receives on the running
        loop; None for a channel of another process (or of another loop)."""
        owner = _owner_of(channel)
        if owner is None or owner._home_loop is not asyncio.get_running_loop():
            return None
        return owner

    def _deliver(self, channel: str, payload: bytes) -> bool:
        """Put the message serialised as ``payload`` in ``channel``'s buffer; whether the buffer
        was full (its oldest message is then dropped, and the consumer recovers it from the
        database). Deserialised per receiver: each gets a message of its own, with the types a
        message from Redis has (lists for tuples, and so on)."""
        full = self.receive_buffer[channel].full()
        self._put(channel, self.deserialize(payload))
        return full

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        owner = self._local_receiver(channel)
        if owner is None:
            await super().send(channel, message)
            return
        assert isinstance(message, dict), "message is not a dict"
        if owner.receive_buffer[channel].full():
            # As channels_redis' own send into a channel at capacity: refused, nothing dropped.
            raise ChannelFull()
        owner._deliver(channel, self.serialize(message))

    async def group_add(self, group: str, channel: str) -> None:
        if "!" in channel and self.non_local_name(channel).endswith(self.client_prefix + "!"):
            # A channel of this instance: known locally before Redis knows it, so no send
            # reaches it through Redis first and locally after (a send between the two is
            # delivered locally and found in Redis as a local member, and not pushed there).
            if self._receivers == 0:
                # (Not while channels receive on another loop: a thread's ``async_to_sync``
                # must not move them.)
                self._at_home()
            key = self._group_key(group)
            _local_members.setdefault(key, {})[channel] = time.time()
            _groups_of.setdefault(channel, set()).add(key)
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        _leave_locally(self._group_key(group), channel)
        await super().group_discard(group, channel)

    def forget(self, channel: str) -> None:
        """``channel`` receives no more (its consumer ended, or reads the database instead while
        the layer is down): out of every local group and its buffer dropped, so that nothing is
        delivered locally into it. Redis' memberships are left to ``group_discard`` and to
        Redis' expiry, as before."""
        for key in list(_groups_of.get(channel, ())):
            _leave_locally(key, channel)
        owner = _owner_of(channel)
        if owner is not None:
            owner.receive_buffer.pop(channel, None)
            owner._waiting.pop(channel, None)

    def deliver_local(self, group: str, message: dict[str, Any]) -> int:
        """Deliver ``message`` to the group's members of this process that receive on the
        running loop, without Redis; how many. (Call ``push_remote`` for the others.)"""
        key = self._group_key(group)
        members = _local_members.get(key)
        if not members:
            return 0
        oldest = time.time() - self.group_expiry
        delivered = full = 0
        payload: bytes | None = None
        for channel, joined in list(members.items()):
            if joined < oldest:
                # Expired, as Redis expires a group member (``group_expiry``).
                _leave_locally(key, channel)
                continue
            owner = self._local_receiver(channel)
            if owner is not None:
                if payload is None:
                    payload = self.serialize(message)
                full += owner._deliver(channel, payload)
                delivered += 1
        if full:
            # channels_redis' own line for a send into full channels (rate-limited by name).
            overflow_log.info(
                "%s of %s channels over capacity in group %s", full, len(members), group
            )
        return delivered

    def _is_local_member(self, key: bytes, channel: str) -> bool:
        members = _local_members.get(key)
        if members is None or channel not in members:
            return False
        return self._local_receiver(channel) is not None

    async def push_remote(self, group: str, message: dict[str, Any]) -> None:
        """Send ``message`` through Redis to the group's members that ``deliver_local`` does not
        reach (other processes' channels, or this process's on another loop)."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        reading = connection.pipeline(transaction=False)
        reading.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        reading.zrange(key, 0, -1)
        _, members = await reading.execute()
        remote = [
            channel
            for channel in (raw.decode("utf8") for raw in members)
            if not self._is_local_member(key, channel)
        ]
        if remote:
            await self._push(group, remote, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert self.require_valid_group_name(group), "Group name not valid"
        self.deliver_local(group, message)
        await self.push_remote(group, message)

    async def _push(self, group: str, channels: list[str], message: dict[str, Any]) -> None:
        """Push ``message`` to other processes' ``channels`` through Redis, one pipelined round
        trip per shard (channels_redis' key layout and message format)."""
        by_shard, payloads, capacities = self._map_channel_keys_to_connection(channels, message)
        now = time.time()
        for index, keys in by_shard.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for channel_key in keys:
                pipe.zremrangebyscore(channel_key, min=0, max=int(now) - int(self.expiry))
            pipe.eval(
                _PUSH_TO_CHANNELS,
                len(keys),
                *keys,
                *(payloads[k] for k in keys),
                *(capacities[k] for k in keys),
                now,
                self.expiry,
            )
            full = (await pipe.execute())[-1]
            if full:
                overflow_log.info(
                    "%s of %s channels over capacity in group %s", full, len(channels), group
                )

    async def _clean_receive_backup(self, index: int, channel: str) -> None:
        """channels_redis runs this as a task of its own after each receive, and nobody reads
        its result: when Redis goes away at that moment, asyncio logs a 50-line "Task exception
        was never retrieved" for it. The failure is the outage the breaker already reports; the
        entry left in the backup queue is given back by a later receive, and every consumer
        drops what it has already delivered (by ``seq``, state version or ``as_of``).
        (A private method of channels_redis, pinned to 4.3 in pyproject.toml.)"""
        try:
            await super()._clean_receive_backup(index, channel)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            layer_health.failed(exc)

    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        read_timeout = host.get("socket_timeout")
        if read_timeout is not None and read_timeout <= self.brpop_timeout:
            raise ImproperlyConfigured(
                f"the Redis socket_timeout ({read_timeout} s) must be longer than the layer's "
                f"blocking pop ({self.brpop_timeout} s), or idle receives time out"
            )
        pool_timeout = float(host.pop("pool_timeout", 5))
        retries = int(host.pop("retries", 1))
        retry = Retry(
            ExponentialWithJitterBackoff(cap=0.5, base=0.05),
            retries,
            supported_errors=(RedisConnectionError, RedisTimeoutError),
        )
        return BlockingConnectionPool.from_url(address, timeout=pool_timeout, retry=retry, **host)


class OncePerPeriod(logging.Filter):
    """Let the first record of a logger through per period; count the rest into the next one.

    channels_redis logs "N of M channels over capacity in group G" at INFO for every group send
    into a full channel: a consumer stopped for 8 s produced 3,400 lines. One line per period,
    with how many were held back, says the same.
    """

    def __init__(self, name: str = "", period: float = 60.0) -> None:
        super().__init__(name)
        self.period = float(period)
        self._lock = threading.Lock()
        self._next = 0.0
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return False
            suppressed, self._suppressed = self._suppressed, 0
            self._next = now + self.period
        if suppressed:
            record.msg = f"{record.msg} (and {suppressed} more like it in the last period)"
        return True
