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
* ``OncePerPeriod``: a log filter for channels_redis' overflow warnings.

Imports channels, channels_redis and redis only, nothing of Loket.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

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
    """Await one channel-layer operation (a coroutine); False if the layer failed it."""
    try:
        await asyncio.wait_for(operation, SEND_TIMEOUT)
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


class LoketRedisChannelLayer(RedisChannelLayer):
    """channels_redis with a blocking, bounded connection pool and a short retry.

    Extra keys in a ``hosts`` entry (besides ``address`` and redis-py's own connection options):
    ``pool_timeout`` (seconds a command waits for a free pooled connection) and ``retries``
    (how often a command is retried after a connection error, with a short jittered backoff:
    enough to replace a pooled connection a restarted Redis closed, short enough that an outage
    is reported within a second instead of stalling every caller).
    """

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
