"""Sealing consultations, addenda, the office's Merkle log and its checkpoints
(docs/RECORDS.md).

Every statement (a seal or an addendum) is signed with the office key and appended to the log
in the transaction of the change it records: a consultation's end commits with its seal and the
seal's leaf, a read of a sealed transcript with its addendum. Appends to the log are serialised
by the one ``LogHead`` row (its lock is held to the end of the transaction, so the log's order
is its commit order); a consultation's own statements by its row lock, which every caller holds.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import (
    Checkpoint,
    Consultation,
    ConsultationStatus,
    EntryKind,
    IdentifierToken,
    InternalNote,
    LogHead,
    LogNode,
    RecordStatement,
    SigningKey,
    TranscriptAccess,
    TranscriptEntry,
)
from ..records import chain, masking, tlog
from ..records.keys import OfficeKey, office_key
from ..records.loket_verify import leaf_hash, node_hash
from ..selectors.privacy import search_key
from ..selectors.records import from_stored_log, stored_node
from .locking import consultation_lock, row_lock


def _key() -> OfficeKey:
    """The current key, its public half registered (published at /.well-known/loket/keys)."""
    key = office_key()
    SigningKey.objects.get_or_create(
        key_id=key.key_id,
        defaults={"public_key": key.public_b64, "created_at": timezone.now()},
    )
    return key


def office_key_register() -> str:
    """Make the office key if there is none yet and publish its public half; its id. Each
    process's first sweep calls it (so the key exists from the first start), and so does
    /.well-known/loket/keys."""
    return _key().key_id


def _log_append(
    consultation: Consultation,
    *,
    n: int,
    statement: dict[str, Any],
    key: OfficeKey,
    salts: dict[str, str] | None = None,
) -> RecordStatement:
    """Sign ``statement`` and append it to the log (caller's transaction)."""
    data = chain.canonical(statement)
    head = row_lock(LogHead.objects.filter(pk=1))
    if head is None:
        LogHead.objects.get_or_create(pk=1)
        head = row_lock(LogHead.objects.filter(pk=1))
        assert head is not None
    index = head.size
    row = RecordStatement.objects.create(
        index=index,
        consultation=consultation,
        n=n,
        statement=data.decode(),
        signature=base64.b64encode(key.sign(data)).decode(),
        hash=hashlib.sha256(data).hexdigest(),
        salts=salts or {},
        created_at=timezone.now(),
    )
    # The complete subtrees this leaf completes: itself, then each parent whose right child it
    # ends (index + 1 a multiple of 2**level).
    right = leaf_hash(data)
    nodes = [LogNode(level=0, index=index, hash=right.hex())]
    level, position = 0, index
    while position % 2 == 1:
        left = stored_node(level, position - 1)
        right = node_hash(left, right)
        level, position = level + 1, position // 2
        nodes.append(LogNode(level=level, index=position, hash=right.hex()))
    LogNode.objects.bulk_create(nodes)
    LogHead.objects.filter(pk=1).update(size=index + 1)
    return row


def _base(consultation: Consultation, key: OfficeKey) -> dict[str, Any]:
    return {
        "v": 1,
        "office": settings.LOKET["LOG_ORIGIN"],
        "consultation": str(consultation.public_id),
        "key_id": key.key_id,
    }


def consultation_seal(consultation: Consultation, *, last_seq: int, head: str) -> RecordStatement:
    """Seal a consultation that has just ended, locked by the caller, whose last entry is
    ``last_seq`` with hash ``head``; then record, as its first addenda, the notes and reads
    made before it (in the order they happened)."""
    key = _key()
    sealed_at = timezone.now()
    statement = {
        **_base(consultation, key),
        "type": "seal",
        "last_seq": last_seq,
        "head": head,
        "sealed_at": chain.time_text(sealed_at),
    }
    # Before the log's lock, which every seal and read of the office waits for.
    _index_identifiers(consultation)
    row = _log_append(consultation, n=0, statement=statement, key=key)
    consultation.sealed_at = sealed_at
    Consultation.objects.filter(pk=consultation.pk).update(sealed_at=sealed_at)
    pending: list[tuple[datetime, int, InternalNote | TranscriptAccess]] = [
        (note.created_at, 0, note)
        for note in InternalNote.objects.filter(consultation=consultation, addendum_n=None)
    ]
    pending += [
        (access.at, 1, access)
        for access in TranscriptAccess.objects.filter(consultation=consultation, addendum_n=None)
    ]
    pending.sort(key=lambda item: (item[0], item[1], item[2].pk))
    previous = row
    for _, _, record in pending:
        if isinstance(record, InternalNote):
            previous = _note_addendum(consultation, record, previous=previous, key=key)
        else:
            previous = _read_addendum(consultation, record, previous=previous, key=key)
    if consultation.rating is not None:
        # Rated before it was sealed (a consultation from before records, sealed late).
        rating_addendum(consultation)
    return row


def _index_identifiers(consultation: Consultation) -> None:
    """Keyed hashes of the personal identifiers in the transcript and contact details, so that
    search finds the consultation by one typed in full (``selectors.privacy.query_tokens``)
    while none is in an index in clear."""
    key = search_key()
    tokens: set[str] = set()
    for entry_id, text in consultation.entries.filter(kind=EntryKind.MESSAGE).values_list(
        "pk", "text"
    ):
        found = masking.search_tokens(text, key) if text else set()
        if found:
            tokens |= found
            # What a free-text search matches: the text with every identifier masked.
            TranscriptEntry.objects.filter(pk=entry_id).update(
                search_text=masking.apply(text, dict.fromkeys(masking.KINDS, "mask"))
            )
    for contact in (consultation.applicant_phone, consultation.applicant_email):
        if contact:
            tokens |= masking.search_tokens(contact, key)
    IdentifierToken.objects.bulk_create(
        [IdentifierToken(consultation=consultation, token=token) for token in sorted(tokens)],
        ignore_conflicts=True,
    )


def _last_statement(consultation: Consultation) -> RecordStatement:
    found = RecordStatement.objects.filter(consultation=consultation).order_by("-n").first()
    if found is None:
        raise LookupError("the consultation is not sealed")
    return found


def addendum_add(
    consultation: Consultation,
    record: dict[str, Any],
    *,
    previous: RecordStatement | None = None,
    key: OfficeKey | None = None,
    salts: dict[str, str] | None = None,
) -> RecordStatement:
    """Append an addendum with ``record`` to a sealed consultation locked by the caller."""
    key = key or _key()
    previous = previous or _last_statement(consultation)
    n = previous.n + 1
    statement = {
        **_base(consultation, key),
        "type": "addendum",
        "n": n,
        "prev": previous.hash,
        "time": chain.time_text(timezone.now()),
        "record": record,
    }
    return _log_append(consultation, n=n, statement=statement, key=key, salts=salts)


def _note_addendum(
    consultation: Consultation,
    note: InternalNote,
    *,
    previous: RecordStatement,
    key: OfficeKey,
) -> RecordStatement:
    salt = chain.new_salt()
    row = addendum_add(
        consultation,
        {
            "kind": "note",
            "note_kind": note.kind,
            "author": note.author_id,
            "at": chain.time_text(note.created_at),
            "text": chain.text_hash(salt, note.text),
        },
        previous=previous,
        key=key,
        salts={"text": salt},
    )
    InternalNote.objects.filter(pk=note.pk).update(addendum_n=row.n)
    return row


def _read_addendum(
    consultation: Consultation,
    access: TranscriptAccess,
    *,
    previous: RecordStatement | None = None,
    key: OfficeKey | None = None,
) -> RecordStatement:
    record: dict[str, Any] = {
        "kind": "read",
        "reader": access.reader_id,
        "via": access.via,
        "at": chain.time_text(access.at),
    }
    if access.seq is not None:
        record["seq"] = access.seq
    salts = {}
    if access.reason:
        salts["reason"] = chain.new_salt()
        record["reason"] = chain.text_hash(salts["reason"], access.reason)
    row = addendum_add(consultation, record, previous=previous, key=key, salts=salts)
    TranscriptAccess.objects.filter(pk=access.pk).update(addendum_n=row.n)
    return row


def read_record(
    *, consultation_id: int, reader: Any, via: str, reason: str = "", seq: int | None = None
) -> TranscriptAccess:
    """Record that ``reader`` (a user) read a consultation's transcript ``via`` the page, the
    API, the admin or an export: a ``TranscriptAccess`` row and, once the consultation is
    sealed, an addendum to its records (before, the seal records it)."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        access = TranscriptAccess.objects.create(
            consultation=consultation, reader=reader, via=via, reason=reason[:200], seq=seq
        )
        if consultation.sealed_at is not None:
            _read_addendum(consultation, access)
    return access


def rating_addendum(consultation: Consultation) -> RecordStatement:
    """Record the applicant's rating of a sealed consultation (locked by the caller)."""
    salt = chain.new_salt()
    return addendum_add(
        consultation,
        {
            "kind": "rating",
            "stars": consultation.rating,
            "at": chain.time_text(consultation.rated_at or timezone.now()),
            "comment": chain.text_hash(salt, consultation.rating_comment),
        },
        salts={"comment": salt},
    )


def seal_pending(limit: int = 200) -> int:
    """Seal consultations that are over but not sealed (ended before records existed, or by a
    version without them); the sweeper runs it. Returns how many it sealed."""
    done = 0
    over = (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED)
    ids = list(
        Consultation.objects.filter(status__in=over, sealed_at__isnull=True).values_list(
            "pk", flat=True
        )[:limit]
    )
    for consultation_id in ids:
        with transaction.atomic():
            consultation = consultation_lock(consultation_id=consultation_id)
            if consultation.sealed_at is not None:
                continue
            head = (
                consultation.entries.filter(seq=consultation.last_seq)
                .values_list("hash", flat=True)
                .first()
            )
            consultation_seal(consultation, last_seq=consultation.last_seq, head=head or chain.ZERO)
            done += 1
    return done


def log_size() -> int:
    head = LogHead.objects.filter(pk=1).values_list("size", flat=True).first()
    return int(head or 0)


def checkpoint_due(*, min_age: float) -> bool:
    """Sign a checkpoint if the log has grown since the latest and that one is at least
    ``min_age`` seconds old (the sweeper, in every process); True if one was made."""
    latest = Checkpoint.objects.first()
    if latest is not None and (
        latest.size >= log_size() or latest.created_at > timezone.now() - timedelta(seconds=min_age)
    ):
        return False
    return checkpoint_publish().size > (latest.size if latest else -1)


def checkpoint_publish() -> Checkpoint:
    """The checkpoint of the log as it is now: the latest if it has this size, else a new one,
    signed."""
    latest = Checkpoint.objects.first()
    size = log_size()
    if latest is not None and latest.size >= size:
        return latest
    key = _key()
    now = timezone.now()
    root = from_stored_log(lambda node: tlog.root(size, node))
    origin = settings.LOKET["LOG_ORIGIN"]
    body = (
        f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {chain.time_text(now)}\n"
    ).encode()
    note = body.decode() + "\n" + key.note_signature_line(origin, body)
    checkpoint, _ = Checkpoint.objects.get_or_create(
        size=size, defaults={"root": root.hex(), "note": note, "created_at": now}
    )
    return checkpoint


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return from_stored_log(lambda node: tlog.inclusion_proof(index, size, node))


def consistency_proof(first: int, second: int) -> list[bytes]:
    return from_stored_log(lambda node: tlog.consistency_proof(first, second, node))
