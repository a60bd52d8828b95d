"""Finding and masking Indonesian personal identifiers in chat text (docs/RECORDS.md,
"Personal data").

Pure Python, standard library only: the transcript views, the exports and the search index call
it on text that citizens and counselors typed, in Indonesian or English.

The kinds found:

- ``nik``: the 16-digit population number (Nomor Induk Kependudukan) of the e-KTP;
- ``kk``: the 16-digit family card number (Kartu Keluarga), told from a NIK only by the words
  just before it;
- ``npwp``: the tax number, 15 digits (``99.999.999.9-999.999``) or, since 2024, 16;
- ``phone``: Indonesian mobile and landline numbers, normalized to ``+62...``;
- ``email``: e-mail addresses, normalized to lower case;

and whatever kinds are added with :func:`register`.

How digits are read. A *number* is a run of digit groups joined by a space, a dot or a dash
(``3174 0512 0590 0003``, ``0812-3456-7890``, ``09.254.294.3-407.000``), optionally opened by a
country code (``+62``, ``(+62)``, ``+62 (0)``) or an area code in parentheses (``(021)``).
Groups joined by a dot or a dash without spaces belong to one identifier; a space (or a spaced
dash) may also separate two, so a run such as ``3174051289000001 0812 3456 7890`` is split at
its spaces into the longest valid identifiers, left to right. A number glued to letters or an
``@`` (``SK-00123``, ``B1234XYZ``), one after ``Rp``, and one followed by a unit (``250 m2``),
a decimal comma or a time's colon is never an identifier; nor is one glued to a slash
(``503/1234/PBG/2024``), unless it has 15 digits or more or is a phone next to a phone
(``0812-3456-7890/0813-2233-4455``).

The words just before a number (keywords ending at most :data:`CONTEXT_CHARS` characters
before it, not reaching back past the previous number) decide between the kinds that share
digits: the nearest of ``KK`` / ``kartu keluarga`` / ``family card``, ``NIK`` / ``KTP``,
``NPWP``, a phone word (``HP``, ``WA``, ``telp``), or a word naming some other number (``NIB``,
``rekening``, ``virtual account``, ``kode billing``, a bank's name...), which rules the number
out. Keywords listed together (``NIK dan KK: 3174..., 3174...``) name the numbers listed after
them, in order.

Known misses: a phone written with a lone ``0`` (``0 812 3456 7890``) or ending in two-digit
groups (``0812 3456 78 90``); a NIK grouped in an unusual way (``3174 0512 0590 000 3``); a
15-digit NPWP typed without its dots and without the word NPWP; a NIK that fails its structure
(a typo in the date) is not found at all, by design.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "KINDS",
    "Action",
    "Detector",
    "Finding",
    "apply",
    "find",
    "is_kk",
    "is_nik",
    "mask_value",
    "register",
    "search_tokens",
    "unregister",
]

KINDS: tuple[str, ...] = ("nik", "kk", "npwp", "phone", "email")

Action = Literal["show", "mask", "hide"]
Detector = Callable[[str], Iterable[tuple[int, int, str]]]

#: How far back (characters) a keyword may end and still name the number after it.
CONTEXT_CHARS = 32


@dataclass(frozen=True)
class Finding:
    """One identifier in a text: ``text[start:end] == value``.

    ``normalized`` is what the identifier *is*, whatever way it was written: the digits alone
    for ``nik``, ``kk`` and ``npwp``; ``+62`` and the national number without its leading 0 for
    ``phone`` (``+6281234567890``); the address in lower case for ``email``.
    """

    kind: str
    start: int
    end: int
    value: str
    normalized: str


# ------------------------------------------------------------------------- NIK and KK structure

# The province codes of Kemendagri's region coding (BPS/Permendagri), as the first two digits.
_PROVINCES = frozenset(
    {
        *range(11, 20),  # Aceh .. Kepulauan Riau
        21,
        *range(31, 37),  # DKI Jakarta .. Banten
        *range(51, 54),  # Bali, NTB, NTT
        *range(61, 66),  # Kalimantan
        *range(71, 77),  # Sulawesi
        81,
        82,  # Maluku, Maluku Utara
        *range(91, 97),  # Papua
    }
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _region_ok(digits: str) -> bool:
    """Province in the list, regency and district codes not ``00``."""
    return int(digits[:2]) in _PROVINCES and digits[2:4] != "00" and digits[4:6] != "00"


def _date_ok(day: int, month: int) -> bool:
    """A day that exists in the month (29 February allowed: the year has only two digits)."""
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def is_nik(digits: str) -> bool:
    """16 digits: region (province, regency, district), DDMMYY birth date where women add 40
    to the day, then a serial that is not ``0000``."""
    if len(digits) != 16 or not digits.isdigit() or not _region_ok(digits):
        return False
    day = int(digits[6:8])
    if day > 40:
        day -= 40
    return _date_ok(day, int(digits[8:10])) and digits[12:] != "0000"


def is_kk(digits: str) -> bool:
    """16 digits: the same region prefix, a DDMMYY issue date (no +40), a serial not ``0000``."""
    if len(digits) != 16 or not digits.isdigit() or not _region_ok(digits):
        return False
    return _date_ok(int(digits[6:8]), int(digits[8:10])) and digits[12:] != "0000"


# -------------------------------------------------------------------------------- the patterns

# A number: an optional country or area code, then digit groups joined by one separator each.
_NUMBER = re.compile(
    r"""
    (?P<lead>
        \(\+?62\)[ \u00a0]?              # (+62) 812 ...
      | \+62[ \u00a0]?\(0\)[ \u00a0]?     # +62 (0)21 ...
      | \+62[ \u00a0.\-\u2013]?          # +62 812 ..., +62-812-..., +62812...
      | \(0\d{2,3}\)[ \u00a0\-]?         # (021) 555 ..., (021)-555..., (0274)512...
    )?
    \d+
    (?:
        (?: [ \u00a0]{1,2}                         # a space (two, as a typo)
          | [ \u00a0]? [\-\u2011\u2013] [ \u00a0]?   # a dash (or en dash), perhaps spaced
          | \.                                     # a dot
        )
        \d+
    )*
    """,
    re.VERBOSE,
)

# Words that name the number after them. The nearest one before a number wins.
_KEYWORD = re.compile(
    r"""
      (?P<kk>
          \bKK\b
        | \bkartu \s+ keluarga\b
        | \bfamily \s+ card\b
      )
    | (?P<npwp>
          \bNPWP\b
        | \bnomor \s+ pokok \s+ wajib \s+ pajak\b
        | \btax \s+ (?:id|number|identification)\b
      )
    | (?P<nik>
          \bNIK\b
        | \b(?:e-?)?KTP\b
        | \bnomor \s+ induk \s+ kependudukan\b
        | \bid(?:entity)? \s+ (?:card|number)\b
      )
    | (?P<phone>                     # overrides an "other" word further back
          \bHP\b | \bWA\b | \bwhats \s? app\b | \btelp?\b\.? | \btelepon\b | \bponsel\b
        | \bhandphone\b | \bphone\b | \bmobile\b | \bhubungi\b | \bcall\b | \bfax\b
      )
    | (?P<other>                     # numbers that are not personal identifiers
          \bNIB\b | \bNOP\b | \bNIP\b | \bNPPBKC\b
        | \bnomor \s+ induk \s+ berusaha\b
        | \brekening\b | \brek\b\.? | \bbank \s+ account\b | \baccount \s+ (?:no|number)\b
        | \b(?:BNI|BCA|BRI|BTN|BSI)\b
        | \bbank \s+ (?:mandiri|dki|jatim|jateng|bjb|syariah|permata|danamon|cimb)\b
        | \bkode \s+ (?:bayar|pembayaran|booking|transaksi)\b | \breferensi\b
        | \bvirtual \s+ account\b | \bVA\b
        | \bbilling\b | \binvoice\b | \bresi\b | \btracking\b | \bseri\b | \bserial\b
      )
    """,
    re.VERBOSE | re.IGNORECASE,
)

# Between two keywords of one list (NIK dan KK), and between two numbers of one list.
_KEYWORD_JOIN = re.compile(
    r"""
    \s* (?: [/,] \s* )?                                  # NIK/KK, NIK, KK
    (?: (?: & | \bdan\b | \band\b | \bserta\b ) \s*        # NIK dan KK, KTP & KK
        (?: (?: \bno\b\.? | \bnomor\b ) \s* )?             # No. KTP & No. KK
    )?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_LIST_GAP = re.compile(r"\s*(?:[,;/&]|\bdan\b|\band\b)?\s*", re.IGNORECASE)

