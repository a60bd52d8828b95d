"""``bench.scale queue``: the queue at scale on a real Loket server (issue 9).

A real Daphne process (``config.asgi:application``) on PostgreSQL (``DATABASE_URL``) and Redis
(``REDIS_URL``) on a free loopback port, driven through its public entry points only: staff log in
through ``/login/`` and use ``/ws/staff/``, applicants join through ``POST /api/consultations`` or
authenticate on ``/ws/applicant/`` with their consultation's real token. The database is used to
seed and to read what is true (who waits, in which order), never to drive the server.

Set-up:

1. The database named by ``DATABASE_URL`` is dropped and created afresh, then migrated (its name
   must contain ``bench``: this refuses to drop anything else). Every run gets its own Redis key
   prefix (``LOKET_REDIS_PREFIX``), whose keys are deleted at the end.
2. ``--topics`` T topics and one more, ``bq-lone``; one counselor per topic (``manage.py
   create_staff``, capacity ``--capacity``). ``--waiting`` N waiting chat consultations over the T
   topics, in turn, as ``POST /api/consultations`` makes them (a token nonce, a unique phone, the
   applicant grace deadline, the ``joined`` event as entry 1), by bulk ORM inserts; ``ANALYZE``.
3. Daphne starts; each topic's counselor connects, sets itself available and accepts the offers
   until it holds ``--capacity`` chats (so it is full); the lone topic's counselor is idle.
4. ``--connected`` K of the waiting (the first K in queue order) open an applicant socket and
   ``auth`` with their token (a socket the busy server drops is retried, as the page would);
   the run waits until each holds its correct position. ``--connect-budget`` S stops opening
   sockets after S seconds and goes on with those open (reported as ``connected``).

Measured, in this order:

* ``lone``: a topic with free capacity is served whatever the size of the others: three
  applicants join the empty lone topic (``POST``, newest of all); time until its counselor's
  offer frame arrives (each accepted).
* ``join``: ``--joins`` sequential ``POST /api/consultations`` into the T topics, in turn;
  latency p50/p99/max.
* ``fanout`` (K > 0): ``--rounds`` times, every topic's counselor ends one chat at the same moment
  (a head served in every topic: every waiting applicant moves up one); time until every connected
  waiting applicant has received a ``queue.position`` frame with its right number (the rank read
  from the database once the offers are out), and the server process's CPU seconds (``/proc``)
  from the first end until then.
* ``offer``: ``--offers`` times, the first topic's counselor ends a chat (capacity freed); time
  until the offer frame of the next waiting consultation arrives at the counselor; it accepts it.
* ``harness_lag`` per phase: how late the harness's own loop woke a 5 ms sleep (p50/p99/max),
  which is how long a frame that had arrived could wait before the harness read and timed it:
  the client's share of a latency, when it is busy reading the other sockets' frames.
* ``served``: at the end, from the database: no topic has a waiting consultation while its
  counselor has a free place.

Settings of the server, for the benchmark only: ``LOKET_JOIN_LIMIT_ADDRESS`` and
``LOKET_JOIN_LIMIT_CONTACT`` raised (every join comes from 127.0.0.1), ``LOKET_CHAT_RATE`` and
``LOKET_FRAME_RATE`` raised (the counselors' sockets send every end and accept of the run),
``LOKET_ENFORCE_HOURS=0``, ``LOKET_APPLICANT_GRACE`` 86400 (seeded applicants that never connect
must not be abandoned during the run) and ``LOKET_OFFER_TIMEOUT`` 600 (an offer the counselor is
about to accept on a loaded machine must not lapse and be requeued). RLIMIT_NOFILE is raised to
its hard limit in the harness and the server.

``bench.scale fanout`` is the same run without the timed joins and offers (set-up, lone,
fan-out, served), ``--connected`` 2000 by default.

Run from the repository root (PostgreSQL and Redis on 127.0.0.1)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loket_bench_queue \\
    REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python -m bench.scale queue --waiting 10000 --topics 4 --connected 2000
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

from bench import loket_client
from bench.relay import (
    BENCH_RATE,
    LOOPBACK,
    REPO,
    _die_with_parent,
    daphne_cmd,
    database_cpu_probe,
    free_port,
    log_tail,
    machine_info,
    process_cpu_seconds,
    stop_process,
    wait_for_port,
)

MAX_WAITING = 100_000
MAX_TOPICS = 50
MAX_CONNECTED = 15_000
MAX_JOINS = 2_000
MAX_OFFERS = 500
MAX_ROUNDS = 20
MAX_CAPACITY = 20
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loket_bench_queue"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TOPIC_PREFIX = "bq-"
LONE_TOPIC = "bq-lone"
LONE_JOINS = 3
CONNECT_CONCURRENCY = 32
CONNECT_ATTEMPTS = 10
READY_WAIT = 90.0  # seconds from auth to ready before the client tries a new socket
T = TypeVar("T")


class QueueBenchError(Exception):
    """The run could not go on (server died, a frame never came, a refusal)."""


@dataclass(frozen=True)
class Params:
    waiting: int
    topics: int
    connected: int
    joins: int
    offers: int
    rounds: int
    capacity: int
    step_timeout: float
    fanout_timeout: float
    connect_budget: float
    database_url: str
    redis_url: str


# --------------------------------------------------------------------------- small helpers


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def summary_ms(samples_ns: list[int]) -> dict[str, Any]:
    ms = [s / 1e6 for s in samples_ns]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else math.nan,
    }


def expected_positions(rows: list[tuple[int, int, str]]) -> dict[int, int]:
    """Each waiting consultation's position (1 = next) among the waiting of its mode in its topic,
    from ``(topic_id, pk, mode)`` rows already in queue order (-priority, queued_at, pk)."""
    counts: dict[tuple[int, str], int] = {}
    out: dict[int, int] = {}
    for topic_id, pk, mode in rows:
        key = (topic_id, mode)
        counts[key] = counts.get(key, 0) + 1
        out[pk] = counts[key]
    return out


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fresh_database(database_url: str) -> None:
    """Drop and create the (bench) database named in database_url."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or "bench" not in name:
        raise QueueBenchError(
            f"DATABASE_URL must name a PostgreSQL database with 'bench' in its name "
            f"(it is dropped and created afresh), got {name!r}"
        )
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete this run's keys (its own prefix only); returns how many."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.delete(*batch))
                batch.clear()
        if batch:
            deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted


