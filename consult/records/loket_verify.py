"""Standalone verifier of Loket transcript evidence (the formats: docs/RECORDS.md).

Run offline against an exported evidence bundle and the office's published keys::

    python loket_verify.py BUNDLE.json --keys KEYS.json \\
        [--older-checkpoint OLD.txt --consistency PROOF.json]

It checks that the transcript's entries are the ones the office hash-chained (none changed,
removed, reordered or added), that the office sealed exactly those entries and signed the seal
and every later addendum, that those statements are in the office's Merkle log under a signed
checkpoint and, given an older checkpoint and a consistency proof, that the log only grew since
then. It prints one ``FAIL`` line per problem, then ``VALID: ...`` (exit 0) or ``INVALID: ...``
(exit 1); input it cannot read is exit 2.

This file needs only Python's standard library and ``cryptography``, so it can be copied and run
anywhere; the server imports it too, and its functions are the reference for the formats.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "EMPTY_ROOT",
    "FORMAT",
    "ZERO",
    "Checkpoint",
    "Failure",
    "Report",
    "VerifyError",
    "canonical",
    "entry_hash",
    "entry_object",
    "key_id",
    "leaf_hash",
    "load_keys",
    "main",
    "node_hash",
    "note_key_hash",
    "parse_checkpoint",
    "statement_hash",
    "text_hash",
    "tree_root",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_statement_signature",
]

FORMAT = "loket.evidence/1"
ZERO = "0" * 64
EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32
KEY_HASH_SIZE = 4
SALT_SIZE = 16
MAX_TREE_SIZE = 2**64 - 1
# The largest integer magnitude JCS accepts: JSON numbers are IEEE 754 doubles, which hold every
# integer up to 2**53 exactly (2**53 + 1 is not a double). The rfc8785 package stops one short,
# at 2**53 - 1 (I-JSON's safe range), so the server never writes +-2**53 itself.
MAX_JCS_INT = 2**53

_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_HASH_HEX = re.compile(r"[0-9a-f]{64}")
_SALT_HEX = re.compile(r"[0-9a-f]{32}")
_PUBLIC_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_JCS_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_JCS_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
# ASCII control characters other than newline, which a signed note may not contain.
_NOTE_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_EM_DASH = "\u2014"

# What canonical() raises for a value JCS cannot encode (a nesting too deep to walk included).
_JCS_ERRORS = (ValueError, TypeError, RecursionError)


class VerifyError(Exception):
    """Evidence that is malformed or does not verify: a key list, a checkpoint, a member."""


# --- JCS (RFC 8785) ------------------------------------------------------------------------


def canonical(value: Any) -> bytes:
    """JCS(value): the RFC 8785 canonical JSON encoding, as UTF-8 bytes.

    Accepts dict (str keys), list, str, int, float, bool and None. Raises ValueError for what
    JSON numbers or strings cannot hold exactly (NaN, infinities, integers beyond 2**53 in
    magnitude, lone surrogates) and TypeError for any other type.
    """
    parts: list[str] = []
    _jcs(value, parts)
    return "".join(parts).encode("utf-8")


def _jcs(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_jcs_string(value))
    elif isinstance(value, int):
        if abs(value) > MAX_JCS_INT:
            raise ValueError(f"integer {value} is beyond 2**53: JSON numbers are doubles")
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_jcs_float(value))
    elif isinstance(value, list):
        out.append("[")
        for position, item in enumerate(value):
            if position:
                out.append(",")
            _jcs(item, out)
        out.append("]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object member names must be strings, not {type(key).__name__}")
        names = {key: _jcs_string(key) for key in value}  # rejects lone surrogates first
        out.append("{")
        for position, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if position:
                out.append(",")
            out.append(names[key])
            out.append(":")
            _jcs(value[key], out)
        out.append("}")
    else:
        raise TypeError(f"JCS cannot encode a {type(value).__name__}")


def _jcs_string(text: str) -> str:
    """A JSON string with RFC 8785's escapes: quote, backslash and C0 controls only."""
    if _SURROGATE.search(text):
        raise ValueError("a string holds a lone surrogate, which UTF-8 cannot encode")
    return '"' + _JCS_ESCAPED.sub(_jcs_escape, text) + '"'


def _jcs_escape(match: re.Match[str]) -> str:
    char = match.group()
    return _JCS_SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _jcs_float(number: float) -> str:
    """ECMAScript's Number.prototype.toString of a finite double (RFC 8785 section 3.2.2.3)."""
    if not math.isfinite(number):
        raise ValueError(f"{number} is not a JSON number")
    if number == 0:
        return "0"  # also -0.0
    sign = "-" if number < 0 else ""
    # repr() gives the shortest digits that read back as the same double, the closest to it
    # when several do: the digits ECMAScript asks for. Turn them into the digit string d and the
    # decimal point's position n, so that the number is 0.d * 10**n.
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        text = digits + "0" * (point - k)
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        head = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{head}e{'+' if power >= 0 else '-'}{abs(power)}"
    return sign + text


