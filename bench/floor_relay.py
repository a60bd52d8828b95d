"""FLOOR target: a plain asyncio ``websockets`` relay.

Every client connecting to ``/<room>`` joins that room; each text frame a client sends is
forwarded, in order, to every *other* client of the same room. No echo, no persistence, no
channel layer: this is the cheapest possible Python WebSocket relay and the lower bound the
other targets are compared to.

Run: ``python -m bench.floor_relay --host 127.0.0.1 --port 8765``
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from websockets.asyncio.server import ServerConnection, serve

ROOMS: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    room = ws.request.path if ws.request is not None else "/"
    members = ROOMS.setdefault(room, set())
    members.add(ws)
    try:
        async for message in ws:
            if not isinstance(message, str):
                continue
            for peer in tuple(members):
                if peer is not ws:
                    await peer.send(message)
    finally:
        members.discard(ws)
        if not members:
            ROOMS.pop(room, None)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, host, port, compression=None, max_queue=64):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
