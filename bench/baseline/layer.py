"""The BASELINE's channel layer: the core Redis layer with a blocking, bounded connection pool.

With the stock pool, 100 concurrent conversations (``bench/relay.py --conversations 100``) on a
loaded machine fail in the baseline with redis-py's ``MaxConnectionsError`` ("Too many
connections") and the consumer closes 1011. Loket's own layer waits for a free pooled connection
instead (``consult/events/layer.py``), so the baseline gets the same pool (50 connections, a
command waits up to 5 s for one); one conversation never needs more than a few. And the same
socket read timeout (15 s): redis-py 8's default (5 s) equals the layer's blocking pop, so an idle
consumer's receive times out and closes it 1011 (Loket's settings say the same). Nothing else
changes: no retry, no breaker, no application code.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

MAX_CONNECTIONS = 50
POOL_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


class BlockingPoolLayer(RedisChannelLayer):
    def create_pool(self, index: int) -> BlockingConnectionPool:
        host = dict(self.hosts[index])
        address = host.pop("address")
        host.setdefault("socket_timeout", READ_TIMEOUT)
        return BlockingConnectionPool.from_url(
            address, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT, **host
        )
