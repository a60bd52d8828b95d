"""Connections benchmark (issue 9): N idle applicant sockets that ping like the real page.

``bench.scale connections --sockets N [--minutes M] [--processes P]``: P real Daphne processes
(``config.asgi:application`` on PostgreSQL ``DATABASE_URL`` and Redis ``REDIS_URL``, each on a
free loopback port, no proxy), N waiting applicants each holding one socket, for M minutes.

Seeding (the database, as ``POST /api/consultations`` would leave it): N waiting chat
consultations with a "joined" entry, ``--per-topic`` of them per topic (topics
``bench-conn-idle-NNN`` that no counselor serves: the sockets are idle, nobody is offered, no
queue changes; the queue at scale is ``bench.scale queue``'s subject), and each applicant's real
token from ``consult.services.tokens``. Socket i connects to process i mod P. The applicants'
sockets live in ``--workers`` harness subprocesses (ulimit -n is per process), each with its
RLIMIT_NOFILE raised to the hard limit (the servers' too).

The sockets are opened first (``--open-concurrency`` handshakes in flight per worker; a failed
open or a refused auth is retried with the page's backoff, BACKOFF_FIRST_MS doubling up to
BACKOFF_MAX_MS with full jitter, and the handshake given CONNECT_DEADLINE_MS); they do not ping
while the others open (opening is the set-up, not the measurement). After ``--open-budget``
seconds the run starts with the sockets that are open (the others are reported as never
opened). Then, for M minutes, each
socket follows the page's rule (``static/js/lib/socket.js``, whose constants are read from that
file at start): a waiting applicant's page pings when nothing has arrived for
PING_QUIET_WAITING_MS, and at least every PING_EVERY_MS, checked on a TICK_MS timer of its own
phase; one ping unanswered at a time; the first ping of each at a random point of the first
quiet period. So an idle socket pings every 20 to 21 s (10,000 sockets: about 490 pings/s;
before the page had a waiting rule it pinged after PING_QUIET_MS, 5 s: about 1,800 pings/s).
A ping that gets no frame within
REPLY_DEADLINE_MS is counted ("deadline missed": the page would drop that link and reconnect);
the harness keeps the socket and waits for the pong (no reconnect storm).

C counselors (``--counselors``, capacity 1 each, topic ``bench-conn-chat``; ``manage.py
create_staff``, ``/login/``, the staff socket) each hold one chat with an applicant who joined
through the API (on process 0 and process P-1 respectively). Chat round trips (applicant
``chat.send`` -> counselor's ``entry``), one every ``--chat-interval`` s, are timed before the N
sockets open ("none") and during the run ("open").

Reported: pong p50/p99/max during the run (and while opening), pings, deadlines missed; the
time to open all sockets; from the database at the end, while every socket is still open:
applicant sockets without a Connection row (reaped), idle consultations no longer waiting,
counselors not available or without a connection row, chats no longer active with their
counselor, "requeued" entries; server RSS and Redis memory per socket; server CPU; the
harness's own CPU and event-loop lag (to tell a slow harness from a slow server)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loket_bench \\
        REDIS_URL=redis://127.0.0.1:6379/0 LOKET_DEV_SECRET_FILE=var/secret \\
        .venv/bin/python -m bench.scale connections --sockets 10000 --minutes 3

Everything this benchmark seeds lives in topics ``bench-conn-*`` and is deleted at the next
run's start, with every Connection row of the database (no server may be running on it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import math
import os
import platform
import random
import re
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import relay  # noqa: E402

MAX_SOCKETS = 40_000
MAX_PROCESSES = 8
MAX_WORKERS = 8
MAX_MINUTES = 60.0
SOCKETS_PER_WORKER = 5_000
IDLE_PREFIX = "bench-conn-idle-"
CHAT_TOPIC = "bench-conn-chat"
COUNSELOR_PREFIX = "bench-conn-counselor"
SOCKET_JS = REPO / "static" / "js" / "lib" / "socket.js"
PAGE_DEFAULTS = {
    "PING_QUIET_MS": 5_000,
    "PING_QUIET_WAITING_MS": 20_000,
    "PING_EVERY_MS": 20_000,
    "REPLY_DEADLINE_MS": 6_000,
    "CONNECT_DEADLINE_MS": 10_000,
    "TICK_MS": 1_000,
    "BACKOFF_FIRST_MS": 500,
    "BACKOFF_MAX_MS": 15_000,
}
MAX_OPEN_ATTEMPTS = 30
READY_TIMEOUT = 30.0
DRAIN_WAIT = 30.0  # s after the last chat message for the late ones
SAMPLE_EVERY = 15.0


def page_constants() -> dict[str, int]:
    """The applicant page's ping rule, read from static/js/lib/socket.js (defaults if absent)."""
    found = dict(PAGE_DEFAULTS)
    with contextlib.suppress(OSError):
        text = SOCKET_JS.read_text()
        for name in PAGE_DEFAULTS:
            match = re.search(rf"const {name}\s*=\s*([0-9_]+)\s*;", text)
            if match:
                found[name] = int(match.group(1).replace("_", ""))
    return found