# What may touch a number: a keyword typed without a space (NIK3174..., HP:0812...).
_KEYWORD_GLUED = re.compile(r"(?:\bNIK|\bKK|\bNPWP|\bKTP|\bHP|\bWA|\bTelp)[.:\-]?\Z", re.IGNORECASE)
# What may not: letters (B1234XYZ, SK-00123), money (Rp1.500.000), and after it a unit
# (250 m2), a decimal comma (2,5) or a time (16:00).
_LETTERS_BEFORE = re.compile(r"(?:[^\W\d]|[^\W\d_]-|@)\Z")
_MONEY_BEFORE = re.compile(r"(?:\bRp|\bIDR|\bUSD|\$)\.?[ \u00a0]*\Z", re.IGNORECASE)
_SLASH_BEFORE = re.compile(r"/[.\-]?\Z")
_GLUED_AFTER = re.compile(
    r"""
      [\w@]                           # letters, an @
    | :\d                             # a time: 16:00
    | [ \u00a0]? (?: m2 | m² | m\b | km2?\b | ha\b | are\b | %
                   | persen\b | kg\b | ton\b | meter\b | hektar\b )
    """,
    re.VERBOSE | re.IGNORECASE,
)
# A slash or a comma joins parts of one letter number or one decimal (503/1234/PBG, 2,5), but
# also lists identifiers (0812-3456-7890/0813-2233-4455, 3174...0003,3174...0008): it does not
# glue a number of 15 digits or more, nor a phone to a phone.
_LONG_ENOUGH = 15
_PHONE_AFTER_SLASH = re.compile(r"[/,][ \u00a0]?(?:\+62|\(?0\d)")
_PHONE_BEFORE_SLASH = re.compile(r"(?:\+62|(?<!\d)0)[\d \u00a0.\-]{7,}\d[/,]\Z|wa\.me/\Z")


