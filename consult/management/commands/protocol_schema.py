"""Write (or --check) docs/protocol.schema.json from the protocol models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from signaling.protocol import json_schema

SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "protocol.schema.json"


def rendered() -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Generate docs/protocol.schema.json from signaling/protocol.py"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if the file is stale")

    def handle(self, *args: Any, **options: Any) -> None:
        text = rendered()
        if options["check"]:
            if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
                raise CommandError("docs/protocol.schema.json is stale: run protocol_schema")
            self.stdout.write("protocol schema is current")
            return
        SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
        SCHEMA_PATH.write_text(text)
        self.stdout.write(f"wrote {SCHEMA_PATH.relative_to(settings.BASE_DIR)}")
