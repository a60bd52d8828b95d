"""``manage.py signing_key [--rotate]``: show the office's signing key, or replace it.

Rotation writes a new key in place of the file (``LOKET_SIGNING_KEY_FILE``), registers its
public half and marks the old one retired (still published at /.well-known/loket/keys, so what
it signed stays valid). Running processes see the new file at their next signature. Keep a
backup of the old private key only if your rules ask for it; Loket needs only its public half.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from ...models import SigningKey
from ...records.keys import key_path, office_key, write_new_key


class Command(BaseCommand):
    help = "Show the office's signing key id, or rotate the key (--rotate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rotate", action="store_true", help="replace the signing key")

    def _register(self) -> str:
        key = office_key()
        SigningKey.objects.get_or_create(
            key_id=key.key_id,
            defaults={"public_key": key.public_b64, "created_at": timezone.now()},
        )
        return key.key_id

    def handle(self, *args: Any, **options: Any) -> None:
        old = self._register()
        if not options["rotate"]:
            self.stdout.write(f"key {old} ({key_path()})")
            return
        write_new_key(key_path(), replace=True)
        with transaction.atomic():
            new = self._register()
            SigningKey.objects.filter(key_id=old, retired_at=None).update(retired_at=timezone.now())
        self.stdout.write(f"key {old} retired; now signing with key {new}")
