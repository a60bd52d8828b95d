"""Transcripts as evidence (docs/RECORDS.md), through the services, the management commands and
the public endpoints: every entry chained, every ended consultation sealed and in the office's
log, and each kind of tampering caught by ``transcript_verify`` and the standalone verifier at
the place it was done."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.test import Client

from consult.errors import Sealed
from consult.models import (
    Checkpoint,
    Consultation,
    EndedBy,
    InternalNote,
    LogNode,
    RecordStatement,
    StaffProfile,
    TranscriptAccess,
    TranscriptEntry,
)
from consult.records import chain, loket_verify
from consult.selectors.records import evidence_bundle, keys_document
from consult.services import consultations, feedback, notes, records, retention
from consult.services.transcript import system_event_add, transcript_open
from tests.support.applicants import active_consultation, reload, say
from tests.support.staff import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def _ended(staff: StaffProfile, *, messages: int = 3, note: str = "") -> Consultation:
    """A consultation with applicant and counselor messages, ended by its counselor."""
    consultation = active_consultation(staff)
    for i in range(messages):
        say(consultation, f"a-{i}", f"Syaratnya apa saja untuk PBG? ({i})")
        say(consultation, f"c-{i}", f"KTP dan gambar teknis ({i})", by=staff)
    if note:
        notes.note_add(staff=staff, consultation_id=consultation.pk, text=note)
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by=EndedBy.COUNSELOR, staff=staff
    )
    return reload(consultation)


def _verify(*public_ids: str, all_: bool = False, checkpoint: str | None = None) -> str:
    """transcript_verify's output; CommandError (with the output in its message) on failure."""
    out = StringIO()
    args: list[str] = list(public_ids)
    if all_:
        args.append("--all")
    if checkpoint:
        args += ["--checkpoint", checkpoint]
    try:
        call_command("transcript_verify", *args, stdout=out)
    except CommandError as exc:
        raise CommandError(out.getvalue() + str(exc)) from None
    return out.getvalue()


def _bundle(consultation: Consultation, audience: str = "staff") -> dict[str, Any]:
    checkpoint = records.checkpoint_publish()
    return evidence_bundle(consultation, checkpoint=checkpoint, audience=audience)  # type: ignore[arg-type]


def _fails(consultation: Consultation) -> str:
    """What both verifiers say of a tampered consultation: the command's failure lines, and
    the standalone verifier's failures on its fresh bundle, as one text."""
    with pytest.raises(CommandError) as failed:
        _verify(str(consultation.public_id))
    report = loket_verify.verify_bundle(_bundle(consultation), keys_document())
    assert not report.ok
    standalone = "\n".join(f"{f.where}: {f.code}" for f in report.failures)
    return str(failed.value) + "\n" + standalone


def test_an_ended_consultation_is_chained_sealed_logged_and_verifies(sari: StaffProfile) -> None:
    consultation = _ended(sari, note="Pemohon akan kembali dengan IMB lama")
    entries = list(TranscriptEntry.objects.filter(consultation=consultation).order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, consultation.last_seq + 1))
    prev = chain.ZERO
    for entry in entries:
        assert entry.text_hash == chain.text_hash(entry.salt, entry.text)
        expected = chain.hash_of(entry, public_id=str(consultation.public_id), prev=prev)
        assert entry.hash == expected, entry.seq
        prev = entry.hash
    assert consultation.sealed_at is not None
    seal, note = RecordStatement.objects.filter(consultation=consultation).order_by("n")
    statement = json.loads(seal.statement)
    assert (statement["type"], statement["last_seq"], statement["head"]) == (
        "seal",
        consultation.last_seq,
        entries[-1].hash,
    )
    assert json.loads(note.statement)["record"]["kind"] == "note"
    assert "OK: 1 consultation(s) verified" in _verify(str(consultation.public_id))
    report = loket_verify.verify_bundle(_bundle(consultation), keys_document())
    assert report.ok, report.failures


def test_nothing_is_appended_to_a_sealed_consultation(sari: StaffProfile) -> None:
    consultation = _ended(sari, messages=1)
    with transaction.atomic(), pytest.raises(Sealed):
        system_event_add(Consultation.objects.get(pk=consultation.pk), event="late")
    assert reload(consultation).last_seq == consultation.last_seq


