"""Run the deadline sweeper as its own worker process (server processes also sweep)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from consult.services.sweeper import sweep_due


class Command(BaseCommand):
    help = "Handle due offers, grace periods and lapsed leases, every --interval seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=settings.LOKET["SWEEP_INTERVAL"])
        parser.add_argument("--once", action="store_true", help="sweep once and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            done = sweep_due()
            if options["once"]:
                self.stdout.write(" ".join(f"{k}={v}" for k, v in done.items()))
                return
            time.sleep(max(0.05, options["interval"]))
