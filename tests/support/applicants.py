"""Applicants in the queue (over the HTTP API as a browser joins, or through the join service),
consultations a counselor has taken, and what is said in them."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from consult.models import Consultation, StaffProfile, Topic, TranscriptEntry
from consult.services import consultations, offers
from consult.services.transcript import transcript_append
from tests.support.phones import new_phone
from tests.support.staff import counselor_online, make_staff


def join(topic: str = "building-approval", **overrides: Any) -> dict[str, Any]:
    body = {"name": "Ani", "phone": new_phone(), "topic": topic, "mode": "chat"}
    body.update(overrides)
    response = Client().post(
        "/api/consultations", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def waiting_consultation(topic: str = "building-approval", **overrides: Any) -> Consultation:
    """A new applicant in the queue, through the join service."""
    fields: dict[str, Any] = {"name": "Ani", "phone": new_phone(), "topic_code": topic}
    fields.update(overrides)
    consultation, _ = consultations.consultation_join(applicant_grace_seconds=60, **fields)
    return Consultation.objects.get(pk=consultation.pk)


def reload(consultation: Consultation) -> Consultation:
    return Consultation.objects.select_related("counselor").get(pk=consultation.pk)


def active_consultation(staff: StaffProfile, **join: Any) -> Consultation:
    """``staff`` comes online (available) and accepts a new applicant's consultation (``join``:
    ``waiting_consultation`` arguments); the consultation as it is then."""
    counselor_online(staff)
    consultation = waiting_consultation(**join)
    offers.offer_accept(staff=staff, consultation_id=consultation.pk)
    return reload(consultation)


def offered_with_a_free_colleague(
    topic: Topic,
) -> tuple[StaffProfile, StaffProfile, Consultation]:
    """Counselors sari and budi on ``topic``: sari comes online and a new applicant's
    consultation is offered to her, then budi comes online too (free). Sari, budi and the
    consultation."""
    sari = make_staff("sari", topics=[topic])
    budi = make_staff("budi", topics=[topic])
    counselor_online(sari)
    consultation = waiting_consultation()
    counselor_online(budi)
    return sari, budi, consultation


def say(
    consultation: Consultation | int,
    client_msg_id: str,
    text: str = "halo",
    *,
    by: StaffProfile | None = None,
) -> tuple[TranscriptEntry, bool]:
    """A message through ``transcript_append``: the applicant's, or counselor ``by``'s, in
    ``consultation`` (or the consultation of that id); the entry and whether it is new."""
    return transcript_append(
        consultation_id=consultation if isinstance(consultation, int) else consultation.pk,
        author_role="applicant" if by is None else "counselor",
        author=by,
        text=text,
        client_msg_id=client_msg_id,
    )