def test_reads_and_the_rating_are_addenda_chained_after_the_seal(sari: StaffProfile) -> None:
    consultation = _ended(sari, messages=1)
    supervisor = make_staff("ratna", role="supervisor")
    transcript_open(staff=supervisor, public_id=str(consultation.public_id), via="page")
    feedback.consultation_rate(consultation_id=consultation.pk, stars=4, comment="Jelas sekali")
    kinds = [
        json.loads(s.statement).get("record", {}).get("kind", "seal")
        for s in RecordStatement.objects.filter(consultation=consultation).order_by("n")
    ]
    assert kinds == ["seal", "read", "rating"]
    access = TranscriptAccess.objects.get(consultation=consultation)
    assert access.addendum_n == 1
    bundle = _bundle(reload(consultation), "applicant")
    assert bundle["statements"][2]["texts"]["comment"]["text"] == "Jelas sekali"
    assert loket_verify.verify_bundle(bundle, keys_document()).ok
    assert "OK" in _verify(all_=True)


def test_a_changed_text_fails_at_its_seq(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    TranscriptEntry.objects.filter(consultation=consultation, seq=4).update(
        text="Tidak perlu syarat apa pun"
    )
    failures = _fails(consultation)
    assert "seq 4: text_changed" in failures


def test_a_deleted_entry_fails(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    TranscriptEntry.objects.filter(consultation=consultation, seq=3).delete()
    assert "seq_gap" in _fails(consultation)


def test_two_swapped_entries_fail(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    rows = {e.seq: e for e in TranscriptEntry.objects.filter(consultation=consultation)}
    with transaction.atomic():
        TranscriptEntry.objects.filter(pk=rows[3].pk).update(seq=1000)
        TranscriptEntry.objects.filter(pk=rows[4].pk).update(seq=3)
        TranscriptEntry.objects.filter(pk=rows[3].pk).update(seq=4)
    assert "seq 3: hash_mismatch" in _fails(consultation)


def test_an_inserted_entry_fails(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    # Entries from 5 on move up by one, and a forged message, correctly chained to entry 4, is
    # put at 5: the old fifth no longer chains to what is before it.
    later = list(
        TranscriptEntry.objects.filter(consultation=consultation, seq__gte=5).order_by("-seq")
    )
    for entry in later:
        TranscriptEntry.objects.filter(pk=entry.pk).update(seq=entry.seq + 1)
    fourth = TranscriptEntry.objects.get(consultation=consultation, seq=4)
    salt = chain.new_salt()
    digest = chain.text_hash(salt, "Biayanya gratis")
    TranscriptEntry.objects.create(
        consultation=consultation,
        seq=5,
        kind="message",
        author_role="counselor",
        author=sari,
        text="Biayanya gratis",
        created_at=fourth.created_at,
        salt=salt,
        text_hash=digest,
        hash=chain.entry_hash(
            public_id=str(consultation.public_id),
            seq=5,
            at=fourth.created_at,
            kind="message",
            role="counselor",
            author=sari.pk,
            event="",
            data={},
            text_digest=digest,
            prev=fourth.hash,
        ),
    )
    failures = _fails(consultation)
    assert "seq 6: hash_mismatch" in failures
    assert "extra_entries" in failures


def test_truncated_entries_fail(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    last = reload(consultation).last_seq
    TranscriptEntry.objects.filter(consultation=consultation, seq__gt=last - 2).delete()
    assert "truncated" in _fails(consultation)


def test_a_seal_resigned_with_another_key_fails(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    seal = RecordStatement.objects.get(consultation=consultation, n=0)
    other = Ed25519PrivateKey.generate()
    RecordStatement.objects.filter(pk=seal.pk).update(
        signature=base64.b64encode(other.sign(seal.statement.encode())).decode()
    )
    assert "bad_signature" in _fails(consultation)


def test_a_log_rewritten_after_a_checkpoint_was_kept_is_caught(
    sari: StaffProfile, tmp_path: Path
) -> None:
    first = _ended(sari)
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(Client().get("/.well-known/loket/checkpoint").content.decode())
    _ended(make_staff("budi", topics=list(sari.topics.all())))
    assert "OK" in _verify(checkpoint=str(kept))
    # The office rewrites the first consultation's seal (a new head, re-signed with its own
    # key) and rebuilds the log and the published checkpoints to match.
    seal = RecordStatement.objects.get(consultation=first, n=0)
    statement = json.loads(seal.statement)
    statement["head"] = "1" * 64
    data = chain.canonical(statement)
    from consult.records.keys import office_key

    RecordStatement.objects.filter(pk=seal.pk).update(
        statement=data.decode(),
        signature=base64.b64encode(office_key().sign(data)).decode(),
        hash=chain.statement_hash(statement),
    )
    with pytest.raises(CommandError) as failed:
        _verify(checkpoint=str(kept))
    assert "log_rewritten" in str(failed.value)


def test_stored_log_nodes_are_not_trusted(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    LogNode.objects.filter(level=0, index=0).update(hash="2" * 64)
    Checkpoint.objects.all().delete()
    # The command recomputes the log from the statements: the stored node does not matter to it.
    assert "OK" in _verify(str(consultation.public_id))
    # A checkpoint signed over the damaged node is caught.
    records.checkpoint_publish()
    with pytest.raises(CommandError) as failed:
        _verify(all_=True)
    assert "log_rewritten" in str(failed.value)


def test_a_concurrent_writer_falls_back_and_the_chain_holds(sari: StaffProfile) -> None:
    """A chat message's one statement whose snapshot predates the entry before it (another
    writer held the row lock and committed meanwhile) is undone and stored by the general path:
    the chain has no gap and no wrong link."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement append is PostgreSQL's")
    consultation = active_consultation(sari)
    holding = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                system_event_add(
                    Consultation.objects.select_for_update().get(pk=consultation.pk),
                    event="citation",
                )
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holding.wait(10)
    done: list[Any] = []

    def write() -> None:
        try:
            done.append(say(consultation, "race-1", "Berapa biayanya?"))
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    # Wait until the writer's statement is blocked on the row lock, then let the holder commit.
    deadline = time.monotonic() + 10
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'WITH taken AS (UPDATE%%'"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the writer never waited for the lock")
    release.set()
    holder.join(10)
    writer.join(10)
    assert done and done[0][1] is True
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by=EndedBy.COUNSELOR, staff=sari
    )
    assert "OK" in _verify(str(consultation.public_id))


def test_the_public_endpoints(sari: StaffProfile) -> None:
    consultation = _ended(sari)
    client = Client()
    keys = client.get("/.well-known/loket/keys").json()
    assert keys["office"] and keys["keys"][0]["algorithm"] == "Ed25519"
    note = client.get("/.well-known/loket/checkpoint").content.decode()
    origin, key_map = loket_verify.load_keys(keys)
    parsed = loket_verify.verify_checkpoint(note, origin, key_map)
    assert parsed.size == records.log_size()
    assert client.get(f"/api/records/checkpoints/{parsed.size}").content.decode() == note
    proof = client.get(f"/api/records/consistency?first=1&second={parsed.size}").json()
    assert proof["first"] == 1
    assert client.get("/api/records/consistency?first=2&second=1").status_code == 400
    script = client.get("/.well-known/loket/loket_verify.py")
    assert b"def verify_bundle" in script.content
    # The staff copy needs a session allowed to read it; the read is recorded.
    assert client.get(f"/api/consultations/{consultation.public_id}/evidence").status_code == 401
    client.force_login(sari.user)
    bundle = client.get(f"/api/consultations/{consultation.public_id}/evidence").json()
    assert loket_verify.verify_bundle(bundle, keys).ok
    assert TranscriptAccess.objects.filter(consultation=consultation, via="export").exists()


def test_notes_are_withheld_from_the_applicants_copy(sari: StaffProfile) -> None:
    consultation = _ended(sari, messages=1, note="Catatan internal")
    applicant = _bundle(consultation, "applicant")
    staff = _bundle(consultation, "staff")
    assert "Catatan internal" not in json.dumps(applicant)
    assert "Catatan internal" in json.dumps(staff)
    assert loket_verify.verify_bundle(applicant, keys_document()).ok
    assert InternalNote.objects.get(consultation=consultation).addendum_n == 1


def test_retention_purges_past_its_period_and_the_records_still_verify(sari: StaffProfile) -> None:
    consultation = _ended(sari, note="Catatan: pemohon membawa KTP")
    feedback.consultation_rate(consultation_id=consultation.pk, stars=5, comment="Terima kasih")
    ended = reload(consultation).ended_at
    assert ended is not None
    # 91 days on: the contact details are past their 90 days, the words are not.
    assert retention.retention_purge(now=ended + timedelta(days=91))["contact"] == 1
    kept = reload(consultation)
    assert (kept.applicant_name, kept.applicant_phone, kept.contact_purged_at is not None) == (
        "",
        "",
        True,
    )
    assert TranscriptEntry.objects.filter(consultation=consultation, purged_at=None).count() == (
        kept.last_seq
    )
    # Two years and a day on: the words go too, their salted hashes stay.
    done = retention.retention_purge(now=ended + timedelta(days=731))
    assert done["transcript_text"] == 1 and done["contact"] == 0
    entries = TranscriptEntry.objects.filter(consultation=consultation)
    assert {(e.text, e.salt, e.purge_rule) for e in entries} == {
        ("", "", "retention:transcript_text")
    }
    assert InternalNote.objects.get(consultation=consultation).text == ""
    assert reload(consultation).rating_comment == ""
    purges = [
        json.loads(s.statement)["record"]
        for s in RecordStatement.objects.filter(consultation=consultation).order_by("n")
        if json.loads(s.statement).get("record", {}).get("kind") == "purge"
    ]
    assert [(p["data"], p["rule"]) for p in purges] == [
        ("contact", "retention:contact"),
        ("transcript_text", "retention:transcript_text"),
    ]
    out = _verify(str(consultation.public_id))
    assert "transcript_text purged under retention:transcript_text" in out
    assert "OK: 1 consultation(s) verified" in out
    bundle = _bundle(reload(consultation), "applicant")
    assert {e["text"] for e in bundle["entries"]} == {None}
    assert loket_verify.verify_bundle(bundle, keys_document()).ok
    # Nothing more to do at the same time.
    assert not any(retention.retention_purge(now=ended + timedelta(days=731)).values())


def test_an_erasure_request_erases_words_and_contact_and_verifies(
    sari: StaffProfile, tmp_path: Path
) -> None:
    consultation = _ended(sari, messages=2)
    with pytest.raises(CommandError):
        call_command("transcript_erase", str(consultation.public_id), "--reason", "x")
    call_command(
        "transcript_erase",
        str(consultation.public_id),
        "--reason",
        "Permintaan pemohon",
        stdout=StringIO(),
    )
    gone = reload(consultation)
    assert gone.applicant_name == "" and gone.contact_purged_at is not None
    assert set(
        TranscriptEntry.objects.filter(consultation=consultation).values_list(
            "purge_rule", flat=True
        )
    ) == {"erasure"}
    record = json.loads(RecordStatement.objects.filter(consultation=consultation).last().statement)
    assert (record["record"]["kind"], record["record"]["rule"]) == ("purge", "erasure")
    assert "Permintaan" not in json.dumps(record)
    assert "OK" in _verify(str(consultation.public_id))


def test_a_rotated_key_leaves_what_it_signed_valid(sari: StaffProfile) -> None:
    before = _ended(sari, messages=1)
    out = StringIO()
    call_command("signing_key", "--rotate", stdout=out)
    assert "retired" in out.getvalue()
    after = _ended(make_staff("budi", topics=list(sari.topics.all())), messages=1)
    ids = {
        json.loads(RecordStatement.objects.get(consultation=c, n=0).statement)["key_id"]
        for c in (before, after)
    }
    assert len(ids) == 2
    keys = keys_document()["keys"]
    assert len(keys) == 2 and sum(1 for k in keys if k["retired_at"]) == 1
    assert "OK: 2 consultation(s)" in _verify(all_=True)


def test_unsealing_a_row_by_hand_does_not_hide_a_changed_text(sari: StaffProfile) -> None:
    """The log, not the consultation's columns, says what is sealed."""
    consultation = _ended(sari)
    TranscriptEntry.objects.filter(consultation=consultation, seq=4).update(text="Rp 5.000.000")
    Consultation.objects.filter(pk=consultation.pk).update(sealed_at=None, status="active")
    with pytest.raises(CommandError) as failed:
        _verify(all_=True)
    assert "its row was changed" in str(failed.value) and "seq 4" in str(failed.value)


def test_a_purge_run_twice_records_one_purge_and_a_future_one_only_counts(
    sari: StaffProfile,
) -> None:
    consultation = _ended(sari, messages=1)
    ended = reload(consultation).ended_at
    assert ended is not None
    later = ended + timedelta(days=731)
    assert retention.retention_due(now=later)["transcript_text"] == 1
    with pytest.raises(CommandError):
        call_command("retention_purge", "--now", later.isoformat(), stdout=StringIO())
    out = StringIO()
    call_command("retention_purge", "--now", later.isoformat(), "--dry-run", stdout=out)
    assert "due transcript_text: 1" in out.getvalue()
    assert TranscriptEntry.objects.filter(consultation=consultation, purged_at=None).exists()
    retention.retention_purge(now=later)
    retention.retention_purge(now=later)
    purges = [
        json.loads(s.statement)["record"]["data"]
        for s in RecordStatement.objects.filter(consultation=consultation)
        if json.loads(s.statement).get("record", {}).get("kind") == "purge"
    ]
    assert sorted(purges) == ["contact", "transcript_text"]
