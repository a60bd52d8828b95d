"""Appending to a consultation's transcript (gapless sequence numbers, idempotent messages), and
opening a whole transcript for staff, every such read recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.utils import timezone

from ..errors import (
    ChainBroken,
    ClientMsgIdReused,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidState,
    NotFound,
    Sealed,
    TextTooLong,
)
from ..events import publish
from ..models import (
    OPEN_STATUSES,
    AuthorRole,
    Consultation,
    ConsultationStatus,
    EntryKind,
    StaffProfile,
    TranscriptEntry,
)
from ..records import chain
from ..selectors.consultations import consultation_holder_check
from ..selectors.transcript import transcript_read
from .locking import consultation_lock
from .records import read_record


def transcript_access_record(
    *, consultation: Consultation, reader: Any, via: str, reason: str = "", seq: int | None = None
) -> None:
    """Record that ``reader`` (a user) read the consultation's transcript, ``via`` the page, the
    API, the admin or a reveal (``TranscriptAccess``, and an addendum to its records)."""
    read_record(consultation_id=consultation.pk, reader=reader, via=via, reason=reason, seq=seq)


def transcript_open(
    *, staff: StaffProfile, public_id: str, via: str, reason: str = "", seq: int | None = None
) -> tuple[Consultation, list[TranscriptEntry]]:
    """The whole transcript for a staff member allowed to read it (``transcript_read``), the read
    recorded ``via`` the page or the API. A refused read (NotFound, Forbidden) records nothing."""
    consultation, entries = transcript_read(staff=staff, public_id=public_id)
    transcript_access_record(
        consultation=consultation, reader=staff.user, via=via, reason=reason, seq=seq
    )
    return consultation, entries


def entry_add(
    consultation: Consultation,
    *,
    kind: str,
    author_role: str,
    author: StaffProfile | None = None,
    text: str = "",
    event: str = "",
    data: dict[str, Any] | None = None,
    client_msg_id: str | None = None,
    seq_taken: bool = False,
) -> TranscriptEntry:
    """Append one entry to a consultation already locked by the caller, and publish it.

    It takes the next sequence number, unless the caller already took it (``seq_taken``: the
    chat path takes it and the row lock in one statement, ``_seq_take``)."""
    if consultation.sealed_at is not None:
        raise Sealed()
    if not seq_taken:
        consultation.last_seq += 1
        Consultation.objects.filter(pk=consultation.pk).update(last_seq=consultation.last_seq)
    seq = consultation.last_seq
    data = data or {}
    created_at = timezone.now()
    salt = chain.new_salt()
    text_digest = chain.text_hash(salt, text)
    entry = TranscriptEntry.objects.create(
        consultation=consultation,
        seq=seq,
        kind=kind,
        author_role=author_role,
        author=author,
        text=text,
        event=event,
        data=data,
        client_msg_id=client_msg_id,
        created_at=created_at,
        salt=salt,
        text_hash=text_digest,
        hash=chain.entry_hash(
            public_id=str(consultation.public_id),
            seq=seq,
            at=created_at,
            kind=kind,
            role=author_role,
            author=author.pk if author else None,
            event=event,
            data=data,
            text_digest=text_digest,
            prev=_prev_hash(consultation_id=consultation.pk, seq=seq),
        ),
    )
    publish.entry_appended(consultation, entry)
    return entry


def _prev_hash(*, consultation_id: int, seq: int) -> str:
    """The hash the entry numbered ``seq`` chains to: entry ``seq - 1``'s (ZERO for the first).

    Read after the consultation's row lock was taken, in a statement of its own, so it sees the
    entry the previous holder of the lock committed."""
    if seq == 1:
        return chain.ZERO
    found = (
        TranscriptEntry.objects.filter(consultation_id=consultation_id, seq=seq - 1)
        .values_list("hash", flat=True)
        .first()
    )
    if not found:
        raise ChainBroken(f"entry {seq - 1} is missing")
    return found


def system_event_add(
    consultation: Consultation, *, event: str, data: dict[str, Any] | None = None
) -> TranscriptEntry:
    """Record a system event (joined, transferred, call started...) in the locked consultation."""
    return entry_add(
        consultation, kind=EntryKind.EVENT, author_role=AuthorRole.SYSTEM, event=event, data=data
    )


def _seq_take(*, consultation_id: int) -> Consultation:
    """Lock the consultation row and take its next sequence number, in one statement.

    The increment is part of the caller's transaction: if the append fails after this, the
    rollback gives the number back, so sequence numbers stay gapless. Returns the row with the
    columns a chat append needs (``last_seq`` is the number taken).
    """
    with connection.cursor() as cursor:
        # UPDATE ... RETURNING (PostgreSQL, SQLite >= 3.35): the ORM would need a SELECT ... FOR
        # UPDATE and an UPDATE, two round trips on the path of every chat message.
        cursor.execute(
            "UPDATE consult_consultation SET last_seq = last_seq + 1 WHERE id = %s "
            "RETURNING public_id, status, counselor_id, last_seq, sealed_at",
            [consultation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound()
    public_id, status, counselor_id, last_seq, sealed_at = row
    # As if loaded with .only(): any other field is deferred (read on access), never a default.
    return Consultation.from_db(
        connection.alias,
        ["id", "public_id", "status", "counselor_id", "last_seq", "sealed_at"],
        [
            consultation_id,
            Consultation._meta.get_field("public_id").to_python(public_id),
            status,
            counselor_id,
            last_seq,
            # Only ever compared with None here (entry_add); SQLite's raw cursor gives text.
            sealed_at,
        ],
    )


def _one_statement(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> tuple[str, list[Any], datetime] | None:
    """The SQL and parameters of the one-statement chat append (``_append_in_one_statement``)
    and the time it stamps, for a database thread's cursor or an event loop's connection
    (``consult.services.chat_loop``); None for an author who never chats."""
    if author_role == AuthorRole.COUNSELOR:
        rule = "c.counselor_id = %s AND c.status = %s"
        rule_params: list[Any] = [author.pk if author else None, ConsultationStatus.ACTIVE]
    elif author_role == AuthorRole.APPLICANT:
        rule = "c.status = ANY(%s)"
        rule_params = [[str(s) for s in OPEN_STATUSES]]
    else:
        return None
    count = len(messages)
    created_at = timezone.now()
    consultations = Consultation._meta.db_table
    entries = TranscriptEntry._meta.db_table
    salts = [chain.new_salt() for _ in messages]
    digests = [chain.text_hash(salt, text) for salt, (text, _) in zip(salts, messages, strict=True)]
    p0, p1, p2, p3, p4 = chain.message_sql_parts(
        role=author_role, author=author.pk if author else None, at=created_at
    )
    # The chain (docs/RECORDS.md) is computed here, in the statement that takes the numbers:
    # each entry's hash is SHA-256 of its JCS encoding, which for a chat message is the constant
    # parts (chain.message_sql_parts) joined with the public id, the previous hash, its number and
    # its text's salted hash (all ASCII: convert_to is the identity on them). The first message's
    # previous hash is read from the entry before it; if that entry committed after this
    # statement's snapshot (a writer that held the row lock before it), the read finds nothing,
    # the hash is NULL, the NOT NULL column refuses it, and the whole statement is undone: the
    # caller takes the transaction's path, whose own read sees it.
    taken = (
        f"taken AS (UPDATE {consultations} AS c SET last_seq = c.last_seq + %s "  # noqa: S608
        f"WHERE c.id = %s AND {rule} RETURNING c.public_id, c.status, c.counselor_id, "
        "c.last_seq)"
    )
    # The hash of the entry before the first message: ZERO for the first of all.
    first_prev = (
        "CASE WHEN taken.last_seq = %s THEN %s ELSE (SELECT e.hash FROM "  # noqa: S608
        f"{entries} AS e WHERE e.consultation_id = %s AND e.seq = taken.last_seq - %s) END"
    )
    digest = (
        "encode(sha256(convert_to(%s || taken.public_id::text || %s || {prev} || %s || "
        "({seq})::text || %s || {text_hash} || %s, 'UTF8')), 'hex')"
    )
    columns = (
        f"INSERT INTO {entries} (consultation_id, seq, kind, author_role, author_id, text, "
        "event, data, client_msg_id, created_at, salt, text_hash, hash, purge_rule)"
    )
    returned = (
        "RETURNING id, seq, salt, text_hash, hash) SELECT stored.id, stored.seq, "
        "taken.public_id, taken.status, taken.counselor_id, taken.last_seq, stored.salt, "
        "stored.text_hash, stored.hash FROM stored, taken ORDER BY stored.seq"
    )
    head = [count, consultation_id, *rule_params]
    prev_params = [count, chain.ZERO, consultation_id, count]
    author_id = author.pk if author else None
    if count == 1:
        # The common case, without the recursion (a third of the statement's time).
        sql = (
            f"WITH {taken}, stored AS ({columns} SELECT %s, taken.last_seq, %s, %s, %s, %s, '', "  # noqa: S608
            "'{}'::jsonb, %s, %s, %s, %s, "
            + digest.format(prev=first_prev, seq="taken.last_seq", text_hash="%s")
            + f", '' FROM taken {returned}"
        )
        (text, client_msg_id), salt, text_digest = messages[0], salts[0], digests[0]
        params = [
            *head,
            consultation_id,
            EntryKind.MESSAGE,
            author_role,
            author_id,
            text,
            client_msg_id,
            created_at,
            salt,
            text_digest,
            p0,
            p1,
            *prev_params,
            p2,
            p3,
            text_digest,
            p4,
        ]
        return sql, params, created_at
    # Several messages: each hash chains to the one before it, so the statement computes them
    # in order (a recursive CTE over the messages' ordinal numbers).
    sql = (
        f"WITH RECURSIVE {taken}, item AS (SELECT * FROM unnest(%s::text[], %s::text[], "  # noqa: S608
        "%s::text[], %s::text[]) WITH ORDINALITY AS item(text, client_msg_id, salt, text_hash, "
        f"n)), link AS (SELECT 0::bigint AS n, {first_prev} AS hash FROM taken UNION ALL "
        "SELECT link.n + 1, "
        + digest.format(
            prev="link.hash", seq="taken.last_seq - %s + link.n + 1", text_hash="item.text_hash"
        )
        + " FROM link JOIN item ON item.n = link.n + 1 CROSS JOIN taken), "  # noqa: S608
        f"stored AS ({columns} SELECT %s, taken.last_seq - %s + item.n, %s, %s, %s, item.text, "
        "'', '{}'::jsonb, item.client_msg_id, %s, item.salt, item.text_hash, link.hash, '' "
        f"FROM taken, item JOIN link ON link.n = item.n {returned}"
    )
    params = [
        *head,
        [text for text, _ in messages],
        [client_msg_id for _, client_msg_id in messages],
        salts,
        digests,
        *prev_params,
        p0,
        p1,
        p2,
        count,
        p3,
        p4,
        consultation_id,
        count,
        EntryKind.MESSAGE,
        author_role,
        author_id,
        created_at,
    ]
    return sql, params, created_at


def _publish_stored(
    rows: list[tuple[Any, ...]],
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
    created_at: datetime,
    committed: bool,
) -> list[TranscriptEntry]:
    """The entries the one statement stored, as models, from its rows (one per message, in
    ``seq`` order), each published in that order (``committed``: sent now, the statement has
    committed; see ``publish.entry_appended``)."""
    _, _, public_id, status, counselor_id, last_seq, *_ = rows[0]
    consultation = Consultation.from_db(
        DEFAULT_DB_ALIAS,
        ["id", "public_id", "status", "counselor_id", "last_seq"],
        [
            consultation_id,
            Consultation._meta.get_field("public_id").to_python(public_id),
            status,
            counselor_id,
            last_seq,
        ],
    )
    stored = []
    for (entry_id, seq, *_, salt, text_digest, digest), (text, client_msg_id) in zip(
        rows, messages, strict=True
    ):
        entry = TranscriptEntry(
            id=entry_id,
            consultation=consultation,
            seq=seq,
            kind=EntryKind.MESSAGE,
            author_role=author_role,
            author=author,
            text=text,
            event="",
            data={},
            client_msg_id=client_msg_id,
            created_at=created_at,
            salt=salt,
            text_hash=text_digest,
            hash=digest,
        )
        entry._state.adding = False
        entry._state.db = DEFAULT_DB_ALIAS
        stored.append(entry)
    for entry in stored:
        publish.entry_appended(consultation, entry, committed=committed)
    return stored


def _append_in_one_statement(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[TranscriptEntry] | None:
    """The common chat append on PostgreSQL outside any transaction: one statement that takes
    the next sequence numbers (locking the row), inserts the entries and, being a statement of
    its own in autocommit, commits with them (``synchronous_commit`` as configured): one round
    trip instead of BEGIN, UPDATE, INSERT and COMMIT, for one message or several of one author
    to one consultation (``messages``: (text, client_msg_id) in order; they get consecutive
    numbers in that order).

    Only when the author may write (``_may_write``'s rule, as the statement's condition) is the
    row touched; otherwise nothing happens and None is returned, and the caller takes the
    general path, which says why (NotFound, Forbidden, InvalidState). A repeated
    ``client_msg_id`` (stored before, or twice in ``messages``) fails the unique constraint:
    IntegrityError, and the whole statement (with the numbers it took) is undone, so sequence
    numbers stay gapless.
    """
    built = _one_statement(
        consultation_id=consultation_id,
        author_role=author_role,
        author=author,
        messages=messages,
    )
    if built is None:
        return None
    sql, params, created_at = built
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    # Committed already (autocommit): the on-commit hook that committed=False asks for runs at
    # once, so this is publishing after commit.
    return _publish_stored(
        rows,
        consultation_id=consultation_id,
        author_role=author_role,
        author=author,
        messages=messages,
        created_at=created_at,
        committed=False,
    )


def _may_write(
    consultation: Consultation, *, author_role: str, author: StaffProfile | None
) -> None:
    """Raise unless the author may add a chat message to the consultation now."""
    if author_role == AuthorRole.COUNSELOR:
        consultation_holder_check(
            consultation,
            staff_id=author.pk if author else None,
            statuses=(ConsultationStatus.ACTIVE,),
        )
    elif author_role != AuthorRole.APPLICANT:
        # Only the two sides chat (a supervisor's connection follows no consultation anyway).
        raise Forbidden()
    elif consultation.status not in OPEN_STATUSES:
        # An applicant may write while waiting; the counselor reads it on accepting.
        raise InvalidState()


def _repeat_of(
    *,
    consultation_id: int,
    client_msg_id: str,
    author_role: str,
    author: StaffProfile | None,
    text: str,
) -> TranscriptEntry | None:
    """The entry already stored under ``client_msg_id`` by this author, if any.

    A repeat must be the same message: the same id with other text is a client bug (an id made
    twice), and acking it as the original would tell the sender its new words were stored.
    """
    entry = (
        TranscriptEntry.objects.select_related("consultation", "author")
        .filter(consultation_id=consultation_id, client_msg_id=client_msg_id)
        .first()
    )
    if entry is None:
        return None
    if entry.author_role != author_role or entry.author_id != (author.pk if author else None):
        raise InvalidInput("client_msg_id was already used by someone else.")
    if entry.text != text:
        raise ClientMsgIdReused()
    return entry


def _message_refusal(text: object, client_msg_id: str) -> DomainError | None:
    """Why a chat message may not be stored whatever the consultation's state (None: it may)."""
    if not isinstance(text, str) or not text.strip():
        return InvalidInput("The message is empty.")
    if len(text) > settings.LOKET["MAX_TEXT"]:
        return TextTooLong()
    if not client_msg_id or len(client_msg_id) > 64:
        return InvalidInput("client_msg_id must be 1 to 64 characters.")
    return None


