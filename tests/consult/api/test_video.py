"""HTTP API for video: ICE servers for the two participants of an active consultation, and the
applicant's pre-call check with a real aiortc client peer (media on 127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from consult.models import Consultation, StaffProfile, StaffRole
from consult.rtc.precheck import PrecheckService, get_precheck_service
from consult.rtc.verdict import MIN_MEASUREMENT_S
from consult.services import consultations, offers
from tests.support.applicants import join
from tests.support.rtc import RtcClientFactory
from tests.support.sockets import Ws, counselor_and_applicant, staff_ws
from tests.support.staff import counselor_online, make_staff, make_topic

pytestmark = pytest.mark.django_db

TURN_SECRET = "coturn-static-auth-secret-for-tests"


@pytest.fixture
def turn(settings: Any) -> None:
    settings.LOKET = {
        **settings.LOKET,
        "STUN_URLS": ["stun:127.0.0.1:3478"],
        "TURN_URLS": ["turn:127.0.0.1:3478?transport=udp", "turns:127.0.0.1:5349"],
        "TURN_SECRET": TURN_SECRET,
        "TURN_TTL_SECONDS": 600,
    }


@pytest.fixture
def no_ice_servers(settings: Any) -> None:
    settings.LOKET = {
        **settings.LOKET,
        "STUN_URLS": [],
        "TURN_URLS": [],
        "TURN_SECRET": "",
    }


def _active(staff: StaffProfile, **join_fields: Any) -> dict[str, Any]:
    """A consultation (joined over HTTP, so its token is known) that ``staff`` accepted."""
    counselor_online(staff)
    joined = join(**join_fields)
    consultation = Consultation.objects.get(public_id=joined["consultation_id"])
    offers.offer_accept(staff=staff, consultation_id=consultation.pk)
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
    assert _code(Client().get("/api/ice-servers", {"consultation": cid})) == (
        401,
        "unauthenticated",
    )
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
    consultations.consultation_end(
        consultation_id=Consultation.objects.get(public_id=cid).pk,
        ended_by="counselor",
        staff=sari,
    )
    assert _code(_as_applicant(joined)) == (409, "invalid_state")
    assert _code(_as_staff(sari, cid)) == (409, "invalid_state")


# ---------------------------------------------------------------- pre-call check over HTTP


@pytest.fixture
async def precheck_service() -> AsyncIterator[PrecheckService]:
    """The process's service, on this test's event loop; every peer is closed afterwards."""
    service = get_precheck_service()
    yield service
    await asyncio.wait_for(service.shutdown(), 10)
    assert service.peer_count == 0


def _bearer(joined: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {joined['token']}"}


async def _post_offer(joined: dict[str, Any], body: dict[str, Any], cid: str = "") -> Any:
    return await AsyncClient().post(
        f"/api/consultations/{cid or joined['consultation_id']}/precheck",
        data=json.dumps(body),
        content_type="application/json",
        headers=_bearer(joined),
    )


@sync_to_async
def _verdict(public_id: str) -> tuple[str, list[str], bool]:
    stored = Consultation.objects.get(public_id=public_id)
    return stored.precheck_verdict, stored.precheck_reasons, stored.precheck_at is not None


@pytest.mark.django_db(transaction=True)
async def test_precheck_over_http_returns_the_picture_and_stores_the_verdict(
    precheck_service: PrecheckService, rtc_client: RtcClientFactory
) -> None:
    _, sari, joined = await counselor_and_applicant(mode="video")
    cid = joined["consultation_id"]
    # The counselor is offered the consultation before the check: the verdict reaches them live.
    counselor = await staff_ws(sari)
    await counselor.send(id="avail", type="status.set", status="available")
    offered = await counselor.recv_until("consultation.state", status="offered")
    assert offered["precheck_verdict"] is None

    client = await rtc_client()
    response = await _post_offer(joined, {"sdp": client.offer.sdp, "type": "offer"})
    assert response.status_code == 201, response.content
    answer = response.json()
    assert set(answer) == {"check_id", "sdp", "type"} and answer["type"] == "answer"
    await client.accept(answer)
    await asyncio.wait_for(client.first_video, 10)  # its own picture, back through the server

    check_url = f"/api/consultations/{cid}/precheck/{answer['check_id']}"
    report = (await AsyncClient().get(check_url, headers=_bearer(joined))).json()
    if "short_measurement" in report["reasons"]:
        assert (await _verdict(cid))[0] == ""  # an early, rough verdict is not stored

    async def measured() -> dict[str, Any]:
        while True:
            response = await AsyncClient().get(check_url, headers=_bearer(joined))
            assert response.status_code == 200, response.content
            body: dict[str, Any] = response.json()
            if body["duration_s"] >= MIN_MEASUREMENT_S + 0.2:
                return body
            await asyncio.sleep(0.2)

    report = await asyncio.wait_for(measured(), 15)
    assert (report["state"], report["verdict"]) == ("running", "ready"), report
    assert report["video_frames"] > 0 and report["audio_packets"] > 0
    verdict, reasons, dated = await _verdict(cid)
    assert (verdict, reasons, dated) == ("ready", report["reasons"], True)
    state = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert state["precheck_verdict"] == "ready"
    # The applicant sees it too.
    applicant = Ws("/ws/applicant/")
    await applicant.connect()
    await applicant.send(type="auth", token=joined["token"], last_seq=0)
    ready = await applicant.recv_until("ready")
    assert ready["consultations"][0]["precheck_verdict"] == "ready"
    await applicant.close()

    response = await AsyncClient().delete(check_url, headers=_bearer(joined))
    assert response.status_code == 200, response.content
    final = response.json()
    assert (final["state"], final["end_reason"], final["verdict"]) == ("ended", "stopped", "ready")
    assert precheck_service.peer_count == 0
    # Stopped is stopped: a second DELETE answers with the same final report.
    again = await AsyncClient().delete(check_url, headers=_bearer(joined))
    assert (again.status_code, again.json()["end_reason"]) == (200, "stopped")
    await counselor.close()


@pytest.mark.django_db(transaction=True)
async def test_precheck_errors(
    precheck_service: PrecheckService,
    rtc_client: RtcClientFactory,
    settings: Any,
) -> None:
    settings.LOKET = {**settings.LOKET, "PRECHECK_MAX_CONCURRENT": 1}
    await sync_to_async(make_topic)()
    ani = await sync_to_async(join)(mode="video")
    budi = await sync_to_async(join)(mode="video", name="Budi")
    chat = await sync_to_async(join)(name="Citra")
    offer = {"sdp": (await rtc_client()).offer.sdp, "type": "offer"}

    async def code(response: Any) -> tuple[int, str]:
        return response.status_code, response.json()["error"]["code"]

    # Who and what may start a check.
    assert await code(await _post_offer(chat, offer)) == (409, "invalid_state")  # chose chat
    assert await code(await _post_offer(budi, offer, cid=ani["consultation_id"])) == (
        403,
        "forbidden",
    )
    no_token = await AsyncClient().post(
        f"/api/consultations/{ani['consultation_id']}/precheck",
        data=json.dumps(offer),
        content_type="application/json",
    )
    assert await code(no_token) == (401, "token_invalid")
    # What it takes.
    bad = {"sdp": "v=0\r\n", "type": "offer"}
    assert await code(await _post_offer(ani, bad)) == (400, "precheck_invalid_offer")
    assert await code(await _post_offer(ani, {**offer, "type": "answer"})) == (
        400,
        "precheck_invalid_offer",
    )
    assert await code(await _post_offer(ani, {"sdp": 5})) == (400, "invalid_input")
    form = await AsyncClient().post(
        f"/api/consultations/{ani['consultation_id']}/precheck",
        data={"sdp": "x"},
        headers=_bearer(ani),
    )
    assert await code(form) == (400, "invalid_input")
    assert precheck_service.peer_count == 0

    # One check at a time in this process (the limit is 1 here): Budi has to wait.
    started = await _post_offer(ani, offer)
    assert started.status_code == 201, started.content
    check_id = started.json()["check_id"]
    other_offer = {"sdp": (await rtc_client()).offer.sdp, "type": "offer"}
    assert await code(await _post_offer(budi, other_offer)) == (503, "precheck_busy")

    # A check is its consultation's own: Budi cannot read or stop Ani's.
    budi_url = f"/api/consultations/{budi['consultation_id']}/precheck/{check_id}"
    assert await code(await AsyncClient().get(budi_url, headers=_bearer(budi))) == (
        404,
        "precheck_not_found",
    )
    assert await code(await AsyncClient().delete(budi_url, headers=_bearer(budi))) == (
        404,
        "precheck_not_found",
    )
    ani_url = f"/api/consultations/{ani['consultation_id']}/precheck/{check_id}"
    assert await code(await AsyncClient().get(ani_url, headers=_bearer(budi))) == (
        403,
        "forbidden",
    )
    unknown = f"/api/consultations/{ani['consultation_id']}/precheck/no-such-check"
    assert await code(await AsyncClient().get(unknown, headers=_bearer(ani))) == (
        404,
        "precheck_not_found",
    )
    assert precheck_service.running_count == 1
    stopped = await AsyncClient().delete(ani_url, headers=_bearer(ani))
    assert stopped.status_code == 200
    # The client never answered: nothing arrived, and that is what is stored.
    assert stopped.json()["verdict"] == "connection_problem"
    assert (await _verdict(ani["consultation_id"]))[0] == "connection_problem"
    assert (await _post_offer(budi, other_offer)).status_code == 201
