"""``manage.py retention_purge``: erase what is past its retention period (docs/RECORDS.md).

The sweeper runs the same purge once an hour in every process; this command runs it now and
says what it erased. ``--dry-run`` says what a purge would erase and changes nothing;
``--now`` (ISO 8601 with an offset) asks that as of another time, and only with ``--dry-run`` for
a time after the present (a purge never erases early, nor signs a time that has not come).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...services.retention import retention_due, retention_purge, retention_rules


class Command(BaseCommand):
    help = "Erase personal data past its retention period; purge records go to the log."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="as of this time (ISO 8601 with an offset)")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        now = None
        if options["now"]:
            try:
                now = datetime.fromisoformat(options["now"])
            except ValueError:
                raise CommandError("--now must be an ISO 8601 time") from None
            if now.tzinfo is None:
                raise CommandError("--now needs an offset (e.g. +07:00)")
            if now > timezone.now() and not options["dry_run"]:
                raise CommandError("--now in the future needs --dry-run: nothing is erased early")
        for data, (days, _) in sorted(retention_rules().items()):
            self.stdout.write(f"rule {data}: {days} days")
        if options["dry_run"]:
            for data, count in sorted(retention_due(now=now).items()):
                self.stdout.write(f"due {data}: {count} consultation(s)")
            return
        total = 0
        while True:
            done = retention_purge(now=now)
            for data, count in sorted(done.items()):
                if count:
                    self.stdout.write(f"purged {data}: {count} consultation(s)")
            total += sum(done.values())
            if not any(done.values()):
                break
        self.stdout.write(f"done: {total} purge(s)")