def transcript_append(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    text: str,
    client_msg_id: str,
) -> tuple[TranscriptEntry, bool]:
    """Store a chat message; the same ``client_msg_id`` again returns the stored entry.

    Returns the entry and whether it was created now (False for a repeat); ``entry.consultation``
    is loaded (its public id is what clients know it by).

    This is the path of every chat message, so the common case is one short transaction: take
    the next sequence number (which locks the row), check, insert; on PostgreSQL outside a
    caller's transaction that is one statement, committed as it returns
    (``_append_in_one_statement``). A repeat is found by the
    unique constraint on (consultation, client_msg_id) rather than by a query before every
    insert: the insert fails, the transaction (and the number it took) rolls back, and the
    stored entry is returned. A repeat of a message stored before the consultation ended (or
    moved to another counselor) still gets its entry, as the check then fails first.
    """
    refusal = _message_refusal(text, client_msg_id)
    if refusal is not None:
        raise refusal
    try:
        entry = None
        if connection.vendor == "postgresql" and connection.get_autocommit():
            try:
                stored = _append_in_one_statement(
                    consultation_id=consultation_id,
                    author_role=author_role,
                    author=author,
                    messages=[(text, client_msg_id)],
                )
            except IntegrityError:
                # A repeat, or the chain's read raced another writer (_one_statement): the
                # general path finds out which.
                stored = None
            entry = stored[0] if stored else None
        if entry is None:
            # Inside a caller's transaction, on SQLite, or refused by the one statement (which
            # then says nothing of why): the general path, whose checks name the reason.
            with transaction.atomic():
                consultation = _seq_take(consultation_id=consultation_id)
                _may_write(consultation, author_role=author_role, author=author)
                entry = entry_add(
                    consultation,
                    seq_taken=True,
                    kind=EntryKind.MESSAGE,
                    author_role=author_role,
                    author=author,
                    text=text,
                    client_msg_id=client_msg_id,
                )
    except (IntegrityError, Forbidden, InvalidState):
        repeat = _repeat_of(
            consultation_id=consultation_id,
            client_msg_id=client_msg_id,
            author_role=author_role,
            author=author,
            text=text,
        )
        if repeat is None:
            raise
        return repeat, False
    return entry, True


