"""Records at scale (docs/RECORDS.md): the cost of sealing, proving and verifying with a log of
``--consultations`` N statements (100,000 by default) on PostgreSQL.

Set-up (timed, not reported as a figure): the database named by ``DATABASE_URL`` (its name must
contain ``bench``) is dropped, created and migrated; N ended consultations of one topic, each
with ``--entries`` E chained entries (their hashes computed by ``consult.records.chain``, as
``entry_add`` does), are bulk-inserted.

Measured, in this process, through the services and commands the server uses:

* ``seal``: each consultation sealed by ``records.consultation_seal`` in its own transaction
  with its row locked, as ``consultation_end`` does (the statement signed, appended to the log,
  the subtree hashes it completes stored): per-seal wall time p50/p99 over the first and the
  last 1,000 (an append's cost must not grow with the log), and seals per second overall.
* ``checkpoint``: signing a checkpoint of the whole log (its root from the stored subtrees).
* ``inclusion``: 1,000 inclusion proofs of random leaves against the whole log, from the stored
  subtrees: p50/p99, and the number of hashes per proof.
* ``consistency``: 200 consistency proofs from a random earlier size to the whole log.
* ``bundle``: building one consultation's evidence bundle (staff copy) and checking it with the
  standalone verifier (``loket_verify.verify_bundle``): p50 over 200 consultations each.
* ``verify_all``: ``manage.py transcript_verify --all`` (every chain, seal and proof, and the
  whole log recomputed): wall time.

Run from the repository root (PostgreSQL on 127.0.0.1)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loket_bench_records \\
        .venv/bin/python -m bench.records --consultations 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loket_bench_records"


def fresh_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not parts.scheme.startswith("postgres") or "bench" not in name:
        raise SystemExit(f"DATABASE_URL must name a PostgreSQL database with 'bench' in it: {name}")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "n": len(ordered),
    }


def seed(n: int, entries: int) -> None:
    from django.utils import timezone

    from consult.models import Consultation, Topic, TranscriptEntry
    from consult.records import chain

    topic, _ = Topic.objects.get_or_create(
        code="bench-records", defaults={"name_id": "Bench", "name_en": "Bench"}
    )
    at = timezone.now() - timedelta(days=1)
    batch = 2000
    for start in range(0, n, batch):
        made = Consultation.objects.bulk_create(
            [
                Consultation(
                    public_id=uuid.uuid4(),
                    topic=topic,
                    applicant_name="Bench",
                    status="ended",
                    queued_at=at,
                    ended_at=at,
                    token_nonce="bench",
                    last_seq=entries,
                )
                for _ in range(min(batch, n - start))
            ]
        )
        rows = []
        for consultation in made:
            prev = chain.ZERO
            for seq in range(1, entries + 1):
                last = seq == entries
                kind, role = ("event", "system") if last else ("message", "applicant")
                text = "" if last else f"Pesan {seq}: syaratnya KTP, gambar teknis, bukti tanah."
                event = "ended" if last else ""
                data = {"by": "counselor", "reason": "answered"} if last else {}
                salt = chain.new_salt()
                digest = chain.text_hash(salt, text)
                prev = chain.entry_hash(
                    public_id=str(consultation.public_id),
                    seq=seq,
                    at=at,
                    kind=kind,
                    role=role,
                    author=None,
                    event=event,
                    data=data,
                    text_digest=digest,
                    prev=prev,
                )
                rows.append(
                    TranscriptEntry(
                        consultation=consultation,
                        seq=seq,
                        kind=kind,
                        author_role=role,
                        text=text,
                        event=event,
                        data=data,
                        created_at=at,
                        salt=salt,
                        text_hash=digest,
                        hash=prev,
                    )
                )
        TranscriptEntry.objects.bulk_create(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consultations", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=4, help="entries per consultation (4)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not 1_000 <= args.consultations <= 1_000_000 or not 1 <= args.entries <= 100:
        parser.error("--consultations 1000..1000000, --entries 1..100")
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LOKET_SECRET_KEY", "bench")
    os.environ.setdefault("LOKET_DATA_DIR", tempfile.mkdtemp(prefix="loket-bench-records-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    fresh_database(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, check=True
    )
    import django

    django.setup()
    from django.db import transaction

    from consult.models import Consultation, RecordStatement
    from consult.records import loket_verify
    from consult.selectors.records import evidence_bundle, keys_document
    from consult.services import records
    from consult.services.locking import consultation_lock

    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_at_start": os.getloadavg(),
        },
        "params": vars(args) | {"json": str(args.json) if args.json else None},
    }
    t0 = time.monotonic()
    seed(args.consultations, args.entries)
    report["seed_s"] = round(time.monotonic() - t0, 1)
    print(f"seeded {args.consultations} in {report['seed_s']} s", flush=True)

    ids = list(Consultation.objects.order_by("pk").values_list("pk", flat=True))
    times: list[float] = []
    t0 = time.monotonic()
    for consultation_id in ids:
        started = time.perf_counter()
        with transaction.atomic():
            consultation = consultation_lock(consultation_id=consultation_id)
            head = (
                consultation.entries.filter(seq=consultation.last_seq)
                .values_list("hash", flat=True)
                .first()
            )
            records.consultation_seal(consultation, last_seq=consultation.last_seq, head=head or "")
        times.append(time.perf_counter() - started)
        if len(times) % 10_000 == 0:
            print(f"sealed {len(times)}", flush=True)
    elapsed = time.monotonic() - t0
    report["seal"] = {
        "first_1000": ms(times[:1000]),
        "last_1000": ms(times[-1000:]),
        "per_second": round(len(times) / elapsed, 1),
    }
    size = records.log_size()
    started = time.perf_counter()
    checkpoint = records.checkpoint_publish()
    report["checkpoint"] = {"ms": round((time.perf_counter() - started) * 1000, 2), "size": size}

    rng = random.Random(9162)
    proof_times, lengths = [], []
    for _ in range(1000):
        index = rng.randrange(size)
        started = time.perf_counter()
        proof = records.inclusion_proof(index, size)
        proof_times.append(time.perf_counter() - started)
        lengths.append(len(proof))
    report["inclusion"] = ms(proof_times) | {"hashes_max": max(lengths)}
    consistency_times = []
    for _ in range(200):
        first = rng.randrange(1, size)
        started = time.perf_counter()
        records.consistency_proof(first, size)
        consistency_times.append(time.perf_counter() - started)
    report["consistency"] = ms(consistency_times)

    keys_doc = keys_document()
    build_times, verify_times = [], []
    sample = rng.sample(ids, 200)
    for consultation in Consultation.objects.filter(pk__in=sample):
        started = time.perf_counter()
        bundle = evidence_bundle(consultation, checkpoint=checkpoint, audience="staff")
        build_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        verified = loket_verify.verify_bundle(bundle, keys_doc)
        verify_times.append(time.perf_counter() - started)
        if not verified.ok:
            raise SystemExit(f"bundle did not verify: {verified.failures}")
    report["bundle"] = {"build": ms(build_times), "verify": ms(verify_times)}

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "transcript_verify", "--all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    report["verify_all"] = {
        "s": round(time.monotonic() - started, 1),
        "exit": done.returncode,
        "last_line": (done.stdout.strip().splitlines() or [""])[-1],
    }
    report["statements"] = RecordStatement.objects.count()
    report["machine"]["load_at_end"] = os.getloadavg()
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
