"""Real server processes for end-to-end tests.

A dedicated PostgreSQL database per test module, ``manage.py`` commands against it, Daphne
processes serving ``config.asgi:application`` on free loopback ports, and a Redis of the test's
own. The clients that talk to them are in ``tests.support.live``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg
import redis
from psycopg import sql

from tests.support.live import HttpClient

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DAPHNE = Path(sys.executable).with_name("daphne")
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
