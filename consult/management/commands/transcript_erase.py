"""``manage.py transcript_erase <public id> --reason TEXT``: an applicant's erasure request.

Erases the consultation's words (messages, notes, the rating's comment) and the applicant's
contact details, keeps the salted hashes so its records still verify, and appends a signed
purge addendum with the rule ``erasure`` and the reason's salted hash (docs/RECORDS.md,
"Retention"). Only a consultation that is over can be erased.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...errors import DomainError
from ...models import Consultation
from ...services.retention import erasure_request


class Command(BaseCommand):
    help = "Erase a consultation's words and contact details at the applicant's request."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("public_id")
        parser.add_argument("--reason", required=True, help="why (kept as a salted hash)")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = " ".join(options["reason"].split())
        if len(reason) < 5:
            raise CommandError("Give the reason (at least 5 characters).")
        found = Consultation.objects.filter(public_id=options["public_id"]).first()
        if found is None:
            raise CommandError("No such consultation.")
        try:
            erasure_request(consultation_id=found.pk, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"erased consultation {found.public_id}")
