"""The HTTP modules and the transport hold no query: they call selectors and services (import
rules between packages are import-linter's, in `make lint`; this is what they cannot see, a
query written in a module that may import the models for their enums)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_QUERY = ["consult/api", "consult/views", "signaling"]
# Names whose use means the module talks to the database itself.
DATABASE_NAMES = {"transaction", "connection", "connections"}


def _modules() -> list[Path]:
    return sorted(p for folder in NO_QUERY for p in (ROOT / folder).rglob("*.py"))


def _type_only(tree: ast.Module) -> set[ast.AST]:
    """Nodes under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    return {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }


def _queries(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_only(tree)
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .objects")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django.db"):
            names = {alias.name for alias in node.names}
            if node.module != "django.db" or names & DATABASE_NAMES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}")
    return found


def test_the_rule_sees_a_query() -> None:
    source = "from django.db import transaction\nx = Consultation.objects.filter(pk=1)\n"
    tmp = ROOT / "var" / "layers_probe.py"
    tmp.parent.mkdir(exist_ok=True)
    tmp.write_text(source)
    try:
        assert len(_queries(tmp)) == 2
    finally:
        tmp.unlink()


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_query_outside_selectors_and_services(path: Path) -> None:
    assert _queries(path) == []
