"""Relay benchmark: WebSocket chat latency and throughput of Loket against two references.

Targets, each a real server subprocess on a free loopback port, each driven by two WebSocket
clients ("applicant" sends, "counselor" receives) living in this process (one clock):

* ``floor``    plain asyncio ``websockets`` relay (``bench/floor_relay.py``): the lower bound.
* ``floor_db`` the same relay storing each message first with one durable ``INSERT`` + commit on
               PostgreSQL (``synchronous_commit`` on): the physical floor of a relay that
               stores every message before it forwards it (``DATABASE_URL``'s database).
* ``baseline`` minimal Channels relay on Daphne with ``channels_redis.core.RedisChannelLayer``
               (``bench/baseline/``): what Channels + Redis costs before any application code.
* ``loket``    the real server (``daphne config.asgi:application``), driven through the adapter
               ``bench/loket_client.py``: every message is a stored chat message. The server
               gets LOKET_CHAT_RATE/LOKET_FRAME_RATE raised and LOKET_ENFORCE_HOURS=0 (bench only).

Per target: N sequential round trips (latency p50/p99/max) after a warm-up, then M pipelined
messages sent as fast as possible (messages/s until the last one arrives; lost, duplicated and
out-of-order counts). Around both phases: CPU ms per message of the server process and, for
loket and floor_db, of the PostgreSQL backends of the bench database. Results:
docs/BENCHMARKS.md.

With ``--conversations C`` (C > 1) each target gets C concurrent conversations instead (for
loket: C applicants, each held by one of ceil(C / ``--capacity``) counselors, all through the
public entry points) and two phases: *steady*, every conversation sending ``--rate`` messages
per second (evenly spaced, each conversation at its own random phase) for ``--duration``
seconds; then *saturated*, every conversation sending its next message as soon as its previous
one arrived (one in flight per conversation) for ``--saturate-duration`` seconds. Reported per
phase: stored (delivered) messages per second over all conversations, per-message latency
p50/p99/max, lost, duplicated and out-of-order counts, CPU per message.

Run from the repo root::

    .venv/bin/python -m bench.relay                       # all targets, defaults
    .venv/bin/python -m bench.relay --targets floor,baseline --json /tmp/relay.json
    .venv/bin/python bench/relay.py --n 1000 --m 5000     # the script path works too
    .venv/bin/python -m bench.relay --conversations 100   # 100 concurrent conversations

Environment: REDIS_URL (default redis://127.0.0.1:6379/0), DATABASE_URL (loket, floor_db; default
postgres://postgres@127.0.0.1:5432/loket_bench; created if missing). Exit status: 0 when every
selected target ran or was skipped, 1 when one failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

TARGETS = ("floor", "floor_db", "baseline", "loket")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loket_bench"
LOOPBACK = "127.0.0.1"
BENCH_RATE = "1000000/10"  # LOKET_CHAT_RATE / LOKET_FRAME_RATE for the loket target only
BENCH_JOIN_LIMIT = "100000/600"  # LOKET_JOIN_LIMIT_* for the loket target (--conversations)
MAX_CONVERSATIONS = 1000

Send = Callable[[str], Awaitable[None]]
Recv = Callable[[], Awaitable[str]]
Close = Callable[[], Awaitable[None]]


class Skip(Exception):
    """The target cannot run yet; the reason is printed and recorded, not treated as failure."""


class BenchError(Exception):
    """The target ran but broke (server died, no message got through, ...)."""


@dataclass(frozen=True)
class Params:
    n: int
    warmup: int
    m: int
    size: int
    recv_timeout: float
    idle_timeout: float
    phase_timeout: float
    start_timeout: float
    redis_url: str
    database_url: str
    keep_logs: bool
    conversations: int = 1
    rate: float = 1.0
    duration: float = 30.0
    saturate_duration: float = 20.0
    capacity: int = 5
    db_pool: int = 8


@dataclass
class Pair:
    """One conversation: applicant ``send``, counselor ``recv``, and how to ``close`` both."""

    send: Send
    recv: Recv
    close: Close


# --------------------------------------------------------------------------- messages


def make_message(tag: str, seq: int, size: int) -> str:
    head = f"{tag}:{seq:07d}:"
    return head + "x" * max(0, size - len(head))


def parse_message(text: str) -> tuple[str, int] | None:
    parts = text.split(":", 2)
    if len(parts) != 3:
        return None
    try:
        return parts[0], int(parts[1])
    except ValueError:
        return None


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Child pre-exec hook (Linux): get SIGTERM if the harness itself is killed."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for_port(proc: subprocess.Popen[bytes], port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"server exited with {proc.returncode} before listening:\n{log_tail(log)}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"server not listening on port {port} after {timeout:.0f}s:\n{log_tail(log)}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


CpuProbe = Callable[[], dict[str, float]]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> float | None:
    """CPU seconds used between two probes; None if the set of processes changed in between
    (e.g. the server replaced its database connection: the old backend's CPU is unknowable)."""
    if not before or before.keys() != after.keys():
        return None
    return sum(after[k] - before[k] for k in before)


def server_cpu_probe(pid: int) -> CpuProbe:
    def probe() -> dict[str, float]:
        used = process_cpu_seconds(pid)
        return {} if used is None else {f"server:{pid}": used}

    return probe


@contextlib.contextmanager
def running_server(
    name: str, cmd: list[str], env: dict[str, str], port: int, logs: Path, p: Params
) -> Iterator[subprocess.Popen[bytes]]:
    log = logs / f"{name}.log"
    print(f"  [{name}] starting: {shlex.join(cmd)}  (log: {log})", flush=True)
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
        wait_for_port(proc, port, p.start_timeout, log)
        yield proc
        if proc.poll() is not None:
            raise BenchError(
                f"server exited with {proc.returncode} during the run:\n{log_tail(log)}"
            )
    finally:
        stop_process(proc)


def server_env(p: Params, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["REDIS_URL"] = p.redis_url
    env.update(extra)
    return env


def daphne_cmd(port: int, app: str) -> list[str]:
    exe = Path(sys.executable).parent / "daphne"
    prefix = [str(exe)] if exe.exists() else [shutil.which("daphne") or "daphne"]
    return [*prefix, "-b", LOOPBACK, "-p", str(port), app]


# --------------------------------------------------------------------------- clients


async def websocket_pair(applicant_url: str, counselor_url: str) -> Pair:
    """Two raw WebSocket clients; the applicant's incoming frames (echoes) are drained."""
    opts: dict[str, Any] = {"compression": None, "open_timeout": 10, "close_timeout": 2}
    counselor: ClientConnection = await connect(counselor_url, **opts)
    try:
        applicant: ClientConnection = await connect(applicant_url, **opts)
    except BaseException:
        await counselor.close()
        raise

    async def drain() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in applicant:
                pass

    drainer = asyncio.create_task(drain())

    async def send(text: str) -> None:
        await applicant.send(text)

    async def recv() -> str:
        while True:
            frame = await counselor.recv()
            if isinstance(frame, str):
                return frame

    async def close() -> None:
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        await applicant.close()
        await counselor.close()

    return Pair(send, recv, close)


# --------------------------------------------------------------------------- measurement


async def recv_within(pair: Pair, seconds: float) -> str | None:
    try:
        async with asyncio.timeout(seconds):
            return await pair.recv()
    except TimeoutError:
        return None


async def wait_until_relaying(pair: Pair, p: Params) -> None:
    """Send probes until one reaches the counselor (the server may register peers late)."""
    deadline = time.monotonic() + p.start_timeout
    seq = 0
    while time.monotonic() < deadline:
        await pair.send(make_message("probe", seq, p.size))
        seq += 1
        got = await recv_within(pair, 0.25)
        if got is not None and (parsed := parse_message(got)) and parsed[0] == "probe":
            return
    raise BenchError(f"no message relayed within {p.start_timeout:.0f}s")


async def round_trips(pair: Pair, tag: str, count: int, p: Params) -> tuple[list[int], int, int]:
    """Sequential send -> receive; returns (latencies ns, lost, stray frames)."""
    samples: list[int] = []
    lost = stray = consecutive_lost = 0
    for seq in range(count):
        text = make_message(tag, seq, p.size)
        t0 = time.perf_counter_ns()
        await pair.send(text)
        while True:
            got = await recv_within(pair, p.recv_timeout)
            t1 = time.perf_counter_ns()
            if got is None:
                lost += 1
                consecutive_lost += 1
                break
            if parse_message(got) == (tag, seq):
                samples.append(t1 - t0)
                consecutive_lost = 0
                break
            stray += 1  # a late earlier message or a leftover probe: discard
        if consecutive_lost >= 5:
            raise BenchError(f"{tag}: 5 consecutive messages lost, giving up")
    return samples, lost, stray


async def pipelined(pair: Pair, tag: str, m: int, p: Params) -> dict[str, Any]:
    """Send m messages back to back while a task collects them; checks loss/dup/order."""
    sent_at = [0] * m
    seen = bytearray(m)
    state = {"unique": 0, "dup": 0, "out_of_order": 0, "stray": 0, "max_seq": -1, "last": 0}
    delays: list[int] = []

    async def receiver() -> None:
        while state["unique"] < m:
            got = await recv_within(pair, p.idle_timeout)
            if got is None:
                return  # idle: the rest is lost
            now = time.perf_counter_ns()
            parsed = parse_message(got)
            if parsed is None or parsed[0] != tag or not 0 <= parsed[1] < m:
                state["stray"] += 1
                continue
            seq = parsed[1]
            if seen[seq]:
                state["dup"] += 1
                continue
            seen[seq] = 1
            state["unique"] += 1
            state["last"] = now
            delays.append(now - sent_at[seq])
            if seq < state["max_seq"]:
                state["out_of_order"] += 1
            else:
                state["max_seq"] = seq

    start = time.perf_counter_ns()
    collector = asyncio.create_task(receiver())
    try:
        async with asyncio.timeout(p.phase_timeout):
            for seq in range(m):
                sent_at[seq] = time.perf_counter_ns()
                await pair.send(make_message(tag, seq, p.size))
            sent = time.perf_counter_ns()
            await collector
    except TimeoutError as exc:
        raise BenchError(f"pipelined phase exceeded {p.phase_timeout:.0f}s") from exc
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector

    unique = state["unique"]
    if unique == 0:
        raise BenchError("pipelined: nothing received")
    elapsed = state["last"] - start
    delays.sort()
    return {
        "messages": m,
        "received": unique,
        "lost": m - unique,
        "dup": state["dup"],
        "out_of_order": state["out_of_order"],
        "in_order": state["out_of_order"] == 0,
        "stray": state["stray"],
        "send_s": round((sent - start) / 1e9, 4),
        "elapsed_s": round(elapsed / 1e9, 4),
        "msgs_per_s": round(unique / (elapsed / 1e9), 1),
        "delay_p50_ms": ms(percentile(delays, 50)),
        "delay_p99_ms": ms(percentile(delays, 99)),
    }


async def measure(
    make_pair: Callable[[], Awaitable[Pair]],
    p: Params,
    cpu_probes: dict[str, CpuProbe] | None = None,
) -> dict[str, Any]:
    """Latency then pipelined phases; ``cpu_probes`` name CPU counters read around each phase.

    CPU per message is steadier than wall-clock time on a loaded machine: it counts the work a
    message costs, not the time spent waiting for a CPU.
    """
    probes = cpu_probes or {}

    def read() -> dict[str, dict[str, float]]:
        return {name: probe() for name, probe in probes.items()}

    def per_message(before: dict[str, dict[str, float]], count: int) -> dict[str, float | None]:
        after = read()
        used = {name: cpu_delta(before[name], after[name]) for name in probes}
        return {
            f"{name}_cpu_ms_per_msg": None if seconds is None else round(seconds * 1e3 / count, 3)
            for name, seconds in used.items()
        }

    pair = await make_pair()
    try:
        await wait_until_relaying(pair, p)
        await round_trips(pair, "warm", p.warmup, p)
        cpu_before = read()
        samples, lost, stray = await round_trips(pair, "lat", p.n, p)
        latency_cpu = per_message(cpu_before, p.n)
        if not samples:
            raise BenchError("latency: nothing received")
        samples.sort()
        latency = {
            "samples": len(samples),
            "lost": lost,
            "stray": stray,
            "p50_ms": ms(percentile(samples, 50)),
            "p99_ms": ms(percentile(samples, 99)),
            "max_ms": ms(samples[-1]),
            "mean_ms": ms(sum(samples) / len(samples)),
            **latency_cpu,
        }
        cpu_before = read()
        throughput = await pipelined(pair, "tput", p.m, p)
        throughput.update(per_message(cpu_before, p.m))
        return {"latency": latency, "pipelined": throughput}
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await pair.close()


# --------------------------------------------------------------------------- many conversations


def _cpu_reader(probes: dict[str, CpuProbe]) -> Callable[[], dict[str, dict[str, float]]]:
    def read() -> dict[str, dict[str, float]]:
        return {name: probe() for name, probe in probes.items()}

    return read


def _cpu_per_message(
    probes: dict[str, CpuProbe],
    before: dict[str, dict[str, float]],
    after: dict[str, dict[str, float]],
    count: int,
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in probes:
        used = cpu_delta(before[name], after[name])
        out[f"{name}_cpu_ms_per_msg"] = (
            None if used is None or count == 0 else round(used * 1e3 / count, 3)
        )
    return out


@dataclass
class _Tally:
    """Per-conversation arrivals of one phase: first arrival of each seq, in order or not."""

    delays: list[int]
    unique: int = 0
    dup: int = 0
    out_of_order: int = 0
    stray: int = 0
    max_seq: int = -1

    def arrived(self, seq: int, seen: set[int], delay_ns: int) -> None:
        if seq in seen:
            self.dup += 1
            return
        seen.add(seq)
        self.unique += 1
        self.delays.append(delay_ns)
        if seq < self.max_seq:
            self.out_of_order += 1
        else:
            self.max_seq = seq


def _phase_summary(
    tallies: list[_Tally], sent: int, elapsed_ns: int, **extra: Any
) -> dict[str, Any]:
    delays = sorted(d for t in tallies for d in t.delays)
    received = sum(t.unique for t in tallies)
    if not delays:
        raise BenchError("no message arrived in this phase")
    return {
        "conversations": len(tallies),
        "sent": sent,
        "received": received,
        "lost": sent - received,
        "dup": sum(t.dup for t in tallies),
        "out_of_order": sum(t.out_of_order for t in tallies),
        "stray": sum(t.stray for t in tallies),
        "elapsed_s": round(elapsed_ns / 1e9, 3),
        "msgs_per_s": round(received / (elapsed_ns / 1e9), 1),
        "p50_ms": ms(percentile(delays, 50)),
        "p99_ms": ms(percentile(delays, 99)),
        "max_ms": ms(delays[-1]),
        **extra,
    }


async def steady_phase(pairs: list[Pair], tag: str, p: Params) -> tuple[dict[str, Any], int]:
    """Every conversation sends ``p.rate`` messages/s for ``p.duration`` s, evenly spaced, at a
    random phase of its own; each arrival's delay is measured from its own send."""
    import random

    count = max(1, int(p.rate * p.duration))
    interval = 1.0 / p.rate
    start = time.perf_counter_ns()
    last = [start]
    tallies = [_Tally(delays=[]) for _ in pairs]

    async def conversation(index: int, pair: Pair) -> None:
        sent_at = [0] * count
        seen: set[int] = set()
        tally = tallies[index]
        done = asyncio.Event()
        offset = random.random() * interval

        async def receiver() -> None:
            while tally.unique < count:
                got = await recv_within(pair, p.idle_timeout if done.is_set() else p.phase_timeout)
                if got is None:
                    return
                now = time.perf_counter_ns()
                parsed = parse_message(got)
                if parsed is None or parsed[0] != tag or not 0 <= parsed[1] < count:
                    tally.stray += 1
                    continue
                tally.arrived(parsed[1], seen, now - sent_at[parsed[1]])
                last[0] = max(last[0], now)

        collector = asyncio.create_task(receiver())
        try:
            for seq in range(count):
                due = start + int((offset + seq * interval) * 1e9)
                wait = (due - time.perf_counter_ns()) / 1e9
                if wait > 0:
                    await asyncio.sleep(wait)
                sent_at[seq] = time.perf_counter_ns()
                await pair.send(make_message(tag, seq, p.size))
            done.set()
            await collector
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector

    try:
        async with asyncio.timeout(p.duration + p.phase_timeout):
            await asyncio.gather(*(conversation(i, pair) for i, pair in enumerate(pairs)))
    except TimeoutError as exc:
        raise BenchError(f"steady phase exceeded {p.duration + p.phase_timeout:.0f}s") from exc
    sent = count * len(pairs)
    summary = _phase_summary(
        tallies,
        sent,
        last[0] - start,
        rate_per_conversation=p.rate,
        offered_msgs_per_s=round(p.rate * len(pairs), 1),
    )
    return summary, sum(t.unique for t in tallies)


async def saturated_phase(pairs: list[Pair], tag: str, p: Params) -> tuple[dict[str, Any], int]:
    """Every conversation sends its next message as soon as its previous one arrived (one in
    flight each) until ``p.saturate_duration`` s have passed."""
    start = time.perf_counter_ns()
    stop_at = start + int(p.saturate_duration * 1e9)
    tallies = [_Tally(delays=[]) for _ in pairs]
    sent_total = [0]

    async def conversation(index: int, pair: Pair) -> None:
        tally = tallies[index]
        seen: set[int] = set()
        seq = 0
        while time.perf_counter_ns() < stop_at:
            t0 = time.perf_counter_ns()
            await pair.send(make_message(tag, seq, p.size))
            sent_total[0] += 1
            while True:
                got = await recv_within(pair, p.recv_timeout)
                if got is None:
                    break  # lost; go on with the next one
                parsed = parse_message(got)
                if parsed == (tag, seq):
                    tally.arrived(seq, seen, time.perf_counter_ns() - t0)
                    break
                tally.stray += 1
            seq += 1

    await asyncio.gather(*(conversation(i, pair) for i, pair in enumerate(pairs)))
    elapsed = time.perf_counter_ns() - start
    summary = _phase_summary(tallies, sent_total[0], elapsed)
    return summary, sum(t.unique for t in tallies)


async def measure_many(
    make_pairs: Callable[[], Awaitable[list[Pair]]],
    p: Params,
    cpu_probes: dict[str, CpuProbe] | None = None,
) -> dict[str, Any]:
    """The steady then the saturated phase over ``p.conversations`` concurrent conversations."""
    probes = cpu_probes or {}
    read = _cpu_reader(probes)
    pairs = await make_pairs()
    try:
        await asyncio.gather(*(wait_until_relaying(pair, p) for pair in pairs))
        await asyncio.gather(*(round_trips(pair, f"warm{i}", 5, p) for i, pair in enumerate(pairs)))
        before = read()
        steady, received = await steady_phase(pairs, "steady", p)
        steady.update(_cpu_per_message(probes, before, read(), received))
        # Let what is left of the steady phase drain before the next one.
        await asyncio.sleep(1.0)
        before = read()
        saturated, received = await saturated_phase(pairs, "sat", p)
        saturated.update(_cpu_per_message(probes, before, read(), received))
        return {"steady": steady, "saturated": saturated}
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(60):
                await asyncio.gather(*(pair.close() for pair in pairs))


async def websocket_pairs(urls: list[str]) -> list[Pair]:
    """One raw WebSocket pair per room URL (floor, floor_db, baseline)."""
    pairs: list[Pair] = []
    try:
        for url in urls:
            pairs.append(await websocket_pair(url, url))
    except BaseException:
        for pair in pairs:
            with contextlib.suppress(Exception):
                await pair.close()
        raise
    return pairs


def run_measure(
    make_pair: Callable[[], Awaitable[Pair]],
    make_pairs: Callable[[], Awaitable[list[Pair]]],
    p: Params,
    probes: dict[str, CpuProbe],
) -> dict[str, Any]:
    """One conversation (``measure``) or ``p.conversations`` of them (``measure_many``)."""
    if p.conversations > 1:
        return asyncio.run(measure_many(make_pairs, p, probes))
    return asyncio.run(measure(make_pair, p, probes))


# --------------------------------------------------------------------------- targets


def run_floor_target(p: Params, logs: Path) -> dict[str, Any]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.floor_relay", "--host", LOOPBACK, "--port", str(port)]
    with running_server("floor", cmd, server_env(p), port, logs, p) as proc:
        return {
            "command": shlex.join(cmd),
            **_measure_rooms(f"ws://{LOOPBACK}:{port}/relay", p, proc),
        }


def _measure_rooms(
    base: str, p: Params, proc: subprocess.Popen[bytes], **probes: CpuProbe
) -> dict[str, Any]:
    """Drive a relay whose rooms are ``base/<room>``: one room per conversation."""
    urls = [f"{base}/{uuid.uuid4().hex}" for _ in range(p.conversations)]
    all_probes = {"server": server_cpu_probe(proc.pid), **probes}
    return run_measure(
        lambda: websocket_pair(urls[0], urls[0]), lambda: websocket_pairs(urls), p, all_probes
    )


def run_floor_db_target(p: Params, logs: Path) -> dict[str, Any]:
    ensure_database(p.database_url)
    port = free_port()
    cmd = [sys.executable, "-m", "bench.floor_relay", "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--database-url", p.database_url, "--db-pool", str(p.db_pool)]
    shown = shlex.join([*cmd[:-4], "--database-url", "$DATABASE_URL", *cmd[-2:]])
    with running_server("floor_db", cmd, server_env(p), port, logs, p) as proc:
        db = database_cpu_probe(p.database_url)
        result = _measure_rooms(f"ws://{LOOPBACK}:{port}/relay", p, proc, db=db)
    return {"command": shown, **result}


def run_baseline_target(p: Params, logs: Path) -> dict[str, Any]:
    port = free_port()
    cmd = daphne_cmd(port, "bench.baseline.asgi:application")
    env = server_env(p, DJANGO_SETTINGS_MODULE="bench.baseline.settings")
    with running_server("baseline", cmd, env, port, logs, p) as proc:
        urls = [
            f"ws://{LOOPBACK}:{port}/ws/relay/{uuid.uuid4().hex}/" for _ in range(p.conversations)
        ]
        probes = {"server": server_cpu_probe(proc.pid)}
        result = run_measure(
            lambda: websocket_pair(urls[0], urls[0]), lambda: websocket_pairs(urls), p, probes
        )
    return {"command": shlex.join(cmd), **result}


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database named in database_url if it does not exist."""
    import psycopg  # only the loket target needs it
    from psycopg import sql

    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        return
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_cpu_probe(database_url: str) -> CpuProbe:
    """CPU of the PostgreSQL backends serving the bench database (a local server only).

    Nothing else uses that database, so its backends' CPU is what Loket's queries cost the
    database server. Empty (and reported as 0) when the server is not local or not PostgreSQL.
    """
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres") or parts.hostname not in (LOOPBACK, "localhost"):
        return dict
    import psycopg

    name = parts.path.lstrip("/")
    url = urlunsplit(parts._replace(scheme="postgresql"))

    def probe() -> dict[str, float]:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        used = {f"pg:{pid}": process_cpu_seconds(pid) for (pid,) in rows}
        return {k: v for k, v in used.items() if v is not None}

    return probe


def run_loket_target(
    p: Params, logs: Path, adapter_module: str = "bench.loket_client"
) -> dict[str, Any]:
    """Start Loket under Daphne and drive it through the adapter module (see its docstring)."""
    adapter = importlib.import_module(adapter_module)
    if not getattr(adapter, "IMPLEMENTED", False):
        raise Skip(f"{adapter_module} is a stub (IMPLEMENTED = False); fill in setup()/teardown()")
    if not (REPO / "config" / "asgi.py").exists():
        raise Skip("config/asgi.py does not exist yet")

    loket_env = {
        "DATABASE_URL": p.database_url,
        "REDIS_URL": p.redis_url,
        "LOKET_SECRET_KEY": "bench",
        "LOKET_DEBUG": "0",
        # One applicant connection sends every message of the run; the production per-connection
        # limits (20 chat messages and 200 frames per 10 s) would refuse most of them. The
        # limiters still run, they just never trip.
        "LOKET_CHAT_RATE": BENCH_RATE,
        "LOKET_FRAME_RATE": BENCH_RATE,
        # A benchmark joins the queue at any hour.
        "LOKET_ENFORCE_HOURS": "0",
        # --conversations joins up to MAX_CONVERSATIONS applicants from one address.
        "LOKET_JOIN_LIMIT_ADDRESS": BENCH_JOIN_LIMIT,
    }
    os.environ.update(loket_env)  # for an adapter that uses the ORM in this process
    env = server_env(p, **loket_env)
    ensure_database(p.database_url)
    if (REPO / "manage.py").exists():
        migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
        with (logs / "loket-migrate.log").open("wb") as out:
            done = subprocess.run(
                migrate, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300
            )
        if done.returncode != 0:
            raise BenchError(f"migrate failed:\n{log_tail(logs / 'loket-migrate.log')}")

    port = free_port()
    cmd = daphne_cmd(port, "config.asgi:application")

    async def make_pair() -> Pair:
        try:
            send, recv = await adapter.setup(f"http://{LOOPBACK}:{port}")
        except NotImplementedError as exc:
            raise Skip(f"{adapter_module}.setup: {exc}") from exc

        async def close() -> None:
            teardown = getattr(adapter, "teardown", None)
            if teardown is not None:
                await teardown()

        return Pair(send, recv, close)

    async def make_pairs() -> list[Pair]:
        opener = getattr(adapter, "conversations_open", None)
        if opener is None:
            raise Skip(f"{adapter_module} has no conversations_open()")
        base_url = f"http://{LOOPBACK}:{port}"
        conversations, counselors = await opener(base_url, p.conversations, capacity=p.capacity)
        remaining = [len(conversations)]

        def pair_of(conv: Any) -> Pair:
            async def close() -> None:
                remaining[0] -= 1
                if remaining[0] == 0:  # the last one ends them all (by their counselors)
                    await adapter.conversations_close(conversations, counselors)

            return Pair(conv.send, conv.recv, close)

        return [pair_of(conv) for conv in conversations]

    with running_server("loket", cmd, env, port, logs, p) as proc:
        probes = {
            "server": server_cpu_probe(proc.pid),
            "db": database_cpu_probe(p.database_url),
        }
        result = run_measure(make_pair, make_pairs, p, probes)
    return {"command": shlex.join(cmd), **result}


RUNNERS: dict[str, Callable[[Params, Path], dict[str, Any]]] = {
    "floor": run_floor_target,
    "floor_db": run_floor_db_target,
    "baseline": run_baseline_target,
    "loket": run_loket_target,
}


# --------------------------------------------------------------------------- reporting


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for dist in ("django", "channels", "daphne", "channels-redis", "websockets", "redis"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": versions,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def compute_ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    def metric(target: str, section: str, key: str) -> float | None:
        res = results.get(target, {})
        return res.get(section, {}).get(key) if section in res else None

    out: dict[str, dict[str, float | None]] = {}
    for name, res in results.items():
        if "latency" in res:
            p50, p99 = metric(name, "latency", "p50_ms"), metric(name, "latency", "p99_ms")
            tput = metric(name, "pipelined", "msgs_per_s")
            out[name] = {
                "p50_vs_floor": ratio(p50, metric("floor", "latency", "p50_ms")),
                "p99_vs_floor": ratio(p99, metric("floor", "latency", "p99_ms")),
                "p50_vs_floor_db": ratio(p50, metric("floor_db", "latency", "p50_ms")),
                "p50_vs_baseline": ratio(p50, metric("baseline", "latency", "p50_ms")),
                "p99_vs_baseline": ratio(p99, metric("baseline", "latency", "p99_ms")),
                "throughput_vs_baseline": ratio(
                    tput, metric("baseline", "pipelined", "msgs_per_s")
                ),
                "throughput_vs_floor_db": ratio(
                    tput, metric("floor_db", "pipelined", "msgs_per_s")
                ),
            }
        elif "steady" in res:
            out[name] = {}
            for ref in ("baseline", "floor_db"):
                for phase, key in (("steady", "p50_ms"), ("steady", "p99_ms")):
                    out[name][f"{phase}_{key[:3]}_vs_{ref}"] = ratio(
                        metric(name, phase, key), metric(ref, phase, key)
                    )
                out[name][f"saturated_throughput_vs_{ref}"] = ratio(
                    metric(name, "saturated", "msgs_per_s"),
                    metric(ref, "saturated", "msgs_per_s"),
                )
    return out


def fmt(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:g}{suffix}"


def print_report(report: dict[str, Any]) -> None:
    p = report["params"]
    mach = report["machine"]
    print()
    print(f"command : {report['command']}")
    print(f"machine : {mach['nproc']} CPUs ({mach['usable_cpus']} usable), {mach['cpu_model']}")
    print(f"python  : {mach['implementation']} {mach['python']} on {mach['platform']}")
    print(f"packages: {', '.join(f'{k} {v}' for k, v in mach['packages'].items())}")
    print(
        f"params  : latency n={p['n']} (warm-up {p['warmup']}), pipelined m={p['m']}, "
        f"message {p['size']} chars"
    )
    print()
    header = (
        f"{'target':<9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lat lost':>8} "
        f"{'msg/s':>9} {'lost':>6} {'dup':>5} {'ooo':>5} {'q-p50 ms':>9} {'q-p99 ms':>9} "
        f"{'srv cpu':>8} {'db cpu':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, res in report["targets"].items():
        if "latency" not in res:
            status = "skipped: " + res["skipped"] if "skipped" in res else "FAILED: " + res["error"]
            print(f"{name:<9} {status.splitlines()[0]}")
            continue
        lat, pip = res["latency"], res["pipelined"]
        print(
            f"{name:<9} {lat['p50_ms']:>8.3f} {lat['p99_ms']:>8.3f} {lat['max_ms']:>8.3f} "
            f"{lat['lost']:>8d} {pip['msgs_per_s']:>9.1f} {pip['lost']:>6d} {pip['dup']:>5d} "
            f"{pip['out_of_order']:>5d} {pip['delay_p50_ms']:>9.2f} {pip['delay_p99_ms']:>9.2f} "
            f"{fmt(pip.get('server_cpu_ms_per_msg')):>8} {fmt(pip.get('db_cpu_ms_per_msg')):>7}"
        )
    print("(ooo = pipelined messages arriving after a later one; q-p50/q-p99 = per-message")
    print(" send->receive delay during the pipelined burst, i.e. queueing included;")
    print(" srv cpu / db cpu = CPU ms per message of the server process / of the PostgreSQL")
    print(" backends of the bench database, during the pipelined burst)")
    print()
    for name, r in report["ratios"].items():
        parts = []
        if name != "floor":
            parts.append(f"p50 x{fmt(r['p50_vs_floor'])} / p99 x{fmt(r['p99_vs_floor'])} of floor")
        if name not in ("floor", "baseline"):
            parts.append(
                f"p50 x{fmt(r['p50_vs_baseline'])} / p99 x{fmt(r['p99_vs_baseline'])} of baseline"
            )
        if name != "baseline":
            parts.append(f"throughput x{fmt(r['throughput_vs_baseline'])} of baseline")
        if name == "loket":
            parts.append(
                f"p50 x{fmt(r['p50_vs_floor_db'])} / throughput "
                f"x{fmt(r['throughput_vs_floor_db'])} of floor_db"
            )
        print(f"{name:<9} " + "; ".join(parts))


def print_many_report(report: dict[str, Any]) -> None:
    p = report["params"]
    mach = report["machine"]
    print()
    print(f"command : {report['command']}")
    print(f"machine : {mach['nproc']} CPUs ({mach['usable_cpus']} usable), {mach['cpu_model']}")
    print(f"python  : {mach['implementation']} {mach['python']} on {mach['platform']}")
    print(
        f"params  : {p['conversations']} conversations; steady {p['rate']:g} msg/s each for "
        f"{p['duration']:g} s; saturated (one in flight each) for {p['saturate_duration']:g} s; "
        f"message {p['size']} chars; loket capacity {p['capacity']} per counselor"
    )
    print()
    header = (
        f"{'target':<9} {'phase':<9} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>9} {'max ms':>9} "
        f"{'sent':>7} {'lost':>6} {'dup':>5} {'ooo':>5} {'srv cpu':>8} {'db cpu':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, res in report["targets"].items():
        if "steady" not in res:
            status = "skipped: " + res["skipped"] if "skipped" in res else "FAILED: " + res["error"]
            print(f"{name:<9} {status.splitlines()[0]}")
            continue
        for phase in ("steady", "saturated"):
            r = res[phase]
            print(
                f"{name:<9} {phase:<9} {r['msgs_per_s']:>9.1f} {r['p50_ms']:>8.2f} "
                f"{r['p99_ms']:>9.2f} {r['max_ms']:>9.2f} {r['sent']:>7d} {r['lost']:>6d} "
                f"{r['dup']:>5d} {r['out_of_order']:>5d} "
                f"{fmt(r.get('server_cpu_ms_per_msg')):>8} {fmt(r.get('db_cpu_ms_per_msg')):>7}"
            )
    print("(msg/s = messages delivered per second over all conversations; p50/p99/max = each")
    print(" message's send->receive delay; ooo = arriving after a later one of its conversation;")
    print(" srv cpu / db cpu = CPU ms per delivered message of the server process / of the")
    print(" PostgreSQL backends of the bench database)")
    print()
    for name, r in report["ratios"].items():
        if name in ("baseline",) or not r:
            continue
        print(
            f"{name:<9} steady p50 x{fmt(r.get('steady_p50_vs_baseline'))} / p99 "
            f"x{fmt(r.get('steady_p99_vs_baseline'))}, saturated throughput "
            f"x{fmt(r.get('saturated_throughput_vs_baseline'))} of baseline; steady p50 "
            f"x{fmt(r.get('steady_p50_vs_floor_db'))}, saturated throughput "
            f"x{fmt(r.get('saturated_throughput_vs_floor_db'))} of floor_db"
        )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="comma-separated subset of floor,baseline,loket (default: all)",
    )
    parser.add_argument("--n", type=int, default=500, help="sequential round trips (500)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up round trips (50)")
    parser.add_argument("--m", type=int, default=2000, help="pipelined messages (2000)")
    parser.add_argument("--size", type=int, default=64, help="message length in chars (64)")
    parser.add_argument("--recv-timeout", type=float, default=5.0, help="per round trip (5 s)")
    parser.add_argument(
        "--idle-timeout", type=float, default=5.0, help="pipelined: stop after this silence (5 s)"
    )
    parser.add_argument(
        "--phase-timeout", type=float, default=300.0, help="pipelined phase cap (300 s)"
    )
    parser.add_argument(
        "--start-timeout", type=float, default=30.0, help="server start / first relay (30 s)"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=1,
        help=f"concurrent conversations (1: the latency/pipelined phases; 2..{MAX_CONVERSATIONS}: "
        "the steady/saturated phases)",
    )
    parser.add_argument(
        "--rate", type=float, default=1.0, help="steady: messages/s per conversation (1)"
    )
    parser.add_argument("--duration", type=float, default=30.0, help="steady phase, s (30)")
    parser.add_argument(
        "--saturate-duration", type=float, default=20.0, help="saturated phase, s (20)"
    )
    parser.add_argument(
        "--capacity", type=int, default=5, help="loket: conversations per counselor (5)"
    )
    parser.add_argument("--db-pool", type=int, default=8, help="floor_db: database connections (8)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs on success")
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or not targets:
        parser.error(f"unknown targets {unknown}; choose from {','.join(TARGETS)}")
    if min(args.n, args.m) < 1 or args.warmup < 0 or args.size < 16:
        parser.error("need --n >= 1, --m >= 1, --warmup >= 0, --size >= 16")
    if not 1 <= args.conversations <= MAX_CONVERSATIONS:
        parser.error(f"--conversations 1..{MAX_CONVERSATIONS}")
    if not (0.01 <= args.rate <= 1000 and 1 <= args.duration <= 3600):
        parser.error("--rate 0.01..1000, --duration 1..3600")
    if not 1 <= args.saturate_duration <= 3600:
        parser.error("--saturate-duration 1..3600")
    if not 1 <= args.capacity <= 20 or not 1 <= args.db_pool <= 64:
        parser.error("--capacity 1..20 (create_staff's range), --db-pool 1..64")
    args.targets = [t for t in TARGETS if t in targets]
    return args


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    p = Params(
        n=args.n,
        warmup=args.warmup,
        m=args.m,
        size=args.size,
        recv_timeout=args.recv_timeout,
        idle_timeout=args.idle_timeout,
        phase_timeout=args.phase_timeout,
        start_timeout=args.start_timeout,
        redis_url=args.redis_url,
        database_url=args.database_url,
        keep_logs=args.keep_logs,
        conversations=args.conversations,
        rate=args.rate,
        duration=args.duration,
        saturate_duration=args.saturate_duration,
        capacity=args.capacity,
        db_pool=args.db_pool,
    )
    logs = Path(tempfile.mkdtemp(prefix="loket-bench-"))
    report: dict[str, Any] = {
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "cwd": os.getcwd(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "params": {k: v for k, v in vars(p).items() if k not in ("database_url", "keep_logs")},
        "targets": {},
    }
    failed = False
    for name in args.targets:
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            res = RUNNERS[name](p, logs)
        except Skip as exc:
            res = {"skipped": str(exc)}
            print(f"  [{name}] skipped: {exc}", flush=True)
        except Exception as exc:  # one broken target must not hide the others' figures
            failed = True
            res = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"  [{name}] FAILED: {res['error']}", flush=True)
            print(f"  [{name}] server log: {logs / (name + '.log')}", flush=True)
        else:
            if "steady" in res:
                st, sat = res["steady"], res["saturated"]
                print(
                    f"  [{name}] steady p50 {st['p50_ms']} ms, p99 {st['p99_ms']} ms, "
                    f"{st['msgs_per_s']} msg/s; saturated {sat['msgs_per_s']} msg/s, "
                    f"p99 {sat['p99_ms']} ms ({time.monotonic() - t0:.1f}s)",
                    flush=True,
                )
            else:
                lat, pip = res["latency"], res["pipelined"]
                print(
                    f"  [{name}] p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
                    f"{pip['msgs_per_s']} msg/s ({time.monotonic() - t0:.1f}s)",
                    flush=True,
                )
        report["targets"][name] = res
    report["ratios"] = compute_ratios(report["targets"])
    if p.conversations > 1:
        print_many_report(report)
    else:
        print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    if failed or p.keep_logs:
        print(f"server logs kept in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