# --- Entries and statements ----------------------------------------------------------------


def text_hash(salt_hex: str, text: str) -> str:
    """hex(H(salt || UTF-8(text))): an entry's (or a record's) salted text hash."""
    if not isinstance(salt_hex, str) or not _HEX.fullmatch(salt_hex):
        raise ValueError("the salt must be lowercase hexadecimal")
    return hashlib.sha256(bytes.fromhex(salt_hex) + text.encode("utf-8")).hexdigest()


def entry_object(consultation: str, entry: Mapping[str, Any], prev: str) -> dict[str, Any]:
    """E, the object an entry's hash is taken of, from a bundle entry's members (seq, time,
    kind, role, author, event, data, text_hash) and the previous entry's hash."""
    return {
        "type": "entry",
        "v": 1,
        "consultation": consultation,
        "seq": entry["seq"],
        "time": entry["time"],
        "kind": entry["kind"],
        "role": entry["role"],
        "author": entry["author"],
        "event": entry["event"],
        "data": entry["data"],
        "text": entry["text_hash"],
        "prev": prev,
    }


def entry_hash(consultation: str, entry: Mapping[str, Any], prev: str) -> str:
    """hex(H(JCS(E))): the hash of an entry given the previous one's (ZERO for seq 1)."""
    return hashlib.sha256(canonical(entry_object(consultation, entry, prev))).hexdigest()


def statement_hash(statement: Mapping[str, Any]) -> str:
    """hex(H(JCS(statement))): what the next addendum's ``prev`` names."""
    return hashlib.sha256(canonical(statement)).hexdigest()


