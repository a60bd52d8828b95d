"""The transcript page's timeline: messages, citations, notes, call events, the end and the
rating, in order, in the reader's language."""

from __future__ import annotations

import pytest
from django.test import Client

from consult.models import (
    ConsultationStatus,
    KnowledgeArticle,
    StaffRole,
    TranscriptAccess,
)
from consult.services import calls, consultations, feedback, knowledge, notes, offers
from tests.support.applicants import reload, say, waiting_consultation
from tests.support.staff import counselor_online, make_staff, make_topic

pytestmark = pytest.mark.django_db


def test_the_whole_timeline_in_order() -> None:
    topic = make_topic()
    sari = make_staff("sari", topics=[topic])
    dewi = make_staff("dewi", role=StaffRole.SUPERVISOR)
    article = KnowledgeArticle.objects.create(
        topic=topic,
        title_id="Syarat PBG",
        title_en="PBG requirements",
        requirements_id="KTP dan sertifikat tanah.",
        requirements_en="ID card and land title.",
    )
    c = waiting_consultation(name="Siti")
    counselor_online(sari)
    assert reload(c).status == ConsultationStatus.OFFERED
    offers.offer_accept(staff=sari, consultation_id=c.pk)
    say(c, "a1", "Apa syarat PBG?")
    knowledge.knowledge_insert(
        staff=sari,
        consultation_id=c.pk,
        article_id=article.pk,
        section="requirements",
        client_msg_id="kb1",
    )
    notes.note_add(staff=sari, consultation_id=c.pk, text="Pemohon sudah punya sertifikat.")
    calls.call_request(consultation_id=c.pk, by_role="applicant", audio_only=False)
    calls.call_accept(consultation_id=c.pk, by_role="counselor", staff=sari, audio_only=False)
    calls.call_state_report(
        consultation_id=c.pk, by_role="counselor", staff=sari, state="connected"
    )
    calls.call_state_report(
        consultation_id=c.pk, by_role="applicant", state="reconnecting", audio_only=None
    )
    calls.call_end(consultation_id=c.pk, by_role="applicant")
    consultations.consultation_end(
        consultation_id=c.pk, ended_by="counselor", staff=sari, outcome="answered"
    )
    feedback.consultation_rate(consultation_id=c.pk, stars=4, comment="Jelas sekali")

    client = Client()
    client.force_login(dewi.user)
    client.cookies["django_language"] = "en"
    html = client.get(f"/transcripts/{c.public_id}/").content.decode()
    expected = [
        "Consultation requested:",
        "Sari joined the consultation.",
        "Apa syarat PBG?",
        "KTP dan sertifikat tanah.",  # the article went out in the consultation's language
        "Source: Syarat PBG",
        "Internal note (staff only)",
        "Pemohon sudah punya sertifikat.",
        "The applicant asked for a video call.",
        "Video call started.",
        "Call connected.",
        "Call connection lost; reconnecting.",
        "Call ended after",
        "The counselor ended the consultation.",
        "The applicant rated the consultation 4 of 5.",
        "Jelas sekali",
    ]
    timeline = html[html.index('<ol class="timeline">') :]
    positions = [timeline.find(text) for text in expected]
    assert -1 not in positions, [t for t, p in zip(expected, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert TranscriptAccess.objects.filter(consultation=c, via="page").count() == 1
