"""The Redis channel layer as Loket configures it, and a log filter for its overflow warnings.

channels_redis builds a plain ``redis.asyncio.ConnectionPool`` from each ``hosts`` entry, passing
the entry's keys to redis-py unchanged. Loket needs two things that cannot be said that way: a
pool that makes a burst of commands wait for a free connection instead of failing (a 200-socket
reconnect storm ran into redis-py's default bound of 100 with ``MaxConnectionsError``), and a
retry policy object. Both are built here from plain values in ``CHANNEL_LAYERS``.
"""

from __future__ import annotations

import logging
import threading
import time

from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class LoketRedisChannelLayer(RedisChannelLayer):
    """channels_redis with a blocking, bounded connection pool and a short retry.

    Extra keys in a ``hosts`` entry (besides ``address`` and redis-py's own connection options):
    ``pool_timeout`` (seconds a command waits for a free pooled connection) and ``retries``
    (how often a command is retried after a connection error, with a short jittered backoff:
    enough to replace a pooled connection a restarted Redis closed, short enough that an outage
    is reported within a second instead of stalling every caller).
    """

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