def key_id(public_key: bytes) -> str:
    """A key's id: hex of the first 8 bytes of H(the 32 raw public key bytes)."""
    return hashlib.sha256(public_key).digest()[:8].hex()


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """The C2SP signed-note key hash of an Ed25519 key: H(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key).digest()[:KEY_HASH_SIZE]


def _ed25519_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_statement_signature(
    statement: Mapping[str, Any], signature_b64: str, keys: Mapping[str, bytes]
) -> bool:
    """Whether ``signature_b64`` is an Ed25519 signature of JCS(statement) by the key that the
    statement's ``key_id`` names in ``keys`` (key id -> raw public key). False as well for an
    unknown key, malformed base64 or a statement JCS cannot encode."""
    named = statement.get("key_id")
    public_key = keys.get(named) if isinstance(named, str) else None
    if public_key is None:
        return False
    try:
        signature = _b64decode(signature_b64, SIGNATURE_SIZE)
        message = canonical(statement)
    except (VerifyError, *_JCS_ERRORS):
        return False
    return _ed25519_valid(public_key, signature, message)


def _b64decode(text: object, size: int | None = None) -> bytes:
    """Standard base64 with padding, in its one canonical spelling, of ``size`` bytes if given."""
    if not isinstance(text, str):
        raise VerifyError("base64 must be a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError as exc:
        raise VerifyError(f"invalid base64 {text[:80]!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerifyError(f"non-canonical base64 {text[:80]!r}")
    if size is not None and len(raw) != size:
        raise VerifyError(f"base64 of {len(raw)} bytes where {size} are expected")
    return raw


# --- The Merkle log (RFC 9162 section 2.1) -------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf: H(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: H(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_root(leaves_data: Sequence[bytes]) -> bytes:
    """MTH of the leaves (their data, not their hashes); H() for no leaves.

    Computed level by level: pairs are hashed left to right and an odd last node moves up
    unchanged, which builds the same tree as the RFC's split at the largest power of 2.
    """
    if not leaves_data:
        return EMPTY_ROOT
    level = [leaf_hash(data) for data in leaves_data]
    while len(level) > 1:
        parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_index(value: object) -> TypeGuard[int]:
    return _is_int(value) and value >= 0


def _are_hashes(*values: object) -> bool:
    return all(isinstance(value, bytes) and len(value) == HASH_SIZE for value in values)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size``
    leaves whose root is ``root``: RFC 9162 section 2.1.3.2, step by step.

    Every hash must be 32 bytes and every proof element must be used: a proof with an element
    too many or too few fails.
    """
    if not (_is_index(index) and _is_index(size)) or index >= size:
        return False
    if not _are_hashes(leaf, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False  # an element more than the tree has levels
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # fn == sn, a right edge: climb to where it is a right child
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``size2`` leaves with root ``root2`` extends the tree
    of ``size1`` leaves with root ``root1``: RFC 9162 section 2.1.4.2, step by step.

    Equal sizes need an empty proof and equal roots; from the empty tree (whose root is H())
    only the empty proof is accepted. Every hash must be 32 bytes and the proof must be used up
    exactly.
    """
    if not (_is_index(size1) and _is_index(size2)) or size1 > size2:
        return False
    if not _are_hashes(root1, root2, *proof):
        return False
    if size1 == size2:
        return not proof and root1 == root2 and (size1 > 0 or root1 == EMPTY_ROOT)
    if size1 == 0:
        return not proof and root1 == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)  # the old tree is a complete subtree: the proof leaves it out
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:  # as in verify_inclusion
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root1 and sr == root2


# --- Checkpoints (C2SP tlog-checkpoint, signed-note) ---------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint: its body's fields, the body's exact bytes (what is signed), and its
    signature lines as (name, 4-byte key hash, signature)."""

    origin: str
    size: int
    root: bytes
    time: str | None
    body: bytes
    signatures: list[tuple[str, bytes, bytes]]


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a signed checkpoint note strictly; VerifyError says what is wrong.

    The body is the origin, the tree size (decimal, no leading zero), the root (base64 of 32
    bytes) and extension lines, each ending in a newline; ``time <time>`` is the one extension
    Loket reads. A blank line follows, then one or more signature lines
    ``— <name> <base64(key hash || signature)>``. Other names' signatures are kept (a witness's
    cosignature, say), whatever their length; only the office's are checked.
    """
    if not isinstance(text, str):
        raise VerifyError("the checkpoint must be text")
    if _NOTE_CONTROL.search(text):
        raise VerifyError("the checkpoint holds a control character")
    body_text, blank, signature_text = text.partition("\n\n")
    if not blank:
        raise VerifyError("no blank line between the checkpoint's body and its signatures")
    body_text += "\n"
    lines = body_text.split("\n")[:-1]
    if len(lines) < 3 or not lines[0]:
        raise VerifyError("a checkpoint's body has an origin, a tree size and a root hash")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or len(size_text) > 20 or int(size_text) > MAX_TREE_SIZE:
        raise VerifyError(f"tree size {size_text[:40]!r} is not a decimal number below 2**64")
    root = _b64decode(root_text, HASH_SIZE)
    time: str | None = None
    for extension in extensions:
        if extension.startswith("time "):
            if time is not None:
                raise VerifyError("the checkpoint has two time lines")
            time = extension.removeprefix("time ")
            if not _TIME.fullmatch(time):
                raise VerifyError(
                    f"checkpoint time {time[:40]!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
                )
    if not signature_text.endswith("\n"):
        raise VerifyError("the checkpoint's signature lines must each end with a newline")
    signatures = [_parse_signature_line(line) for line in signature_text[:-1].split("\n")]
    try:
        body = body_text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerifyError("the checkpoint is not valid UTF-8") from exc
    return Checkpoint(origin, int(size_text), root, time, body, signatures)


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    fields = line.split(" ")
    if len(fields) != 3 or fields[0] != _EM_DASH or not fields[1]:
        raise VerifyError(f"not a signature line: {line[:80]!r}")
    name = fields[1]
    if "+" in name or any(char.isspace() for char in name):
        raise VerifyError(f"signature name {name[:80]!r} holds a space or a plus")
    blob = _b64decode(fields[2])
    if len(blob) <= KEY_HASH_SIZE:
        raise VerifyError(f"signature line of {name[:80]!r} is too short")
    return name, blob[:KEY_HASH_SIZE], blob[KEY_HASH_SIZE:]


def verify_checkpoint(text: str, origin: str, keys: Mapping[str, bytes]) -> Checkpoint:
    """Parse ``text`` and check it is the checkpoint of ``origin``'s log, signed by one of
    ``keys`` (key id -> raw public key): some signature line named ``origin`` carries the key
    hash of one of them and its Ed25519 signature of the body verifies. Signature lines of other
    names are ignored. Raises VerifyError otherwise."""
    checkpoint = parse_checkpoint(text)
    if checkpoint.origin != origin:
        raise VerifyError(f"the checkpoint is of log {checkpoint.origin!r}, not {origin!r}")
    for name, key_hash, signature in checkpoint.signatures:
        if name != origin:
            continue
        for public_key in keys.values():
            if note_key_hash(origin, public_key) == key_hash and _ed25519_valid(
                public_key, signature, checkpoint.body
            ):
                return checkpoint
    raise VerifyError("no signature on the checkpoint verifies under the office's keys")


# --- Keys ------------------------------------------------------------------------------------


def load_keys(doc: Mapping[str, Any]) -> tuple[str, dict[str, bytes]]:
    """The office's origin and its keys (key id -> raw public key, retired keys included) from
    the JSON published at /.well-known/loket/keys; VerifyError if it is malformed, a key is not
    Ed25519, a key is listed twice or a key id is not its key's."""
    if not isinstance(doc, dict):
        raise VerifyError("the keys document is not a JSON object")
    office = doc.get("office")
    if not isinstance(office, str) or not office:
        raise VerifyError("the keys document names no office")
    items = doc.get("keys")
    if not isinstance(items, list) or not items:
        raise VerifyError("the keys document lists no keys")
    keys: dict[str, bytes] = {}
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise VerifyError(f"key {position} is not a JSON object")
        if item.get("algorithm") != "Ed25519":
            raise VerifyError(f"key {position} is not an Ed25519 key")
        public_key = _b64decode(item.get("public_key"), PUBLIC_KEY_SIZE)
        named = item.get("key_id")
        if named != key_id(public_key):
            raise VerifyError(f"key {position}: key_id {named!r} is not the id of its key")
        if named in keys:
            raise VerifyError(f"key {named} is listed twice")
        keys[named] = public_key
    return office, keys


