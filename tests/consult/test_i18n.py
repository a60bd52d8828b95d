"""Translations: complete, compiled, and nothing on a page left untranslated.

The .po files are parsed here (no new dependency); the committed .mo files are read with Python's
gettext and must give exactly what the .po says, so a .po edited without compilemessages fails.
"""

from __future__ import annotations

import gettext
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "locale"
TEMPLATES = ROOT / "templates"
LANGUAGES = ("id", "en")

# ---------------------------------------------------------------------- .po parsing

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(token: str) -> str:
    body = token.strip()
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        raise ValueError(f"not a quoted PO string: {token!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body[1:-1])


@dataclass
class PoEntry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None


def parse_po(text: str) -> list[PoEntry]:
    """The active (non-obsolete) entries of a PO file, header included."""
    entries: list[PoEntry] = []
    current = PoEntry()
    started = False
    target: tuple[str, int] | None = None

    def flush() -> None:
        nonlocal current, started, target
        if started:
            entries.append(current)
        current, started, target = PoEntry(), False, None

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if not line:
                flush()
            continue
        if line.startswith("#"):
            if current.msgstr:
                flush()
            if line.startswith("#,"):
                current.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith('"'):
            if target is None:
                raise ValueError(f"line {number}: continuation without a keyword")
            name, index = target
            if name == "msgstr":
                current.msgstr[index] += _unquote(line)
            else:
                setattr(current, name, (getattr(current, name) or "") + _unquote(line))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and current.msgstr:
            flush()
        started = True
        current.line = current.line or number
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if keyword == "msgstr" or match:
            index = int(match.group(1)) if match else 0
            current.msgstr[index] = _unquote(rest)
            target = ("msgstr", index)
        elif keyword in ("msgid", "msgctxt", "msgid_plural"):
            setattr(current, keyword, _unquote(rest))
            target = (keyword, 0)
        else:
            raise ValueError(f"line {number}: unknown keyword {keyword!r}")
    flush()
    return entries


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def catalogue(language: str) -> list[PoEntry]:
    return parse_po(po_path(language).read_text(encoding="utf-8"))


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


# ---------------------------------------------------------------------- the catalogues


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_not_fuzzy(language: str) -> None:
    entries = catalogue(language)
    header = [e for e in entries if e.is_header]
    assert header and "fuzzy" not in header[0].flags, "the header is fuzzy: msgfmt would drop it"
    problems = []
    for entry in entries:
        if entry.is_header:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"line {entry.line}: fuzzy: {entry.msgid!r}")
        if not entry.msgstr or any(not value.strip() for value in entry.msgstr.values()):
            problems.append(f"line {entry.line}: untranslated: {entry.msgid!r}")
    assert not problems, f"{po_path(language)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    problems = [
        f"line {e.line}: {e.msgid!r} -> {value!r}"
        for e in catalogue(language)
        if not e.is_header
        for value in e.msgstr.values()
        if placeholders(value) != placeholders(e.msgid)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_matches_the_po_file(language: str) -> None:
    mo = po_path(language).with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run make messages (compilemessages)"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in catalogue(language):
        if entry.is_header:
            continue
        if entry.msgid_plural is not None:
            got = [
                compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)
            ]  # id has one form, en two: compare what each n selects
            plural = compiled.plural  # type: ignore[attr-defined]
            want = [entry.msgstr.get(plural(n), "") for n in (1, 2)]
        elif entry.msgctxt is not None:
            got = [compiled.pgettext(entry.msgctxt, entry.msgid)]
            want = [entry.msgstr.get(0, "")]
        else:
            got = [compiled.gettext(entry.msgid)]
            want = [entry.msgstr.get(0, "")]
        if got != want:
            stale.append(f"{entry.msgid!r}: .mo has {got!r}, .po has {want!r}")
    assert not stale, f"{mo} is stale (run make messages):\n" + "\n".join(stale[:20])


# ---------------------------------------------------------------------- the sources

_TRANSLATE = re.compile(r"{%\s*(?:translate|trans)\s+(\"[^\"]*\"|'[^']*')")
_BLOCK = re.compile(
    r"{%\s*(?:blocktranslate|blocktrans)\b[^%]*%}(.*?){%\s*end(?:blocktranslate|blocktrans)\s*%}",
    re.S,
)
_PY_GETTEXT = re.compile(r"\b_\(\s*\"([^\"]+)\"\s*\)")