_EMAIL = re.compile(
    r"""
    (?<![\w.%+\-])
    (?P<local> [A-Za-z0-9_%+\-] (?: [A-Za-z0-9._%+\-]* [A-Za-z0-9_%+\-] )? )
    @
    (?P<domain>
        (?: [A-Za-z0-9] (?: [A-Za-z0-9\-]* [A-Za-z0-9] )? \. )+
        [A-Za-z]{2,}
    )
    (?![\w\-]|\.[A-Za-z0-9])
    """,
    re.VERBOSE,
)

_SENTENCE_WORD = re.compile(r"[A-Z][a-z]+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"[ \u00a0]")
_MOBILE_SECOND = "123456789"  # 08x: 0811 .. 0899; 080x is toll-free, not a mobile
_LANDLINE_AREA = "2345679"  # 02x Java .. 09xx Papua; 01 and 08 are not area codes
_SUBSCRIBER_FIRST = "23456789"  # a local number never starts with the trunk 0 (1: services)


# ------------------------------------------------------------------------------ reading numbers


@dataclass(frozen=True)
class _Unit:
    """Groups of a number joined without spaces, or a country/area code that opens one."""

    start: int
    end: int
    digits: str
    groups: tuple[int, ...]  # the length of each digit group
    lead: Literal["", "cc", "area"]
    glued: bool  # touches letters, a slash, money or a unit: never (part of) an identifier


def _units(text: str, match: re.Match[str]) -> list[_Unit]:
    """Split a matched number into its units (at spaces, and after a country/area code), and
    mark the first and last as glued when they touch what makes them no identifier."""
    units: list[_Unit] = []
    pos = match.start()
    lead = match.group("lead")
    if lead:
        kind: Literal["cc", "area"] = "area" if lead.lstrip("(").startswith("0") else "cc"
        digits = "".join(_DIGITS.findall(lead)) if kind == "area" else "62"
        body = lead.rstrip(" \u00a0.-")
        glued = pos > 0 and (
            text[pos - 1].isalnum()
            or text[pos - 1] == "@"
            or (text[pos - 1] in "/," and not _PHONE_BEFORE_SLASH.search(text, 0, pos))
        )
        units.append(_Unit(pos, pos + len(body), digits, (len(digits),), kind, glued))
        pos += len(lead)
    current: list[re.Match[str]] = []
    for group in _DIGITS.finditer(text, pos, match.end()):
        if current and _SPACE.search(text, current[-1].end(), group.start()):
            units.append(_make_unit(current))
            current = []
        current.append(group)
    units.append(_make_unit(current))  # the pattern ends with digits: current is not empty
    if not lead and _glued_before(text, match.start(), units[0]):
        units[0] = _replace_glued(units[0])
    phone_like = match.group().startswith(("0", "+", "(", "62"))
    if _glued_after(text, match.end(), units[-1], phone_like):
        units[-1] = _replace_glued(units[-1])
    return units


def _make_unit(groups: list[re.Match[str]]) -> _Unit:
    return _Unit(
        groups[0].start(),
        groups[-1].end(),
        "".join(g.group() for g in groups),
        tuple(len(g.group()) for g in groups),
        "",
        False,
    )


def _replace_glued(unit: _Unit) -> _Unit:
    return _Unit(unit.start, unit.end, unit.digits, unit.groups, unit.lead, True)


def _glued_before(text: str, start: int, unit: _Unit) -> bool:
    before = text[max(0, start - 8) : start]
    if _MONEY_BEFORE.search(before):
        return True
    if _KEYWORD_GLUED.search(before):
        return False
    if _LETTERS_BEFORE.search(before):
        return True
    if _SLASH_BEFORE.search(before) or before.endswith(","):
        if len(unit.digits) >= _LONG_ENOUGH:
            return False
        phone_like = unit.digits.startswith(("0", "62"))
        return not (phone_like and _PHONE_BEFORE_SLASH.search(text, max(0, start - 24), start))
    return False


def _glued_after(text: str, end: int, unit: _Unit, phone_like: bool) -> bool:
    if _GLUED_AFTER.match(text, end):
        return True
    if text.startswith("/", end) or re.match(r",\d", text[end : end + 2]):
        if len(unit.digits) >= _LONG_ENOUGH:
            return False
        return not (phone_like and _PHONE_AFTER_SLASH.match(text, end))
    return False


def _named_kinds(text: str, start: int, floor: int) -> list[str]:
    """The kinds named by the nearest keyword ending at most :data:`CONTEXT_CHARS` characters
    before ``start`` and after ``floor`` (the end of the previous number), with the keywords
    listed before it (``NIK dan KK``, ``NIK/KK``, ``No. KTP & No. KK``), in order."""
    matches = [
        m
        for m in _KEYWORD.finditer(text, max(floor, start - CONTEXT_CHARS - 40), start)
        if m.start() >= floor
    ]
    if not matches or matches[-1].end() < start - CONTEXT_CHARS:
        return []
    kinds = [str(matches[-1].lastgroup)]
    for earlier, later in zip(matches[-2::-1], matches[:0:-1], strict=True):
        if not _KEYWORD_JOIN.fullmatch(text, earlier.end(), later.start()):
            break
        kinds.insert(0, str(earlier.lastgroup))
    return kinds


def _id_layout_ok(groups: tuple[int, ...]) -> bool:
    """How people group 16 digits: ``3174 0512 0590 0003``, ``317405 120590 0003``,
    ``31740512 05900003``... (at most four groups of four or more), or with the region split
    out, ``31.74.05.120590.0003``."""
    if len(groups) <= 4 and min(groups) >= 4:
        return True
    return groups in {(2, 2, 2, 6, 4), (2, 2, 2, 2, 2, 2, 4)}


def _classify_id(digits: str, groups: tuple[int, ...], keyword: str | None) -> str | None:
    """``nik``, ``kk`` or ``npwp`` for 15 or 16 digits, or None.

    16 digits: ``npwp`` after the word NPWP (an individual's NPWP is the NIK; an entity's is
    ``0`` and its 15-digit NPWP); ``kk`` after KK words when the digits hold a valid issue date;
    otherwise ``nik`` when the digits have a NIK's structure. 15 digits: ``npwp`` when grouped as
    ``99.999.999.9-999.999`` (dots, dashes or spaces), or after the word NPWP in any grouping.
    """
    if keyword == "other":
        return None
    if len(digits) == 16:
        if keyword == "npwp" and (is_nik(digits) or digits[0] == "0"):
            return "npwp"
        if not _id_layout_ok(groups):
            return None
        if keyword == "kk" and is_kk(digits):
            return "kk"
        return "nik" if is_nik(digits) else None
    if len(digits) == 15 and (keyword == "npwp" or groups == (2, 3, 3, 1, 3, 3)):
        return "npwp"
    return None


def _classify_phone(units: list[_Unit], keyword: str | None) -> str | None:
    """The ``+62`` form of an Indonesian phone number, or None.

    - ``08x`` (x not 0: 080x is toll-free) mobile numbers of 10-13 digits with the 0;
    - ``0[2-79]`` landlines of 9-11 digits: an area code (``021``, ``0274``) and a subscriber
      number, which starts with 2-9 (``3174 0512 0590 000 3`` holds no landline
      ``0512 0590 000``);
    - the same after ``+62`` or ``(+62)`` instead of the 0 (a 0 written after +62 is dropped),
      after an area code in parentheses (``(021) 555-1234``, ``(0812) 3456 7890``), and mobile
      numbers written ``628...`` without the ``+``.

    Without a country or area code the first group must have three digits or more (or be a lone
    ``08``), so times and dates (``07.30``, ``08-05-2024``) are not read as numbers. Every unit
    after the first must have three or more (after a country code the area code, ``21``, may
    have two), so a count after a number is not taken in (``0812 3456 7890 3 kali``).
    """
    if keyword == "other":
        return None
    first, rest = units[0], units[1:]
    if any(u.lead for u in rest) or any(len(u.digits) < 3 for u in units[1 + bool(first.lead) :]):
        return None
    if first.lead:
        if not rest:
            return None
        digits = "".join(u.digits for u in rest)
        if first.lead == "area":
            return _phone(first.digits + digits, len(first.digits))
        area = rest[0].groups[0] if len(rest) > 1 or len(rest[0].groups) > 1 else None
        if digits.startswith("0"):
            return _phone(digits, area)
        return _phone("0" + digits, area + 1 if area else None)
    digits = "".join(u.digits for u in units)
    several = len(units) > 1 or len(first.groups) > 1
    if digits.startswith("0"):
        # 07.30, 08-05-2024 are a time and a date; 08 1234 567 890 (08 on its own) is a phone
        if first.groups[0] < 3 and not (first.digits == "08" and rest):
            return None
        if several and first.groups[0] > (5 if digits[1] == "8" else 4):
            return None  # 0812345-67890: no prefix or area code is grouped so
        return _phone(digits, first.groups[0] if several else None)
    if digits.startswith("628") and (first.groups[0] == 2 or first.groups[0] >= 4):
        return _phone("0" + digits[2:], None)
    return None


def _phone(national: str, area: int | None) -> str | None:
    """``+62...`` for a national number (with its leading 0) that is a mobile number of 10-13
    digits or a landline of 9-11 whose subscriber number (after the area code of ``area``
    digits, or after either a 3- or 4-digit one) starts with 2-9; else None."""
    if len(national) < 4 or national[0] != "0":
        return None
    if national[1] == "8":
        ok = national[2] in _MOBILE_SECOND and 10 <= len(national) <= 13
    elif national[1] in _LANDLINE_AREA and 9 <= len(national) <= 11:
        starts = (national[area : area + 1],) if area else (national[3], national[4])
        ok = any(c in _SUBSCRIBER_FIRST for c in starts if c)
    else:
        ok = False
    return "+62" + national[1:] if ok else None


def _classify(units: list[_Unit], keyword: str | None) -> tuple[str, str] | None:
    """The kind and normalized value of consecutive units read as one identifier, or None."""
    if units[0].lead:
        phone = _classify_phone(units, keyword)
        return ("phone", phone) if phone else None
    digits = "".join(u.digits for u in units)
    groups = tuple(g for u in units for g in u.groups)
    kind = _classify_id(digits, groups, keyword)
    if kind:
        return kind, digits
    if len(groups) > 5:
        return None
    phone = _classify_phone(units, keyword)
    return ("phone", phone) if phone else None


def _find_numbers(text: str) -> list[Finding]:
    """NIK, KK, NPWP and phone numbers: each number split, left to right, into the longest runs
    of its units that read as an identifier.

    The kind named before a number is the nearest keyword's; when several were listed
    (``NIK dan KK saya: 3174..., 3174...``) the first number takes the first, and each number
    that follows in the same list (after a comma, a slash, ``dan``) the next."""
    found: list[Finding] = []
    floor = 0  # the end of the previous number: a keyword before it names that one
    queued: list[str] = []  # kinds listed and not yet taken by a number
    for match in _NUMBER.finditer(text):
        units = _units(text, match)
        i = 0
        while i < len(units):
            unit = units[i]
            if unit.glued:
                read = None
            else:
                named = _named_kinds(text, unit.start, floor)
                if not named and queued and _LIST_GAP.fullmatch(text, floor, unit.start):
                    named = queued
                read = _read_at(text, units, i, named[0] if named else None)
            if read is not None:
                finding, i = read
                found.append(finding)
                floor = finding.end
                queued = named[1:]
                continue
            if len(unit.digits) >= 5:
                floor = max(floor, unit.end)
            i += 1
    return found


def _read_at(
    text: str, units: list[_Unit], i: int, keyword: str | None
) -> tuple[Finding, int] | None:
    """The longest run of units from ``units[i]`` that reads as an identifier, and the index
    after it."""
    for j in range(min(len(units), i + 7), i, -1):
        run = units[i:j]
        if any(u.glued for u in run):
            continue
        result = _classify(run, keyword)
        if result is None:
            continue
        kind, normalized = result
        start, end = run[0].start, run[-1].end
        return Finding(kind, start, end, text[start:end], normalized), j
    return None


def _find_emails(text: str) -> list[Finding]:
    """Addresses ``local@domain.tld``: a mention (``@sari``) has no local part and no dot.

    A last label written as a capitalized word after lower-case ones is the next sentence,
    typed without a space (``budi@gmail.com.Terima kasih``), and is left out."""
    found = []
    for match in _EMAIL.finditer(text):
        value = match.group()
        head, _, last = value.rpartition(".")
        domain = head.rpartition("@")[2]
        if _SENTENCE_WORD.fullmatch(last) and "." in domain and domain.rpartition(".")[2].islower():
            value = head
        start = match.start()
        found.append(Finding("email", start, start + len(value), value, value.lower()))
    return found


# -------------------------------------------------------------------------------- more kinds

_REGISTERED: dict[str, Detector] = {}
_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,14}\Z")


