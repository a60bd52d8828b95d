"""Demo data for local use: permit-office topics, the default office hours and demo staff
accounts (idempotent)."""

from __future__ import annotations

import secrets
from datetime import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from consult.hours import OFFICE_TZ, office_clock
from consult.management.demo_data import knowledge_demo_seed
from consult.models import OfficeHours, StaffProfile, StaffRole, Topic, Weekday
from consult.selectors.office import office_status_now

TOPICS = [
    ("building-approval", "Persetujuan Bangunan Gedung (PBG)", "Building approval (PBG)"),
    ("business-registration", "Pendaftaran Usaha (NIB)", "Business registration (NIB)"),
    ("health-permit", "Izin Kesehatan", "Health permits"),
    ("environment-permit", "Izin Lingkungan", "Environmental permits"),
    ("non-permit-letters", "Surat Nonperizinan", "Non-permit letters"),
]

DEMO_STAFF = [
    ("konselor1", "Sari (Konselor)", StaffRole.COUNSELOR, ["building-approval", "health-permit"]),
    ("konselor2", "Budi (Konselor)", StaffRole.COUNSELOR, [c for c, _, _ in TOPICS]),
    ("supervisor", "Dewi (Supervisor)", StaffRole.SUPERVISOR, []),
]


class Command(BaseCommand):
    help = (
        "Create demo topics and staff accounts for local use; prints new passwords once "
        "(--reset-passwords gives the demo accounts new ones)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--topics-only", action="store_true", help="create the topics, no accounts"
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="give the existing demo accounts new passwords and print them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            for order, (code, name_id, name_en) in enumerate(TOPICS):
                Topic.objects.update_or_create(
                    code=code, defaults={"name_id": name_id, "name_en": name_en, "order": order}
                )
            # The default week: Monday to Friday 07:30-16:00, last entry 15 minutes before closing.
            # Days an administrator already set are left as they are.
            for weekday in Weekday:
                workday = weekday <= Weekday.FRIDAY
                OfficeHours.objects.get_or_create(
                    weekday=weekday,
                    defaults={
                        "closed": not workday,
                        "opens_at": time(7, 30) if workday else None,
                        "closes_at": time(16, 0) if workday else None,
                        "last_entry_minutes": 15,
                    },
                )
            # Demo knowledge-base articles and shared canned replies (never overwritten).
            knowledge_demo_seed()
            if options["topics_only"]:
                self.stdout.write(f"{len(TOPICS)} topics ready.")
                return
            user_model = get_user_model()
            created_lines = []
            for username, name, role, codes in DEMO_STAFF:
                existing = user_model.objects.filter(username=username).first()
                if existing is not None:
                    if options["reset_passwords"]:
                        password = secrets.token_urlsafe(9)
                        existing.set_password(password)
                        existing.save(update_fields=["password"])
                        created_lines.append(f"  {role:<10} {username:<12} {password}")
                    continue
                password = secrets.token_urlsafe(9)
                user = user_model.objects.create_user(username=username, password=password)
                user.is_staff = role == StaffRole.SUPERVISOR
                user.save(update_fields=["is_staff"])
                profile = StaffProfile.objects.create(user=user, role=role, display_name=name)
                profile.topics.set(Topic.objects.filter(code__in=codes))
                created_lines.append(f"  {role:<10} {username:<12} {password}")
        self.stdout.write(f"{len(TOPICS)} topics ready.")
        if created_lines:
            self.stdout.write("Demo accounts (local use only; shown once):")
            for line in created_lines:
                self.stdout.write(line)
        else:
            self.stdout.write(
                "Demo accounts already exist (konselor1, konselor2, supervisor); their passwords "
                "were shown when they were created. New ones: make demo-passwords"
            )
        self._office_notice()

    def _office_notice(self) -> None:
        """Tell a newcomer trying Loket after hours why the form says "closed", and the way out."""
        if not settings.LOKET["ENFORCE_HOURS"]:
            self.stdout.write("Office hours are not enforced (LOKET_ENFORCE_HOURS=0).")
            return
        status = office_status_now()
        if status.accepts_new:
            return
        local = office_clock().astimezone(OFFICE_TZ)
        opening = (
            status.next_opening.strftime("%A %d %B %Y %H:%M") if status.next_opening else "unknown"
        )
        self.stdout.write(
            f"The office takes no new applicants now (it is {local:%H:%M} in Asia/Jakarta; the "
            f"hours are in Django admin, Office hours): applicants see the offline question "
            f"form. Next opening: {opening}.\n"
            "To try a consultation now: make run LOKET_ENFORCE_HOURS=0"
        )
