"""One Daphne process serving Loket on a SQLite file of its own with the in-memory channel layer:
the server of the browser walks (tests.support.browser), the aiortc call and the pre-call check
through Daphne. Processes on PostgreSQL and Redis are tests.support.servers.DaphneServer."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.servers import DAPHNE, ROOT


class SqliteServer:
    """One Daphne process serving Loket on a SQLite file of its own with the in-memory channel
    layer, inheriting the test run's environment (tests/env.py) with ``env`` on top.

    The test holds the listening socket and hands it to Daphne (``--fd``), so a restarted server
    takes over the same port and browsers' connections wait in the backlog instead of failing.
    """

    def __init__(self, workdir: Path, **env: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.log_path = workdir / "daphne.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "LOKET_DEV_SECRET_FILE"}
        }
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "LOKET_SQLITE_PATH": str(workdir / "db.sqlite3"),
                "LOKET_SECRET_KEY": os.environ["LOKET_SECRET_KEY"],
                "LOKET_DEBUG": "0",
                # A real server renews its connection leases and sweeps deadlines.
                "LOKET_RUNTIME": "1",
                "PYTHONUNBUFFERED": "1",
                **env,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def create_staff(
        self,
        username: str,
        password: str,
        *,
        role: str = "counselor",
        name: str | None = None,
        topics: str | None = None,
        capacity: int | None = None,
    ) -> None:
        """An account through ``manage.py create_staff``, as an office provisions one."""
        args = [f"--role={role}", f"--username={username}", f"--password={password}"]
        if name is not None:
            args.append(f"--name={name}")
        if topics is not None:
            args.append(f"--topics={topics}")
        if capacity is not None:
            args.append(f"--capacity={capacity}")
        self.manage("create_staff", *args)

    def start(self) -> None:
        fd = self.sock.fileno()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(DAPHNE), "--fd", str(fd), "config.asgi:application"],
                cwd=ROOT,
                env=self.env,
                pass_fds=(fd,),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The socket is already listening, so a request waits in the backlog until Daphne accepts
        # it: the answer is the readiness signal. Short attempts notice a Daphne that died.
        deadline = time.monotonic() + 40
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"daphne exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/login/", timeout=2) as response:
                    assert response.status == 200
                    return
            except (TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"daphne did not answer:\n{self.log_tail()}") from None

    def ws_url(self, path: str) -> str:
        return "ws" + self.url.removeprefix("http") + path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def close(self) -> None:
        self.stop()
        self.sock.close()


@contextlib.contextmanager
def sqlite_server(
    workdir: Path,
    *staff: dict[str, Any],
    server: type[SqliteServer] = SqliteServer,
    **env: str,
) -> Iterator[SqliteServer]:
    """A started ``server``, migrated, with the demo topics (and their knowledge base and canned
    replies), ``env`` on top of its defaults and ``staff`` (``create_staff`` arguments)
    provisioned; closed afterwards."""
    srv = server(workdir, **env)
    try:
        srv.manage("migrate", "--noinput")
        srv.manage("seed_demo", "--topics-only")
        for account in staff:
            srv.create_staff(**account)
        srv.start()
        yield srv
    finally:
        srv.close()
