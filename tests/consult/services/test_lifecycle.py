"""A consultation's life through the services: join, offer answers, end, transfer, calls."""

from __future__ import annotations

from typing import Any

import pytest

from consult.errors import Forbidden, InvalidInput, InvalidState, NotFound
from consult.models import Consultation, InternalNote, StaffProfile, TranscriptEntry
from consult.services import calls, consultations, offers, presence
from consult.services.tokens import applicant_token_verify
from tests.support.applicants import active_consultation, reload, say, waiting_consultation
from tests.support.staff import counselor_online, make_staff, make_topic

pytestmark = pytest.mark.django_db


def _events(consultation: Consultation) -> list[str]:
    return list(
        TranscriptEntry.objects.filter(consultation=consultation)
        .order_by("seq")
        .values_list("event", flat=True)
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": ""}, InvalidInput),
        ({"name": "x" * 81}, InvalidInput),
        ({"phone": "", "email": ""}, InvalidInput),
        ({"phone": "12ab"}, InvalidInput),
        ({"phone": "1234567"}, InvalidInput),
        ({"phone": "", "email": "not-an-email"}, InvalidInput),
        ({"mode": "fax"}, InvalidInput),
        ({"language": "fr"}, InvalidInput),
        ({"topic_code": "no-such-topic"}, NotFound),
    ],
)
def test_join_refuses_bad_input_and_stores_nothing(fields: dict[str, Any], error: type) -> None:
    make_topic()
    with pytest.raises(error):
        waiting_consultation(**fields)
    assert Consultation.objects.count() == 0


def test_join_cleans_the_phone_and_issues_a_working_token() -> None:
    make_topic()
    consultation, token = consultations.consultation_join(
        name=" Ani ",
        phone="+62 812-3456 (789)",
        topic_code="building-approval",
        applicant_grace_seconds=60,
    )
    stored = reload(consultation)
    assert (stored.applicant_name, stored.applicant_phone) == ("Ani", "+628123456789")
    assert (stored.status, stored.last_seq) == ("waiting", 1)
    assert _events(stored) == ["joined"]
    assert applicant_token_verify(token=token).pk == stored.pk


def test_join_of_an_inactive_topic_is_refused() -> None:
    topic = make_topic()
    topic.active = False
    topic.save()
    with pytest.raises(NotFound):
        waiting_consultation()


def test_accept_makes_it_active_and_records_who_joined(sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    assert consultation.status == "active"
    assert consultation.accepted_at and consultation.first_accepted_at
    assert consultation.offer_expires_at is None
    assert _events(consultation) == ["joined", "counselor_joined"]
    with pytest.raises(InvalidState):
        offers.offer_accept(staff=sari, consultation_id=consultation.pk)


def test_only_the_counselor_offered_may_accept_or_decline(sari: StaffProfile) -> None:
    other = make_staff("budi", topics=[make_topic()])
    counselor_online(sari)
    consultation = waiting_consultation()
    with pytest.raises(Forbidden):
        offers.offer_accept(staff=other, consultation_id=consultation.pk)
    with pytest.raises(Forbidden):
        offers.offer_decline(staff=other, consultation_id=consultation.pk)
    assert (reload(consultation).status, reload(consultation).counselor_id) == ("offered", sari.pk)


def test_counselor_ends_only_an_active_consultation_of_their_own(sari: StaffProfile) -> None:
    other = make_staff("budi", topics=[make_topic()])
    consultation = active_consultation(sari)
    with pytest.raises(Forbidden):
        consultations.consultation_end(
            consultation_id=consultation.pk, ended_by="counselor", staff=other
        )
    ended = consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari, reason="answered"
    )
    assert (ended.status, ended.ended_by, ended.end_reason) == ("ended", "counselor", "answered")
    assert _events(ended) == ["joined", "counselor_joined", "ended"]
    with pytest.raises(InvalidState):
        consultations.consultation_end(consultation_id=consultation.pk, ended_by="applicant")


def test_an_applicant_leaving_the_queue_abandons_it() -> None:
    make_topic()
    consultation = waiting_consultation()
    left = consultations.consultation_end(consultation_id=consultation.pk, ended_by="applicant")
    assert (left.status, left.ended_by, left.end_reason) == ("abandoned", "applicant", "left")
    assert _events(left) == ["joined", "abandoned"]