# --------------------------------------------------------------------------- histograms

_LOG_STEP = math.log(1.01)


def hist_add(hist: dict[int, int], seconds: float) -> None:
    """Add one duration to a log histogram (1 % buckets, microseconds)."""
    key = int(math.log(max(seconds * 1e6, 1.0)) / _LOG_STEP)
    hist[key] = hist.get(key, 0) + 1


def hist_merge(into: dict[int, int], other: dict[Any, int]) -> None:
    for key, count in other.items():
        into[int(key)] = into.get(int(key), 0) + count


def hist_summary(hist: dict[int, int]) -> dict[str, Any]:
    total = sum(hist.values())
    if not total:
        return {"count": 0}
    keys = sorted(hist)

    def value(key: int) -> float:
        return round(math.exp((key + 0.5) * _LOG_STEP) / 1000, 3)  # ms

    def pct(q: float) -> float:
        rank = max(1, math.ceil(q / 100 * total))
        seen = 0
        for key in keys:
            seen += hist[key]
            if seen >= rank:
                return value(key)
        return value(keys[-1])

    return {"count": total, "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": value(keys[-1])}


# --------------------------------------------------------------------------- worker


@dataclass
class PageSocket:
    """One applicant socket and the page's ping state."""

    cid: int
    ws: Any = None
    phase: float = 0.0
    last_heard: float = 0.0
    last_ping: float = 0.0
    ping_sent_at: float = 0.0
    ping_id: str = ""
    pings: int = 0
    closed: int | None = None