def register(kind: str, detector: Detector) -> None:
    """Add a kind that :func:`find` reports: ``detector(text)`` yields ``(start, end,
    normalized)`` for each occurrence. Registering a kind again replaces its detector.

    A kind is a lower-case name of at most 15 characters (so that a search token,
    ``kind:`` and 64 hex digits, fits its column) and not one of :data:`KINDS`.
    """
    if kind in KINDS:
        raise ValueError(f"{kind!r} is a built-in kind")
    if not _KIND_NAME.match(kind):
        raise ValueError(f"kind {kind!r}: lower-case letters, digits and _, at most 15")
    _REGISTERED[kind] = detector


def unregister(kind: str) -> None:
    """Remove a kind added with :func:`register` (nothing if it is not registered)."""
    _REGISTERED.pop(kind, None)


def _find_registered(text: str, kind: str, detector: Detector) -> list[Finding]:
    found = []
    for start, end, normalized in detector(text):
        if not 0 <= start < end <= len(text):
            raise ValueError(f"detector for {kind!r} gave the span {start}:{end}")
        found.append(Finding(kind, start, end, text[start:end], normalized))
    return found


# ------------------------------------------------------------------------------------ the API


def find(text: str, kinds: Iterable[str] | None = None) -> list[Finding]:
    """The identifiers in ``text``, in order, none overlapping another.

    Where two overlap, the longer wins; of two as long, the built-in kind (in :data:`KINDS`
    order), then the kind registered first. ``kinds`` keeps only those kinds (the overlaps are
    settled first, so a number read as an NPWP is not offered as a phone instead).
    """
    wanted: set[str] | None = None
    if kinds is not None:
        wanted = set(kinds)
        unknown = wanted - set(KINDS) - set(_REGISTERED)
        if unknown:
            raise ValueError(f"unknown kinds: {', '.join(sorted(unknown))}")
    candidates = _find_numbers(text) + _find_emails(text)
    for kind, detector in list(_REGISTERED.items()):
        candidates += _find_registered(text, kind, detector)
    order = {kind: rank for rank, kind in enumerate((*KINDS, *_REGISTERED))}
    candidates.sort(key=lambda f: (f.start - f.end, order.get(f.kind, len(order)), f.start))
    kept: list[Finding] = []
    for candidate in candidates:
        if all(candidate.end <= k.start or k.end <= candidate.start for k in kept):
            kept.append(candidate)
    kept.sort(key=lambda f: f.start)
    return [f for f in kept if wanted is None or f.kind in wanted]