# --- The evidence bundle ---------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One problem found: in which consultation, where (``seq 5``, ``statement 2 (addendum
    n=1)``, ``checkpoint``, ``log``, ...), a stable code and an English explanation."""

    consultation: str
    where: str
    code: str
    message: str


@dataclass
class Report:
    """The outcome of verify_bundle: valid when ``failures`` is empty. ``notes`` say what the
    bundle leaves out (withheld or purged texts) or what could not be checked."""

    ok: bool
    failures: list[Failure]
    notes: list[str]
    consultation: str = "?"
    entries: int = 0
    statements: int = 0
    tree_size: int | None = None


def _is_hash_hex(value: object) -> bool:
    return isinstance(value, str) and _HASH_HEX.fullmatch(value) is not None


def _require(obj: Mapping[str, Any], name: str, valid: bool, what: str) -> None:
    """Raise VerifyError unless member ``name`` is present and ``valid``."""
    if name not in obj:
        raise VerifyError(f"member {name!r} is missing")
    if not valid:
        raise VerifyError(f"member {name!r} must be {what}")


def _check_entry_members(entry: object) -> None:
    """Every member of a bundle entry present, of its type; text and salt null together."""
    if not isinstance(entry, dict):
        raise VerifyError("the entry is not a JSON object")
    seq = entry.get("seq")
    _require(entry, "seq", _is_int(seq) and seq >= 1, "a positive integer")
    for name in ("time", "kind", "role", "event"):
        _require(entry, name, isinstance(entry.get(name), str), "a string")
    author = entry.get("author")
    _require(entry, "author", author is None or _is_int(author), "an integer or null")
    _require(entry, "data", isinstance(entry.get("data"), dict), "a JSON object")
    text, salt = entry.get("text"), entry.get("salt")
    _require(entry, "text", text is None or isinstance(text, str), "a string or null")
    salt_ok = salt is None or (isinstance(salt, str) and _SALT_HEX.fullmatch(salt) is not None)
    _require(entry, "salt", salt_ok, f"{SALT_SIZE} bytes in lowercase hexadecimal, or null")
    if (text is None) != (salt is None):
        raise VerifyError("text and salt must both be given or both be null")
    for name in ("text_hash", "hash"):
        _require(entry, name, _is_hash_hex(entry.get(name)), "a SHA-256 hash in hexadecimal")


def _check_statement_members(statement: Mapping[str, Any]) -> None:
    """The members a seal or an addendum must have, of their types (extra members are
    covered by the signature and allowed)."""
    if statement.get("type") not in ("seal", "addendum"):
        raise VerifyError(f"unknown statement type {statement.get('type')!r}")
    if statement.get("v") != 1:
        raise VerifyError(f"unknown statement version {statement.get('v')!r}")
    for name in ("office", "consultation", "key_id"):
        _require(statement, name, isinstance(statement.get(name), str), "a string")
    if statement.get("type") == "seal":
        _require(statement, "last_seq", _is_index(statement.get("last_seq")), "an integer >= 0")
        _require(statement, "head", _is_hash_hex(statement.get("head")), "a hash in hex")
        _require(statement, "sealed_at", isinstance(statement.get("sealed_at"), str), "a time")
    else:
        n = statement.get("n")
        _require(statement, "n", _is_int(n) and n >= 1, "a positive integer")
        _require(statement, "prev", _is_hash_hex(statement.get("prev")), "a hash in hex")
        _require(statement, "time", isinstance(statement.get("time"), str), "a time")
        record = statement.get("record")
        record_ok = isinstance(record, dict) and isinstance(record.get("kind"), str)
        _require(statement, "record", record_ok, "a JSON object with a kind")


@dataclass
class _Logged:
    """A statement to find in the log: where it is in the bundle, and its claimed position."""

    where: str
    statement: dict[str, Any]
    index: int
    proof: list[bytes]


@dataclass
class _Run:
    """One verify_bundle run: what the checks found so far, and what later checks need.

    ``consultation`` is the bundle's id as given (the entries are hashed with it); failures
    name it only when it is a well-formed public id, else ``?``, so that a report prints safely.
    """

    consultation: str
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    office: str | None = None
    keys: dict[str, bytes] | None = None
    entry_count: int = 0
    # The seq of the last entry (0 without entries), None when the seqs are unusable.
    last_seq: int | None = None
    # seq -> hash for the entries before the chain's first divergence: those whose stored hash
    # is the recomputed one.
    trusted: dict[int, str] = field(default_factory=dict)
    logged: list[_Logged] = field(default_factory=list)
    statement_count: int = 0

    @property
    def label(self) -> str:
        return self.consultation if _PUBLIC_ID.fullmatch(self.consultation) else "?"

    def fail(self, where: str, code: str, message: str) -> None:
        self.failures.append(Failure(self.label, where, code, message))

    # The checks, in the order verify_bundle runs them.

    def check_keys(self, keys_doc: Any) -> None:
        """The office's keys, given separately: the bundle's own ``keys`` are not trusted."""
        try:
            self.office, self.keys = load_keys(keys_doc)
        except VerifyError as exc:
            self.fail("keys", "bad_input", f"{exc}; no signature can be checked")

    def check_header(self, bundle: Mapping[str, Any]) -> None:
        """The bundle's format, consultation id, and office: the one whose keys were given."""
        if bundle.get("format") != FORMAT:
            self.fail("bundle", "bad_input", f"format is {bundle.get('format')!r}, not {FORMAT}")
        consultation = bundle.get("consultation")
        if not isinstance(consultation, str) or not _PUBLIC_ID.fullmatch(consultation):
            self.fail("bundle", "bad_input", "consultation must be a lowercase hyphenated UUID")
        office = bundle.get("office")
        if not isinstance(office, str):
            self.fail("bundle", "bad_input", "office must be a string")
        elif self.office is not None and office != self.office:
            self.fail(
                "bundle",
                "office_mismatch",
                f"the bundle is of office {office!r}, the keys are of {self.office!r}",
            )

    def check_entries(self, entries: object) -> None:
        """Each entry well-formed; seqs 1..N in order; texts matching their salted hashes; and
        the hash chain recomputed from the entries as given."""
        if not isinstance(entries, list):
            self.fail("bundle", "bad_input", "entries must be a list")
            return
        self.entry_count = len(entries)
        wellformed: list[dict[str, Any] | None] = []
        for position, entry in enumerate(entries, 1):
            try:
                _check_entry_members(entry)
            except VerifyError as exc:
                self.fail(_entry_where(entry, position), "bad_input", str(exc))
                wellformed.append(None)
            else:
                wellformed.append(entry)
        given = [entry.get("seq") if isinstance(entry, dict) else None for entry in entries]
        seqs = [seq for seq in given if _is_int(seq) and seq >= 1]
        if len(seqs) == len(entries):
            self.check_seqs(seqs)
            self.last_seq = seqs[-1] if seqs else 0
        self.check_texts(wellformed)
        self.check_chain(wellformed)

    def check_seqs(self, seqs: list[int]) -> None:
        """Entries are numbered 1, 2, ... in order: a number seen twice is a duplicate, one
        lower than an earlier one is out of order, and one skipped that never comes is a gap
        (an entry removed). A swap is reported once, at the entry found too late."""
        numbers = sorted(set(seqs))
        seen: set[int] = set()
        highest = 0
        for seq in seqs:
            where = f"seq {seq}"
            if seq in seen:
                self.fail(where, "seq_duplicate", f"two entries are numbered {seq}")
            elif seq < highest:
                self.fail(where, "seq_order", f"seq {seq} comes after seq {highest}")
            elif seq > highest + 1:
                # The numbers between come later (out of order, reported there) or never.
                later = bisect.bisect_left(numbers, seq) - bisect.bisect_right(numbers, highest)
                if later < seq - highest - 1:
                    self.fail(where, "seq_gap", _gap_message(highest, seq, later))
            seen.add(seq)
            highest = max(highest, seq)

    def check_texts(self, entries: list[dict[str, Any] | None]) -> None:
        """A text given with its salt must hash to the entry's text_hash; a text left out
        (withheld by the bundle, or purged by the office) is noted, its hash taken as given."""
        absent: list[str] = []
        for entry in entries:
            if entry is None:
                continue
            where = f"seq {entry['seq']}"
            if entry["text"] is None:
                absent.append(str(entry["seq"]))
                continue
            try:
                actual = text_hash(entry["salt"], entry["text"])
            except ValueError as exc:
                self.fail(where, "bad_input", f"the text cannot be hashed: {exc}")
                continue
            if actual != entry["text_hash"]:
                self.fail(where, "text_changed", "the text does not match its salted hash")
        if absent:
            self.notes.append(
                f"{len(absent)} text(s) not in the bundle (withheld or purged): "
                f"seq {', '.join(absent)}; their hashes are taken as given"
            )

    def check_chain(self, entries: list[dict[str, Any] | None]) -> None:
        """Recompute each entry's hash with ``prev`` the previous entry's recomputed hash. The
        first entry whose stored hash differs is where the transcript was changed (that entry,
        or an entry removed or moved before it); everything after it depends on it, so only that
        first divergence is reported."""
        prev = ZERO
        for position, entry in enumerate(entries, 1):
            if entry is None:
                self.notes.append(f"the hash chain is not checked from entry {position} on")
                return
            where = f"seq {entry['seq']}"
            try:
                computed = entry_hash(self.consultation, entry, prev)
            except _JCS_ERRORS as exc:
                self.fail(where, "bad_input", f"the entry cannot be encoded: {exc}")
                self.notes.append(f"the hash chain is not checked from {where} on")
                return
            if computed != entry["hash"]:
                self.fail(
                    where,
                    "hash_mismatch",
                    "the stored hash is not the hash of this entry after the ones before it: "
                    "this entry was changed, or entries before it were removed or reordered "
                    "(later entries and the seal's head depend on it, so they are not compared)",
                )
                return
            self.trusted.setdefault(entry["seq"], computed)
            prev = computed

    def check_statements(self, items: object, bundle_office: object) -> None:
        """The seal first, then addenda n = 1, 2, ..., each chained to the one before it, of
        this consultation and office, signed, their given texts matching their hashes."""
        if not isinstance(items, list):
            self.fail("bundle", "bad_input", "statements must be a list")
            return
        self.statement_count = len(items)
        if not items:
            self.fail("statements", "not_sealed", "the bundle holds no seal")
            return
        office = self.office if self.office is not None else bundle_office
        previous: dict[str, Any] | None = None
        for number, item in enumerate(items, 1):
            statement = item.get("statement") if isinstance(item, dict) else None
            if not isinstance(statement, dict):
                self.fail(f"statement {number}", "bad_input", "the item holds no statement object")
                previous = None
                continue
            where = _statement_where(number, statement)
            try:
                _check_statement_members(statement)
            except VerifyError as exc:
                self.fail(where, "bad_input", str(exc))
            else:
                if number == 1:
                    self.check_seal(where, statement)
                else:
                    self.check_addendum(where, statement, number - 1, previous)
                if statement["office"] != office:
                    self.fail(
                        where,
                        "office_mismatch",
                        f"the statement is of office {statement['office']!r}, not {office!r}",
                    )
                if statement["consultation"] != self.consultation:
                    self.fail(
                        where,
                        "consultation_mismatch",
                        f"the statement is about consultation {statement['consultation']!r}",
                    )
            self.check_signature(where, statement, item.get("signature"))
            self.check_statement_texts(where, statement, item.get("texts", {}))
            self.note_log_position(where, statement, item)
            previous = statement

    def check_seal(self, where: str, seal: dict[str, Any]) -> None:
        """The seal covers exactly the bundle's entries: its last_seq is the last entry's seq
        (more is a truncated transcript, less means entries were added), and its head is the
        recomputed hash of the entry it names (ZERO for none)."""
        if seal["type"] != "seal":
            self.fail(where, "not_sealed", f"the first statement is a {seal['type']!r}, not a seal")
            return
        last_seq = seal["last_seq"]
        if self.last_seq is not None and last_seq > self.last_seq:
            self.fail(
                where,
                "truncated",
                f"the seal covers seq 1 to {last_seq}, the bundle's entries end at seq "
                f"{self.last_seq}: entries were cut off",
            )
        elif self.last_seq is not None and last_seq < self.last_seq:
            self.fail(
                where,
                "extra_entries",
                f"the seal covers seq 1 to {last_seq}, the bundle has entries up to seq "
                f"{self.last_seq}: entries were added",
            )
        expected = ZERO if last_seq == 0 else self.trusted.get(last_seq)
        if expected is not None and seal["head"] != expected:
            self.fail(
                where,
                "head_mismatch",
                f"the sealed head is not the hash of the bundle's entries up to seq {last_seq}: "
                "the transcript is not the one sealed",
            )

    def check_addendum(
        self, where: str, addendum: dict[str, Any], n: int, previous: dict[str, Any] | None
    ) -> None:
        """Addendum ``n`` follows statement ``n - 1`` (the seal for 1): its ``prev`` is that
        statement's hash, so none can be removed, reordered or slipped in."""
        if addendum["type"] != "addendum":
            self.fail(where, "addendum_chain", f"a {addendum['type']!r} where addendum {n} is due")
            return
        if addendum["n"] != n:
            self.fail(where, "addendum_chain", f"addendum n={addendum['n']} where n={n} is due")
        if previous is None:
            return
        try:
            expected = statement_hash(previous)
        except _JCS_ERRORS:
            return  # the previous statement's failure says why
        if addendum["prev"] != expected:
            self.fail(
                where,
                "addendum_chain",
                "prev is not the hash of the statement before it: statements were changed, "
                "removed or reordered",
            )

    def check_signature(self, where: str, statement: dict[str, Any], signature: object) -> None:
        """The statement is signed by the office key it names (retired keys included)."""
        if self.keys is None:
            return
        named = statement.get("key_id")
        if not isinstance(named, str):
            return  # the statement's members failure says so
        if named not in self.keys:
            self.fail(where, "unknown_key", f"signed with key {named!r}, not one of the office's")
            return
        try:
            signature_bytes = _b64decode(signature, SIGNATURE_SIZE)
            message = canonical(statement)
        except (VerifyError, *_JCS_ERRORS) as exc:
            self.fail(where, "bad_input", f"the signature cannot be checked: {exc}")
            return
        if not _ed25519_valid(self.keys[named], signature_bytes, message):
            self.fail(where, "bad_signature", f"the signature does not verify under key {named}")

    def check_statement_texts(self, where: str, statement: dict[str, Any], texts: object) -> None:
        """Texts given beside a record (``{member: {"text", "salt"}}``) must hash to the
        record's member of that name."""
        if not isinstance(texts, dict):
            self.fail(where, "bad_input", "texts must be a JSON object")
            return
        record = statement.get("record")
        for member, given in texts.items():
            if not isinstance(record, dict) or not _is_hash_hex(record.get(member)):
                self.fail(where, "bad_input", f"the record has no text hash {member!r}")
                continue
            if not (
                isinstance(given, dict)
                and isinstance(given.get("text"), str)
                and isinstance(given.get("salt"), str)
                and _SALT_HEX.fullmatch(given["salt"])
            ):
                self.fail(where, "bad_input", f"text {member!r} must have a text and a salt")
                continue
            try:
                actual = text_hash(given["salt"], given["text"])
            except ValueError as exc:
                self.fail(where, "bad_input", f"text {member!r} cannot be hashed: {exc}")
                continue
            if actual != record[member]:
                self.fail(where, "text_changed", f"text {member!r} does not match its hash")

    def note_log_position(
        self, where: str, statement: dict[str, Any], item: dict[str, Any]
    ) -> None:
        """Keep the statement's log index and inclusion proof for the checkpoint's check."""
        index = item.get("log_index")
        proof = item.get("inclusion_proof")
        if not _is_index(index):
            self.fail(where, "bad_input", "log_index must be an integer >= 0")
            return
        if not isinstance(proof, list):
            self.fail(where, "bad_input", "inclusion_proof must be a list")
            return
        try:
            hashes = [_b64decode(element, HASH_SIZE) for element in proof]
        except VerifyError as exc:
            self.fail(where, "bad_input", f"inclusion_proof: {exc}")
            return
        self.logged.append(_Logged(where, statement, index, hashes))

    def check_checkpoint(self, text: object) -> Checkpoint | None:
        """The checkpoint is the office's, signed by one of its keys, and every statement is in
        the log it commits to (its inclusion proof leads from the statement to the root)."""
        if not isinstance(text, str):
            self.fail("checkpoint", "bad_input", "checkpoint must be the note's text")
            return None
        if self.keys is None or self.office is None:
            return None
        try:
            checkpoint = verify_checkpoint(text, self.office, self.keys)
        except VerifyError as exc:
            self.fail("checkpoint", "bad_checkpoint", str(exc))
            self.notes.append("inclusion in the log is not checked: the checkpoint is not valid")
            return None
        for logged in self.logged:
            try:
                leaf = leaf_hash(canonical(logged.statement))
            except _JCS_ERRORS:
                continue  # the statement's own failure says why
            if not verify_inclusion(
                logged.index, checkpoint.size, leaf, logged.proof, checkpoint.root
            ):
                self.fail(
                    logged.where,
                    "not_in_log",
                    f"the proof does not show the statement at log index {logged.index} of "
                    f"the tree of size {checkpoint.size} that the checkpoint signs",
                )
        return checkpoint

    def check_log(self, checkpoint: Checkpoint | None, older_text: Any, consistency: Any) -> None:
        """Given a checkpoint seen earlier and a consistency proof, the log of the bundle's
        checkpoint extends the older one: the office did not rewrite what it had published."""
        if older_text is None and consistency is None:
            return
        if older_text is None or consistency is None:
            self.fail("log", "bad_input", "an older checkpoint needs a consistency proof, and back")
            return
        if not isinstance(consistency, dict):
            self.fail("log", "bad_input", "the consistency proof must be a JSON object")
            return
        first, second, proof = (consistency.get(name) for name in ("first", "second", "proof"))
        if not (_is_index(first) and _is_index(second) and isinstance(proof, list)):
            self.fail("log", "bad_input", "the consistency proof needs first, second and proof")
            return
        try:
            hashes = [_b64decode(element, HASH_SIZE) for element in proof]
        except VerifyError as exc:
            self.fail("log", "bad_input", f"consistency proof: {exc}")
            return
        if self.keys is None or self.office is None:
            return
        try:
            older = verify_checkpoint(older_text, self.office, self.keys)
        except VerifyError as exc:
            self.fail("older checkpoint", "bad_checkpoint", str(exc))
            return
        if checkpoint is None:
            self.notes.append("the log's consistency is not checked: the checkpoint is not valid")
            return
        if older.size > checkpoint.size:
            self.fail(
                "log",
                "bad_input",
                f"the older checkpoint (size {older.size}) is larger than the bundle's "
                f"(size {checkpoint.size})",
            )
            return
        if (first, second) != (older.size, checkpoint.size):
            self.fail(
                "log",
                "bad_input",
                f"the proof is from size {first} to {second}, the checkpoints are at "
                f"{older.size} and {checkpoint.size}",
            )
            return
        if not verify_consistency(first, second, older.root, checkpoint.root, hashes):
            self.fail(
                "log",
                "log_rewritten",
                f"the office's log at tree size {second} is not an extension of the older "
                f"checkpoint at tree size {first}: what it had published was rewritten",
            )


