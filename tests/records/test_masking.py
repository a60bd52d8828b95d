"""consult/records/masking.py: precision and recall over the corpus
(tests/records/masking_corpus.py), then each part of the API on its own. No database: nothing
here needs Django.

The corpus figures are printed (``pytest -s``) as a table per kind and as one line,
``MASKING precision=... recall=... positives=... negatives=...``, to quote.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consult.records import masking
from consult.records.masking import (
    KINDS,
    Finding,
    apply,
    find,
    is_kk,
    is_nik,
    mask_value,
    register,
    search_tokens,
    unregister,
)
from tests.records.masking_corpus import NEGATIVES, POSITIVES, Expected

Span = tuple[str, int, int]


def expected_spans(text: str, expected: Expected) -> set[Span]:
    """Each ``(kind, substring)`` at its place: the n-th occurrence the n-th time it is named."""
    spans: set[Span] = set()
    cursor: dict[str, int] = {}
    for kind, substring in expected:
        start = text.find(substring, cursor.get(substring, 0))
        assert start >= 0, f"{substring!r} is not in {text!r}"
        spans.add((kind, start, start + len(substring)))
        cursor[substring] = start + 1
    return spans


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Evaluation:
    per_kind: dict[str, Tally]
    overall: Tally
    errors: list[str]  # one line per wrong or missed finding
    negative_hits: list[str]


def evaluate() -> Evaluation:
    per_kind = {kind: Tally() for kind in KINDS}
    overall = Tally()
    errors: list[str] = []
    negative_hits: list[str] = []
    for text, expected in POSITIVES:
        want = expected_spans(text, expected)
        got = {(f.kind, f.start, f.end) for f in find(text)}
        for kind, _, _ in got & want:
            per_kind[kind].tp += 1
            overall.tp += 1
        for kind, start, end in got - want:
            per_kind[kind].fp += 1
            overall.fp += 1
            errors.append(f"FP {kind}: {text[start:end]!r} in {text!r}")
        for kind, start, end in want - got:
            per_kind[kind].fn += 1
            overall.fn += 1
            errors.append(f"FN {kind}: {text[start:end]!r} in {text!r}")
    for text in NEGATIVES:
        for finding in find(text):
            per_kind[finding.kind].fp += 1
            overall.fp += 1
            negative_hits.append(f"FP {finding.kind}: {finding.value!r} in {text!r}")
    return Evaluation(per_kind, overall, errors, negative_hits)


def test_corpus_precision_and_recall() -> None:
    result = evaluate()
    lines = [
        "",
        f"{'kind':<8} {'tp':>5} {'fp':>5} {'fn':>5} {'precision':>10} {'recall':>8}",
    ]
    rows = [*result.per_kind.items(), ("overall", result.overall)]
    for kind, tally in rows:
        lines.append(
            f"{kind:<8} {tally.tp:>5} {tally.fp:>5} {tally.fn:>5}"
            f" {tally.precision:>10.4f} {tally.recall:>8.4f}"
        )
    identifiers = sum(len(expected) for _, expected in POSITIVES)
    lines.append(f"({identifiers} identifiers in {len(POSITIVES)} positive sentences)")
    lines.extend(result.errors + result.negative_hits)
    lines.append(
        f"MASKING precision={result.overall.precision:.4f} recall={result.overall.recall:.4f}"
        f" positives={len(POSITIVES)} negatives={len(NEGATIVES)}"
    )
    print("\n".join(lines))
    assert not result.negative_hits, result.negative_hits
    assert result.overall.precision >= 0.99, result.errors
    assert result.overall.recall >= 0.97, result.errors


def test_corpus_size_and_shape() -> None:
    assert len(POSITIVES) >= 220
    assert len(NEGATIVES) >= 220
    assert len(set(NEGATIVES)) == len(NEGATIVES)
    assert len({text for text, _ in POSITIVES}) == len(POSITIVES)
    seen = {kind for _, expected in POSITIVES for kind, _ in expected}
    assert seen == set(KINDS)
    for text, expected in POSITIVES:
        assert expected, text
        expected_spans(text, expected)  # every substring is in its sentence


# --------------------------------------------------------------------------------------- find


def test_find_reports_value_and_normalized() -> None:
    text = "NIK 3174.0512.0590.0003, WA +62 812-3456-7890, email Budi.S@Example.GO.ID"
    assert find(text) == [
        Finding("nik", 4, 23, "3174.0512.0590.0003", "3174051205900003"),
        Finding("phone", 28, 45, "+62 812-3456-7890", "+6281234567890"),
        Finding("email", 53, 73, "Budi.S@Example.GO.ID", "budi.s@example.go.id"),
    ]


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("(+62) 812 3456 7890", "+6281234567890"),
        ("+62 0812 3456 7890", "+6281234567890"),
        ("(021) 555-1234", "+62215551234"),
        ("021-5551234", "+62215551234"),
        ("+62 21 5551234", "+62215551234"),
        ("(0274) 512345", "+62274512345"),
    ],
)
def test_phone_normalized_to_plus62(written: str, normalized: str) -> None:
    (finding,) = find(f"hubungi {written} ya")
    assert (finding.kind, finding.value, finding.normalized) == ("phone", written, normalized)


def test_kk_needs_the_words_before_and_a_valid_issue_date() -> None:
    digits = "3174051503120008"
    assert [f.kind for f in find(f"nomor {digits}")] == ["nik"]
    assert [f.kind for f in find(f"No. KK {digits}")] == ["kk"]
    assert [f.kind for f in find(f"kartu keluarga saya: {digits}")] == ["kk"]
    assert [f.kind for f in find(f"family card {digits}")] == ["kk"]
    # a woman's NIK (day + 40) is no family card number, whatever the words say
    assert [f.kind for f in find("KK 3174055205900002")] == ["nik"]
    # the keyword is the nearest one, and one from before the previous number does not count
    text = f"KK 3174051503120008 dan NIK 3174051205900003, lalu {digits}"
    assert [f.kind for f in find(text)] == ["kk", "nik", "nik"]


def test_structure_rules() -> None:
    assert is_nik("3174051205900003")
    assert is_nik("3174055205900002")  # day 52: a woman born on the 12th
    assert is_nik("3174016902000003")  # 29 February (day 69)
    assert not is_nik("3174053002900001")  # 30 February
    assert not is_nik("3174051205900000")  # serial 0000
    assert not is_nik("2074051205900001")  # no province 20
    assert not is_nik("3100051205900001")  # regency 00
    assert not is_nik("3174051289000001")  # month 89
    assert is_kk("3174051503120008")
    assert not is_kk("3174055205900002")  # an issue date has no +40


def test_find_kinds_filter_and_unknown_kind() -> None:
    text = "NIK 3174051205900003, HP 0812-3456-7890"
    assert [f.kind for f in find(text, kinds=["phone"])] == ["phone"]
    assert find(text, kinds=[]) == []
    with pytest.raises(ValueError, match="unknown kinds"):
        find(text, kinds=["passport"])


def test_npwp_read_as_npwp_is_not_offered_as_another_kind() -> None:
    text = "NPWP 3174051205900003"
    assert [f.kind for f in find(text)] == ["npwp"]
    assert find(text, kinds=["nik"]) == []


_CHARS = st.sampled_from("0123456789 .-+()/@:,abcKKNIKNPWPx\u00a0")


@settings(max_examples=300, deadline=None)
@given(st.text(_CHARS, max_size=60))
def test_find_is_sorted_non_overlapping_and_exact(text: str) -> None:
    findings = find(text)
    for finding in findings:
        assert text[finding.start : finding.end] == finding.value
        assert finding.kind in KINDS
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start


# --------------------------------------------------------------------------------- mask_value


@pytest.mark.parametrize(
    ("kind", "normalized", "masked"),
    [
        ("nik", "3174051205900003", "3174********0003"),
        ("kk", "3174051503120008", "3174********0008"),
        ("npwp", "092542943407000", "0925*******7000"),
        ("npwp", "0092542943407000", "0092********7000"),
        ("phone", "+6281234567890", "+62812******90"),
        ("phone", "+62215551234", "+62215****34"),
        ("email", "budi@example.go.id", "b***@example.go.id"),
        ("email", "sari.dewi+pbg@yahoo.co.id", "s***@yahoo.co.id"),
        ("passport", "C1234567", "C******7"),
        ("passport", "C123", "****"),
    ],
)
def test_mask_value(kind: str, normalized: str, masked: str) -> None:
    assert mask_value(kind, normalized) == masked


# -------------------------------------------------------------------------------------- apply

_TEXT = "NIK 3174051205900003, HP 0812-3456-7890, email budi@example.go.id."


def test_apply_show_mask_hide() -> None:
    policy: dict[str, masking.Action] = {"nik": "hide", "phone": "mask", "email": "show"}
    assert apply(_TEXT, policy) == ("NIK [NIK], HP +62812******90, email budi@example.go.id.")


def test_apply_masks_kinds_the_policy_does_not_name() -> None:
    assert apply(_TEXT, {}) == "NIK 3174********0003, HP +62812******90, email b***@example.go.id."
    assert apply(_TEXT, {"nik": "show"}) == (
        "NIK 3174051205900003, HP +62812******90, email b***@example.go.id."
    )


def test_apply_all_shown_is_the_text_and_custom_label() -> None:
    shown: dict[str, masking.Action] = {kind: "show" for kind in KINDS}
    assert apply(_TEXT, shown) == _TEXT
    hidden: dict[str, masking.Action] = {kind: "hide" for kind in KINDS}
    assert apply(_TEXT, hidden, hidden_label=lambda kind: f"<{kind} dihapus>") == (
        "NIK <nik dihapus>, HP <phone dihapus>, email <email dihapus>."
    )


def test_apply_leaves_text_without_identifiers_alone() -> None:
    for text in NEGATIVES[:50]:
        assert apply(text, {}) == text


# ----------------------------------------------------------------------------------- register

_PASSPORT = re.compile(r"\b[A-Z]\d{7}\b")


def _passports(text: str) -> Iterator[tuple[int, int, str]]:
    for match in _PASSPORT.finditer(text):
        yield match.start(), match.end(), match.group()


@pytest.fixture
def passport() -> Iterator[None]:
    register("passport", _passports)
    yield
    unregister("passport")


@pytest.mark.usefixtures("passport")
def test_register_a_kind() -> None:
    text = "Paspor saya C1234567, NIK 3174051205900003."
    assert [(f.kind, f.value) for f in find(text)] == [
        ("passport", "C1234567"),
        ("nik", "3174051205900003"),
    ]
    assert [f.kind for f in find(text, kinds=["passport"])] == ["passport"]
    assert apply(text, {"nik": "show"}) == "Paspor saya C******7, NIK 3174051205900003."
    assert apply(text, {"passport": "hide"}) == "Paspor saya [PASSPORT], NIK 3174********0003."
    assert any(token.startswith("passport:") for token in search_tokens(text, b"k"))


def test_register_rejects_builtin_and_bad_names_and_unregister() -> None:
    with pytest.raises(ValueError, match="built-in"):
        register("nik", _passports)
    with pytest.raises(ValueError):
        register("Passport Number", _passports)
    register("passport", _passports)
    unregister("passport")
    assert find("Paspor C1234567") == []
    with pytest.raises(ValueError, match="unknown kinds"):
        find("Paspor C1234567", kinds=["passport"])


def test_registered_overlap_longest_wins() -> None:
    def digits_run(text: str) -> Iterator[tuple[int, int, str]]:
        for match in re.finditer(r"\d{4}", text):
            yield match.start(), match.end(), match.group()

    register("fourdigits", digits_run)
    try:
        assert [f.kind for f in find("NIK 3174051205900003, kode 1234")] == [
            "nik",
            "fourdigits",
        ]
    finally:
        unregister("fourdigits")


def test_register_detector_with_a_bad_span() -> None:
    register("broken", lambda text: [(5, 2, "x")])
    try:
        with pytest.raises(ValueError, match="span"):
            find("some text")
    finally:
        unregister("broken")


# ------------------------------------------------------------------------------ search_tokens

_KEY = b"office search key"


def _mac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_search_tokens_phone_written_either_way() -> None:
    a = search_tokens("tolong hubungi 0812-3456-7890", _KEY)
    b = search_tokens("WA +62 812 3456 7890", _KEY)
    c = search_tokens("6281234567890", _KEY)
    assert a == b == c == {f"phone:{_mac(_KEY, '+6281234567890')}"}


def test_search_tokens_nik_and_kk_share_a_space() -> None:
    as_nik = search_tokens("nomor 3174051503120008", _KEY)
    as_kk = search_tokens("No. KK 3174051503120008", _KEY)
    assert as_nik == as_kk == {f"id:{_mac(_KEY, '3174051503120008')}"}
    # an individual's 16-digit NPWP is the NIK: found by it too
    as_npwp = search_tokens("NPWP 3174051503120008", _KEY)
    assert as_npwp == {
        f"npwp:{_mac(_KEY, '3174051503120008')}",
        f"id:{_mac(_KEY, '3174051503120008')}",
    }


def test_search_tokens_keyed_and_never_in_clear() -> None:
    text = "NIK 3174051205900003, NPWP 09.254.294.3-407.000, HP 0812-3456-7890, budi@x.co.id"
    tokens = search_tokens(text, _KEY)
    assert len(tokens) == 4
    assert {token.split(":")[0] for token in tokens} == {"id", "npwp", "phone", "email"}
    assert search_tokens(text, b"another key").isdisjoint(tokens)
    secrets = [f.normalized for f in find(text)] + [f.value for f in find(text)]
    secrets += [s.lstrip("+") for s in secrets] + ["3174051205900003", "81234567890"]
    for token in tokens:
        assert len(token) <= 80  # IdentifierToken.token
        assert re.fullmatch(r"[a-z_]+:[0-9a-f]{64}", token)
        for secret in secrets:
            assert secret not in token
    with pytest.raises(ValueError):
        search_tokens(text, b"")
    assert search_tokens("tidak ada apa-apa di sini", _KEY) == set()
