"""``bench.scale heartbeat``: what keeping one process's N connections alive costs the database.

Before issue 9 a process renewed every one of its Connection rows each lease/3 (one UPDATE of
``lease_expires_at`` touching N rows, an indexed column); now it renews one heartbeat row (an
upsert on ``consult_serverprocess``). Both are timed here, each committed as the runtime commits
it, on the database ``DATABASE_URL`` names (PostgreSQL; loopback):

- ``update``: the old renewal, on a scratch copy of ``consult_connection`` with the old
  ``lease_expires_at`` column and its index (``CREATE TABLE … (LIKE consult_connection INCLUDING
  ALL)``), holding N rows of one server process; the table is dropped afterwards.
- ``upsert``: ``presence.process_beat`` with N Connection rows of that process present.
- ``reap scan``: the sweeper's search for connections of lapsed processes
  (``Connection.objects.lapsed``) with those N rows all live, which now reads every row.

Every row the benchmark writes is deleted at the end::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loket_bench LOKET_DEV_SECRET_FILE=var/secret \\
        .venv/bin/python -m bench.scale heartbeat --connections 10000 --rounds 30
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

MAX_CONNECTIONS = 100_000
MAX_ROUNDS = 1_000


def add_parser(sub: Any) -> None:
    p = sub.add_parser("heartbeat", help="one lease renewal with N connections: UPDATE vs upsert")
    p.add_argument("--connections", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=30)


def _timed(rounds: int, step: Callable[[], None]) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "max_ms": round(times[-1], 2),
    }


def measure(connections: int, rounds: int) -> dict[str, Any]:
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from consult.models import Connection, ConnectionRole, ServerProcess
    from consult.services.presence import process_beat

    if connection.vendor != "postgresql":
        raise SystemExit("bench.scale heartbeat needs PostgreSQL (DATABASE_URL)")
    server_id = f"bench-hb:{uuid.uuid4().hex[:8]}"
    scratch = f"bench_old_connection_{uuid.uuid4().hex[:8]}"
    lease = timedelta(seconds=15)
    now = timezone.now()
    results: dict[str, Any] = {"connections": connections, "rounds": rounds}
    try:
        with transaction.atomic():
            ServerProcess.objects.create(
                server_id=server_id, started_at=now, expires_at=now + lease
            )
            Connection.objects.bulk_create(
                (
                    Connection(
                        role=ConnectionRole.APPLICANT,
                        server_id=server_id,
                        channel_name=f"bench.{n}",
                        opened_at=now,
                    )
                    for n in range(connections)
                ),
                batch_size=2000,
            )
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {scratch} (LIKE consult_connection INCLUDING ALL)")
            cursor.execute(
                f"ALTER TABLE {scratch} ADD COLUMN lease_expires_at timestamptz NOT NULL "
                "DEFAULT now()"
            )
            cursor.execute(f"CREATE INDEX {scratch}_lease ON {scratch} (lease_expires_at)")
            cursor.execute(
                f"INSERT INTO {scratch} SELECT *, now() FROM consult_connection "
                "WHERE server_id = %s",
                [server_id],
            )
            cursor.execute(f"ANALYZE {scratch}")
            cursor.execute("ANALYZE consult_connection")
            cursor.execute("ANALYZE consult_serverprocess")

        def old_update() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {scratch} SET lease_expires_at = %s WHERE server_id = %s",
                    [timezone.now() + lease, server_id],
                )
                assert cursor.rowcount == connections

        def new_upsert() -> None:
            process_beat(server_id=server_id)  # autocommit: one statement, committed

        def reap_scan() -> None:
            found = list(Connection.objects.lapsed(timezone.now()).values_list("pk")[:500])
            assert not [pk for pk in found if pk is None]

        results["update (before)"] = _timed(rounds, old_update)
        results["upsert (after)"] = _timed(rounds, new_upsert)
        results["reap scan (after, all live)"] = _timed(rounds, reap_scan)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        Connection.objects.filter(server_id=server_id).delete()
        ServerProcess.objects.filter(server_id=server_id).delete()
    return results


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not 1 <= args.connections <= MAX_CONNECTIONS or not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--connections 1..{MAX_CONNECTIONS}, --rounds 1..{MAX_ROUNDS}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    result = measure(args.connections, args.rounds)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0