@contextlib.contextmanager
def daphne(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    cmd = daphne_cmd(port, "config.asgi:application")
    print(f"  starting: {shlex.join(cmd)}  (log: {log})", flush=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        wait_for_port(proc, port, 60.0, log)
        yield proc
        if proc.poll() is not None:
            raise QueueBenchError(f"server exited with {proc.returncode}:\n{log_tail(log)}")
    finally:
        stop_process(proc)


# --------------------------------------------------------------------------- seeding (ORM)


@dataclass
class Seeded:
    topic_ids: dict[str, int]
    passwords: dict[str, str]  # counselor username -> password
    counselor_of: dict[str, str]  # topic code -> counselor username


def seed(p: Params) -> Seeded:
    """Topics, counselors and the N waiting consultations, as the API would have made them."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from consult.models import (
        AuthorRole,
        Consultation,
        ConsultationStatus,
        EntryKind,
        Mode,
        Topic,
        TranscriptEntry,
    )
    from consult.services.tokens import new_token_nonce

    codes = [f"{TOPIC_PREFIX}{n + 1}" for n in range(p.topics)]
    topics: dict[str, int] = {}
    for order, code in enumerate([*codes, LONE_TOPIC]):
        topic = Topic.objects.create(
            code=code, name_id=f"Bench {code}", name_en=f"Bench {code}", order=order
        )
        topics[code] = topic.pk
    passwords: dict[str, str] = {}
    counselor_of: dict[str, str] = {}
    for code in [*codes, LONE_TOPIC]:
        username = f"bench-{code}"
        password = "bq" + secrets.token_urlsafe(18)  # never starting with "-" (an option)
        call_command(
            "create_staff",
            role="counselor",
            username=username,
            password=password,
            name=f"Counselor {code}",
            topics=code,
            capacity=p.capacity,
            stdout=open(os.devnull, "w"),  # noqa: SIM115 (closed with the process)
        )
        passwords[username] = password
        counselor_of[code] = username

    now = timezone.now()
    start = now - timedelta(hours=1)
    grace = now + timedelta(days=1)
    step = timedelta(seconds=3000) / max(1, p.waiting)
    batch = 2000
    with transaction.atomic():
        for first in range(0, p.waiting, batch):
            rows = []
            for n in range(first, min(p.waiting, first + batch)):
                code = codes[n % p.topics]
                rows.append(
                    Consultation(
                        topic_id=topics[code],
                        applicant_name=f"Pemohon {n}",
                        applicant_phone=f"0811{n:08d}",
                        mode=Mode.CHAT,
                        status=ConsultationStatus.WAITING,
                        queued_at=start + step * n,
                        token_nonce=new_token_nonce(),
                        applicant_grace_deadline=grace,
                        last_seq=1,
                    )
                )
            made = Consultation.objects.bulk_create(rows)
            TranscriptEntry.objects.bulk_create(
                TranscriptEntry(
                    consultation_id=c.pk,
                    seq=1,
                    kind=EntryKind.EVENT,
                    author_role=AuthorRole.SYSTEM,
                    event="joined",
                    data={"topic": codes[(first + i) % p.topics], "mode": "chat"},
                    created_at=c.queued_at,
                )
                for i, c in enumerate(made)
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Seeded(topics, passwords, counselor_of)


def waiting_order(topic_ids: list[int]) -> list[tuple[int, int, str]]:
    """(topic_id, pk, mode) of every waiting consultation of the topics, in queue order."""
    from consult.models import Consultation, ConsultationStatus

    rows = (
        Consultation.objects.filter(status=ConsultationStatus.WAITING, topic_id__in=topic_ids)
        .order_by("topic_id", "-priority", "queued_at", "pk")
        .values_list("topic_id", "pk", "mode")
    )
    return list(rows)


def tokens_for(pks: list[int]) -> list[tuple[int, str, str]]:
    """(pk, public id, applicant token) of the consultations, in the given order."""
    from consult.models import Consultation
    from consult.services.tokens import applicant_token_issue

    by_pk = {c.pk: c for c in Consultation.objects.filter(pk__in=pks)}
    return [
        (pk, str(by_pk[pk].public_id), applicant_token_issue(consultation=by_pk[pk])) for pk in pks
    ]


def idle_capacity_with_waiting(topic_ids: dict[str, int], capacity: int) -> list[str]:
    """Topics where someone waits while the topic's counselor (available) has a free place."""
    from django.db.models import Count, Q

    from consult.models import HELD_STATUSES, Consultation, ConsultationStatus, StaffProfile

    idle: list[str] = []
    for code, topic_id in topic_ids.items():
        waiting = Consultation.objects.filter(
            topic_id=topic_id, status=ConsultationStatus.WAITING
        ).count()
        if not waiting:
            continue
        staff = (
            StaffProfile.objects.filter(topics=topic_id, status="available")
            .annotate(
                held=Count("consultations", filter=Q(consultations__status__in=HELD_STATUSES))
            )
            .values_list("held", flat=True)
        )
        if any(held < capacity for held in staff):
            idle.append(f"{code} ({waiting} waiting)")
    return idle


# --------------------------------------------------------------------------- clients


WS_OPTIONS: dict[str, Any] = {
    "compression": None,
    "open_timeout": 60,
    "close_timeout": 1,
    "ping_interval": None,
    "max_size": 2**22,
}


def _now() -> int:
    return time.perf_counter_ns()


@dataclass
class Staff:
    """A counselor's socket: a reader task files acks, offers and the state of what it holds."""

    ws: ClientConnection
    username: str
    timeout: float
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    offers: asyncio.Queue[tuple[int, str]] = field(default_factory=asyncio.Queue)
    held: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Ended by this client: later frames about them do not make them held again.
    ended: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    accepted: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    counter: int = 0

    async def read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                at = _now()
                frame = json.loads(raw)
                kind = frame.get("type")

                request_id = frame.get("id")
                if kind in ("ack", "error") and request_id in self.acks:
                    future = self.acks.pop(request_id)
                    if not future.done():
                        future.set_result(frame)
                    continue
                if kind == "error":
                    self.errors.append(frame)
                elif kind == "consultation.state" and frame["consultation_id"] not in self.ended:
                    cid, status = frame["consultation_id"], frame["status"]
                    version = int(frame.get("version", 0))
                    if version < self.versions.get(cid, -1) or (
                        cid in self.accepted and status == "offered"
                    ):
                        continue  # older than what this client knows
                    self.versions[cid] = version
                    before = self.held.get(cid)
                    if status in ("offered", "active"):
                        self.held[cid] = status
                    else:
                        self.held.pop(cid, None)
                    if status == "offered" and before != "offered":
                        self.offers.put_nowait((at, cid))
                    self.changed.set()

    def send(self, frame: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        """Send a request (an id is added); the future is its ack (or error) frame."""
        self.counter += 1
        request_id = f"{frame['type']}-{self.counter}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.acks[request_id] = future
        frame = {**frame, "id": request_id}
        task = asyncio.ensure_future(self.ws.send(json.dumps(frame)))
        task.add_done_callback(lambda t: t.exception())
        return future

    async def answered(self, future: asyncio.Future[dict[str, Any]], what: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout):
                frame = await future
        except TimeoutError:
            raise QueueBenchError(
                f"{self.username}: no answer to {what} in {self.timeout}s"
            ) from None
        if frame.get("type") == "error":
            raise QueueBenchError(f"{self.username}: {what} refused: {frame}")
        return frame

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        return await self.answered(self.send(frame), frame["type"])

    async def next_offer(self) -> tuple[int, str]:
        try:
            async with asyncio.timeout(self.timeout):
                return await self.offers.get()
        except TimeoutError:
            raise QueueBenchError(f"{self.username}: no offer within {self.timeout}s") from None

    def active(self) -> list[str]:
        return [cid for cid, status in self.held.items() if status == "active"]

    def end(self, cid: str) -> asyncio.Future[dict[str, Any]]:
        self.ended.add(cid)
        self.held.pop(cid, None)
        return self.send({"type": "consultation.end", "consultation_id": cid, "reason": "bench"})

    async def accept(self, cid: str) -> None:
        await self.request({"type": "offer.accept", "consultation_id": cid})
        # Acked: it is active, whether or not its state frame came yet.
        self.accepted.add(cid)
        if cid not in self.ended:
            self.held[cid] = "active"
            self.changed.set()

    async def fill(self, capacity: int) -> None:
        """Accept offers until it holds ``capacity`` active chats."""
        for _ in range(capacity - len(self.active())):
            _, cid = await self.next_offer()
            await self.accept(cid)
        try:
            async with asyncio.timeout(self.timeout):
                while len(self.active()) < capacity:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise QueueBenchError(f"{self.username}: not {capacity} active: {self.held}") from None


async def staff_connect(base_url: str, username: str, password: str, wait_s: float) -> Staff:
    cookie = await asyncio.to_thread(loket_client._login, base_url, username, password)
    ws = await connect(
        f"ws{base_url.removeprefix('http')}/ws/staff/",
        origin=Origin(base_url),
        additional_headers={"Cookie": cookie},
        **WS_OPTIONS,
    )
    async with asyncio.timeout(wait_s):
        ready = json.loads(await ws.recv())
        while ready.get("type") not in ("ready", "error"):
            ready = json.loads(await ws.recv())
    if ready.get("type") != "ready" or ready.get("role") != "counselor":
        await ws.close()
        raise QueueBenchError(f"{username}: staff socket not ready: {ready}")
    staff = Staff(ws=ws, username=username, timeout=wait_s)
    for held in ready.get("consultations", []):
        staff.held[held["consultation_id"]] = held["status"]
    staff.reader = asyncio.create_task(staff.read())
    await staff.request({"type": "status.set", "status": "available"})
    return staff


@dataclass
class Applicant:
    """A waiting applicant's socket: every ``queue.position`` frame, with the time it came."""

    pk: int
    public_id: str
    ws: ClientConnection
    positions: list[tuple[int, int]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: dict[str, Any] | None = None
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                at = _now()
                if isinstance(raw, bytes):
                    continue
                if "queue.position" in raw:
                    frame = json.loads(raw)
                    if frame.get("type") == "queue.position":
                        self.positions.append((at, int(frame["position"])))
                        continue
                if '"ready"' in raw or '"error"' in raw:
                    frame = json.loads(raw)
                    if frame.get("type") == "ready":
                        self.ready.set()
                    elif frame.get("type") == "error" and self.error is None:
                        self.error = frame

    def got(self, position: int, since: int) -> int | None:
        """When it first received ``position`` at or after ``since``, if that is still the last
        position it received; else None."""
        if not self.positions or self.positions[-1][1] != position:
            return None
        for at, pos in self.positions:
            if at >= since and pos == position:
                return at
        return None

    def last_position(self) -> int | None:
        return self.positions[-1][1] if self.positions else None


async def applicant_connect(
    base_url: str, pk: int, public_id: str, token: str, wait_s: float, retries: dict[str, int]
) -> Applicant:
    """Connect and authenticate, as the page does: a handshake the busy server dropped (Daphne's
    websocket_connect_timeout), or a socket that closed or stayed silent before ``ready``, is
    retried with a new socket (counted in ``retries``)."""
    url = f"ws{base_url.removeprefix('http')}/ws/applicant/"
    for attempt in range(CONNECT_ATTEMPTS):
        last = attempt == CONNECT_ATTEMPTS - 1
        try:
            ws = await connect(url, origin=Origin(base_url), **WS_OPTIONS)
        except (OSError, InvalidHandshake, TimeoutError):
            if last:
                raise
            retries["handshake"] += 1
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        applicant = Applicant(pk=pk, public_id=public_id, ws=ws)
        reader = applicant.reader = asyncio.create_task(applicant.read())
        await ws.send(json.dumps({"type": "auth", "token": token, "last_seq": 0}))
        ready = asyncio.create_task(applicant.ready.wait())
        await asyncio.wait({ready, reader}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        if applicant.ready.is_set():
            if applicant.error is not None:
                raise QueueBenchError(f"applicant {public_id}: {applicant.error}")
            return applicant
        ready.cancel()
        reader.cancel()
        ws.transport.abort()
        if applicant.error is not None or last:
            raise QueueBenchError(
                f"applicant {public_id}: no ready ({applicant.error or 'closed or silent'})"
            )
        retries["ready"] += 1
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- the run


class Run:
    def __init__(self, p: Params, seeded: Seeded, base_url: str, server_pid: int) -> None:
        self.p = p
        self.seeded = seeded
        self.base_url = base_url
        self.server_pid = server_pid
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-db")
        self.staff: dict[str, Staff] = {}
        self.applicants: list[Applicant] = []
        self.big_codes = [c for c in seeded.topic_ids if c != LONE_TOPIC]
        self.big_ids = [seeded.topic_ids[c] for c in self.big_codes]
        self.phone = 0
        self.results: dict[str, Any] = {}

    async def in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, fn, *args)

    def cpu(self) -> float:
        used = process_cpu_seconds(self.server_pid)
        if used is None:
            raise QueueBenchError("the server process is gone")
        return used

    def join(self, topic: str) -> dict[str, Any]:
        self.phone += 1
        return loket_client._post_json(
            f"{self.base_url}/api/consultations",
            {
                "name": f"Pemohon baru {self.phone}",
                "phone": f"0822{self.phone:08d}",
                "topic": topic,
                "mode": "chat",
            },
        )

    async def setup(self) -> None:
        t0 = time.monotonic()
        for code, username in self.seeded.counselor_of.items():
            staff = await staff_connect(
                self.base_url, username, self.seeded.passwords[username], self.p.step_timeout
            )
            self.staff[code] = staff
            if code != LONE_TOPIC:
                await staff.fill(self.p.capacity)
        self.results["counselors_ready_s"] = round(time.monotonic() - t0, 1)
        if not self.p.connected:
            return
        t0 = time.monotonic()
        order = await self.in_db(waiting_order, self.big_ids)
        # The first K in queue order across the topics (they were seeded in turn).
        ranked = sorted(order, key=lambda row: row[1])  # pk order = queued_at order
        picked = [pk for _, pk, _ in ranked[: self.p.connected]]
        tokens = await self.in_db(tokens_for, picked)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        retries = {"handshake": 0, "ready": 0}
        budget_end = time.monotonic() + self.p.connect_budget if self.p.connect_budget else None

        async def one(pk: int, public_id: str, token: str) -> Applicant | None:
            async with gate:
                if budget_end is not None and time.monotonic() > budget_end:
                    return None  # out of --connect-budget: measure with those connected
                return await applicant_connect(
                    self.base_url, pk, public_id, token, READY_WAIT, retries
                )

        began = _now()
        connected = await asyncio.gather(*(one(*t) for t in tokens))
        self.applicants = [a for a in connected if a is not None]
        self.results["connect_s"] = round(time.monotonic() - t0, 1)
        self.results["connected"] = len(self.applicants)
        self.results["connect_retries"] = retries
        # Every one of them holds its right position (frames from the start of the connects on).
        settle, _ = await self.wait_positions(began)
        self.results["connect_all_positions_s"] = round(settle, 1)

    async def wait_positions(self, since: int) -> tuple[float, int]:
        """Wait until every connected waiting applicant's last position is its right one (from
        the database); seconds from ``since`` to the last such frame, and how many were waited
        for. Fails with how many are still wrong after ``--fanout-timeout``."""
        rows = await self.in_db(waiting_order, self.big_ids)
        expected = expected_positions(rows)
        pending = [a for a in self.applicants if a.pk in expected]
        count = len(pending)
        last = since
        deadline = time.monotonic() + self.p.fanout_timeout
        while pending:
            still = []
            for applicant in pending:
                at = applicant.got(expected[applicant.pk], since)
                if at is None:
                    still.append(applicant)
                else:
                    last = max(last, at)
            pending = still
            if not pending:
                break
            if time.monotonic() > deadline:
                wrong = [(a.public_id, a.last_position(), expected[a.pk]) for a in pending[:3]]
                raise QueueBenchError(
                    f"{len(pending)} of {count} connected applicants without their right position "
                    f"after {self.p.fanout_timeout}s (e.g. id, last, expected: {wrong})"
                )
            await asyncio.sleep(0.02)
        return (last - since) / 1e9, count

    async def lone(self) -> None:
        staff = self.staff[LONE_TOPIC]
        samples: list[int] = []
        for _ in range(LONE_JOINS):
            start = _now()
            joined = await asyncio.to_thread(self.join, LONE_TOPIC)
            at, cid = await staff.next_offer()
            if cid != joined["consultation_id"]:
                raise QueueBenchError(f"lone topic: offered {cid}, joined {joined}")
            samples.append(at - start)
            await staff.accept(cid)
        self.results["lone"] = {"served": f"{len(samples)}/{LONE_JOINS}", **summary_ms(samples)}

    async def joins(self) -> None:
        samples: list[int] = []
        for n in range(self.p.joins):
            code = self.big_codes[n % len(self.big_codes)]
            start = _now()
            await asyncio.to_thread(self.join, code)
            samples.append(_now() - start)
        self.results["join"] = summary_ms(samples)

    async def fanout(self) -> None:
        rounds: list[dict[str, Any]] = []
        counselors = [self.staff[c] for c in self.big_codes]
        for _ in range(self.p.rounds):
            for staff in counselors:
                if not staff.active():
                    raise QueueBenchError(f"{staff.username} holds no active chat to end")
            cpu0 = self.cpu()
            start = _now()
            ends = [staff.end(staff.active()[0]) for staff in counselors]
            for staff, end in zip(counselors, ends, strict=True):
                await staff.answered(end, "consultation.end")
            for staff in counselors:
                _, cid = await staff.next_offer()
                await staff.accept(cid)
            seconds, count = await self.wait_positions(start)
            rounds.append({"s": seconds, "cpu_s": self.cpu() - cpu0, "applicants": count})
        self.results["fanout"] = {
            "rounds": len(rounds),
            "applicants": rounds[-1]["applicants"] if rounds else 0,
            "all_positions_s_median": round(percentile([r["s"] for r in rounds], 50), 2),
            "all_positions_s_max": round(max(r["s"] for r in rounds), 2),
            "server_cpu_s_median": round(percentile([r["cpu_s"] for r in rounds], 50), 2),
            "server_cpu_s_max": round(max(r["cpu_s"] for r in rounds), 2),
        }

    async def offer(self) -> None:
        staff = self.staff[self.big_codes[0]]
        samples: list[int] = []
        for _ in range(self.p.offers):
            active = staff.active()
            if not active:
                raise QueueBenchError(f"{staff.username} holds no active chat to end")
            start = _now()
            end = staff.end(active[0])
            at, cid = await staff.next_offer()
            samples.append(at - start)
            await staff.answered(end, "consultation.end")
            await staff.accept(cid)
        self.results["offer"] = summary_ms(samples)
        self.results["offer_samples_ms"] = [round(x / 1e6, 1) for x in samples]

    async def served(self) -> None:
        idle = await self.in_db(idle_capacity_with_waiting, self.seeded.topic_ids, self.p.capacity)
        self.results["idle_capacity_with_waiting"] = idle or "none"

    def check_errors(self) -> None:
        for staff in self.staff.values():
            if staff.errors:
                raise QueueBenchError(f"{staff.username} got error frames: {staff.errors[:3]}")
        broken = [a for a in self.applicants if a.error is not None]
        if broken:
            raise QueueBenchError(f"{len(broken)} applicants got error frames: {broken[0].error}")

    async def close(self) -> None:
        sockets = [s.ws for s in self.staff.values()] + [a.ws for a in self.applicants]
        tasks = [s.reader for s in self.staff.values()] + [a.reader for a in self.applicants]
        for ws in sockets:
            ws.transport.abort()
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self.db, _close_db)
        self.db.shutdown(wait=True)


def _close_db() -> None:
    from django.db import connections

    connections.close_all()


# How often the harness's own event loop is sampled for lag (``LoopLag``).
LAG_TICK_S = 0.005


class LoopLag:
    """How late the harness's own loop wakes a task asking to sleep ``LAG_TICK_S``: the time a
    frame that has arrived may wait before the harness reads it (and timestamps it), because
    the harness is busy with the other sockets' frames. Reported per phase (``harness_lag``):
    a figure of the client, not of the server."""

    def __init__(self) -> None:
        self.samples: list[int] = []

    async def run(self) -> None:
        while True:
            start = _now()
            await asyncio.sleep(LAG_TICK_S)
            self.samples.append(max(0, _now() - start - int(LAG_TICK_S * 1e9)))

    def take(self) -> list[int]:
        samples, self.samples = self.samples, []
        return samples


async def drive(p: Params, seeded: Seeded, base_url: str, server_pid: int) -> dict[str, Any]:
    run = Run(p, seeded, base_url, server_pid)
    lag = LoopLag()
    lag_task = asyncio.create_task(lag.run())
    run.results["harness_lag"] = {}
    try:
        phases: list[tuple[str, Callable[[], Any]]] = [
            ("setup", run.setup),
            ("lone", run.lone),
        ]
        if p.joins:
            phases.append(("join", run.joins))
        if p.connected:
            phases.append(("fanout", run.fanout))
        if p.offers:
            phases.append(("offer", run.offer))
        phases.append(("served", run.served))
        for name, phase in phases:
            t0 = time.monotonic()
            known = set(run.results)
            lag.take()
            await phase()
            run.results["harness_lag"][name] = summary_ms(lag.take())
            run.check_errors()
            shown = {k: v for k, v in run.results.items() if k not in known}
            shown["harness_lag"] = run.results["harness_lag"][name]
            print(f"  [{name}] {time.monotonic() - t0:.1f}s {shown}", flush=True)
        return run.results
    finally:
        lag_task.cancel()
        await run.close()


def run_queue(p: Params) -> dict[str, Any]:
    """The whole benchmark (see the module docstring); returns the figures."""
    nofile = raise_nofile()
    if p.connected + 100 > nofile:
        raise QueueBenchError(f"RLIMIT_NOFILE is {nofile}: too low for {p.connected} sockets")
    prefix = f"loket-bq-{secrets.token_hex(4)}"
    server_env = {
        "DATABASE_URL": p.database_url,
        "REDIS_URL": p.redis_url,
        "LOKET_REDIS_PREFIX": prefix,
        "LOKET_SECRET_KEY": "bench",
        "LOKET_DEBUG": "0",
        "LOKET_ENFORCE_HOURS": "0",
        "LOKET_JOIN_LIMIT_ADDRESS": "1000000/600",
        "LOKET_JOIN_LIMIT_CONTACT": "1000000/600",
        "LOKET_CHAT_RATE": BENCH_RATE,
        "LOKET_FRAME_RATE": BENCH_RATE,
        "LOKET_APPLICANT_GRACE": "86400",
        "LOKET_OFFER_TIMEOUT": "600",
    }
    os.environ.update(server_env)  # the ORM in this process: same database, same token key
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    logs = Path(tempfile.mkdtemp(prefix="loket-bench-queue-"))
    results: dict[str, Any] = {"params": {k: v for k, v in vars(p).items() if "url" not in k}}
    try:
        t0 = time.monotonic()
        fresh_database(p.database_url)
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=600,
        )
        if migrate.returncode != 0:
            raise QueueBenchError(f"migrate failed:\n{migrate.stdout.decode()[-2000:]}")
        import django

        django.setup()
        seeded = seed(p)
        _close_db()
        print(f"  [seed] {time.monotonic() - t0:.1f}s: {p.waiting} waiting", flush=True)
        port = free_port()
        base_url = f"http://{LOOPBACK}:{port}"
        with daphne(env, port, logs / "loket.log") as proc:
            db_probe = database_cpu_probe(p.database_url)
            db0 = db_probe()
            results.update(asyncio.run(drive(p, seeded, base_url, proc.pid)))
            db1 = db_probe()
            results["server_cpu_s_total"] = round(process_cpu_seconds(proc.pid) or 0.0, 1)
            if db0.keys() == db1.keys():
                results["db_cpu_s_during_run"] = round(sum(db1[k] - db0[k] for k in db0), 1)
        shutil_logs = True
    except BaseException:
        print(f"  server log kept: {logs / 'loket.log'}", flush=True)
        print(log_tail(logs / "loket.log", 15), flush=True)
        shutil_logs = False
        raise
    finally:
        with contextlib.suppress(Exception):
            results["redis_keys_deleted"] = redis_delete_prefix(p.redis_url, prefix)
    if shutil_logs:
        import shutil

        shutil.rmtree(logs, ignore_errors=True)
    return results


# --------------------------------------------------------------------------- command line


def add_parser(sub: Any) -> None:
    """The ``queue`` and ``fanout`` subcommands of bench/scale.py."""
    q = sub.add_parser("queue", help="the queue at scale on a real server (joins, offers, fan-out)")
    _common_arguments(q, connected=0)
    q.add_argument("--joins", type=int, default=200, help="timed joins (200)")
    q.add_argument("--offers", type=int, default=50, help="capacity freed -> offer (50)")
    f = sub.add_parser(
        "fanout", help="queue with only the position fan-out (no timed joins or offers)"
    )
    _common_arguments(f, connected=2000)
    f.set_defaults(joins=0, offers=0)


def _common_arguments(parser: Any, *, connected: int) -> None:
    parser.add_argument("--waiting", type=int, default=10_000, help="seeded waiting (10000)")
    parser.add_argument("--topics", type=int, default=4, help="topics they wait in (4)")
    parser.add_argument(
        "--connected", type=int, default=connected, help=f"of them with a socket ({connected})"
    )
    parser.add_argument("--rounds", type=int, default=3, help="fan-out rounds, K > 0 (3)")
    parser.add_argument("--capacity", type=int, default=3, help="each counselor's chats (3)")
    parser.add_argument("--step-timeout", type=float, default=120.0, help="one frame (120 s)")
    parser.add_argument(
        "--fanout-timeout", type=float, default=300.0, help="all positions right (300 s)"
    )
    parser.add_argument(
        "--connect-budget",
        type=float,
        default=0.0,
        help="stop opening sockets after this many seconds and measure with those open (0: none)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(args: Any) -> int:
    fanout_only = args.bench == "fanout"
    bounds = [
        (args.waiting, 1, MAX_WAITING, "--waiting"),
        (args.topics, 1, MAX_TOPICS, "--topics"),
        (args.connected, int(fanout_only), min(MAX_CONNECTED, args.waiting), "--connected"),
        (args.joins, int(not fanout_only), MAX_JOINS, "--joins"),
        (args.offers, int(not fanout_only), MAX_OFFERS, "--offers"),
        (args.rounds, 1, MAX_ROUNDS, "--rounds"),
        (args.capacity, 1, MAX_CAPACITY, "--capacity"),
    ]
    for value, low, high, name in bounds:
        if not low <= value <= high:
            print(f"{name} must be {low}..{high}", file=sys.stderr)
            return 2
    if args.waiting < args.topics * (args.capacity + args.offers + args.rounds + 1):
        print("--waiting too small: each topic must keep someone waiting", file=sys.stderr)
        return 2
    p = Params(
        waiting=args.waiting,
        topics=args.topics,
        connected=args.connected,
        joins=args.joins,
        offers=args.offers,
        rounds=args.rounds,
        capacity=args.capacity,
        step_timeout=args.step_timeout,
        fanout_timeout=args.fanout_timeout,
        connect_budget=args.connect_budget,
        database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
    )
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    # SIGTERM unwinds through the finally blocks that stop the server and delete the run's keys.
    signal.signal(signal.SIGTERM, _sigterm)
    started = time.monotonic()
    load_before = os.getloadavg()
    results = run_queue(p)
    results["wall_s"] = round(time.monotonic() - started, 1)
    # This process competes with the server for the CPUs: its own share is part of the picture.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results["harness_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
    results["load_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    mach = machine_info()
    results["machine"] = mach
    results["command"] = command
    print()
    print(f"command : {command}")
    print(f"machine : {mach['nproc']} CPUs, {mach['cpu_model']}, Python {mach['python']}")
    for key, value in results.items():
        if key not in ("machine", "command"):
            print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"results written to {args.json}")
    return 0