def _entry_where(entry: object, position: int) -> str:
    seq = entry.get("seq") if isinstance(entry, dict) else None
    return f"seq {seq}" if _is_int(seq) else f"entry {position}"


def _statement_where(number: int, statement: Mapping[str, Any]) -> str:
    kind, n = statement.get("type"), statement.get("n")
    if kind == "seal":
        return f"statement {number} (seal)"
    if kind == "addendum" and _is_int(n):
        return f"statement {number} (addendum n={n})"
    return f"statement {number}"


def _gap_message(highest: int, seq: int, later: int) -> str:
    """What is missing between seq ``highest`` and ``seq``, of which ``later`` come later."""
    first, last = highest + 1, seq - 1
    if later:
        missing = f"{last - first + 1 - later} of seq {first} to {last} are"
    elif first == last:
        missing = f"seq {first} is"
    else:
        missing = f"seq {first} to {last} are"
    return f"{missing} missing before seq {seq}: entries were removed"


def verify_bundle(
    bundle: Mapping[str, Any],
    keys_doc: Mapping[str, Any],
    *,
    older_checkpoint: str | None = None,
    consistency: Mapping[str, Any] | None = None,
) -> Report:
    """Verify a consultation's evidence bundle against the office's keys document (as published
    at /.well-known/loket/keys, obtained separately) and, optionally, an older checkpoint with a
    consistency proof (``{"first": m, "second": n, "proof": [base64, ...]}``) from it to the
    bundle's checkpoint.

    Every problem is reported, as long as the later checks still mean something; malformed
    input is a ``bad_input`` failure, never an exception. Codes: bad_input, office_mismatch,
    consultation_mismatch, seq_gap, seq_order, seq_duplicate, text_changed, hash_mismatch,
    not_sealed, truncated, extra_entries, head_mismatch, unknown_key, bad_signature,
    addendum_chain, bad_checkpoint, not_in_log, log_rewritten.
    """
    consultation = bundle.get("consultation") if isinstance(bundle, dict) else None
    run = _Run(consultation if isinstance(consultation, str) else "?")
    run.check_keys(keys_doc)
    checkpoint = None
    if isinstance(bundle, dict):
        run.check_header(bundle)
        run.check_entries(bundle.get("entries"))
        run.check_statements(bundle.get("statements"), bundle.get("office"))
        checkpoint = run.check_checkpoint(bundle.get("checkpoint"))
        run.check_log(checkpoint, older_checkpoint, consistency)
    else:
        run.fail("bundle", "bad_input", "the bundle is not a JSON object")
    return Report(
        ok=not run.failures,
        failures=run.failures,
        notes=run.notes,
        consultation=run.label,
        entries=run.entry_count,
        statements=run.statement_count,
        tree_size=checkpoint.size if checkpoint is not None else None,
    )


