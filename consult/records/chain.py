"""The transcript's hash chain and statements, as the server writes them (docs/RECORDS.md).

The server encodes with the ``rfc8785`` package; the standalone verifier
(``loket_verify``) has its own encoder, and the tests hold the two to the same bytes. The chat
path on PostgreSQL computes an entry's hash inside its one statement
(``consult.services.transcript``): ``message_sql_parts`` gives the constant parts of that
encoding, which the statement joins with the consultation's public id, the previous hash and the
number it takes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import rfc8785

from .loket_verify import ZERO, entry_object, text_hash

__all__ = [
    "ZERO",
    "canonical",
    "entry_hash",
    "hash_of",
    "message_sql_parts",
    "new_salt",
    "statement_hash",
    "text_hash",
    "time_text",
]


def canonical(value: Any) -> bytes:
    """JCS (RFC 8785) of ``value``."""
    return rfc8785.dumps(value)


def new_salt() -> str:
    """A fresh salt for one text: 16 random bytes, hexadecimal."""
    return secrets.token_hex(16)


def time_text(at: datetime) -> str:
    """A time as the records write it: UTC, six fraction digits, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    public_id: str,
    seq: int,
    at: datetime,
    kind: str,
    role: str,
    author: int | None,
    event: str,
    data: dict[str, Any],
    text_digest: str,
    prev: str,
) -> str:
    """The hash of one entry given the hash of the one before it (ZERO for the first)."""
    obj = entry_object(
        public_id,
        {
            "seq": seq,
            "time": time_text(at),
            "kind": kind,
            "role": role,
            "author": author,
            "event": event,
            "data": data,
            "text_hash": text_digest,
        },
        prev,
    )
    return hashlib.sha256(canonical(obj)).hexdigest()


def hash_of(entry: Any, *, public_id: str, prev: str) -> str:
    """``entry_hash`` of a stored entry (a ``TranscriptEntry`` or a row of its fields)."""
    return entry_hash(
        public_id=public_id,
        seq=entry.seq,
        at=entry.created_at,
        kind=entry.kind,
        role=entry.author_role,
        author=entry.author_id,
        event=entry.event,
        data=entry.data,
        text_digest=entry.text_hash,
        prev=prev,
    )


def statement_hash(statement: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(statement)).hexdigest()


def message_sql_parts(
    *, role: str, author: int | None, at: datetime
) -> tuple[str, str, str, str, str]:
    """The constant parts of a chat message's encoded entry, around what only the statement
    knows: ``p0 + public_id + p1 + prev + p2 + seq + p3 + text_hash + p4`` is JCS(E) for a
    message (``data`` {}, ``event`` ""). Checked against ``entry_hash`` by the tests."""
    probe = "\x00"
    obj = entry_object(
        probe,
        {
            "seq": 0,
            "time": time_text(at),
            "kind": "message",
            "role": role,
            "author": author,
            "event": "",
            "data": {},
            "text_hash": probe,
        },
        probe,
    )
    # Mark each variable member, encode, and cut at the marks: the constant parts are exactly
    # what the encoder wrote around them.
    marks = {"consultation": "\x01", "prev": "\x02", "text": "\x03"}
    for member, mark in marks.items():
        obj[member] = mark
    obj["seq"] = 987654321
    text = canonical(obj).decode()
    head, rest = text.split('"\\u0001"', 1)
    mid1, rest = rest.split('"\\u0002"', 1)
    mid2, rest = rest.split("987654321", 1)
    mid3, tail = rest.split('"\\u0003"', 1)
    return head + '"', '"' + mid1 + '"', '"' + mid2, mid3 + '"', '"' + tail
