"""Real server processes for end-to-end tests.

A dedicated PostgreSQL database per test module, ``manage.py`` commands against it, Daphne
processes serving ``config.asgi:application`` on free loopback ports, an HTTP client that logs in
through the real login page, and a WebSocket client (the ``websockets`` library) that records
every frame it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse, urlunparse

import psycopg
import redis
from psycopg import sql
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SECRET_KEY = "e2e-only-secret-key-not-for-production-0123456789abcdefghij"

# Short deadlines so that leases lapse and sweepers act within a test's time budget.
FAST_TIMINGS = {
    "LOKET_CONNECTION_LEASE": "3",
    "LOKET_SWEEP_INTERVAL_MS": "200",
    "LOKET_COUNSELOR_GRACE": "2",
    "LOKET_APPLICANT_GRACE": "20",
}


def _url_with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


class Database:
    """A fresh PostgreSQL database on the server ``base_url`` points at, dropped afterwards."""

    def __init__(self, base_url: str) -> None:
        self.name = f"loket_e2e_{uuid.uuid4().hex[:12]}"
        self.url = _url_with_database(base_url, self.name)
        self._admin_url = _url_with_database(base_url, "postgres")

    def create(self, template: str | None = None) -> None:
        """Create it empty, or as a copy of the database named ``template`` (much faster than
        migrating again; the template must have no open connections)."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def drop(self) -> None:
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def connect(self) -> psycopg.Connection[Any]:
        """A direct connection for the test's own checks (autocommit: every query sees now)."""
        return psycopg.connect(self.url, autocommit=True)


def process_env(
    *, database_url: str, redis_url: str = "", redis_prefix: str = "", **extra: str
) -> dict[str, str]:
    """The environment of a child process: this test's database and channel layer, nothing
    inherited from the test run's own Loket settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LOKET_")
        and key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=database_url,
        LOKET_SECRET_KEY=SECRET_KEY,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        # Joining must work at any hour of the test run (a test may pass "1" in ``extra``).
        LOKET_ENFORCE_HOURS="0",
        # ... and however often the test joins from 127.0.0.1 (tests/security tests the limits).
        LOKET_JOIN_LIMIT_ADDRESS="100000/600",
        LOKET_JOIN_LIMIT_CONTACT="100000/600",
        LOKET_OFFLINE_LIMIT_ADDRESS="100000/600",
        LOKET_OFFLINE_LIMIT_CONTACT="100000/600",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["LOKET_REDIS_PREFIX"] = redis_prefix or f"loket-e2e-{uuid.uuid4().hex[:8]}"
    env.update(extra)
    return env


def redis_forget(url: str, prefix: str) -> None:
    """Delete the channel layer's keys under ``prefix`` (groups outlive a test by a day)."""
    client = redis.Redis.from_url(url)
    try:
        for found in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(found)
    finally:
        client.close()


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py`` with ``args`` against ``env``; its output, or RuntimeError with it."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {args[0]} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaphneServer:
    """One ``daphne config.asgi:application`` process on a free loopback port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.port = free_port()
        self.log_path = log_dir / f"daphne-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "config.asgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        """Poll GET /api/topics until it answers 200 (the process has no readiness signal)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"daphne {self.name} exited {self.process.returncode}:\n{self.log()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if HttpClient(self.http_url).get("/api/topics").status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"daphne {self.name} not ready in {timeout}s:\n{self.log()}")

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but does nothing, as a stalled consumer."""
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def resume_if_paused(self) -> None:
        """Let a paused process run again (a stopped process cannot act on SIGTERM)."""
        if self.paused and self.process is not None and self.process.poll() is None:
            self.resume()

    def log_since(self, offset: int) -> str:
        """What the process logged after ``offset`` characters (``len(self.log())`` earlier)."""
        return self.log()[offset:]

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash or OOM kill."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class RedisServer:
    """A ``redis-server`` of the test's own on a free loopback port, stopped and started by PID.

    Nothing is saved to disk, so a restart forgets every key: the channel layer's groups and
    queued messages are gone, as when a production Redis restarts without persistence.
    """

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            client = redis.Redis(port=self.port, socket_timeout=1)
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on {self.port} did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        """SIGTERM this server (by PID) and wait until it has exited."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


@contextlib.contextmanager
def daphne_servers(
    env: dict[str, str], names: list[str], log_dir: Path
) -> Iterator[list[DaphneServer]]:
    """Start one Daphne process per name (in parallel), wait until all answer, stop them after."""
    servers = [DaphneServer(name, env, log_dir) for name in names]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


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