def test_an_ended_consultation_takes_no_more_messages(sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    consultations.consultation_end(consultation_id=consultation.pk, ended_by="applicant")
    with pytest.raises(InvalidState):
        say(consultation, "late", "halo?")
    with pytest.raises(InvalidState):
        calls.call_request(consultation_id=consultation.pk, by_role="applicant", audio_only=False)


def test_an_applicant_may_write_while_waiting_but_a_counselor_only_when_active(
    sari: StaffProfile,
) -> None:
    counselor_online(sari)
    consultation = waiting_consultation()  # offered to Sari at once
    entry, created = say(consultation, "w1", "Saya menunggu")
    assert created and entry.seq == 2
    with pytest.raises(InvalidState):
        say(consultation, "k1", "Belum diterima", by=sari)


def test_transfer_validation(sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    with pytest.raises(InvalidInput):
        consultations.consultation_transfer(staff=sari, consultation_id=consultation.pk)
    with pytest.raises(NotFound):
        consultations.consultation_transfer(
            staff=sari, consultation_id=consultation.pk, topic_code="no-such-topic"
        )
    with pytest.raises(NotFound):
        consultations.consultation_transfer(
            staff=sari, consultation_id=consultation.pk, counselor_id=sari.pk
        )
    supervisor = make_staff("dewi", role="supervisor")
    with pytest.raises(NotFound):
        consultations.consultation_transfer(
            staff=sari, consultation_id=consultation.pk, counselor_id=supervisor.pk
        )
    stored = reload(consultation)
    assert (stored.status, stored.counselor_id, stored.topic.code) == (
        "active",
        sari.pk,
        "building-approval",
    )
    assert _events(stored) == ["joined", "counselor_joined"]


def test_transfer_records_who_and_where_and_keeps_the_note_internal(sari: StaffProfile) -> None:
    make_topic("health-permit")
    consultation = active_consultation(sari)
    consultations.consultation_transfer(
        staff=sari, consultation_id=consultation.pk, topic_code="health-permit", note="klinik"
    )
    stored = reload(consultation)
    assert (stored.status, stored.counselor_id, stored.priority) == ("waiting", None, 1)
    # The applicant receives the transferred event: the note is not in it but an internal note.
    entry = TranscriptEntry.objects.get(consultation=stored, event="transferred")
    assert entry.data == {"from": "Sari", "topic": "health-permit"}
    note = InternalNote.objects.get(consultation=stored)
    assert (note.kind, note.text, note.author_id) == ("transfer", "klinik", sari.pk)


def test_a_call_is_recorded_with_its_duration_and_ends_with_the_consultation(
    sari: StaffProfile,
) -> None:
    consultation = active_consultation(sari)
    calls.call_request(
        consultation_id=consultation.pk, by_role="counselor", staff=sari, audio_only=True
    )
    calls.call_accept(consultation_id=consultation.pk, by_role="applicant", audio_only=False)
    assert reload(consultation).in_call
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=sari
    )
    stored = reload(consultation)
    assert not stored.in_call
    assert _events(stored) == [
        "joined",
        "counselor_joined",
        "call_requested",
        "call_started",
        "call_ended",
        "ended",
    ]
    ended = TranscriptEntry.objects.get(consultation=stored, event="call_ended")
    assert ended.data["reason"] == "consultation_ended" and ended.data["audio_only"] is True


def test_status_set_is_for_counselors_with_a_known_status(sari: StaffProfile) -> None:
    with pytest.raises(InvalidInput):
        presence.counselor_status_set(staff=sari, status="busy")
    supervisor = make_staff("dewi", role="supervisor")
    with pytest.raises(Forbidden):
        presence.counselor_status_set(staff=supervisor, status="available")
    presence.counselor_status_set(staff=sari, status="away")
    assert StaffProfile.objects.get(pk=sari.pk).status == "away"


def test_accepting_an_expired_offer_is_invalid_state_only_for_who_had_it(
    sari: StaffProfile,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    budi = make_staff("budi", topics=[make_topic()])
    counselor_online(sari)
    consultation = waiting_consultation()
    # Past its deadline but not yet swept: expired all the same.
    Consultation.objects.filter(pk=consultation.pk).update(
        offer_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(InvalidState):
        offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    assert reload(consultation).status == "offered"
    with pytest.raises(Forbidden):
        offers.offer_accept(staff=budi, consultation_id=consultation.pk)

    # Swept: back in the queue (Sari set away), then offered to Budi.
    assert offers.offer_expire(consultation_id=consultation.pk)
    counselor_online(budi)
    assert reload(consultation).counselor_id == budi.pk
    with pytest.raises(InvalidState):
        offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    # Someone never offered it learns nothing.
    dewi = make_staff("dewi", topics=[make_topic()])
    with pytest.raises(Forbidden):
        offers.offer_accept(staff=dewi, consultation_id=consultation.pk)
    assert reload(consultation).status == "offered"