def mask_value(kind: str, normalized: str) -> str:
    """What a masked identifier shows.

    - ``nik``, ``kk``, ``npwp``: the first and last four digits (``3174********0001``);
    - ``phone``: the country code, three digits and the last two (``+62812******90``);
    - ``email``: the first character and the domain (``b***@example.go.id``);
    - other kinds: the first and last character (all ``*`` when shorter than 6).
    """
    if kind in ("nik", "kk", "npwp"):
        return _keep(normalized, 4, 4)
    if kind == "phone":
        return _keep(normalized, 6, 2) if normalized.startswith("+62") else _keep(normalized, 3, 2)
    if kind == "email" and "@" in normalized:
        local, _, domain = normalized.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return _keep(normalized, 1, 1, shortest=6)


def _keep(value: str, head: int, tail: int, shortest: int | None = None) -> str:
    if len(value) < (shortest if shortest is not None else head + tail + 1):
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def apply(
    text: str,
    policy: Mapping[str, Action],
    *,
    hidden_label: Callable[[str], str] = lambda kind: f"[{kind.upper()}]",
) -> str:
    """``text`` with each identifier shown, masked (:func:`mask_value`) or hidden (replaced by
    ``hidden_label(kind)``) as ``policy`` says for its kind; a kind the policy does not name is
    masked."""
    parts: list[str] = []
    pos = 0
    for finding in find(text):
        action = policy.get(finding.kind, "mask")
        if action == "show":
            shown = finding.value
        elif action == "mask":
            shown = mask_value(finding.kind, finding.normalized)
        elif action == "hide":
            shown = hidden_label(finding.kind)
        else:
            raise ValueError(f"unknown action {action!r} for {finding.kind!r}")
        parts.append(text[pos : finding.start])
        parts.append(shown)
        pos = finding.end
    parts.append(text[pos:])
    return "".join(parts)


# nik and kk share their tokens: the same 16 digits may be either.
_TOKEN_SPACE = {"nik": "id", "kk": "id"}


def search_tokens(text: str, key: bytes) -> set[str]:
    """A keyed hash, ``kind:HMAC-SHA256(key, normalized)`` in hex, of each identifier in
    ``text``: the search index stores these, and a search for an identifier typed in full
    computes the same token without the identifier ever being stored in clear.

    The token is of the normalized value, so a phone typed ``0812...`` and ``+62812...`` gives
    one token; ``nik`` and ``kk`` share the space ``id:``; a 16-digit NPWP with a NIK's
    structure (an individual's NPWP is their NIK since 2024) also gives the ``id:`` token.
    """
    if not key:
        raise ValueError("search_tokens needs a key")
    tokens: set[str] = set()
    for finding in find(text):
        space = _TOKEN_SPACE.get(finding.kind, finding.kind)
        tokens.add(f"{space}:{_mac(key, finding.normalized)}")
        if finding.kind == "npwp" and is_nik(finding.normalized):
            tokens.add(f"id:{_mac(key, finding.normalized)}")
    return tokens


def _mac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
