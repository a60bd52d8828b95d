"""One OS process of the routing race (tests/e2e/test_race.py), calling the real services.

    python -m tests.e2e.race_worker applicants --index K --of N --total T --topics a,b,c --out F
    python -m tests.e2e.race_worker counselors --index K --of N --topics a,b,c --total T --out F
    python -m tests.e2e.race_worker sweeper --total T --out F

Each prints ``ready`` once Django is set up (counselors: once their accounts exist), waits for a
line on stdin (the start signal, so all processes begin together), then appends one JSON object
per action to ``--out``. Counselors and the sweeper stop when all ``--total`` consultations have
ended; ``--seconds`` bounds every role.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any, TextIO

import django


def _record(out: TextIO, **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def _ms(began: float) -> float:
    return round((time.monotonic() - began) * 1000, 1)


def _all_ended(total: int) -> bool:
    from consult.models import Consultation, ConsultationStatus

    return Consultation.objects.filter(status=ConsultationStatus.ENDED).count() >= total


def applicants(args: argparse.Namespace, out: TextIO) -> None:
    """Join applicants index, index + of, ...; applicant i asks about topics[i % len(topics)]."""
    from consult.services.consultations import consultation_join

    topics = args.topics.split(",")
    for number in range(args.index, args.total, args.of):
        began = time.monotonic()
        consultation, _token = consultation_join(
            name=f"Pemohon {number}",
            phone=f"08{number:010d}",
            topic_code=topics[number % len(topics)],
            applicant_grace_seconds=3600,
        )
        _record(
            out,
            kind="joined",
            number=number,
            id=consultation.pk,
            topic=topics[number % len(topics)],
            queued_at=consultation.queued_at.timestamp(),
            ms=_ms(began),
        )


def counselor_accounts(args: argparse.Namespace) -> list[str]:
    """Create counselors index, index + of, ... (below --counselors) with create_staff; counselor
    n serves topics n and n + 1 (mod the number of topics), so the topics' queues overlap."""
    from django.core.management import call_command

    topics = args.topics.split(",")
    usernames = []
    for number in range(args.index, args.counselors, args.of):
        usernames.append(f"race-counselor-{number}")
        call_command(
            "create_staff",
            role="counselor",
            username=usernames[-1],
            password=f"race-password-{number}",
            topics=f"{topics[number % len(topics)]},{topics[(number + 1) % len(topics)]}",
            capacity=args.capacity,
            stdout=sys.stderr,
        )
    return usernames


def counselors(args: argparse.Namespace, usernames: list[str], out: TextIO, until: float) -> None:
    """Come online at staggered moments, accept every offer, end each after a short hold."""
    from consult.errors import DomainError
    from consult.models import ConnectionRole, Consultation, ConsultationStatus, StaffProfile
    from consult.services.consultations import consultation_end
    from consult.services.offers import offer_accept
    from consult.services.presence import connection_open, counselor_status_set

    rng = random.Random(args.index)
    staff = {s.pk: s for s in StaffProfile.objects.filter(user__username__in=usernames)}
    start = time.monotonic()
    online_at = {pk: start + rng.uniform(0, 0.5) for pk in staff}
    online: set[int] = set()
    ends: dict[int, tuple[int, float]] = {}
    while time.monotonic() < until:
        now = time.monotonic()
        for pk in [pk for pk, at in online_at.items() if at <= now and pk not in online]:
            connection_open(
                role=ConnectionRole.COUNSELOR,
                server_id=f"race-{args.index}",
                channel_name=f"race.{pk}",
                staff=staff[pk],
            )
            counselor_status_set(staff=staff[pk], status="available")
            online.add(pk)
            _record(out, kind="online", counselor=pk)
        offers = list(
            Consultation.objects.filter(
                counselor_id__in=online, status=ConsultationStatus.OFFERED
            ).values_list("pk", "counselor_id")
        )
        for consultation_id, counselor_id in offers:
            began = time.monotonic()
            try:
                offer_accept(staff=staff[counselor_id], consultation_id=consultation_id)
            except DomainError as exc:
                _record(out, kind="error", action="accept", id=consultation_id, code=exc.code)
                continue
            _record(out, kind="accepted", id=consultation_id, counselor=counselor_id, ms=_ms(began))
            ends[consultation_id] = (counselor_id, time.monotonic() + rng.uniform(0.01, 0.12))
        due = [(cid, sid) for cid, (sid, at) in ends.items() if at <= time.monotonic()]
        for consultation_id, counselor_id in due:
            del ends[consultation_id]
            began = time.monotonic()
            try:
                consultation_end(
                    consultation_id=consultation_id,
                    ended_by="counselor",
                    staff=staff[counselor_id],
                    reason="answered",
                )
            except DomainError as exc:
                _record(out, kind="error", action="end", id=consultation_id, code=exc.code)
                continue
            _record(out, kind="ended", id=consultation_id, counselor=counselor_id, ms=_ms(began))
        if not offers and not due:
            if not ends and len(online) == len(staff) and _all_ended(args.total):
                return
            time.sleep(0.01)


def sweeper(args: argparse.Namespace, out: TextIO, until: float) -> None:
    """What every server process does in the background: sweep due deadlines, then dispatch."""
    from consult.services.sweeper import sweep_due

    while time.monotonic() < until and not _all_ended(args.total):
        began = time.monotonic()
        sweep_due()
        _record(out, kind="swept", ms=_ms(began))
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["applicants", "counselors", "sweeper"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--total", type=int, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--of", type=int, default=1)
    parser.add_argument("--topics", default="")
    parser.add_argument("--counselors", type=int, default=0)
    parser.add_argument("--capacity", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    django.setup()
    usernames = counselor_accounts(args) if args.role == "counselors" else []
    print("ready", flush=True)
    sys.stdin.readline()
    until = time.monotonic() + args.seconds
    with open(args.out, "a", encoding="utf-8") as out:
        if args.role == "applicants":
            applicants(args, out)
        elif args.role == "counselors":
            counselors(args, usernames, out, until)
        else:
            sweeper(args, out, until)


if __name__ == "__main__":
    main()
