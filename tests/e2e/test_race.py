"""Routing under a real race: several OS processes join, offer, accept and end at once.

200 applicants over 3 topics join from three processes (one per topic); 10 counselors of capacity
3 (each serving two of the topics) come online and accept and end consultations from two more
processes; a sixth process sweeps as every server process does. All of it through the real
services against one PostgreSQL database. Meanwhile this process samples every counselor's load.
"""

from __future__ import annotations

import itertools
import json
import selectors
import statistics
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg.rows import namedtuple_row

from tests.support.processes import attach_logs
from tests.support.servers import PYTHON, ROOT, Database, process_env

pytestmark = [pytest.mark.processes, pytest.mark.postgres]

TOTAL = 200
TOPICS = ["building-approval", "business-registration", "health-permit"]
COUNSELORS = 10
CAPACITY = 3
BUDGET = 75.0  # seconds for the whole race

LOAD_SQL = """
    SELECT c.counselor_id, s.capacity, count(*)
    FROM consult_consultation c JOIN consult_staffprofile s ON s.id = c.counselor_id
    WHERE c.status IN ('offered', 'active')
    GROUP BY c.counselor_id, s.capacity
"""

CONSULTATIONS_SQL = """
    SELECT c.id, t.code AS topic, c.status, c.ended_by, c.counselor_id,
           s.display_name AS counselor_name, c.queued_at, c.offered_at, c.accepted_at, c.ended_at
    FROM consult_consultation c JOIN consult_topic t ON t.id = c.topic_id
    LEFT JOIN consult_staffprofile s ON s.id = c.counselor_id
"""


