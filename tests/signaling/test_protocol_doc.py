"""docs/PROTOCOL.md and docs/protocol.schema.json must match the frame models: the client's in
signaling/protocol.py, the server's in consult/events/frames.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.core.management import call_command

from consult.events import frames
from signaling import protocol

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


def _examples(section: str) -> list[dict[str, object]]:
    text = DOC.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 3)
    body = text[start : end if end != -1 else None]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", body, re.S)]


def test_every_client_example_parses_and_every_client_type_has_one() -> None:
    examples = _examples("Client to server")
    for example in examples:
        protocol.parse_client(json.dumps(example))
    assert {e["type"] for e in examples} == set(protocol.CLIENT_TYPES)


def test_every_server_example_validates_and_every_server_type_has_one() -> None:
    examples = _examples("Server to client")
    for example in examples:
        frames.validated(example)
    server_types = set()
    for model in frames.ServerFrame.__origin__.__args__:  # type: ignore[attr-defined]
        server_types.update(model.model_fields["type"].annotation.__args__)
    assert {e["type"] for e in examples} == server_types == frames.SERVER_TYPES


def test_every_server_example_shows_every_field_of_its_model() -> None:
    """The server's frames are documented whole: each example carries all its model's fields
    (so a field added to a model must be documented), and no field the model lacks."""
    for example in _examples("Server to client"):
        model = type(frames.validated(example))
        assert set(example) == set(model.model_fields), example["type"]


def test_every_error_code_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), re.M))
    assert documented == set(protocol.ERROR_CODES)


def test_committed_schema_is_current() -> None:
    call_command("protocol_schema", "--check")
