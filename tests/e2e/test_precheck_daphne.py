"""The pre-call check through a real Daphne process, and its peers closed when Daphne stops.

An aiortc client stands in for the applicant's browser: it offers over HTTP, gets its own picture
back through the server, and then the server process is stopped with SIGTERM. The server must
close its peer connection on the way out (DTLS close), so the client sees the connection closed
at once rather than after ICE consent runs out half a minute later.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.rtc_peers import patch_loopback_ice
from tests.support.live import HttpClient
from tests.support.rtc import rtc_client_open as make_rtc_client
from tests.support.sqlite import SqliteServer, sqlite_server

pytestmark = pytest.mark.processes


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[SqliteServer]:
    """One Daphne process on a SQLite file; the test itself stops it."""
    with sqlite_server(tmp_path, LOKET_LOG_LEVEL="INFO") as srv:
        yield srv


async def test_a_running_check_is_closed_when_daphne_stops(
    daphne: SqliteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_loopback_ice(monkeypatch)
    browser = HttpClient(daphne.url)
    response = await asyncio.to_thread(
        browser.post_json,
        "/api/consultations",
        {"name": "Ani", "phone": "081234567890", "topic": "building-approval", "mode": "video"},
    )
    status, joined = response.status, response.json()
    assert status == 201, joined

    client = await asyncio.wait_for(make_rtc_client(), 10)
    try:
        left_connected = asyncio.Event()

        @client.pc.on("connectionstatechange")
        def on_state() -> None:
            if client.pc.connectionState in ("closed", "failed"):
                left_connected.set()

        body = json.dumps({"sdp": client.offer.sdp, "type": "offer"}).encode()
        response = await asyncio.to_thread(
            browser.request,
            "POST",
            f"/api/consultations/{joined['consultation_id']}/precheck",
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {joined['token']}"},
        )
        status, content = response.status, response.body
        assert status == 201, content
        await client.accept(json.loads(content))
        await asyncio.wait_for(client.first_video, 15)
        assert client.pc.connectionState == "connected"

        daphne.process.terminate()
        stopped = time.monotonic()
        await asyncio.wait_for(left_connected.wait(), 10)
        closed_after = time.monotonic() - stopped
        assert await asyncio.to_thread(daphne.process.wait, 15) == 0
        log = daphne.log_path.read_text()
        assert "closing 1 pre-call check peer(s) before shutdown" in log, log[-3000:]
        # ICE consent would only notice a vanished server after about 30 s.
        assert closed_after < 10
        print(f"\nclient saw the check closed {closed_after * 1000:.0f} ms after SIGTERM")
    finally:
        await asyncio.wait_for(client.close(), 10)
