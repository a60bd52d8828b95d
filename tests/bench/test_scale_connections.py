"""bench/scale_connections.py: its sockets follow the applicant page's ping rule.

The benchmark's figures are only as good as its emulation of the page, so: the rule's constants
are the page's own (read from static/js/lib/socket.js, none left at the harness's defaults), and a
worker driven against a small WebSocket server on loopback pings when quiet, never has two pings
unanswered, and counts a ping nobody answers as one missed deadline.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from bench import scale_connections as sc


def test_page_constants_are_the_pages():
    text = sc.SOCKET_JS.read_text()
    found = sc.page_constants()
    for name in sc.PAGE_DEFAULTS:
        match = re.search(rf"const {name}\s*=\s*([0-9_]+)\s*;", text)
        assert match, f"{name} is no longer a constant of static/js/lib/socket.js"
        assert found[name] == int(match.group(1).replace("_", ""))


def test_histogram_percentiles_within_one_percent():
    hist: dict[int, int] = {}
    for n in range(1, 1001):
        sc.hist_add(hist, n / 1000)  # 1 ms .. 1000 ms
    summary = sc.hist_summary(hist)
    assert summary["count"] == 1000
    assert abs(summary["p50_ms"] - 500) <= 10
    assert abs(summary["p99_ms"] - 990) <= 20


def test_worker_pings_by_the_page_rule():
    page = {
        **sc.PAGE_DEFAULTS,
        "PING_QUIET_MS": 300,
        "PING_QUIET_WAITING_MS": 300,
        "PING_EVERY_MS": 5000,
        "REPLY_DEADLINE_MS": 500,
        "TICK_MS": 100,
    }
    silent = 99  # this consultation's pings are never answered
    pings: dict[int, int] = {}

    async def handler(ws: ServerConnection) -> None:
        cid = -1
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "auth":
                cid = int(frame["token"])
                await ws.send(json.dumps({"type": "ready"}))
            elif frame["type"] == "ping":
                pings[cid] = pings.get(cid, 0) + 1
                if cid != silent:
                    await ws.send(json.dumps({"type": "pong", "id": frame["id"]}))

    events: list[dict[str, Any]] = []
    run_seconds = 2.0

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            spec = {
                "sockets": [[cid, str(cid), port] for cid in (1, 2, 3, silent)],
                "page": page,
                "concurrency": 4,
                "seed": 0,
            }
            commands = iter([(0.0, "go"), (run_seconds, "stop")])

            async def command() -> str:
                wait, line = next(commands)
                await asyncio.sleep(wait)
                return line

            await sc._worker(spec, command=command, emit=events.append)

    asyncio.run(main())
    ready, result = events
    assert ready["opened"] == 4 and ready["unopened"] == 0
    # Pings at least PING_QUIET_WAITING_MS apart, each after the previous one's pong: at most one
    # at the start of the run and one per quiet period after it.
    most = 1 + int(run_seconds / (page["PING_QUIET_WAITING_MS"] / 1000))
    for cid in (1, 2, 3):
        assert 2 <= pings.get(cid, 0) <= most, pings
    # Never a second ping while one is unanswered; that one is one missed deadline.
    assert pings[silent] == 1
    assert result["deadline_missed_run"] == 1
    assert sc.hist_summary(result["pong_run"])["count"] == sum(pings[c] for c in (1, 2, 3))