# --- Command line --------------------------------------------------------------------------


class _Unreadable(Exception):
    """An input file that is missing, unreadable or not what it should be (exit 2)."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object has a member twice")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise _Unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"{path} is not UTF-8 text") from exc


def _read_json(path: Path) -> Any:
    """A JSON file, strictly: no member twice in an object, no NaN or Infinity."""
    text = _read_text(path)
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(f"{path} is not valid JSON: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """The command line: exit 0 when the bundle is valid, 1 when it is not, 2 when the input
    cannot be read."""
    parser = argparse.ArgumentParser(
        prog="loket_verify.py", description="Verify a Loket transcript evidence bundle offline."
    )
    parser.add_argument("bundle", type=Path, help="the evidence bundle (JSON)")
    parser.add_argument("--keys", type=Path, required=True, help="the office's keys (JSON)")
    parser.add_argument("--older-checkpoint", type=Path, help="a checkpoint seen earlier")
    parser.add_argument(
        "--consistency", type=Path, help="a consistency proof from it to the bundle's (JSON)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if (args.older_checkpoint is None) != (args.consistency is None):
        print("error: --older-checkpoint and --consistency go together", file=sys.stderr)
        return 2
    try:
        bundle = _read_json(args.bundle)
        keys_doc = _read_json(args.keys)
        older = None if args.older_checkpoint is None else _read_text(args.older_checkpoint)
        consistency = None if args.consistency is None else _read_json(args.consistency)
    except _Unreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = verify_bundle(bundle, keys_doc, older_checkpoint=older, consistency=consistency)
    for failure in report.failures:
        print(f"FAIL {failure.consultation} {failure.where}: {failure.code}: {failure.message}")
    for note in report.notes:
        print(f"NOTE {report.consultation}: {note}")
    if report.ok:
        print(
            f"VALID: consultation {report.consultation}, {report.entries} entries, "
            f"{report.statements} statements, in the log at tree size {report.tree_size}"
        )
        return 0
    print(f"INVALID: {len(report.failures)} problem(s)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
