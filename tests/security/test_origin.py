"""Which pages may open a WebSocket: only the site's own origin (scheme, host and port) or one
listed in LOKET_ALLOWED_ORIGINS; everything else is refused at the handshake (403).

Through the real ASGI application; the last test also against a real Daphne process, where a
refused handshake is an HTTP 403 and a staff session cookie does not help a foreign page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from config.asgi import application
from tests.support.live import HttpClient
from tests.support.servers import DaphneServer, Database, manage, process_env

pytestmark = pytest.mark.django_db(transaction=True)


async def _admitted(host: bytes | None, origin: bytes | None, cookie: bytes | None = None) -> bool:
    headers = []
    if host is not None:
        headers.append((b"host", host))
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    comm = WebsocketCommunicator(application, "/ws/applicant/", headers=headers)
    connected, _ = await comm.connect()
    await comm.disconnect()
    return bool(connected)


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000"),
        (b"localhost", b"http://localhost"),
        (b"localhost", b"http://localhost:80"),
        (b"LOCALHOST:8000", b"http://localhost:8000"),
    ],
)
async def test_the_sites_own_origin_is_admitted(host: bytes, origin: bytes) -> None:
    assert await _admitted(host, origin)


@pytest.mark.parametrize(
    ("host", "origin", "why"),
    [
        (b"127.0.0.1:8000", b"http://127.0.0.1:9000", "same host, another port"),
        (b"127.0.0.1:8000", b"https://127.0.0.1:8000", "https page for an http site"),
        (b"localhost", b"http://127.0.0.1", "another host"),
        (b"localhost", b"null", "an opaque origin (sandboxed frame, file://)"),
        (b"localhost", None, "no Origin at all"),
        (b"localhost", b"http://localhost/path", "not an origin"),
        (None, b"http://localhost", "no Host header"),
        (b"evil.example", b"http://evil.example", "a host not in ALLOWED_HOSTS (DNS rebinding)"),
    ],
)
async def test_any_other_origin_is_refused(
    host: bytes | None, origin: bytes | None, why: str
) -> None:
    assert not await _admitted(host, origin), why


async def test_a_tls_site_admits_only_https_pages(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "TLS": True}
    assert await _admitted(b"localhost", b"https://localhost")
    assert await _admitted(b"localhost", b"https://localhost:443")
    assert not await _admitted(b"localhost", b"http://localhost")


async def test_listed_origins_are_admitted_exactly(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "ALLOWED_ORIGINS": ["https://portal.example.go.id"]}
    assert await _admitted(b"localhost", b"https://portal.example.go.id")
    assert await _admitted(b"localhost", b"https://portal.example.go.id:443")
    assert not await _admitted(b"localhost", b"http://portal.example.go.id")
    assert not await _admitted(b"localhost", b"https://portal.example.go.id:8443")
    assert not await _admitted(b"localhost", b"https://other.example.go.id")


@pytest.mark.processes
@pytest.mark.postgres
async def test_a_foreign_page_cannot_use_a_staff_session(
    e2e_database: Database, tmp_path: Path
) -> None:
    """A page on another port of the same host, with the counselor's cookie, gets a 403."""
    env = process_env(database_url=e2e_database.url)
    manage(
        env,
        "create_staff",
        "--role=counselor",
        "--username=e2e-sari",
        "--password=e2e-password-91ab",
        "--name=Sari",
        "--topics=building-approval",
    )
    server = DaphneServer("origin", env, tmp_path)
    server.start()
    try:
        server.wait_ready()
        http = HttpClient(server.http_url)
        http.login("e2e-sari", "e2e-password-91ab")
        headers = {"Cookie": http.cookie_header()}
        url = server.ws_url("/ws/staff/")
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                url,
                origin=Origin(f"http://127.0.0.1:{server.port + 1}"),
                additional_headers=headers,
                proxy=None,
                open_timeout=10,
            )
        assert refused.value.response.status_code == 403
        own = await connect(
            url,
            origin=Origin(server.http_url),
            additional_headers=headers,
            proxy=None,
            open_timeout=10,
        )
        assert '"ready"' in str(await own.recv())
        await own.close()
    finally:
        server.stop()
