"""Queue scale benchmarks (issue 9), on the database ``DATABASE_URL`` names; loopback only.

``routing``: the cost of one routing pass with ``--waiting`` N consultations waiting in one topic
(A) and one in another (B). Sari serves A and holds two of her three places; Budi serves only B
and is idle. Each pass (``consult.services.routing`` under the dispatch lock, in a savepoint that
is rolled back, so every pass sees the same queue) should offer A's head to Sari and B's one
consultation to Budi. Reported: the pass's wall time (p50, p99), its queries and the rows they
returned, and whether B was offered. Everything the benchmark writes is rolled back at the end;
nothing is published (the outer transaction never commits)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loket_bench LOKET_DEV_SECRET_FILE=var/secret \\
        .venv/bin/python -m bench.scale routing --waiting 10000 --passes 50
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from bench import scale_connections, scale_heartbeat, scale_queue

MAX_WAITING = 100_000
MAX_PASSES = 1_000


def _routing(waiting: int, passes: int, show_queries: bool) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from consult.models import (
        Connection,
        ConnectionRole,
        Consultation,
        ConsultationStatus,
        CounselorStatus,
        ServerProcess,
        StaffProfile,
        StaffRole,
        Topic,
    )
    from consult.services import routing

    class Rollback(Exception):
        pass

    counts = {"queries": 0}

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counts["queries"] += 1
        if show_queries:
            print(sql[:200])
        return execute(sql, params, many, context)

    results: dict[str, Any] = {}
    try:
        with transaction.atomic():
            now = timezone.now()
            a = Topic.objects.create(code="bench-a", name_id="A", name_en="A")
            b = Topic.objects.create(code="bench-b", name_id="B", name_en="B")
            ServerProcess.objects.create(
                server_id="bench", started_at=now, expires_at=now + timedelta(hours=1)
            )
            staff = {}
            for name, topic in (("bench-sari", a), ("bench-budi", b)):
                user = get_user_model().objects.create_user(username=name, password=None)
                profile = StaffProfile.objects.create(
                    user=user,
                    role=StaffRole.COUNSELOR,
                    display_name=name,
                    capacity=3,
                    status=CounselorStatus.AVAILABLE,
                )
                profile.topics.set([topic])
                Connection.objects.create(
                    role=ConnectionRole.COUNSELOR,
                    server_id="bench",
                    channel_name=f"bench.{name}",
                    staff=profile,
                    opened_at=now,
                )
                staff[name] = profile

            def row(topic: Topic, n: int, **extra: Any) -> Consultation:
                fields: dict[str, Any] = {
                    "queued_at": now - timedelta(hours=2) + timedelta(milliseconds=n),
                    **extra,
                }
                return Consultation(
                    topic=topic, applicant_name=f"A{n}", token_nonce="bench", **fields
                )

            for n in range(2):
                row(
                    a, -1 - n, status=ConsultationStatus.ACTIVE, counselor=staff["bench-sari"]
                ).save()
            Consultation.objects.bulk_create((row(a, n) for n in range(waiting)), batch_size=2000)
            only_b = row(b, waiting + 1, queued_at=now - timedelta(minutes=1))
            only_b.save()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE consult_consultation")
            times: list[float] = []
            offered_b = 0
            per_pass = placed = 0
            for _ in range(passes):
                counts["queries"] = 0
                sid = transaction.savepoint()
                with connection.execute_wrapper(count):
                    start = time.perf_counter()
                    offered = routing._dispatch_pass()
                    times.append(time.perf_counter() - start)
                per_pass = counts["queries"]
                placed = len(offered)
                offered_b += any(c.pk == only_b.pk for c in offered)
                transaction.savepoint_rollback(sid)
            times.sort()
            results = {
                "waiting": waiting,
                "passes": passes,
                "p50_ms": round(statistics.median(times) * 1000, 2),
                "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 2),
                "queries_per_pass": per_pass,
                "offered_per_pass": placed,
                "b_offered": f"{offered_b}/{passes}",
                "vendor": connection.vendor,
            }
            raise Rollback
    except Rollback:
        pass
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    routing_p = sub.add_parser("routing", help="one routing pass with N waiting")
    routing_p.add_argument("--waiting", type=int, default=10_000)
    routing_p.add_argument("--passes", type=int, default=50)
    routing_p.add_argument(
        "--show-queries", action="store_true", help="print each pass's queries (abridged)"
    )
    scale_heartbeat.add_parser(sub)
    scale_queue.add_parser(sub)
    scale_connections.add_parser(sub)
    args = parser.parse_args(argv)
    if args.bench == "heartbeat":
        return scale_heartbeat.main(args, parser)
    if args.bench in ("queue", "fanout"):
        return scale_queue.main(args)
    if args.bench == "connections":
        return scale_connections.run(args)
    if not 0 <= args.waiting <= MAX_WAITING or not 1 <= args.passes <= MAX_PASSES:
        parser.error(f"--waiting 0..{MAX_WAITING}, --passes 1..{MAX_PASSES}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    result = _routing(args.waiting, args.passes, args.show_queries)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
