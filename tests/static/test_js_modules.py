"""The browser code's layout (static/js/, docs/ARCHITECTURE.md): which folder may import which, that
every imported name is exported by its module, that every script a template loads exists, and that
every string key the scripts name is in a catalogue the templates render.

static/js/<page>.js are the entry points, one per page; nothing imports them. lib/ imports nothing
outside lib/; chat/, call/ and applicant/ import only lib/ (and their own folder); counselor/
imports lib/, chat/ and call/. Read as text: no JavaScript runtime is needed.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "static" / "js"
TEMPLATES = ROOT / "templates"

# Folder -> the folders its modules may import (besides their own).
MAY_IMPORT = {
    "lib": set(),
    "chat": {"lib"},
    "call": {"lib"},
    "applicant": {"lib"},
    "counselor": {"lib", "chat", "call"},
}

IMPORT = re.compile(r'^import\s+(?:\{([^}]*)\}\s+from\s+)?"([^"]+)";', re.M)
EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|class|const|let)\s+(\w+)", re.M)
# t("key") and t(cond ? "key" : "other"): the keys a script names literally.
T_KEY = re.compile(r'(?<![\w.])t\(\s*"([a-z0-9_]+)"')
T_CHOICE = re.compile(r'(?<![\w.])t\(\s*[^()"]*\?\s*"([a-z0-9_]+)"\s*:\s*"([a-z0-9_]+)"')
# The catalogue blocks of the templates (lib/i18n.js reads these) and the keys in them.
CATALOGUE = re.compile(
    r'<script type="application/json" (?:data-i18n|id="i18n-video")>(.*?)</script>', re.S
)
CATALOGUE_KEY = re.compile(r'^\s*"([a-z0-9_]+)":', re.M)
SCRIPT = re.compile(r"<script type=\"module\" src=\"\{% static '([^']+)' %\}\"></script>")


def modules() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(JS.rglob("*.js"))}


def folder(path: Path) -> str:
    """The module's folder below static/js ("" for an entry point)."""
    parts = path.relative_to(JS).parts
    return parts[0] if len(parts) > 1 else ""


def imports(path: Path, text: str) -> list[tuple[Path, list[str]]]:
    found = []
    for names, target in IMPORT.findall(text):
        resolved = (path.parent / target).resolve()
        found.append((resolved, [name.strip() for name in names.split(",") if name.strip()]))
    return found


def test_every_folder_imports_only_what_it_may() -> None:
    problems = []
    for path, text in modules().items():
        own = folder(path)
        for target, _ in imports(path, text):
            theirs = folder(target)
            where = f"{path.relative_to(JS)} imports {target.relative_to(JS)}"
            if theirs == "":
                problems.append(f"{where}: an entry point is imported by nobody")
            elif own and theirs != own and theirs not in MAY_IMPORT[own]:
                problems.append(f"{where}: {own}/ may import only {sorted(MAY_IMPORT[own])}")
    assert not problems, "\n".join(problems)


def test_every_folder_is_known() -> None:
    folders = {folder(path) for path in modules()} - {""}
    assert folders == set(MAY_IMPORT)


def test_every_imported_name_is_exported() -> None:
    every = modules()
    exported = {path.resolve(): set(EXPORT.findall(text)) for path, text in every.items()}
    problems = []
    for path, text in every.items():
        for target, names in imports(path, text):
            if target not in exported:
                problems.append(f"{path.relative_to(JS)}: no module {target}")
                continue
            for name in names:
                if name not in exported[target]:
                    problems.append(f"{path.relative_to(JS)}: {target.name} exports no {name}")
    assert not problems, "\n".join(problems)


def test_every_page_script_exists() -> None:
    scripts = {
        src for path in TEMPLATES.rglob("*.html") for src in SCRIPT.findall(path.read_text("utf-8"))
    }
    assert scripts, "no <script type=module> found in the templates"
    for src in scripts:
        path = ROOT / "static" / src
        assert path.is_file(), src
        assert folder(path) == "", f"{src}: a page loads an entry point (static/js/<page>.js)"


def test_every_string_key_is_in_a_catalogue() -> None:
    rendered: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        for block in CATALOGUE.findall(path.read_text(encoding="utf-8")):
            rendered.update(CATALOGUE_KEY.findall(block))
    problems = []
    for path, text in modules().items():
        named = set(T_KEY.findall(text))
        for pair in T_CHOICE.findall(text):
            named.update(pair)
        problems += [f"{path.relative_to(JS)}: {key}" for key in sorted(named - rendered)]
    assert rendered, "no catalogue blocks found in the templates"
    assert not problems, "keys no template renders:\n" + "\n".join(problems)
