"""``manage.py transcript_verify [<public id> ... | --all]``: check the records (docs/RECORDS.md).

For each consultation: its chain, its seal and addenda (signatures, chaining), and their
inclusion in the log, by building its evidence bundle from the database and checking it with the
standalone verifier's own code (``consult.records.loket_verify``), so the two can never disagree.
With ``--all`` it also recomputes the whole log from its leaves and checks every published
checkpoint against it, and that every consultation that is over is sealed; ``--checkpoint FILE``
checks that the log extends a checkpoint kept from before (one fetched from
/.well-known/loket/checkpoint earlier). Exit status 1 when anything fails; each failure names
the consultation and the entry (``seq``) or statement where it is, and why.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import (
    Checkpoint,
    Consultation,
    ConsultationStatus,
    LogHead,
    RecordStatement,
)
from ...records import loket_verify, tlog
from ...selectors.records import evidence_bundle, keys_document


class _MemoryLog:
    """The log recomputed from its leaves (the statements as stored), every complete subtree
    in memory: roots and proofs without the stored node hashes, which are not trusted here."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.levels = [[loket_verify.leaf_hash(data) for data in leaves]]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            pairs = range(0, len(below) - 1, 2)
            self.levels.append([loket_verify.node_hash(below[i], below[i + 1]) for i in pairs])

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int) -> bytes:
        return tlog.root(size, self.node)


class Command(BaseCommand):
    help = "Verify transcripts' hash chains, seals, addenda and the office's log."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("public_ids", nargs="*", help="consultations to verify")
        parser.add_argument("--all", action="store_true", help="every consultation and the log")
        parser.add_argument(
            "--checkpoint",
            help="a checkpoint (signed note) kept from before: the log must extend it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["all"] and not options["public_ids"] and not options["checkpoint"]:
            raise CommandError("Name consultations, or give --all or --checkpoint.")
        rows = list(RecordStatement.objects.order_by("index").values_list("index", "statement"))
        failures: list[str] = []
        if [index for index, _ in rows] != list(range(len(rows))):
            failures.append("log: the leaves are not numbered 0, 1, 2, ... without gaps")
        log = _MemoryLog([statement.encode() for _, statement in rows])
        size = len(rows)
        stored_size = LogHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
        if stored_size != size:
            failures.append(f"log: {size} leaves stored, but the log's size says {stored_size}")
        keys_doc = keys_document()
        origin, keys = loket_verify.load_keys(keys_doc)
        checkpoint_note = self._checkpoint_now(log, size, keys_doc)
        if options["all"]:
            failures += self._checkpoints(log, size, origin, keys)
            consultations = Consultation.objects.order_by("pk")
        else:
            consultations = Consultation.objects.filter(public_id__in=options["public_ids"])
            found = {str(c.public_id) for c in consultations}
            failures += [
                f"{pid}: no such consultation" for pid in options["public_ids"] if pid not in found
            ]
        if options["checkpoint"]:
            failures += self._older(options["checkpoint"], log, size, origin, keys)
        checked = 0
        over = (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED)
        # Whether a consultation is sealed is what the log says, not its (changeable) columns.
        logged = set(RecordStatement.objects.filter(n=0).values_list("consultation_id", flat=True))
        for consultation in consultations.iterator(chunk_size=500):
            checked += 1
            if consultation.pk not in logged:
                if consultation.status in over or consultation.sealed_at is not None:
                    failures.append(f"{consultation.public_id}: over but not sealed")
                continue
            if consultation.sealed_at is None or consultation.status not in over:
                failures.append(
                    f"{consultation.public_id}: sealed in the log, but the consultation says it "
                    f"is {consultation.status} and unsealed (its row was changed)"
                )
            bundle = evidence_bundle(
                consultation, checkpoint=checkpoint_note, audience="staff", node=log.node
            )
            report = loket_verify.verify_bundle(bundle, keys_doc)
            failures += [
                f"{f.consultation} {f.where}: {f.code}: {f.message}" for f in report.failures
            ]
            for note in report.notes:
                self.stdout.write(f"NOTE {consultation.public_id}: {note}")
            for item in bundle["statements"]:
                record = item["statement"].get("record") or {}
                if record.get("kind") == "purge":
                    self.stdout.write(
                        f"NOTE {consultation.public_id}: {record.get('data')} purged under "
                        f"{record.get('rule')} at {record.get('at')} ({record.get('erased')})"
                    )
        for failure in failures:
            self.stdout.write(f"FAIL {failure}")
        if failures:
            raise CommandError(f"{len(failures)} problem(s) found.", returncode=1)
        self.stdout.write(
            f"OK: {checked} consultation(s) verified; the log has {size} statement(s)."
        )

    def _checkpoint_now(self, log: _MemoryLog, size: int, keys_doc: dict[str, Any]) -> Checkpoint:
        """The checkpoint the bundles are checked against: the latest published one if it is
        of the whole log (its signature is checked too); else the recomputed log's root, signed
        by a key made for this run only and added to ``keys_doc`` for it (it signs nothing
        else, so it can make no statement valid)."""
        latest = Checkpoint.objects.first()
        if latest is not None and latest.size == size:
            return latest
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        origin = keys_doc["office"]
        root = log.root(size)
        body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()
        blob = loket_verify.note_key_hash(origin, public) + private.sign(body)
        note = body.decode() + f"\n\u2014 {origin} {base64.b64encode(blob).decode()}\n"
        keys_doc["keys"].append(
            {
                "key_id": loket_verify.key_id(public),
                "algorithm": "Ed25519",
                "public_key": base64.b64encode(public).decode(),
                "created_at": None,
                "retired_at": None,
            }
        )
        return Checkpoint(size=size, root=root.hex(), note=note)

    def _checkpoints(
        self, log: _MemoryLog, size: int, origin: str, keys: dict[str, bytes]
    ) -> list[str]:
        """Every published checkpoint: signed by the office, and the root of the log's first
        ``size`` leaves as they are now."""
        failures = []
        for checkpoint in Checkpoint.objects.order_by("size"):
            try:
                parsed = loket_verify.verify_checkpoint(checkpoint.note, origin, keys)
            except loket_verify.VerifyError as exc:
                failures.append(f"checkpoint {checkpoint.size}: bad_checkpoint: {exc}")
                continue
            if parsed.size > size:
                failures.append(f"checkpoint {parsed.size}: the log has only {size} leaves")
            elif parsed.root != log.root(parsed.size):
                failures.append(
                    f"checkpoint {parsed.size}: log_rewritten: the log's first {parsed.size} "
                    "leaves no longer have the root this checkpoint signed"
                )
        return failures

    def _older(
        self, path: str, log: _MemoryLog, size: int, origin: str, keys: dict[str, bytes]
    ) -> list[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            older = loket_verify.verify_checkpoint(text, origin, keys)
        except loket_verify.VerifyError as exc:
            return [f"checkpoint {path}: bad_checkpoint: {exc}"]
        if older.size > size:
            return [f"checkpoint {path}: log_rewritten: it has {older.size} leaves, the log {size}"]
        proof = tlog.consistency_proof(older.size, size, log.node)
        if not loket_verify.verify_consistency(older.size, size, older.root, log.root(size), proof):
            return [
                f"checkpoint {path}: log_rewritten: the log is not an extension of the tree of "
                f"{older.size} leaves this checkpoint signed"
            ]
        return []
