"""Loket and Chromium inside a network namespace that has loopback only.

Only loopback traffic is allowed on the machines Loket is tested on, but Chromium offers WebRTC
host candidates on every interface it sees (and would send connectivity checks to them). In a
namespace of its own with nothing but ``lo``, 127.0.0.1 is the only address there is, so both the
browsers and the server's aiortc peer stay on loopback by construction.

One namespace (``loket-<pid>``) holds a Daphne process (SQLite file, in-memory channel layer) and
every Chromium started through :attr:`LoketNetns.chromium` (a wrapper script that enters the
namespace and execs Chromium; Playwright talks to it over pipes, so the test process itself
stays outside). Setup commands run against the SQLite file directly; no network is needed. Used
by tests/e2e/test_video_browser.py and bench/video.py. Needs root (``ip netns``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DAPHNE = Path(sys.executable).with_name("daphne")
CHROMIUM = os.environ.get("LOKET_CHROMIUM", "/usr/bin/chromium")
PORT = 8765
SECRET_KEY = "netns-only-secret-key-not-for-production-0123456789abcdef"
_UDP_FILTER = (
    "tc filter add dev lo parent 1: protocol {protocol} prio {prio} u32 "
    "match {match} protocol 17 0xff flowid 1:30"
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # The pages play the other side's sound; no click is needed for that in a test.
    "--autoplay-policy=no-user-gesture-required",
]

# Polls the server from inside the namespace (the test process cannot reach it).
_READY = """
import sys, time, urllib.request
url, limit = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < limit:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def netns_unavailable() -> str | None:
    """Why a namespace cannot be made here (None: it can)."""
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    if os.geteuid() != 0:
        return "ip netns needs root"
    probe = f"loket-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "delete", probe, check=False)
    return None


class LoketNetns:
    """A namespace with a Daphne serving Loket at http://127.0.0.1:8765 inside it."""

    def __init__(
        self, workdir: Path, *, env: dict[str, str] | None = None, udp_switch: bool = False
    ) -> None:
        self.name = f"loket-{os.getpid()}"
        self.udp_switch = udp_switch
        # Why :meth:`block_udp` cannot be used (None: it can); see :meth:`_install_udp_switch`.
        self.udp_switch_error: str | None = None if udp_switch else "not installed"
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{PORT}"
        self.log_path = workdir / "daphne.log"
        self.chromium = workdir / "chromium-in-netns"
        self.process: subprocess.Popen[bytes] | None = None
        self.created = False
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LOKET_")
            and key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        }
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "LOKET_SQLITE_PATH": str(workdir / "db.sqlite3"),
                "LOKET_SECRET_KEY": SECRET_KEY,
                "LOKET_DEBUG": "0",
                "LOKET_RUNTIME": "1",
                "LOKET_ENFORCE_HOURS": "0",
                "LOKET_OFFER_TIMEOUT": "90",
                "LOKET_ICE_HOST_ADDRESSES": "127.0.0.1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(env or {})

    # ------------------------------------------------------------ setup

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]}: {done.stdout}{done.stderr}")
        return done.stdout

    def counselor(self, username: str, topics: str, *, capacity: int = 3) -> str:
        """Create a counselor account; its password."""
        password = secrets.token_urlsafe(12)
        self.manage(
            "create_staff",
            "--role=counselor",
            f"--username={username}",
            f"--password={password}",
            f"--name={username.capitalize()}",
            f"--topics={topics}",
            f"--capacity={capacity}",
        )
        return password

    def start(self) -> None:
        """Create the namespace, the database, and start Daphne in it."""
        self.manage("migrate", "--noinput")
        self.manage("seed_demo", "--topics-only")
        _ip("netns", "add", self.name)
        self.created = True
        self.exec_in("ip", "link", "set", "lo", "up")
        if self.udp_switch:
            self._install_udp_switch()
        self.chromium.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {CHROMIUM} "$@"\n')
        self.chromium.chmod(0o755)
        with self.log_path.open("ab") as log:
            # `ip netns exec` execs Daphne in place: this PID is Daphne's.
            self.process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.name,
                    str(DAPHNE),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(PORT),
                    "config.asgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        ready = subprocess.run(
            ["ip", "netns", "exec", self.name, PYTHON, "-c", _READY, self.url + "/login/", "40"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if ready.returncode != 0:
            raise RuntimeError(f"Daphne in {self.name} did not answer:\n{self.log()}")

    def exec_in(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace."""
        return _ip("netns", "exec", self.name, *command, check=check)

    # ------------------------------------------------------------ cutting the network

    def _install_udp_switch(self) -> None:
        """Give lo an HTB qdisc with a class that passes nothing, for :meth:`block_udp`.

        The kernel here has no packet filter (no nftables, no tc actions), but it has HTB and
        u32: :meth:`block_udp` adds u32 filters that send every UDP packet (WebRTC media and ICE
        checks, IPv4 and IPv6) to a class of 8 bit/s with a one-packet queue, which drops all
        but a stray packet, while TCP (the WebSockets and HTTP) takes the open default class.
        Filters come and go; the qdisc itself is set up before any browser starts, since
        replacing lo's root qdisc is a link change that Chromium takes for a network change.
        """
        if shutil.which("tc") is None:
            self.udp_switch_error = "tc (iproute2) is not installed"
            return
        try:
            for command in (
                "tc qdisc add dev lo root handle 1: htb default 20",
                "tc class add dev lo parent 1: classid 1:20 htb rate 10gbit",
                "tc class add dev lo parent 1: classid 1:30 htb rate 8bit ceil 8bit burst 1 "
                "cburst 1",
                "tc qdisc add dev lo parent 1:30 handle 30: pfifo limit 1",
            ):
                self.exec_in(*command.split())
            # Probe the filters once (no browser is running yet).
            self.block_udp()
            self.unblock_udp()
        except subprocess.CalledProcessError as exc:
            self.udp_switch_error = f"tc htb/u32 is not available: {exc.stderr.strip()}"
            self.exec_in("tc", "qdisc", "del", "dev", "lo", "root", check=False)

    def block_udp(self) -> None:
        """Drop every UDP packet inside the namespace (see :meth:`_install_udp_switch`)."""
        self.exec_in(*_UDP_FILTER.format(prio=1, protocol="ip", match="ip").split())
        self.exec_in(*_UDP_FILTER.format(prio=2, protocol="ipv6", match="ip6").split())

    def unblock_udp(self) -> None:
        for prio in ("1", "2"):
            self.exec_in("tc", "filter", "del", "dev", "lo", "parent", "1:", "prio", prio)

    # ------------------------------------------------------------ teardown

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if self.created:
            _ip("netns", "delete", self.name, check=False)
            self.created = False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
