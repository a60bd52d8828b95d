"""Clients of a live Loket process: an HTTP client that logs in through the real login page, a
loopback relay that can hold the server's replies, and a WebSocket client (the ``websockets``
library) that records every frame it receives."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlparse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

# ---------------------------------------------------------------- HTTP


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpClient:
    """A tiny HTTP/1.1 client with a cookie jar; redirects are returned, not followed."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        parsed = urlparse(self.base_url)
        conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=15)
        try:
            all_headers = dict(headers or {})
            if self.cookies:
                all_headers["Cookie"] = self.cookie_header()
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            for raw in response.headers.get_all("Set-Cookie") or []:
                jar: SimpleCookie = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
            return Response(response.status, response.headers, data)
        finally:
            conn.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_json(self, path: str, data: Any) -> Response:
        return self.request(
            "POST",
            path,
            json.dumps(data).encode(),
            {"Content-Type": "application/json"},
        )

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def login(self, username: str, password: str) -> None:
        """Log in through the real login page: its CSRF cookie, then the form post."""
        page = self.get("/login/")
        assert page.status == 200, f"GET /login/ answered {page.status}"
        token = self.cookies.get("csrftoken")
        assert token, "the login page set no csrftoken cookie"
        form = urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        answer = self.request(
            "POST",
            "/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.base_url,
                "Referer": self.base_url + "/login/",
            },
        )
        assert answer.status == 302, f"login as {username} answered {answer.status}"
        assert "sessionid" in self.cookies, "login set no session cookie"


# ---------------------------------------------------------------- network


class Relay:
    """A loopback TCP relay in front of a server that can stop passing the server's bytes on,
    as when replies are lost on the way: the server acts on a request, the client never hears."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.holding = False
        self.held_bytes = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def hold_replies(self) -> None:
        """From now on, keep what the server sends instead of forwarding it."""
        self.holding = True

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update((client_w, server_w))

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_server: bool
        ) -> None:
            try:
                while data := await src.read(65536):
                    if from_server and self.holding:
                        self.held_bytes += len(data)
                        continue
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                # Abort, not close: whatever was held is lost, as with a dead process.
                dst.transport.abort()

        await asyncio.gather(pipe(client_r, server_w, False), pipe(server_r, client_w, True))

    async def close(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# ---------------------------------------------------------------- WebSocket


class LiveSocket:
    """A real WebSocket client that keeps every frame it receives, in arrival order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.closed: BaseException | None = None
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, *, origin: str, cookie: str = "") -> LiveSocket:
        ws = await connect(
            url,
            origin=Origin(origin),
            additional_headers={"Cookie": cookie} if cookie else None,
            proxy=None,
            open_timeout=10,
            close_timeout=2,
        )
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self._changed.set()
        except ConnectionClosed as exc:
            self.closed = exc
        else:
            self.closed = ConnectionError("closed")
        finally:
            if self.closed is None:
                self.closed = ConnectionError("reader stopped")
            self._changed.set()

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], *, timeout: float = 10, what: str = ""
    ) -> dict[str, Any]:
        """The first received frame (from the start) that ``match`` accepts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            self._changed.clear()
            for frame in self.frames[seen:]:
                if match(frame):
                    return frame
            seen = len(self.frames)
            remaining = deadline - loop.time()
            if self.closed is not None or remaining <= 0:
                state = f"closed ({self.closed!r})" if self.closed else f"timed out ({timeout}s)"
                tail = json.dumps(self.frames[-5:], indent=1)[:3000]
                raise AssertionError(f"no frame {what or match}: {state}; last frames: {tail}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def request(self, request_id: str, timeout: float = 10, **frame: Any) -> dict[str, Any]:
        """Send a request frame and return its ack; an error frame fails the test."""
        await self.send(id=request_id, **frame)
        reply = await self.wait_for(
            lambda f: f.get("id") == request_id and f["type"] in ("ack", "error"),
            timeout=timeout,
            what=f"reply to {request_id}",
        )
        assert reply["type"] == "ack", reply
        return reply

    async def wait_closed(self, timeout: float = 10) -> None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)
