"""A small ASGI application for tests/signaling/test_daphne_server.py, served by the real
``daphne`` command with Loket's server class installed (as config/asgi.py does).

WebSocket paths: ``/ok`` echoes and ends on disconnect; ``/burst`` answers a message "N SIZE"
with N numbered frames of SIZE characters, sent back to back; ``/raise`` fails on its first
message; ``/stuck`` ignores the disconnect and never ends. HTTP ``/count`` answers with the
number of connections the server holds, how many it is still settling, and the classes of the
WebSockets' transports."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from signaling.daphne_server import LoketServer, install

install()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await receive()
        server = LoketServer.current
        body = json.dumps(
            {
                "server": type(server).__name__ if server else None,
                "connections": len(server.connections) if server else -1,
                "settling": len(server.settling) if server else -1,
                "transports": sorted(
                    {
                        type(protocol.transport).__name__
                        for protocol in (server.connections if server else {})
                        if type(protocol).__name__ == "WebSocketProtocol"
                    }
                ),
            }
        ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    path = scope["path"]
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            if path == "/stuck":
                await asyncio.Event().wait()
            return
        if path == "/burst":
            count, size = (int(part) for part in message["text"].split())
            for number in range(count):
                await send({"type": "websocket.send", "text": f"{number:08d}" + "x" * size})
            continue
        if path == "/raise":
            raise RuntimeError("probe failure")
        await send({"type": "websocket.send", "text": message.get("text", "")})
