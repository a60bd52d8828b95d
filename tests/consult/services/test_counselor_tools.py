"""The counselor's tools through the services and selectors: knowledge base, canned replies,
internal notes, the outcome of an ending, and the applicant's rating."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command

from consult.errors import Forbidden, InvalidInput, InvalidState, NotFound, TextTooLong
from consult.models import (
    CannedReply,
    InternalNote,
    KnowledgeArticle,
    StaffProfile,
    StaffRole,
    Topic,
    TranscriptEntry,
)
from consult.selectors.knowledge import canned_replies_for, knowledge_search, notes_of
from consult.services import consultations
from consult.services.feedback import AlreadyRated, consultation_rate
from consult.services.knowledge import knowledge_insert
from consult.services.notes import note_add
from consult.services.replies import canned_reply_create, canned_reply_delete
from tests.support.applicants import active_consultation, reload, waiting_consultation
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db


def _article(topic: Topic, **fields: Any) -> KnowledgeArticle:
    values: dict[str, Any] = {
        "title_id": "PBG rumah tinggal",
        "title_en": "Building approval for a house",
        "requirements_id": "KTP, sertifikat tanah, gambar rencana.",
        "requirements_en": "ID card, land certificate, drawings.",
        "procedure_id": "Daftar di SIMBG.",
        "procedure_en": "Register on SIMBG.",
        "legal_basis_id": "PP No. 16 Tahun 2021.",
        "legal_basis_en": "Government Regulation 16/2021.",
        "fees_id": "Retribusi sesuai Perda.",
        "fees_en": "Levy under the city bylaw.",
    }
    values.update(fields)
    return KnowledgeArticle.objects.create(topic=topic, **values)


# ---------------------------------------------------------------- knowledge base: search


def test_search_ranks_title_hits_and_all_words_first_in_both_languages(topic: Topic) -> None:
    health = make_topic("health-permit")
    house = _article(topic)
    slf = _article(
        topic,
        title_id="Sertifikat Laik Fungsi",
        title_en="Certificate of fitness",
        requirements_id="PBG yang sudah terbit.",
        requirements_en="The issued building approval.",
    )
    _article(health, title_id="SLHS jasa boga", title_en="Caterer hygiene certificate")
    _article(topic, title_id="Arsip lama", title_en="Old", active=False)

    found = knowledge_search(query="pbg", language="id")
    assert [a["id"] for a in found] == [house.pk, slf.pk]  # the title hit ranks first
    assert found[0]["title"] == "PBG rumah tinggal"
    assert [s["key"] for s in found[0]["sections"]] == [
        "requirements",
        "procedure",
        "legal_basis",
        "fees",
    ]
    assert found[0]["sections"][3]["label"] == "Biaya retribusi"
    # English words find the same articles, shown in English.
    english = knowledge_search(query="Certificate fitness", language="en")
    assert english[0]["id"] == slf.pk and english[0]["title"] == "Certificate of fitness"
    assert english[0]["sections"][0]["label"] == "Requirements"
    # Topic filter; no words lists the topic's articles; inactive ones never.
    assert [a["id"] for a in knowledge_search(query="", topic_code="building-approval")] == [
        house.pk,
        slf.pk,
    ]
    assert [a["topic"] for a in knowledge_search(query="caterer hygiene", language="en")] == [
        "health-permit"
    ]
    assert knowledge_search(query="arsip") == []


# ---------------------------------------------------------------- knowledge base: insert


def test_insert_sends_the_article_in_the_consultations_language_with_a_citation(
    topic: Topic, sari: StaffProfile
) -> None:
    article = _article(topic)
    consultation = active_consultation(sari, language="en")
    entry, created = knowledge_insert(
        staff=sari,
        consultation_id=consultation.pk,
        article_id=article.pk,
        section=None,
        client_msg_id="kb-1",
    )
    assert created and (entry.kind, entry.author_role, entry.author_id) == (
        "message",
        "counselor",
        sari.pk,
    )
    assert entry.text.startswith("Building approval for a house\n\nRequirements:\nID card")
    assert "Fees (levies):\nLevy under the city bylaw." in entry.text
    assert entry.data == {
        "citation": {
            "article_id": article.pk,
            "topic": "building-approval",
            "title": "Building approval for a house",
            "section": None,
        }
    }
    # The same client_msg_id again: the same entry, nothing new.
    again, created = knowledge_insert(
        staff=sari,
        consultation_id=consultation.pk,
        article_id=article.pk,
        section=None,
        client_msg_id="kb-1",
    )
    assert not created and again.pk == entry.pk
    assert TranscriptEntry.objects.filter(consultation=consultation).count() == 3


def test_insert_one_section_in_indonesian(topic: Topic, sari: StaffProfile) -> None:
    article = _article(topic)
    consultation = active_consultation(sari)
    entry, _ = knowledge_insert(
        staff=sari,
        consultation_id=consultation.pk,
        article_id=article.pk,
        section="legal_basis",
        client_msg_id="kb-2",
    )
    assert entry.text == "PBG rumah tinggal\n\nDasar hukum:\nPP No. 16 Tahun 2021."
    assert entry.data["citation"]["section"] == "legal_basis"
    empty = _article(topic, title_id="Kosong", fees_id="", fees_en="")
    with pytest.raises(InvalidInput):
        knowledge_insert(
            staff=sari,
            consultation_id=consultation.pk,
            article_id=empty.pk,
            section="fees",
            client_msg_id="kb-3",
        )


def test_insert_refused_to_others_after_the_end_and_for_unknown_articles(
    topic: Topic, sari: StaffProfile
) -> None:
    article = _article(topic)
    retired = _article(topic, title_id="Lama", active=False)
    long = _article(topic, title_id="Panjang", requirements_id="x" * 4000)
    budi = make_staff("budi", topics=[topic])
    consultation = active_consultation(sari)

    def insert(staff: StaffProfile, article_id: int, msg: str, **kw: Any) -> Any:
        return knowledge_insert(
            staff=staff,
            consultation_id=consultation.pk,
            article_id=article_id,
            section=kw.get("section"),
            client_msg_id=msg,
        )

    with pytest.raises(Forbidden):
        insert(budi, article.pk, "b-1")
    with pytest.raises(NotFound):
        insert(sari, retired.pk, "s-1")
    with pytest.raises(NotFound):
        insert(sari, 999_999, "s-2")
    with pytest.raises(TextTooLong):
        insert(sari, long.pk, "s-3")
    with pytest.raises(InvalidInput):
        insert(sari, article.pk, "s-4", section="history")
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    with pytest.raises(InvalidState):
        insert(sari, article.pk, "s-5")
    assert not TranscriptEntry.objects.filter(consultation=consultation, kind="message").exists()


# ---------------------------------------------------------------- internal notes


def test_notes_only_from_the_counselor_holding_an_active_consultation(
    topic: Topic, sari: StaffProfile
) -> None:
    budi = make_staff("budi", topics=[topic])
    dewi = make_staff("dewi", role=StaffRole.SUPERVISOR)
    consultation = active_consultation(sari)
    note = note_add(staff=sari, consultation_id=consultation.pk, text="  Butuh SLF juga  ")
    assert (note.text, note.kind, note.author_id) == ("Butuh SLF juga", "note", sari.pk)
    for other in (budi, dewi):
        with pytest.raises(Forbidden):
            note_add(staff=other, consultation_id=consultation.pk, text="x")
    with pytest.raises(InvalidInput):
        note_add(staff=sari, consultation_id=consultation.pk, text="   ")
    with pytest.raises(TextTooLong):
        note_add(staff=sari, consultation_id=consultation.pk, text="x" * 2001)
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    with pytest.raises(InvalidState):
        note_add(staff=sari, consultation_id=consultation.pk, text="later")
    assert [n.text for n in notes_of(consultation_id=consultation.pk)] == ["Butuh SLF juga"]
    # Notes are not transcript entries: the applicant's record has no trace of them.
    assert not TranscriptEntry.objects.filter(
        consultation=consultation, text__contains="SLF"
    ).exists()


# ---------------------------------------------------------------- outcome


def test_the_counselor_ends_with_an_outcome(sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    with pytest.raises(InvalidInput):
        consultations.consultation_end(
            consultation_id=consultation.pk, ended_by="counselor", staff=sari, outcome="great"
        )
    consultations.consultation_end(
        consultation_id=consultation.pk,
        ended_by="counselor",
        staff=sari,
        outcome="needs_documents",
    )
    stored = reload(consultation)
    assert (stored.status, stored.outcome, stored.end_reason) == (
        "ended",
        "needs_documents",
        "needs_documents",
    )


def test_an_applicant_gives_no_outcome(sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    with pytest.raises(InvalidInput):
        consultations.consultation_end(
            consultation_id=consultation.pk, ended_by="applicant", outcome="answered"
        )
    consultations.consultation_end(consultation_id=consultation.pk, ended_by="applicant")
    assert reload(consultation).outcome == ""


# ---------------------------------------------------------------- rating


def test_rating_once_after_the_end_of_a_consultation_with_a_counselor(sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    with pytest.raises(InvalidState):
        consultation_rate(consultation_id=consultation.pk, stars=5)
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    for stars in (0, 6, True):
        with pytest.raises(InvalidInput):
            consultation_rate(consultation_id=consultation.pk, stars=stars)
    with pytest.raises(InvalidInput):
        consultation_rate(consultation_id=consultation.pk, stars=4, comment="x" * 1001)
    consultation_rate(consultation_id=consultation.pk, stars=4, comment=" Jelas sekali ")
    stored = reload(consultation)
    assert (stored.rating, stored.rating_comment) == (4, "Jelas sekali")
    assert stored.rated_at is not None
    with pytest.raises(AlreadyRated):
        consultation_rate(consultation_id=consultation.pk, stars=1)
    assert reload(consultation).rating == 4


def test_a_consultation_nobody_took_cannot_be_rated(topic: Topic) -> None:
    consultation = waiting_consultation()
    consultations.consultation_end(consultation_id=consultation.pk, ended_by="applicant")
    with pytest.raises(InvalidState):
        consultation_rate(consultation_id=consultation.pk, stars=3)


# ---------------------------------------------------------------- canned replies


def test_canned_replies_own_and_shared_never_someone_elses(
    topic: Topic, sari: StaffProfile
) -> None:
    budi = make_staff("budi", topics=[topic])
    shared = CannedReply.objects.create(title="Salam", text="Selamat datang.")
    mine = canned_reply_create(staff=sari, title=" Penutup ", text="Terima kasih.", language="id")
    theirs = canned_reply_create(staff=budi, title="Budi's", text="Halo.")
    assert (mine.title, mine.owner_id, mine.language) == ("Penutup", sari.pk, "id")
    assert [r.pk for r in canned_replies_for(staff=sari)] == [shared.pk, mine.pk]
    for bad in ({"title": ""}, {"text": " "}, {"text": "x" * 4001}, {"language": "fr"}):
        fields = {"title": "t", "text": "x", **bad}
        with pytest.raises(InvalidInput):
            canned_reply_create(staff=sari, **fields)
    with pytest.raises(NotFound):
        canned_reply_delete(staff=sari, reply_id=theirs.pk)
    with pytest.raises(Forbidden):
        canned_reply_delete(staff=sari, reply_id=shared.pk)
    canned_reply_delete(staff=sari, reply_id=mine.pk)
    assert set(CannedReply.objects.values_list("pk", flat=True)) == {shared.pk, theirs.pk}


# ---------------------------------------------------------------- demo data


def test_seed_demo_creates_articles_for_every_demo_topic_in_both_languages_once() -> None:
    call_command("seed_demo", "--topics-only", stdout=_Quiet())
    articles = list(KnowledgeArticle.objects.select_related("topic"))
    assert {a.topic.code for a in articles} == set(Topic.objects.values_list("code", flat=True))
    for article in articles:
        assert "(demo)" in article.title_id and "(demo)" in article.title_en
        for section in ("requirements", "procedure", "legal_basis", "fees"):
            assert article.section_for(section, "id") and getattr(article, f"{section}_en")
    article = articles[0]
    article.requirements_id = "Edited by the office"
    article.save()
    count = KnowledgeArticle.objects.count(), CannedReply.objects.count()
    call_command("seed_demo", "--topics-only", stdout=_Quiet())
    assert (KnowledgeArticle.objects.count(), CannedReply.objects.count()) == count
    assert KnowledgeArticle.objects.get(pk=article.pk).requirements_id == "Edited by the office"


class _Quiet:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


# ---------------------------------------------------------------- the data migration


def test_the_migration_moves_old_transfer_notes_out_of_the_applicants_record(
    sari: StaffProfile,
) -> None:
    migration = importlib.import_module("consult.migrations.0004_counselor_tools")
    consultation = active_consultation(sari)
    old = TranscriptEntry.objects.create(
        consultation=consultation,
        seq=99,
        kind="event",
        author_role="system",
        event="transferred",
        data={"from": "Sari", "topic": "building-approval", "note": "klinik"},
        created_at=consultation.created_at,
    )
    migration.move_transfer_notes(apps, None)
    old.refresh_from_db()
    assert old.data == {"from": "Sari", "topic": "building-approval"}
    note = InternalNote.objects.get(consultation=consultation)
    assert (note.kind, note.text, note.created_at) == ("transfer", "klinik", old.created_at)
    # Run again: nothing more to move.
    migration.move_transfer_notes(apps, None)
    assert InternalNote.objects.count() == 1