@dataclass
class WorkerState:
    page: dict[str, int]
    measuring: bool = False
    stopping: bool = False
    heap: list[tuple[float, int, int]] = field(default_factory=list)
    pong_run: dict[int, int] = field(default_factory=dict)
    open_hist: dict[int, int] = field(default_factory=dict)
    lag_hist: dict[int, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    errors: list[Any] = field(default_factory=list)
    pings_run: int = 0
    deadline_missed_run: int = 0
    closed: list[list[Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retries: int = 0
    unopened: list[int] = field(default_factory=list)


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _next_tick(sock: PageSocket, at: float, tick: float) -> float:
    """The first tick of this socket's timer at or after ``at``."""
    return sock.phase + math.ceil((at - sock.phase) / tick) * tick


async def _worker(
    spec: dict[str, Any],
    command: Callable[[], Awaitable[str]] | None = None,
    emit: Callable[[dict[str, Any]], None] = _emit,
) -> None:
    """One harness worker: open ``spec["sockets"]``, ``emit`` ready, run the page's ping rule
    from the ``command`` "go" to "stop" (lines on stdin by default), ``emit`` the result."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Origin

    page = spec["page"]
    # Every socket of the run waits in the queue.
    quiet = page["PING_QUIET_WAITING_MS"] / 1000
    every = page["PING_EVERY_MS"] / 1000
    deadline = page["REPLY_DEADLINE_MS"] / 1000
    tick = page["TICK_MS"] / 1000
    st = WorkerState(page=page)
    rng = random.Random(spec["seed"])
    socks: list[PageSocket] = []
    gate = asyncio.Semaphore(spec["concurrency"])
    loop = asyncio.get_running_loop()

    def schedule(index: int, due: float, kind: int) -> None:
        heapq.heappush(st.heap, (due, index, kind))  # kind 0: ping check, 1: reply deadline

    def ping_due(sock: PageSocket) -> float:
        return _next_tick(sock, min(sock.last_heard + quiet, sock.last_ping + every), tick)

    async def reader(index: int, sock: PageSocket) -> None:
        try:
            async for raw in sock.ws:
                now = time.monotonic()
                sock.last_heard = now
                frame = json.loads(raw)
                kind = str(frame.get("type"))
                st.frames[kind] = st.frames.get(kind, 0) + 1
                if kind == "pong" and sock.ping_sent_at and frame.get("id") == sock.ping_id:
                    if st.measuring:
                        hist_add(st.pong_run, now - sock.ping_sent_at)
                    sock.ping_sent_at = 0.0
                    schedule(index, ping_due(sock), 0)
                elif kind == "consultation.state":
                    status = str(frame.get("status"))
                    st.states[status] = st.states.get(status, 0) + 1
                elif kind == "error" and len(st.errors) < 10:
                    st.errors.append(frame)
        except ConnectionClosed:
            pass
        finally:
            if not st.stopping and sock.ws is not None:
                sock.closed = sock.ws.close_code
                st.closed.append([sock.cid, sock.closed])

    async def try_open(cid: int, token: str, port: int) -> Any:
        base = f"http://{relay.LOOPBACK}:{port}"
        try:
            ws = await connect(
                f"ws://{relay.LOOPBACK}:{port}/ws/applicant/",
                origin=Origin(base),
                compression=None,
                open_timeout=page["CONNECT_DEADLINE_MS"] / 1000,
                close_timeout=2,
                max_queue=64,
            )
        except Exception as exc:
            if len(st.failed) < 10:
                st.failed.append(f"connect: {type(exc).__name__}: {exc}")
            return None
        try:
            await ws.send(json.dumps({"type": "auth", "id": "auth", "token": token}))
            async with asyncio.timeout(READY_TIMEOUT):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("type") == "ready":
                        return ws
                    if frame.get("type") == "error":
                        raise RuntimeError(f"auth refused: {frame}")
        except Exception as exc:
            if len(st.failed) < 10:
                st.failed.append(f"auth: {type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                await ws.close()
            return None

    async def open_one(index: int, cid: int, token: str, port: int) -> None:
        """Open and authenticate, retrying like the page (backoff with full jitter)."""
        t0 = time.monotonic()
        for attempt in range(1, MAX_OPEN_ATTEMPTS + 1):
            async with gate:
                ws = await try_open(cid, token, port)
            if ws is not None:
                break
            if attempt == MAX_OPEN_ATTEMPTS:
                st.unopened.append(cid)
                return
            st.retries += 1
            ceiling = (
                min(page["BACKOFF_MAX_MS"], page["BACKOFF_FIRST_MS"] * 2 ** (attempt - 1)) / 1000
            )
            await asyncio.sleep(ceiling / 2 + rng.random() * ceiling / 2)
        now = time.monotonic()
        hist_add(st.open_hist, now - t0)
        sock = socks[index]
        sock.ws = ws
        sock.phase = now + rng.random() * tick
        sock.last_heard = sock.last_ping = now
        tasks.add(asyncio.create_task(reader(index, sock)))

    def start_pinging() -> None:
        """The run starts: every open socket's first ping at a random point of the first
        quiet period, then by the page's rule."""
        now = time.monotonic()
        for index, sock in enumerate(socks):
            if sock.ws is not None:
                schedule(index, _next_tick(sock, now + rng.random() * quiet, tick), 0)

    async def pinger() -> None:
        while not st.stopping:
            now = time.monotonic()
            if not st.heap or st.heap[0][0] > now:
                await asyncio.sleep(0.02 if not st.heap else min(0.02, st.heap[0][0] - now))
                continue
            _, index, kind = heapq.heappop(st.heap)
            sock = socks[index]
            if sock.ws is None or sock.closed is not None:
                continue
            if kind == 1:
                missed = sock.ping_sent_at and now - sock.ping_sent_at >= deadline
                if missed and sock.last_heard < sock.ping_sent_at and st.measuring:
                    st.deadline_missed_run += 1
                continue
            if sock.ping_sent_at:
                continue  # one unanswered ping at a time; its pong reschedules
            due = ping_due(sock)
            if due > now + 1e-6:
                schedule(index, due, 0)  # something arrived since: later
                continue
            sock.pings += 1
            if st.measuring:
                st.pings_run += 1
            sock.ping_id = f"ping:{sock.pings}"
            sock.ping_sent_at = sock.last_ping = time.monotonic()
            schedule(index, sock.ping_sent_at + deadline, 1)
            with contextlib.suppress(ConnectionClosed):
                await sock.ws.send(json.dumps({"type": "ping", "id": sock.ping_id}))

    async def lag_probe() -> None:
        while not st.stopping:
            t0 = time.monotonic()
            await asyncio.sleep(0.1)
            if st.measuring:
                hist_add(st.lag_hist, max(0.0, time.monotonic() - t0 - 0.1) + 1e-6)

    async def stdin_command() -> str:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        return line.strip()

    command = command or stdin_command

    tasks: set[asyncio.Task[None]] = set()
    entries = spec["sockets"]
    socks.extend(PageSocket(cid=int(cid)) for cid, _, _ in entries)
    background = [asyncio.create_task(pinger()), asyncio.create_task(lag_probe())]
    t_open = time.monotonic()
    openers = [
        asyncio.create_task(open_one(i, int(cid), str(tok), int(port)))
        for i, (cid, tok, port) in enumerate(entries)
    ]
    _, late = await asyncio.wait(openers, timeout=spec.get("open_budget"))
    for task in late:  # the budget is spent: run with what is open
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    gave_up = set(st.unopened)
    st.unopened.extend(s.cid for s in socks if s.ws is None and s.cid not in gave_up)
    opened = sum(1 for s in socks if s.ws is not None)
    emit(
        {
            "event": "ready",
            "opened": opened,
            "unopened": len(st.unopened),
            "retries": st.retries,
            "failures": st.failed[:5],
            "open_s": round(time.monotonic() - t_open, 2),
        }
    )
    cmd = await command()
    if cmd == "go":
        cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        t0 = time.monotonic()
        st.measuring = True
        start_pinging()
        cmd = await command()  # "stop"
        st.measuring = False
        cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu0
        wall = time.monotonic() - t0
    else:
        cpu = wall = 0.0
    result = {
        "event": "result",
        "opened": opened,
        "pong_run": st.pong_run,
        "unopened": st.unopened,
        "open_hist": st.open_hist,
        "lag_hist": st.lag_hist,
        "pings_run": st.pings_run,
        "deadline_missed_run": st.deadline_missed_run,
        "frames": st.frames,
        "states": st.states,
        "errors": st.errors,
        "closed": st.closed,
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
    }
    st.stopping = True
    emit(result)
    for task in background:
        task.cancel()
    await asyncio.gather(*(s.ws.close() for s in socks if s.ws is not None), return_exceptions=True)
    for task in tasks:
        task.cancel()


def worker_main(spec_path: str) -> int:
    _raise_nofile()
    spec = json.loads(Path(spec_path).read_text())
    asyncio.run(_worker(spec))
    return 0


# --------------------------------------------------------------------------- seeding and reads


def _seed(sockets: int, per_topic: int, ports: list[int]) -> list[list[Any]]:
    """Clean what an earlier run left, then seed the idle waiting consultations; returns
    [consultation id, token, port] per socket."""
    from django.db import transaction
    from django.utils import timezone

    from consult.models import (
        AuthorRole,
        Connection,
        Consultation,
        CounselorStatus,
        EntryKind,
        StaffProfile,
        Topic,
        TranscriptEntry,
    )
    from consult.services.tokens import applicant_token_issue, new_token_nonce

    now = timezone.now()
    with transaction.atomic():
        # No server runs on this database now: every row is a dead process's.
        Connection.objects.all().delete()
        Consultation.objects.filter(topic__code__startswith="bench-conn-").delete()
        StaffProfile.objects.filter(user__username__startswith=COUNSELOR_PREFIX).update(
            status=CounselorStatus.OFFLINE, grace_deadline=None
        )
    topics = -(-sockets // per_topic)
    existing = {t.code: t for t in Topic.objects.filter(code__startswith="bench-conn-")}
    wanted = [CHAT_TOPIC] + [f"{IDLE_PREFIX}{n:03d}" for n in range(topics)]
    Topic.objects.bulk_create(
        [
            Topic(code=code, name_id=code, name_en=code, order=900)
            for code in wanted
            if code not in existing
        ]
    )
    by_code = {t.code: t for t in Topic.objects.filter(code__in=wanted)}
    Topic.objects.filter(code__in=wanted).update(active=True)
    rows = [
        Consultation(
            topic=by_code[f"{IDLE_PREFIX}{n // per_topic:03d}"],
            applicant_name=f"Bench {n}",
            queued_at=now - timedelta_ms(sockets - n),
            token_nonce=new_token_nonce(),
            last_seq=1,
        )
        for n in range(sockets)
    ]
    out: list[list[Any]] = []
    with transaction.atomic():
        Consultation.objects.bulk_create(rows, batch_size=2000)
        TranscriptEntry.objects.bulk_create(
            (
                TranscriptEntry(
                    consultation=c,
                    seq=1,
                    kind=EntryKind.EVENT,
                    author_role=AuthorRole.SYSTEM,
                    event="joined",
                    data={"topic": c.topic.code, "mode": "chat"},
                    created_at=now,
                )
                for c in rows
            ),
            batch_size=2000,
        )
    for n, c in enumerate(rows):
        out.append([c.pk, applicant_token_issue(consultation=c), ports[n % len(ports)]])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE consult_consultation")
        cursor.execute("ANALYZE consult_connection")
    return out


def timedelta_ms(n: int) -> Any:
    from datetime import timedelta

    return timedelta(milliseconds=n)


def _has_field(model: Any, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _sample_db() -> dict[str, Any]:
    """Idle consultations without an applicant Connection row, and (if connections still carry
    a lease of their own) rows whose lease has lapsed."""
    from django.db import close_old_connections
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from consult.models import Connection, Consultation

    close_old_connections()
    idle = Consultation.objects.filter(topic__code__startswith=IDLE_PREFIX)
    without = idle.filter(
        ~Exists(Connection.objects.filter(consultation=OuterRef("pk"), role="applicant"))
    )
    out: dict[str, Any] = {
        "idle_without_row": without.count(),
        "idle_not_waiting": idle.exclude(status="waiting").count(),
    }
    if _has_field(Connection, "lease_expires_at"):
        out["lapsed_leases"] = Connection.objects.filter(
            lease_expires_at__lte=timezone.now()
        ).count()
    return out


def _final_db(chat_ids: list[str], counselors: list[str]) -> tuple[dict[str, Any], set[int]]:
    """The state that must not have changed, read while every socket is still open; and the
    idle consultations without an applicant Connection row."""
    from django.db import close_old_connections
    from django.db.models import Exists, OuterRef

    from consult.models import Connection, Consultation, StaffProfile, TranscriptEntry

    close_old_connections()
    idle = Consultation.objects.filter(topic__code__startswith=IDLE_PREFIX)
    without = set(
        idle.filter(
            ~Exists(Connection.objects.filter(consultation=OuterRef("pk"), role="applicant"))
        ).values_list("pk", flat=True)
    )
    chats = list(
        Consultation.objects.filter(public_id__in=chat_ids).values(
            "public_id", "status", "counselor__user__username"
        )
    )
    staff = list(
        StaffProfile.objects.filter(user__username__in=counselors).values(
            "pk", "user__username", "status"
        )
    )
    with_row = set(
        Connection.objects.filter(
            staff_id__in=[s["pk"] for s in staff], role="counselor"
        ).values_list("staff_id", flat=True)
    )
    chat_with_row = set(
        Connection.objects.filter(
            consultation__public_id__in=chat_ids, role="applicant"
        ).values_list("consultation__public_id", flat=True)
    )
    return {
        "idle_not_waiting": idle.exclude(status="waiting").count(),
        "idle_grace_started": idle.filter(applicant_grace_deadline__isnull=False).count(),
        "counselors_not_available": sum(1 for s in staff if s["status"] != "available"),
        "counselor_rows_missing": sum(1 for s in staff if s["pk"] not in with_row),
        "chats_not_active": sum(
            1
            for c in chats
            if c["status"] != "active" or c["counselor__user__username"] not in counselors
        ),
        "chat_applicant_rows_missing": sum(1 for c in chats if c["public_id"] not in chat_with_row),
        "requeued_entries": TranscriptEntry.objects.filter(
            consultation__public_id__in=chat_ids, event="requeued"
        ).count(),
    }, without


def _rss_kb(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def _redis_bytes(url: str) -> int | None:
    """Memory of every key of the benchmark's Redis database (MEMORY USAGE, summed)."""
    try:
        import redis

        client = redis.Redis.from_url(url)
        total = 0
        batch: list[bytes] = []
        for key in client.scan_iter(count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                total += _usage(client, batch)
                batch = []
        if batch:
            total += _usage(client, batch)
        client.close()
        return total
    except Exception:
        return None


def _usage(client: Any, keys: list[bytes]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    return sum(int(v or 0) for v in pipe.execute())


# --------------------------------------------------------------------------- servers


def _server_preexec() -> None:
    relay._die_with_parent()
    _raise_nofile()


def _start_server(index: int, port: int, env: dict[str, str], logs: Path) -> Any:
    cmd = relay.daphne_cmd(port, "config.asgi:application")
    log = logs / f"loket-{index}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_server_preexec,
        )
    relay.wait_for_port(proc, port, 60, log)
    return proc, cmd


# --------------------------------------------------------------------------- the run


@dataclass
class Chat:
    conversations: list[Any]
    counselors: list[Any]
    lost: int = 0
    seq: int = 0

    async def run(self, hist: dict[int, int], seconds: float, interval: float) -> None:
        """One message every ``interval`` s for ``seconds`` s (the conversations in turn, not
        waiting for the previous one: the applicants keep typing), each arrival's delay into
        ``hist``; what has not arrived DRAIN_WAIT s after the last send is lost."""
        pending: dict[int, float] = {}
        all_in = asyncio.Event()
        sent_all = False

        async def receive(conv: Any) -> None:
            while True:
                parsed = relay.parse_message(await conv.recv())
                if parsed is not None and parsed[0] == "chat" and parsed[1] in pending:
                    hist_add(hist, time.monotonic() - pending.pop(parsed[1]))
                    if sent_all and not pending:
                        all_in.set()

        receivers = [asyncio.create_task(receive(conv)) for conv in self.conversations]
        try:
            start = time.monotonic()
            sends = max(1, int(seconds / interval))
            for n in range(sends):
                await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
                self.seq += 1
                conv = self.conversations[self.seq % len(self.conversations)]
                pending[self.seq] = time.monotonic()
                await conv.send(relay.make_message("chat", self.seq, 64))
            sent_all = True
            if not pending:
                all_in.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_WAIT):
                    await all_in.wait()
            self.lost += len(pending)
        finally:
            for task in receivers:
                task.cancel()
            await asyncio.gather(*receivers, return_exceptions=True)


async def _chat_open(ports: list[int], counselors: int) -> Chat:
    from bench import loket_client as lc

    names = [f"{COUNSELOR_PREFIX}-{n}" for n in range(counselors)]
    passwords = await lc.counselors_provision(names, topics=[CHAT_TOPIC], capacity=1)
    staff = [
        await lc.counselor_open(f"http://{relay.LOOPBACK}:{ports[0]}", name, passwords[name])
        for name in names
    ]
    applicant_base = f"http://{relay.LOOPBACK}:{ports[-1]}"
    conversations = [
        await lc.conversation_open(applicant_base, staff, CHAT_TOPIC) for _ in range(counselors)
    ]
    return Chat(conversations, staff)


async def _chat_for(chat: Chat, hist: dict[int, int], seconds: float, interval: float) -> None:
    await chat.run(hist, seconds, interval)


async def _read_event(proc: Any) -> dict[str, Any]:
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise relay.BenchError("a harness worker exited early (see its log)")
        with contextlib.suppress(ValueError):
            return dict(json.loads(line))


async def _run(
    args: argparse.Namespace,
    ports: list[int],
    procs: list[Any],
    logs: Path,
    sockets: list[list[Any]],
    env: dict[str, str],
) -> dict[str, Any]:
    page = page_constants()
    out: dict[str, Any] = {"page": page}
    pids = [p.pid for p in procs]
    chat = await _chat_open(ports, args.counselors)
    none_hist: dict[int, int] = {}
    await _chat_for(chat, none_hist, args.chat_none_seconds, args.chat_interval)
    out["chat_none"] = hist_summary(none_hist)
    rss0 = [_rss_kb(pid) for pid in pids]
    redis0 = await asyncio.to_thread(_redis_bytes, args.redis_url)

    workers = args.workers or max(1, min(MAX_WORKERS, -(-len(sockets) // SOCKETS_PER_WORKER)))
    specs = []
    for w in range(workers):
        spec = {
            "sockets": sockets[w::workers],
            "page": page,
            "concurrency": args.open_concurrency,
            "open_budget": args.open_budget,
            "seed": w,
        }
        path = logs / f"worker-{w}.json"
        path.write_text(json.dumps(spec))
        specs.append(path)
    wprocs = []
    t_open = time.monotonic()
    for w, path in enumerate(specs):
        log = (logs / f"worker-{w}.log").open("wb")
        wprocs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.scale_connections",
                "worker",
                str(path),
                cwd=REPO,
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        )
    print(f"  opening {len(sockets)} sockets from {workers} worker(s) ...", flush=True)
    readies = await asyncio.gather(*(_read_event(p) for p in wprocs))
    out["open_s"] = round(time.monotonic() - t_open, 1)
    out["opened"] = sum(r["opened"] for r in readies)
    out["open_unopened"] = sum(r["unopened"] for r in readies)
    out["open_retries"] = sum(r["retries"] for r in readies)
    out["open_failures"] = [f for r in readies for f in r["failures"]][:5]
    print(
        f"  {out['opened']} open in {out['open_s']} s ({out['open_retries']} retries, "
        f"{out['open_unopened']} never opened)",
        flush=True,
    )
    rss1 = [_rss_kb(pid) for pid in pids]
    redis1 = await asyncio.to_thread(_redis_bytes, args.redis_url)

    out["db_at_start"] = await asyncio.to_thread(_sample_db)
    for p in wprocs:
        p.stdin.write(b"go\n")
        await p.stdin.drain()
    cpu0 = [relay.process_cpu_seconds(pid) for pid in pids]
    t0 = time.monotonic()
    open_hist: dict[int, int] = {}
    samples: list[dict[str, Any]] = []

    async def sampler() -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY)
            sample = await asyncio.to_thread(_sample_db)
            sample["t_s"] = round(time.monotonic() - t0)
            sample["rss_mb"] = [round((_rss_kb(pid) or 0) / 1024) for pid in pids]
            samples.append(sample)
            print(f"  t={sample['t_s']}s {sample}", flush=True)

    sampling = asyncio.create_task(sampler())
    try:
        await _chat_for(chat, open_hist, args.minutes * 60, args.chat_interval)
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    wall = time.monotonic() - t0
    cpu1 = [relay.process_cpu_seconds(pid) for pid in pids]
    rss2 = [_rss_kb(pid) for pid in pids]
    # The database first, while every socket is still open (the workers close theirs after
    # they reported); the sockets the server closed or that never opened are left out after.
    chat_ids = [c.consultation_id for c in chat.conversations]
    names = [c.username for c in chat.counselors]
    final, without = await asyncio.to_thread(_final_db, chat_ids, names)
    for p in wprocs:
        p.stdin.write(b"stop\n")
        await p.stdin.drain()
    results = await asyncio.gather(*(_read_event(p) for p in wprocs))
    closed = {int(cid) for r in results for cid, _ in r["closed"]}
    closed |= {int(cid) for r in results for cid in r["unopened"]}
    out["db"] = {
        "idle_reaped": len(without - closed),
        "idle_closed_or_unopened": len(closed),
        **final,
    }
    out["db_samples"] = samples
    for p in wprocs:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(120):
                await p.wait()
    if args.linger:
        # The sockets are closed: what the server's scheduled full collection frees now
        # (LOKET_GC_FULL_S shorter than this) is what their closed connections left for it.
        print(f"  applicant sockets closed; the servers run {args.linger:g} s more", flush=True)
        await asyncio.sleep(args.linger)
    out["collector"] = [_collector_log(logs / f"loket-{i}.log") for i in range(len(pids))]

    pong_run: dict[int, int] = {}
    open_time: dict[int, int] = {}
    lag: dict[int, int] = {}
    frames: dict[str, int] = {}
    states: dict[str, int] = {}
    for r in results:
        hist_merge(pong_run, r["pong_run"])
        hist_merge(open_time, r["open_hist"])
        hist_merge(lag, r["lag_hist"])
        for k, v in r["frames"].items():
            frames[k] = frames.get(k, 0) + v
        for k, v in r["states"].items():
            states[k] = states.get(k, 0) + v
    per_process = [
        round((b - a) * 1024 / max(1, len(sockets[i :: len(pids)])))
        if a is not None and b is not None
        else None
        for i, (a, b) in enumerate(zip(rss0, rss1, strict=True))
    ]
    out.update(
        {
            "run_s": round(wall, 1),
            "pong": hist_summary(pong_run),
            "pings_per_s": round(sum(r["pings_run"] for r in results) / wall, 1),
            "ping_period_s": round(
                out["opened"] * wall / max(1, sum(r["pings_run"] for r in results)), 2
            ),
            "deadline_missed": sum(r["deadline_missed_run"] for r in results),
            "socket_open_time": hist_summary(open_time),
            "sockets_closed_by_server": sum(len(r["closed"]) for r in results),
            "frames_received": frames,
            "state_frames": states,
            "errors": [e for r in results for e in r["errors"]][:5],
            "chat_open": hist_summary(open_hist),
            "chat_lost": chat.lost,
            "counselor_status_frames": [s for c in chat.counselors for s in c.statuses],
            "server_rss_mb": {
                "before": [round((v or 0) / 1024) for v in rss0],
                "open": [round((v or 0) / 1024) for v in rss1],
                "end": [round((v or 0) / 1024) for v in rss2],
            },
            "server_bytes_per_socket": per_process,
            "redis_bytes_per_socket": (
                round((redis1 - redis0) / len(sockets))
                if redis0 is not None and redis1 is not None and sockets
                else None
            ),
            "server_cpu_s_per_s": [
                round((b - a) / wall, 3) if a is not None and b is not None else None
                for a, b in zip(cpu0, cpu1, strict=True)
            ],
            "harness_cpu_s_per_s": [round(r["cpu_s"] / max(r["wall_s"], 1e-9), 3) for r in results],
            "harness_loop_lag": hist_summary(lag),
        }
    )
    from bench import loket_client as lc

    await lc.conversations_close(chat.conversations, chat.counselors)
    return out


_FULL = re.compile(r"full garbage collection held the process for (\d+) ms \((\d+) objects")
_SCHEDULED = re.compile(r"the scheduled full collection freed (\d+) objects in (\d+) ms")


def _collector_log(path: Path) -> dict[str, Any]:
    """What a server logged of its garbage collector (consult/collector.py): the automatic full
    collections that held it LOKET_GC_LOG_MS or more, and each scheduled one."""
    text = path.read_text(errors="replace") if path.exists() else ""
    full = [(int(ms), int(freed)) for ms, freed in _FULL.findall(text)]
    return {
        "full_collections_logged": len(full),
        "full_ms_total": sum(ms for ms, _ in full),
        "full_ms_max": max((ms for ms, _ in full), default=0),
        "scheduled": [{"freed": int(f), "ms": int(ms)} for f, ms in _SCHEDULED.findall(text)],
    }


def _print(result: dict[str, Any]) -> None:
    for key, value in result.items():
        print(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.sockets <= MAX_SOCKETS or not 1 <= args.processes <= MAX_PROCESSES:
        raise SystemExit(f"--sockets 1..{MAX_SOCKETS}, --processes 1..{MAX_PROCESSES}")
    if not 0.1 <= args.minutes <= MAX_MINUTES or not 0 <= args.workers <= MAX_WORKERS:
        raise SystemExit(f"--minutes 0.1..{MAX_MINUTES}, --workers 0..{MAX_WORKERS}")
    if not 10 <= args.per_topic <= 10_000 or not 1 <= args.counselors <= 20:
        raise SystemExit("--per-topic 10..10000, --counselors 1..20")
    if not 0 <= args.linger <= 3600:
        raise SystemExit("--linger 0..3600")
    _raise_nofile()
    signal.signal(signal.SIGTERM, relay._sigterm)  # unwind: the servers are stopped
    loket_env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "LOKET_SECRET_KEY": "bench",
        "LOKET_DEBUG": "0",
        # The chat pairs send a message every --chat-interval s (over the production 2/s).
        "LOKET_CHAT_RATE": relay.BENCH_RATE,
        "LOKET_FRAME_RATE": relay.BENCH_RATE,
        "LOKET_ENFORCE_HOURS": "0",
        "LOKET_JOIN_LIMIT_ADDRESS": relay.BENCH_JOIN_LIMIT,
    }
    os.environ.update(loket_env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    relay.ensure_database(args.database_url)
    logs = Path(tempfile.mkdtemp(prefix="loket-bench-conn-"))
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
    )
    if migrate.returncode != 0:
        raise SystemExit(f"migrate failed:\n{migrate.stdout.decode()[-2000:]}")
    import django

    django.setup()
    ports = [relay.free_port() for _ in range(args.processes)]
    t0 = time.monotonic()
    sockets = _seed(args.sockets, args.per_topic, ports)
    print(f"  seeded {len(sockets)} waiting consultations in {time.monotonic() - t0:.1f} s")
    procs = []
    failed = False
    result: dict[str, Any] = {}
    try:
        for i, port in enumerate(ports):
            proc, cmd = _start_server(i, port, env, logs)
            procs.append(proc)
            print(f"  [loket-{i}] {shlex.join(cmd)} (pid {proc.pid})", flush=True)
        result = asyncio.run(_run(args, ports, procs, logs, sockets, env))
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                failed = True
                print(f"server {i} died during the run:\n{relay.log_tail(logs / f'loket-{i}.log')}")
    finally:
        for proc in procs:
            relay.stop_process(proc)
    report = {
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        "sockets": args.sockets,
        "processes": args.processes,
        "minutes": args.minutes,
        "per_topic": args.per_topic,
        **result,
    }
    print()
    _print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.json}")
    print(f"logs in {logs}")
    return 1 if failed else 0


def add_parser(sub: Any) -> None:
    """The ``connections`` subcommand of bench/scale.py."""
    p = sub.add_parser("connections", help="N idle applicant sockets pinging like the page")
    p.add_argument("--sockets", type=int, default=2000, help="applicant sockets (2000)")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the run (10)")
    p.add_argument("--processes", type=int, default=1, help="Daphne processes (1)")
    p.add_argument(
        "--workers", type=int, default=0, help=f"client processes (0: one per {SOCKETS_PER_WORKER})"
    )
    p.add_argument("--per-topic", type=int, default=100, help="waiting per idle topic (100)")
    p.add_argument("--counselors", type=int, default=2, help="counselors, one chat each (2)")
    p.add_argument("--chat-interval", type=float, default=0.5, help="s between chat trips (0.5)")
    p.add_argument(
        "--chat-none-seconds", type=float, default=30.0, help="chat before the sockets (30 s)"
    )
    p.add_argument(
        "--open-concurrency", type=int, default=10, help="handshakes in flight per worker (10)"
    )
    p.add_argument(
        "--open-budget",
        type=float,
        default=1200.0,
        help="s to open the sockets; then the run starts with those open (1200)",
    )
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", relay.DEFAULT_REDIS_URL))
    p.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", relay.DEFAULT_DATABASE_URL)
    )
    p.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="s the servers run on after the sockets closed, for their scheduled full garbage "
        "collection to show what the closed connections left (0)",
    )
    p.add_argument("--json", help="also write the results to this file")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        sys.exit(worker_main(sys.argv[2]))
    sys.exit("usage: python -m bench.scale connections ... (this module's worker is internal)")
