"""Retention and erasure of personal data (docs/RECORDS.md, "Retention").

What is past its period (``RetentionRule``, or the defaults below) is erased from consultations
that are over and sealed: the words (entries' texts and salts, internal notes, the rating's
comment), the applicant's contact details, the read log. Salted hashes stay, so every chain, seal
and the log still verify; and each erasure appends a signed purge addendum to the consultation's
records (what, under which rule, when). An applicant's erasure request is the same with the rule
``erasure`` and its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..errors import InvalidState
from ..models import (
    Consultation,
    ConsultationStatus,
    IdentifierToken,
    InternalNote,
    RecordStatement,
    RetentionData,
    RetentionRule,
    TranscriptAccess,
    TranscriptEntry,
)
from ..records import chain
from .locking import consultation_lock
from .records import addendum_add


@dataclass(frozen=True)
class Default:
    days: int
    legal_basis: str


# The defaults, until an administrator sets a rule (docs/RECORDS.md gives the reasoning): the
# office's own retention schedule decides, these are a conservative start.
DEFAULTS: dict[str, Default] = {
    RetentionData.TRANSCRIPT_TEXT: Default(
        730,
        "UU 27/2022: personal data is kept no longer than its purpose needs and destroyed when "
        "its retention period ends. Two years covers a permit's usual processing and objection "
        "period; set the office's archive retention schedule (JRA, UU 43/2009) here.",
    ),
    RetentionData.CONTACT: Default(
        90,
        "UU 27/2022 (minimum data, limited retention): the phone and e-mail serve the "
        "consultation and its follow-up only.",
    ),
    RetentionData.READ_LOG: Default(
        1825,
        "Accountability for access to personal data (UU 27/2022): who read a record is kept "
        "five years, for audits and for the data subject's request.",
    ),
    RetentionData.RECORDINGS: Default(
        90,
        "UU 27/2022: recordings of calls (none are made yet) are kept only as long as needed.",
    ),
}


def retention_rules() -> dict[str, tuple[int, str]]:
    """Days and legal basis per kind of data: the administrator's rule, else the default."""
    rules = {data: (d.days, d.legal_basis) for data, d in DEFAULTS.items()}
    for rule in RetentionRule.objects.all():
        rules[rule.data] = (rule.days, rule.legal_basis)
    return rules


OVER = (ConsultationStatus.ENDED, ConsultationStatus.ABANDONED)


def _erase_text(consultation: Consultation, *, rule: str, now: datetime) -> dict[str, Any]:
    """Erase the words of a locked consultation; what was erased, for the purge record."""
    entries = TranscriptEntry.objects.filter(consultation=consultation, purged_at=None)
    seqs = list(entries.order_by("seq").values_list("seq", flat=True))
    # The reasons given for reading it are words about it too.
    TranscriptAccess.objects.filter(consultation=consultation).exclude(reason="").update(reason="")
    entries.update(text="", salt="", search_text=None, purged_at=now, purge_rule=rule)
    notes = InternalNote.objects.filter(consultation=consultation).exclude(text="")
    note_count = notes.update(text="")
    comment = bool(consultation.rating_comment)
    if comment:
        consultation.rating_comment = ""
        Consultation.objects.filter(pk=consultation.pk).update(rating_comment="")
    # The salts of the notes' and the comment's hashes go too (the hashes stay signed).
    RecordStatement.objects.filter(consultation=consultation).exclude(salts={}).update(salts={})
    IdentifierToken.objects.filter(consultation=consultation).delete()
    return {
        "entries": len(seqs),
        "seqs": [seqs[0], seqs[-1]] if seqs else [],
        "notes": note_count,
        "comment": comment,
    }


def _erase_contact(consultation: Consultation, *, now: datetime) -> None:
    consultation.applicant_name = ""
    consultation.applicant_phone = ""
    consultation.applicant_email = ""
    consultation.contact_purged_at = now
    Consultation.objects.filter(pk=consultation.pk).update(
        applicant_name="", applicant_phone="", applicant_email="", contact_purged_at=now
    )
    IdentifierToken.objects.filter(consultation=consultation).delete()


