"""Loket's Daphne server (signaling/daphne_server.py) under the real ``daphne`` command: it still
forgets closed connections, logs a failed application, kills one that does not end after a
disconnect, and closes WebSockets past ``--websocket_timeout``, while its checks look only at
what changed (tests/support/daphne_probe.py is the application)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.servers import ROOT, free_port, process_env

pytestmark = pytest.mark.timeout(90)


class Probe:
    def __init__(self, port: int, log: Path, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.log_path = log
        self.process = process

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def count(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as answer:
            return dict(json.loads(answer.read()))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Probe]:
    port = free_port()
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "--application-close-timeout",
                "2",
                "--websocket_timeout",
                "6",
                "tests.support.daphne_probe:application",
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Probe(port, log, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, server.log()
            with contextlib.suppress(OSError):
                server.count()
                break
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def settled(probe: Probe, connections: int, timeout: float = 10.0) -> dict[str, Any]:
    """Until the server holds ``connections`` (the /count request itself is one of them)."""
    deadline = time.monotonic() + timeout
    while True:
        figures = await asyncio.to_thread(probe.count)
        if figures["connections"] == connections or time.monotonic() > deadline:
            return figures
        await asyncio.sleep(0.2)


async def test_closed_failed_and_stuck_connections_are_settled(probe: Probe) -> None:
    assert (await asyncio.to_thread(probe.count))["server"] == "LoketServer"
    sockets = [await connect(probe.ws("/ok")) for _ in range(30)]
    for ws in sockets:
        await ws.send("hello")
        assert await ws.recv() == "hello"
    held = await settled(probe, 31)
    assert held["connections"] == 31
    for ws in sockets:
        await ws.close()
    # Closed and their applications ended: forgotten within a check or two.
    assert (await settled(probe, 1))["connections"] == 1

    failing = await connect(probe.ws("/raise"))
    await failing.send("boom")
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(failing.recv(), 10)
    stuck = await connect(probe.ws("/stuck"))
    await stuck.close()
    # The stuck application is cancelled once the close timeout (2 s) has passed.
    figures = await settled(probe, 1, timeout=15)
    assert figures == {"server": "LoketServer", "connections": 1, "settling": 0, "transports": []}
    log = probe.log()
    assert "Exception inside application: probe failure" in log
    assert "took too long to shut down and was killed" in log


async def test_the_timeout_sweep_still_closes_websockets_past_their_lifetime(
    probe: Probe,
) -> None:
    ws = await connect(probe.ws("/ok"))
    opened = time.monotonic()
    await ws.send("still here")
    assert await ws.recv() == "still here"
    # --websocket_timeout 6: closed by a sweep (every 2 s) between 6 and about 9 s.
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 15)
    assert 5.5 <= time.monotonic() - opened <= 12


@pytest.mark.parametrize("under_daphne", [True, False])
def test_config_asgi_installs_it_only_for_the_daphne_command(
    tmp_path: Path, under_daphne: bool
) -> None:
    # The daphne command has imported daphne.cli before it loads config.asgi; anything else
    # importing the application (a test, a management command) does not import Loket's server
    # module (which imports Daphne's server, and with it installs Twisted's asyncio reactor).
    script = "\n".join(
        [
            "import sys",
            "import daphne.cli" if under_daphne else "",
            "import config.asgi",
            "cli = sys.modules.get('daphne.cli')",
            "print(cli.CommandLineInterface.server_class.__name__ if cli else 'no daphne',",
            "      'signaling.daphne_server' in sys.modules)",
        ]
    )
    env = process_env(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    expected = "LoketServer True" if under_daphne else "no daphne False"
    assert done.stdout.decode().split("\n")[-2] == expected


async def test_frames_written_at_once_arrive_whole_and_in_order(probe: Probe) -> None:
    # WebSockets are sent on by EagerTCPServer: small frames go out as they are written, and
    # what the socket does not take at once (frames of 200 KB, beyond its buffer) is buffered
    # and sent in order by Twisted, interleaved with small ones.
    sockets = [await connect(probe.ws("/burst"), max_size=2**22) for _ in range(3)]
    figures = await asyncio.to_thread(probe.count)
    assert figures["transports"] == ["EagerTCPServer"]
    plan = [(500, 100), (20, 200_000), (500, 100)]
    for ws in sockets:
        for count, size in plan:
            await ws.send(f"{count} {size}")
    for ws in sockets:
        for count, size in plan:
            for number in range(count):
                frame = await asyncio.wait_for(ws.recv(), 20)
                assert frame[:8] == f"{number:08d}" and len(frame) == 8 + size
        await ws.close()