def transcript_append_many(
    *,
    consultation_id: int,
    author_role: str,
    author: StaffProfile | None,
    messages: list[tuple[str, str]],
) -> list[tuple[TranscriptEntry, bool] | Exception]:
    """Store several chat messages of one author to one consultation, in order: for each
    (text, client_msg_id), what ``transcript_append`` gives for it, or the exception it raises.

    A connection that sends faster than messages are stored hands over what piled up meanwhile
    (``signaling.consumers.base``): on PostgreSQL, outside a caller's transaction, they go in
    one statement (one round trip and one commit for all). When that statement cannot take them
    all (a repeat among them, a refusal, an invalid one) each goes on its own through
    ``transcript_append``, which says what became of it.
    """
    if (
        len(messages) > 1
        and connection.vendor == "postgresql"
        and connection.get_autocommit()
        and all(_message_refusal(text, client_msg_id) is None for text, client_msg_id in messages)
    ):
        try:
            stored = _append_in_one_statement(
                consultation_id=consultation_id,
                author_role=author_role,
                author=author,
                messages=messages,
            )
        except IntegrityError:
            stored = None
        if stored is not None:
            return [(entry, True) for entry in stored]
    results: list[tuple[TranscriptEntry, bool] | Exception] = []
    for text, client_msg_id in messages:
        try:
            results.append(
                transcript_append(
                    consultation_id=consultation_id,
                    author_role=author_role,
                    author=author,
                    text=text,
                    client_msg_id=client_msg_id,
                )
            )
        except Exception as exc:
            results.append(exc)
    return results


def transcript_read_mark(*, consultation_id: int, reader_role: str, seq: int) -> int:
    """Record the highest sequence number a side has read; returns the stored value."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        seq = max(0, min(seq, consultation.last_seq))
        field = (
            "applicant_read_seq" if reader_role == AuthorRole.APPLICANT else "counselor_read_seq"
        )
        current = getattr(consultation, field)
        if seq <= current:
            return int(current)
        Consultation.objects.filter(pk=consultation.pk).update(**{field: seq})
        publish.read_marked(consultation, role=reader_role, seq=seq)
        return seq
