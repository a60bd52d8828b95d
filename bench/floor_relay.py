"""FLOOR target: a plain asyncio ``websockets`` relay.

Every client connecting to ``/<room>`` joins that room; each text frame a client sends is
forwarded, in order, to every *other* client of the same room. No echo, no persistence, no
channel layer: this is the cheapest possible Python WebSocket relay and the lower bound the
other targets are compared to.

With ``--database-url`` (the ``floor_db`` target of ``bench/relay.py``) each frame is first
stored durably: one ``INSERT`` in autocommit on PostgreSQL (its own transaction, so the commit
waits for the WAL flush; ``synchronous_commit`` is set on explicitly), and forwarded only after
it returned. That is the physical floor of a relay that stores every message before anyone sees
it: one round trip and one disk flush per message, nothing else. A client's frames are stored
and forwarded one after the other (in order); different clients use a small pool of database
connections (``--db-pool``), so their commits can share a flush as PostgreSQL allows.

Run: ``python -m bench.floor_relay --host 127.0.0.1 --port 8765 [--database-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

ROOMS: dict[str, set[ServerConnection]] = {}
TABLE = "bench_floor_message"


class Store:
    """A fixed pool of autocommit connections; ``insert`` stores one message durably."""

    def __init__(self) -> None:
        self.pool: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self, url: str, size: int) -> None:
        import psycopg  # only this mode needs it

        for n in range(size):
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
            await conn.execute("SET synchronous_commit = on")
            if n == 0:
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} "
                    "(id bigserial PRIMARY KEY, room text NOT NULL, body text NOT NULL, "
                    "stored_at timestamptz NOT NULL DEFAULT now())"
                )
                await conn.execute(f"TRUNCATE {TABLE}")
            self.pool.put_nowait(conn)

    async def insert(self, room: str, body: str) -> None:
        conn = await self.pool.get()
        try:
            await conn.execute(f"INSERT INTO {TABLE} (room, body) VALUES (%s, %s)", (room, body))
        finally:
            self.pool.put_nowait(conn)

    async def close(self) -> None:
        while not self.pool.empty():
            await self.pool.get_nowait().close()


STORE: Store | None = None


async def handler(ws: ServerConnection) -> None:
    room = ws.request.path if ws.request is not None else "/"
    members = ROOMS.setdefault(room, set())
    members.add(ws)
    try:
        async for message in ws:
            if not isinstance(message, str):
                continue
            if STORE is not None:
                await STORE.insert(room, message)
            for peer in tuple(members):
                if peer is not ws:
                    await peer.send(message)
    finally:
        members.discard(ws)
        if not members:
            ROOMS.pop(room, None)


async def main(host: str, port: int, database_url: str | None = None, db_pool: int = 8) -> None:
    global STORE
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    if database_url:
        STORE = Store()
        await STORE.open(database_url, db_pool)
    try:
        async with serve(handler, host, port, compression=None, max_queue=64):
            await stop
    finally:
        if STORE is not None:
            await STORE.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", help="store each message durably first (PostgreSQL)")
    parser.add_argument("--db-pool", type=int, default=8, help="database connections (8)")
    args = parser.parse_args()
    if not 1 <= args.db_pool <= 64:
        parser.error("--db-pool 1..64")
    asyncio.run(main(args.host, args.port, args.database_url, args.db_pool))
