"""TURN credentials are short-lived and handed out only while the consultation is active.

coturn checks a credential's expiry when an allocation is made, not on the Refresh requests that
keep an existing one alive (docs/VIDEO.md), so a short lifetime does not cut a call: it bounds
how long after its consultation a leaked credential could still obtain a relay.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from consult.models import Consultation, EndedBy, StaffProfile
from consult.services import consultations, offers
from tests.support.applicants import join
from tests.support.staff import counselor_online, make_staff, make_topic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _turn(settings: Any) -> None:
    settings.LOKET = {
        **settings.LOKET,
        "TURN_URLS": ["turn:127.0.0.1:3478?transport=udp"],
        "TURN_SECRET": "coturn-static-auth-secret-for-tests",
    }


def _ice(joined: dict[str, Any]) -> Any:
    return Client().get(
        "/api/ice-servers",
        {"consultation": joined["consultation_id"]},
        headers={"Authorization": f"Bearer {joined['token']}"},
    )


def _active() -> tuple[StaffProfile, dict[str, Any], Consultation]:
    sari = make_staff("sari", topics=[make_topic()])
    counselor_online(sari)
    joined = join()
    consultation = Consultation.objects.get(public_id=joined["consultation_id"])
    offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    return sari, joined, consultation


def test_the_deployed_default_lifetime_is_five_minutes() -> None:
    assert django_settings.LOKET["TURN_TTL_SECONDS"] == 300
    _, joined, _ = _active()
    before = int(time.time())
    answer = _ice(joined)
    after = int(time.time())
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    (turn,) = answer.json()["iceServers"]
    expiry = int(turn["username"].split(":", 1)[0])
    assert turn["ttl"] == 300
    assert before + 300 <= expiry <= after + 300


def test_no_credential_once_the_consultation_has_ended() -> None:
    sari, joined, consultation = _active()
    assert _ice(joined).status_code == 200
    consultations.consultation_end(
        staff=sari, consultation_id=consultation.pk, ended_by=EndedBy.COUNSELOR
    )
    ended = _ice(joined)
    assert ended.status_code == 409
    assert ended.json()["error"]["code"] == "invalid_state"
    assert "iceServers" not in ended.json()