def _purge_record(
    consultation: Consultation,
    *,
    data: str,
    rule: str,
    now: datetime,
    erased: dict[str, Any],
    reason: str = "",
) -> None:
    record: dict[str, Any] = {
        "kind": "purge",
        "data": data,
        "rule": rule,
        "at": chain.time_text(now),
        "erased": erased,
    }
    salts = {}
    if reason:
        salt = chain.new_salt()
        record["reason"] = chain.text_hash(salt, reason)
        salts["reason"] = salt
    addendum_add(consultation, record, salts=salts)


def _still_due(consultation: Consultation, *, data: str, cutoff: datetime) -> bool:
    """Re-checked under the consultation's lock: every process's sweeper purges, and two may
    pick the same consultation."""
    if data == RetentionData.TRANSCRIPT_TEXT:
        return TranscriptEntry.objects.filter(consultation=consultation, purged_at=None).exists()
    if data == RetentionData.CONTACT:
        return consultation.contact_purged_at is None
    return TranscriptAccess.objects.filter(consultation=consultation, at__lt=cutoff).exists()


def retention_due(*, now: datetime | None = None) -> dict[str, int]:
    """How many consultations a purge at ``now`` would erase something of, per kind of data
    (nothing is changed: ``retention_purge --dry-run``)."""
    now = now or timezone.now()
    return {
        data: _due(data, now - timedelta(days=days)).count()
        for data, (days, _) in retention_rules().items()
        if data != RetentionData.RECORDINGS
    }


def _due(data: str, cutoff: datetime) -> Any:
    over = Consultation.objects.filter(
        status__in=OVER, sealed_at__isnull=False, ended_at__lt=cutoff
    )
    if data == RetentionData.TRANSCRIPT_TEXT:
        return over.filter(entries__purged_at__isnull=True).distinct()
    if data == RetentionData.CONTACT:
        return over.filter(contact_purged_at__isnull=True)
    return over.filter(
        pk__in=TranscriptAccess.objects.filter(at__lt=cutoff).values("consultation_id")
    )


def retention_purge(*, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Erase what is past its retention period, at most ``limit`` consultations per kind of
    data; returns how many consultations were purged per kind."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    for data, (days, _) in retention_rules().items():
        if data == RetentionData.RECORDINGS:
            continue  # none are made yet
        cutoff = now - timedelta(days=days)
        due = _due(data, cutoff)
        count = 0
        for consultation_id in list(due.values_list("pk", flat=True)[:limit]):
            with transaction.atomic():
                consultation = consultation_lock(consultation_id=consultation_id)
                if not _still_due(consultation, data=data, cutoff=cutoff):
                    continue  # another process's purge did it meanwhile
                rule = f"retention:{data}"
                if data == RetentionData.TRANSCRIPT_TEXT:
                    erased = _erase_text(consultation, rule=rule, now=now)
                elif data == RetentionData.CONTACT:
                    _erase_contact(consultation, now=now)
                    erased = {"contact": True}
                else:
                    reads = TranscriptAccess.objects.filter(
                        consultation=consultation, at__lt=cutoff
                    )
                    erased = {"reads": reads.count()}
                    reads.delete()
                _purge_record(consultation, data=data, rule=rule, now=now, erased=erased)
                count += 1
        done[data] = count
    return done


def erasure_request(*, consultation_id: int, reason: str, now: datetime | None = None) -> None:
    """Erase an applicant's words and contact details at their request (the reason recorded,
    as a salted hash in the signed purge record; the reason itself stays with the office's
    handling of the request). Only a consultation that is over and sealed: an open one ends
    first."""
    now = now or timezone.now()
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        if consultation.sealed_at is None:
            raise InvalidState("Only a consultation that is over can be erased.")
        erased = _erase_text(consultation, rule="erasure", now=now)
        _erase_contact(consultation, now=now)
        erased["contact"] = True
        _purge_record(
            consultation, data="all", rule="erasure", now=now, erased=erased, reason=reason
        )
