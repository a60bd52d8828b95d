"""HTTP API for video: ICE servers for the two participants of an active consultation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from django.test import Client

from consult.models import Consultation, StaffProfile, StaffRole
from consult.services import lifecycle
from tests.fixtures import counselor_online, join, make_staff, make_topic

pytestmark = pytest.mark.django_db

TURN_SECRET = "coturn-static-auth-secret-for-tests"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sari() -> StaffProfile:
    return make_staff("sari", topics=[make_topic()])


@pytest.fixture
def turn(settings: Any) -> None:
    settings.LOKET_STUN_URLS = ["stun:127.0.0.1:3478"]
    settings.LOKET_TURN_URLS = ["turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"]
    settings.LOKET_TURN_SECRET = TURN_SECRET
    settings.LOKET_TURN_TTL_SECONDS = 600


@pytest.fixture
def no_ice_servers(settings: Any) -> None:
    settings.LOKET_STUN_URLS = []
    settings.LOKET_TURN_URLS = []
    settings.LOKET_TURN_SECRET = ""


def _active(staff: StaffProfile, **join_fields: Any) -> dict[str, Any]:
    """A consultation (joined over HTTP, so its token is known) that ``staff`` accepted."""
    counselor_online(staff)
    joined = join(**join_fields)
    consultation = Consultation.objects.get(public_id=joined["consultation_id"])
    lifecycle.offer_accept(staff=staff, consultation_id=consultation.pk)
    return joined


def _as_applicant(joined: dict[str, Any], cid: str | None = None) -> Any:
    return Client().get(
        "/api/ice-servers",
        {"consultation": cid or joined["consultation_id"]},
        headers={"Authorization": f"Bearer {joined['token']}"},
    )


def _as_staff(staff: StaffProfile, cid: str) -> Any:
    client = Client()
    client.force_login(staff.user)
    return client.get("/api/ice-servers", {"consultation": cid})


def _check_turn(server: dict[str, Any], participant: str) -> None:
    assert server["urls"] == ["turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"]
    expiry, _, who = server["username"].partition(":")
    assert who == participant
    assert abs(int(expiry) - (time.time() + 600)) < 30
    expected = hmac.new(TURN_SECRET.encode(), server["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(server["credential"]) == expected


def test_both_participants_get_their_own_turn_credentials(sari: StaffProfile, turn: None) -> None:
    joined = _active(sari)
    cid = joined["consultation_id"]

    response = _as_applicant(joined)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    stun, relay = response.json()["iceServers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    _check_turn(relay, f"applicant-{cid}")

    response = _as_staff(sari, cid)
    assert response.status_code == 200, response.content
    _check_turn(response.json()["iceServers"][1], f"counselor-{cid}")


def test_no_ice_servers_configured_means_host_candidates_only(
    sari: StaffProfile, no_ice_servers: None
) -> None:
    joined = _active(sari)
    assert _as_applicant(joined).json() == {"iceServers": []}
    assert _as_staff(sari, joined["consultation_id"]).json() == {"iceServers": []}


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_only_the_participants_of_an_active_consultation(sari: StaffProfile, turn: None) -> None:
    joined = _active(sari)
    cid = joined["consultation_id"]
    # Budi's consultation is offered to Sari, not yet active.
    waiting = join(name="Budi")
    citra = make_staff("citra", topics=[make_topic()])
    dewi = make_staff("dewi", role=StaffRole.SUPERVISOR)

    assert _code(_as_applicant(waiting, cid)) == (403, "forbidden")  # someone else's token
    assert _code(_as_staff(citra, cid)) == (403, "forbidden")
    assert _code(_as_staff(dewi, cid)) == (403, "forbidden")
    assert _code(Client().get("/api/ice-servers", {"consultation": cid})) == (403, "forbidden")
    bad_token = {"Authorization": "Bearer not-a-token"}
    response = Client().get("/api/ice-servers", {"consultation": cid}, headers=bad_token)
    assert _code(response) == (401, "token_invalid")
    response = Client().get(
        "/api/ice-servers", {"consultation": cid}, headers={"Authorization": "Basic abc"}
    )
    assert _code(response) == (401, "token_invalid")
    assert _code(_as_applicant(joined, "not-a-uuid")) == (404, "not_found")

    # Not active: waiting or offered, and ended.
    assert _code(_as_applicant(waiting)) == (409, "invalid_state")
    lifecycle.consultation_end(
        consultation_id=Consultation.objects.get(public_id=cid).pk,
        ended_by="counselor",
        staff=sari,
    )
    assert _code(_as_applicant(joined)) == (409, "invalid_state")
    assert _code(_as_staff(sari, cid)) == (409, "invalid_state")
