"""Reading the records (docs/RECORDS.md): the published keys, proofs from the stored log, and a
consultation's evidence bundle."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.db.models import Q

from ..models import (
    Checkpoint,
    Consultation,
    InternalNote,
    LogNode,
    RecordStatement,
    SigningKey,
    TranscriptAccess,
    TranscriptEntry,
)
from ..records import chain, masking, tlog
from .privacy import masked_text

Audience = Literal["applicant", "staff"]
BUNDLE_FORMAT = "loket.evidence/1"


def keys_document() -> dict[str, Any]:
    """What /.well-known/loket/keys publishes: every key the office has signed with."""
    return {
        "office": settings.LOKET["LOG_ORIGIN"],
        "keys": [
            {
                "key_id": key.key_id,
                "algorithm": "Ed25519",
                "public_key": key.public_key,
                "created_at": chain.time_text(key.created_at),
                "retired_at": chain.time_text(key.retired_at) if key.retired_at else None,
            }
            for key in SigningKey.objects.order_by("created_at", "pk")
        ],
    }


def reads_of(*, consultation_id: int) -> list[TranscriptAccess]:
    """Who read a consultation's transcript, when, how and why, newest first."""
    return list(
        TranscriptAccess.objects.filter(consultation_id=consultation_id)
        .select_related("reader", "reader__staff")
        .order_by("-at", "-pk")
    )


def checkpoint_of_size(size: int) -> Checkpoint | None:
    """The checkpoint published at this tree size, if there is one."""
    return Checkpoint.objects.filter(size=size).first()


def stored_node(level: int, index: int) -> bytes:
    """A complete subtree's hash from the stored log (``tlog.Node``)."""
    found = LogNode.objects.filter(level=level, index=index).values_list("hash", flat=True).first()
    if found is None:
        raise LookupError(f"log node {level}/{index} is missing")
    return bytes.fromhex(found)


T = TypeVar("T")


def from_stored_log(compute: Callable[[tlog.Node], T]) -> T:
    """``compute(node)`` (a root or a proof of ``tlog``) with the stored subtree hashes it
    needs read in one query: it runs once to learn which it reads (with placeholders), then
    again with them."""
    wanted: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return bytes(32)

    compute(record)
    if not wanted:
        return compute(stored_node)
    where = Q()
    for level, index in wanted:
        where |= Q(level=level, index=index)
    found = {
        (level, index): bytes.fromhex(digest)
        for level, index, digest in LogNode.objects.filter(where).values_list(
            "level", "index", "hash"
        )
    }
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"log nodes {sorted(missing)[:3]} are missing")
    return compute(lambda level, index: found[(level, index)])


def b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode() for item in items]


def _entry(entry: TranscriptEntry, actions: Mapping[str, masking.Action] | None) -> dict[str, Any]:
    purged = entry.purged_at is not None
    item = {
        "seq": entry.seq,
        "time": chain.time_text(entry.created_at),
        "kind": entry.kind,
        "role": entry.author_role,
        "author": entry.author_id,
        "event": entry.event,
        "data": entry.data,
        # A purged text is gone with its salt; its salted hash stays in the chain.
        "text": None if purged else entry.text,
        "salt": None if purged else entry.salt,
        "text_hash": entry.text_hash,
        "hash": entry.hash,
    }
    if purged and entry.purged_at is not None:
        item["purged"] = {"rule": entry.purge_rule, "at": chain.time_text(entry.purged_at)}
    elif actions is not None:
        shown = masked_text(entry.text, actions)
        if shown != entry.text:
            # The policy masks or hides an identifier in it for this reader: the words are
            # withheld (the chain still verifies) and shown as the policy says.
            item["text"] = item["salt"] = None
            item["shown"] = shown
    return item


def _texts(
    consultation: Consultation,
    row: RecordStatement,
    record: dict[str, Any],
    audience: Audience,
    notes: dict[int, InternalNote],
    reads: dict[int, TranscriptAccess],
) -> dict[str, dict[str, str]]:
    """The texts behind a statement's salted hashes that ``audience`` may read."""
    kind = record.get("kind")
    if kind == "read" and audience == "staff" and "reason" in row.salts:
        access = reads.get(row.n)
        if access is not None:
            return {"reason": {"text": access.reason, "salt": row.salts["reason"]}}
    if kind == "rating" and "comment" in row.salts:
        return {"comment": {"text": consultation.rating_comment, "salt": row.salts["comment"]}}
    if kind == "note" and audience == "staff" and "text" in row.salts:
        note = notes.get(row.n)
        if note is not None:
            return {"text": {"text": note.text, "salt": row.salts["text"]}}
    return {}


def evidence_bundle(
    consultation: Consultation,
    *,
    checkpoint: Checkpoint,
    audience: Audience,
    node: tlog.Node | None = None,
    actions: Mapping[str, masking.Action] | None = None,
) -> dict[str, Any]:
    """The consultation's evidence bundle against ``checkpoint`` (which must cover its
    statements), with what ``audience`` may read: the applicant gets every entry's text and
    their rating's comment, staff the internal notes too; other texts are withheld (their salted
    hash stays, so the bundle still verifies). With ``actions`` (the masking policy of the
    reader's role for the output), a text in which it masks or hides an identifier is withheld
    too, and given as ``shown``, masked."""
    entries = [
        _entry(entry, actions)
        for entry in TranscriptEntry.objects.filter(consultation=consultation).order_by("seq")
    ]
    notes = {
        note.addendum_n: note
        for note in InternalNote.objects.filter(consultation=consultation, addendum_n__isnull=False)
        if note.addendum_n is not None
    }
    reads = {
        access.addendum_n: access
        for access in TranscriptAccess.objects.filter(
            consultation=consultation, addendum_n__isnull=False
        )
        if access.addendum_n is not None
    }
    size = checkpoint.size

    def proof(index: int) -> list[bytes]:
        if node is not None:
            return tlog.inclusion_proof(index, size, node)
        return from_stored_log(lambda stored: tlog.inclusion_proof(index, size, stored))

    statements = []
    for row in RecordStatement.objects.filter(consultation=consultation).order_by("n"):
        if row.index >= checkpoint.size:
            break
        statement = json.loads(row.statement)
        item: dict[str, Any] = {
            "statement": statement,
            "signature": row.signature,
            "log_index": row.index,
            "inclusion_proof": b64(proof(row.index)),
        }
        record = statement.get("record") or {}
        texts = _texts(consultation, row, record, audience, notes, reads)
        for member, given in list(texts.items()):
            shown = masked_text(given["text"], actions) if actions is not None else given["text"]
            if shown != given["text"]:
                # As for entries: withheld where the policy masks an identifier in it.
                del texts[member]
                item.setdefault("shown", {})[member] = shown
        if texts:
            item["texts"] = texts
        statements.append(item)
    return {
        "format": BUNDLE_FORMAT,
        "office": settings.LOKET["LOG_ORIGIN"],
        "consultation": str(consultation.public_id),
        "entries": entries,
        "statements": statements,
        "checkpoint": checkpoint.note,
        "keys": keys_document()["keys"],
    }