def template_msgids() -> set[str]:
    found = set()
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        found |= {literal[1:-1] for literal in _TRANSLATE.findall(text)}
        for body in _BLOCK.findall(text):
            found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    return found


def python_msgids() -> set[str]:
    found = set()
    for folder in ("consult", "config", "signaling"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" not in path.parts:
                found |= set(_PY_GETTEXT.findall(path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_in_the_sources_is_in_the_catalogue(language: str) -> None:
    known = {e.msgid for e in catalogue(language)}
    wanted = template_msgids() | python_msgids()
    assert "Join the queue" in wanted and "Waiting" in wanted  # the scan itself works
    missing = sorted(wanted - known)
    assert not missing, "not in the catalogue (run make messages):\n" + "\n".join(missing)


# ---------------------------------------------------------------------- visible text in templates

_DJANGO_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
_DJANGO_TAG = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
_VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description"}


class _TextScanner(HTMLParser):
    """Collects text nodes and visible attributes that still contain letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.raw_depth = 0
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.raw_depth += 1
        for name, value in attrs:
            if name in _VISIBLE_ATTRIBUTES and value and _has_letters(value):
                self.found.append((self.getpos()[0], f'{name}="{value}"'))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.raw_depth:
            self.raw_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.raw_depth and _has_letters(data):
            self.found.append((self.getpos()[0], data.strip()))


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def untranslated_text(source: str) -> list[tuple[int, str]]:
    """Visible text in a template that is not produced by a translate tag or a variable."""

    def blank(match: re.Match[str]) -> str:
        # Keep the line count, so the line numbers reported point at the source.
        return " " + "\n" * match.group(0).count("\n")

    stripped = _DJANGO_TAG.sub(blank, _BLOCK.sub(blank, _DJANGO_COMMENT.sub(blank, source)))
    scanner = _TextScanner()
    scanner.feed(stripped)
    scanner.close()
    return scanner.found


def test_the_scan_finds_untranslated_text() -> None:
    sample = (
        '{% load i18n %}<p>{% translate "Fine" %}</p><p>Not wrapped</p>'
        '<input placeholder="Type here"><script>const x = "code";</script>'
        "<p>{{ name }} · {% blocktranslate %}ok {{ x }}{% endblocktranslate %}</p>"
    )
    assert [text for _, text in untranslated_text(sample)] == [
        "Not wrapped",
        'placeholder="Type here"',
    ]


def test_templates_have_no_untranslated_text() -> None:
    paths = sorted(TEMPLATES.rglob("*.html"))
    assert len(paths) >= 6
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in paths
        for line, text in untranslated_text(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "wrap these in {% translate %}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------- the pages


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cookie", "label", "button"),
    [(None, "Nama Anda", "Masuk antrean"), ("en", "Your name", "Join the queue")],
)
def test_applicant_page_speaks_the_chosen_language(
    cookie: str | None, label: str, button: str
) -> None:
    client = Client()
    if cookie:
        client.cookies["django_language"] = cookie
    # No Accept-Language: Indonesian is the default.
    html = client.get("/").content.decode()
    assert label in html and button in html
    blocks = re.findall(r"<script type=\"application/json\" data-i18n>(.*?)</script>", html, re.S)
    assert len(blocks) == 2
    strings: dict[str, str] = {}
    for block in blocks:
        strings.update(json.loads(block))
    assert strings["conn_lost"] == (
        "Connection lost, reconnecting…"
        if cookie == "en"
        else "Sambungan terputus, menyambungkan kembali…"
    )


@pytest.mark.django_db
def test_language_switch_sets_english() -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Your name" in client.get("/").content.decode()


def test_model_choices_are_translated() -> None:
    from django.utils import translation

    from consult.models import ConsultationStatus, Mode

    with translation.override("id"):
        assert str(ConsultationStatus.ENDED.label) == "Selesai"
        assert str(Mode.CHAT.label) == "Obrolan"
    with translation.override("en"):
        assert str(ConsultationStatus.ENDED.label) == "Ended"
