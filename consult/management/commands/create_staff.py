"""Provision a counselor or supervisor without prompts (an office creates dozens)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from consult.models import StaffProfile, StaffRole, Topic


class Command(BaseCommand):
    help = "Create or update a staff account: --role counselor|supervisor --username U --password P"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=StaffRole.values)
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="", help="display name (default: the username)")
        parser.add_argument("--topics", default="", help="comma-separated topic codes")
        parser.add_argument("--capacity", type=int, default=None, help="concurrent chats")

    def handle(self, *args: Any, **options: Any) -> None:
        codes = [c.strip() for c in options["topics"].split(",") if c.strip()]
        topics = list(Topic.objects.filter(code__in=codes))
        missing = sorted(set(codes) - {t.code for t in topics})
        if missing:
            raise CommandError(f"Unknown topic code(s): {', '.join(missing)}")
        capacity = options["capacity"]
        if capacity is not None and not 1 <= capacity <= 20:
            raise CommandError("--capacity must be between 1 and 20")
        user_model = get_user_model()
        with transaction.atomic():
            user, created = user_model.objects.get_or_create(username=options["username"])
            user.set_password(options["password"])
            user.is_staff = options["role"] == StaffRole.SUPERVISOR
            user.save()
            profile, profile_created = StaffProfile.objects.update_or_create(
                user=user,
                defaults={
                    "role": options["role"],
                    "display_name": options["name"] or options["username"],
                },
            )
            if capacity is None and profile_created:
                capacity = settings.LOKET["DEFAULT_CAPACITY"]
            if capacity is not None:
                profile.capacity = capacity
                profile.save(update_fields=["capacity"])
            if codes:
                profile.topics.set(topics)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} {options['role']} {options['username']}")