class Worker:
    """One ``tests.e2e.race_worker`` process, its action log and its stderr."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.out = log_dir / f"{name}.jsonl"
        self.err = log_dir / f"{name}.stderr"
        with self.err.open("w") as err:
            self.process = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "tests.e2e.race_worker",
                    *args,
                    f"--out={self.out}",
                    f"--total={TOTAL}",
                    f"--seconds={BUDGET}",
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def log(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""


@pytest.fixture
def workers(
    e2e_database: Database,
    log_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[list[Worker]]:
    # Long leases and offer timeouts: this race is about routing, not about deadlines.
    env = process_env(
        database_url=e2e_database.url,
        LOKET_CONNECTION_LEASE="3600",
        LOKET_OFFER_TIMEOUT="600",
        LOKET_RUNTIME="0",
    )
    topics = ",".join(TOPICS)
    # Applicant i asks about topic i % 3 and is joined by process i % 3: the topics' queues fill
    # at the same time, but within a topic each join commits before the next one starts, so
    # queued_at order is the order in which the rows became visible and FIFO is well defined.
    specs = [
        *(
            (
                f"applicants-{index}",
                ["applicants", f"--index={index}", "--of=3", f"--topics={topics}"],
            )
            for index in range(len(TOPICS))
        ),
        # Counselor n (of 10) serves topics n and n + 1 (mod 3), so the queues overlap; process
        # n % 2 creates the account and acts for them.
        *(
            (
                f"counselors-{index}",
                [
                    "counselors",
                    f"--index={index}",
                    "--of=2",
                    f"--counselors={COUNSELORS}",
                    f"--capacity={CAPACITY}",
                    f"--topics={topics}",
                ],
            )
            for index in range(2)
        ),
        ("sweeper", ["sweeper"]),
    ]
    started: list[Worker] = []
    attach_logs(request, lambda: [(f"worker {w.name} stderr", w.log()) for w in started])
    try:
        for name, args in specs:
            started.append(Worker(name, args, env, log_dir))
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(timeout=10)
            for stream in (worker.process.stdin, worker.process.stdout):
                if stream is not None:
                    stream.close()


def wait_ready(workers: list[Worker], timeout: float = 60) -> None:
    """Each worker prints ``ready`` once Django is set up."""
    selector = selectors.DefaultSelector()
    for worker in workers:
        assert worker.process.stdout is not None
        selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
    deadline = time.monotonic() + timeout
    pending = set(range(len(workers)))
    try:
        while pending:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"workers not ready in {timeout}s"
            for key, _ in selector.select(remaining):
                worker = key.data
                line = worker.process.stdout.readline()
                assert line.strip() == "ready", f"{worker.name}: {line!r}\n{worker.log()}"
                selector.unregister(key.fileobj)
                pending.discard(workers.index(worker))
    finally:
        selector.close()


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant (an end and a start at the same instant: apart)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, step in points:
        open_now += step
        peak = max(peak, open_now)
    return peak


def test_routing_race_across_processes(e2e_database: Database, workers: list[Worker]) -> None:
    wait_ready(workers)
    samples = 0
    max_load: Counter[int] = Counter()
    over: list[tuple[int, int, int]] = []
    with e2e_database.connect() as conn:
        began = time.monotonic()
        for worker in workers:
            assert worker.process.stdin is not None
            worker.process.stdin.write("go\n")
            worker.process.stdin.flush()
        # Sample every counselor's load (one statement: one consistent snapshot) until done.
        while any(w.process.poll() is None for w in workers):
            assert time.monotonic() - began < BUDGET + 10, "the race did not finish in time"
            for counselor_id, capacity, load in conn.execute(LOAD_SQL).fetchall():
                max_load[counselor_id] = max(max_load[counselor_id], load)
                if load > capacity:
                    over.append((counselor_id, capacity, load))
            samples += 1
            time.sleep(0.01)
        took = time.monotonic() - began
        consultations: list[Any] = (
            conn.cursor(row_factory=namedtuple_row).execute(CONSULTATIONS_SQL).fetchall()
        )
        event_rows = conn.execute(
            "SELECT consultation_id, event, data FROM consult_transcriptentry WHERE kind = 'event'"
        ).fetchall()

    for worker in workers:
        assert worker.process.returncode == 0, f"{worker.name} exited {worker.process.returncode}"
    records = [record for worker in workers for record in worker.records()]
    errors = [r for r in records if r["kind"] == "error"]
    assert not errors, errors

    # All 200 joined and ended, each answered by a counselor.
    assert len(consultations) == TOTAL
    assert {(c.status, c.ended_by) for c in consultations} == {("ended", "counselor")}

    # Never one consultation to two counselors: one acceptance each, one counselor_joined each,
    # by the counselor the record names; nothing was ever requeued.
    by_id = {c.id: c for c in consultations}
    accepted = [r for r in records if r["kind"] == "accepted"]
    assert sorted(Counter(r["id"] for r in accepted).values()) == [1] * TOTAL
    for record in accepted:
        assert by_id[record["id"]].counselor_id == record["counselor"]
    events: dict[int, Counter[str]] = defaultdict(Counter)
    joined_by: dict[int, list[str]] = defaultdict(list)
    for consultation_id, event, data in event_rows:
        events[consultation_id][event] += 1
        if event == "counselor_joined":
            joined_by[consultation_id].append(data["counselor"])
    for consultation in consultations:
        assert events[consultation.id] == Counter(joined=1, counselor_joined=1, ended=1)
        assert joined_by[consultation.id] == [consultation.counselor_name]

    # Never a counselor over capacity: at any sampled moment, and by reconstruction from the
    # accepted..ended intervals (each lies inside the time the counselor truly held it).
    assert samples > 50, samples
    assert not over, over[:10]
    held: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for consultation in consultations:
        held[consultation.counselor_id].append((consultation.accepted_at, consultation.ended_at))
    peaks = {counselor: max_overlap(intervals) for counselor, intervals in held.items()}
    assert max(peaks.values()) <= CAPACITY, peaks
    # The race was real: counselors were seen full, and every counselor took consultations.
    assert max(max_load.values()) == CAPACITY
    assert len(held) == COUNSELORS

    # FIFO within a topic: the order of the offers is the order of joining.
    for topic in TOPICS:
        queue = sorted((c for c in consultations if c.topic == topic), key=lambda c: c.queued_at)
        overtaken = [
            (ahead.id, behind.id)
            for ahead, behind in itertools.pairwise(queue)
            if behind.offered_at < ahead.offered_at
        ]
        assert not overtaken, (topic, overtaken[:10])

    accepts = Counter(by_id[r["id"]].counselor_id for r in accepted)
    latency = {
        kind: statistics.quantiles([r["ms"] for r in records if r["kind"] == kind], n=10)
        for kind in ("joined", "accepted", "ended", "swept")
    }
    print(
        f"\nrace: {TOTAL} consultations over {len(TOPICS)} topics, {COUNSELORS} counselors x "
        f"{CAPACITY}, {len(workers)} processes: all ended in {took:.1f}s; {samples} load samples, "
        f"max load {max(max_load.values())}; accepts per counselor {sorted(accepts.values())}; "
        + "; ".join(
            f"{kind} median {q[4]:.0f} ms, p90 {q[8]:.0f} ms" for kind, q in latency.items()
        )
    )
