"""Time-driven work through the sweeper: offers that expire, counselors and applicants who leave."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from consult.models import (
    Connection,
    ConnectionRole,
    Consultation,
    ServerProcess,
    StaffProfile,
    TranscriptEntry,
)
from consult.services import offers, presence
from consult.services.sweeper import sweep_due
from tests.support.applicants import offered_with_a_free_colleague, reload, waiting_consultation
from tests.support.staff import counselor_online, make_staff

pytestmark = pytest.mark.django_db


def _past(seconds: int = 1) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


def _events(consultation: Consultation) -> list[str]:
    return list(
        TranscriptEntry.objects.filter(consultation=consultation)
        .order_by("seq")
        .values_list("event", flat=True)
    )


def _applicant_online(consultation: Consultation) -> Connection:
    return presence.connection_open(
        role=ConnectionRole.APPLICANT,
        server_id="test-server",
        channel_name=f"test.applicant.{consultation.pk}",
        consultation=consultation,
    )


def _process_dies(server_id: str) -> None:
    """The process stops beating: its heartbeat lapses."""
    ServerProcess.objects.filter(server_id=server_id).update(expires_at=_past())


def _status(staff: StaffProfile) -> str:
    return StaffProfile.objects.get(pk=staff.pk).status


def test_an_unanswered_offer_is_re_offered_and_the_silent_counselor_set_away(topic: Any) -> None:
    sari, budi, consultation = offered_with_a_free_colleague(topic)
    assert reload(consultation).counselor_id == sari.pk

    assert sweep_due()["offers"] == 0  # not yet due
    assert reload(consultation).counselor_id == sari.pk
    Consultation.objects.filter(pk=consultation.pk).update(offer_expires_at=_past())
    assert sweep_due()["offers"] == 1
    assert reload(consultation).counselor_id == budi.pk
    assert _status(sari) == "away"
    assert _status(budi) == "available"
    assert sweep_due()["offers"] == 0  # handled once


def test_an_expired_offer_with_nobody_else_waits_at_its_place(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    first = waiting_consultation()
    Consultation.objects.filter(pk=first.pk).update(offer_expires_at=_past())
    sweep_due()
    stored = reload(first)
    assert (stored.status, stored.counselor_id, stored.priority) == ("waiting", None, 0)
    assert _status(sari) == "away"


def test_a_counselor_gone_past_the_grace_period_has_consultations_requeued_at_front(
    topic: Any,
) -> None:
    sari = make_staff("sari", topics=[topic], capacity=1)
    budi = make_staff("budi", topics=[topic], capacity=1)
    connection = counselor_online(sari)
    held = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    earlier = waiting_consultation(name="Budi")  # waiting longer than the requeue
    counselor_online(budi, available=False)

    presence.connection_close(connection_id=connection.pk)
    deadline = StaffProfile.objects.get(pk=sari.pk).grace_deadline
    assert deadline is not None and deadline > timezone.now()
    assert sweep_due()["counselors"] == 0  # still within grace: nothing happens
    assert reload(held).status == "active"

    StaffProfile.objects.filter(pk=sari.pk).update(grace_deadline=_past())
    assert sweep_due()["counselors"] == 1
    stored = reload(held)
    assert (stored.status, stored.counselor_id, stored.priority) == ("waiting", None, 1)
    assert _events(stored)[-1] == "requeued"
    requeued = TranscriptEntry.objects.get(consultation=stored, event="requeued")
    assert requeued.data == {"reason": "counselor_disconnected"}
    assert _status(sari) == "offline"
    # At the front: the next free counselor takes it before the one who waited longer.
    presence.counselor_status_set(staff=budi, status="available")
    assert reload(held).counselor_id == budi.pk
    assert reload(earlier).status == "waiting"


def test_reconnecting_within_the_grace_period_keeps_everything(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    connection = counselor_online(sari)
    held = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    presence.connection_close(connection_id=connection.pk)
    counselor_online(sari, available=False)
    assert StaffProfile.objects.get(pk=sari.pk).grace_deadline is None
    sweep_due()
    assert (reload(held).status, reload(held).counselor_id) == ("active", sari.pk)


def test_closing_one_of_two_connections_starts_no_grace_period(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    first = counselor_online(sari)
    counselor_online(sari, available=False)
    presence.connection_close(connection_id=first.pk)
    assert StaffProfile.objects.get(pk=sari.pk).grace_deadline is None


def test_a_lapsed_heartbeat_loses_the_counselor_at_once(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    budi = make_staff("budi", topics=[topic], capacity=1)
    connection = counselor_online(sari)
    active = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=active.pk)
    offered = waiting_consultation(name="Budi")
    assert reload(offered).counselor_id == sari.pk
    counselor_online(budi, available=False, server_id="other-server")

    # The server process holding Sari's connection died: nobody renews its heartbeat.
    _process_dies("test-server")
    done = sweep_due()
    assert (done["reaped"], done["counselors"]) == (1, 1)
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert _status(sari) == "offline"
    requeued = reload(active)
    assert (requeued.status, requeued.priority) == ("waiting", 1)
    assert "requeued" in _events(requeued)
    # Only offered, never accepted: it goes back without a requeue note.
    back = reload(offered)
    assert (back.status, back.counselor_id) == ("waiting", None)
    assert "requeued" not in _events(back)
    presence.counselor_status_set(staff=budi, status="available")
    assert reload(active).counselor_id == budi.pk


def test_a_renewed_heartbeat_keeps_the_counselor(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    _process_dies("test-server")
    presence.process_beat(server_id="test-server")
    assert sweep_due()["reaped"] == 0
    assert _status(sari) == "available"


def test_one_heartbeat_renews_every_connection_of_its_process(topic: Any) -> None:
    consultations = [waiting_consultation(name=f"A{n}") for n in range(3)]
    connections = [_applicant_online(c) for c in consultations]
    assert ServerProcess.objects.filter(server_id="test-server").count() == 1
    _process_dies("test-server")
    assert Connection.objects.live(timezone.now()).count() == 0
    presence.process_beat(server_id="test-server")
    live = Connection.objects.live(timezone.now())
    assert set(live.values_list("pk", flat=True)) == {c.pk for c in connections}


def test_a_lapsed_process_is_reaped_alone_and_its_heartbeat_forgotten(topic: Any) -> None:
    dead = waiting_consultation(name="Ani")
    kept = waiting_consultation(name="Budi")
    presence.connection_open(
        role=ConnectionRole.APPLICANT, server_id="dead", channel_name="t.dead", consultation=dead
    )
    alive = presence.connection_open(
        role=ConnectionRole.APPLICANT, server_id="alive", channel_name="t.alive", consultation=kept
    )
    _process_dies("dead")

    assert sweep_due()["reaped"] == 1
    assert list(Connection.objects.values_list("pk", flat=True)) == [alive.pk]
    assert list(ServerProcess.objects.values_list("server_id", flat=True)) == ["alive"]
    # The applicant of the dead process gets the grace period to reconnect; the other, nothing.
    assert reload(dead).applicant_grace_deadline is not None
    assert reload(kept).applicant_grace_deadline is None
    assert sweep_due()["reaped"] == 0


def test_a_connection_whose_process_has_no_heartbeat_is_reaped(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    # E.g. rows from before the heartbeat table, or of a process that died before it beat.
    ServerProcess.objects.all().delete()
    assert sweep_due()["reaped"] == 1
    assert not Connection.objects.exists()
    assert _status(sari) == "offline"


def test_a_process_that_beats_again_after_its_heartbeat_was_forgotten_is_live(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    ServerProcess.objects.all().delete()
    presence.process_beat(server_id="test-server")  # a stalled process resumes
    assert sweep_due()["reaped"] == 0
    assert _status(sari) == "available"


def test_an_applicant_gone_past_the_grace_period_is_abandoned(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    consultation = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    connection = _applicant_online(consultation)
    assert reload(consultation).applicant_grace_deadline is None

    presence.connection_close(connection_id=connection.pk)
    assert reload(consultation).applicant_grace_deadline is not None
    assert sweep_due()["abandoned"] == 0
    Consultation.objects.filter(pk=consultation.pk).update(applicant_grace_deadline=_past())
    assert sweep_due()["abandoned"] == 1
    stored = reload(consultation)
    assert (stored.status, stored.ended_by, stored.end_reason) == (
        "abandoned",
        "system",
        "applicant_disconnected",
    )
    assert _events(stored)[-1] == "abandoned"
    # Sari's seat is free again for the next applicant.
    assert reload(waiting_consultation(name="Budi")).counselor_id == sari.pk


def test_an_applicant_who_never_connects_is_abandoned_after_the_grace(topic: Any) -> None:
    consultation = waiting_consultation()
    assert reload(consultation).applicant_grace_deadline is not None
    Consultation.objects.filter(pk=consultation.pk).update(applicant_grace_deadline=_past())
    sweep_due()
    assert reload(consultation).status == "abandoned"


def test_an_applicant_reconnecting_in_time_is_kept(topic: Any) -> None:
    consultation = waiting_consultation()
    connection = _applicant_online(consultation)
    presence.connection_close(connection_id=connection.pk)
    _applicant_online(consultation)
    assert reload(consultation).applicant_grace_deadline is None
    sweep_due()
    assert reload(consultation).status == "waiting"
