"""Who may open a connection: applicant tokens, staff sessions, and the Origin check."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client

from config.asgi import application
from consult.models import Connection, Consultation, StaffRole
from consult.services.tokens import applicant_token_issue, new_token_nonce
from tests.support.applicants import join
from tests.support.sockets import Ws, applicant_ws, close_code, staff_ws
from tests.support.staff import make_staff, make_topic, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def _auth_refused(token: Any, code: str) -> None:
    ws = Ws("/ws/applicant/")
    await ws.connect()
    await ws.send(id="a", type="auth", token=token)
    error = await ws.recv()
    assert (error["type"], error["code"], error["id"]) == ("error", code, "a")
    assert await close_code(ws) == 4401
    await ws.close()
    assert await sync_to_async(Connection.objects.count)() == 0


async def test_a_bad_token_closes_with_4401() -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    token = joined["token"]
    await _auth_refused("not-a-token", "token_invalid")
    # One changed character of a real token.
    await _auth_refused(token[:-1] + ("A" if token[-1] != "A" else "B"), "token_invalid")


async def test_an_expired_token_closes_with_4401() -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    consultation = await sync_to_async(Consultation.objects.get)(
        public_id=joined["consultation_id"]
    )
    # Issued 13 hours ago; tokens live 12 hours.
    past = SimpleNamespace(time=lambda: time.time() - 13 * 3600)
    with mock.patch.object(signing, "time", past):
        old_token = applicant_token_issue(consultation=consultation)
    await _auth_refused(old_token, "token_expired")
    # The same consultation's fresh token still works.
    ws = await applicant_ws(joined)
    await ws.close()


async def test_an_expired_token_by_a_shorter_max_age(settings: Any) -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    settings.LOKET = {**settings.LOKET, "TOKEN_MAX_AGE": -1}
    await _auth_refused(joined["token"], "token_expired")


async def test_a_revoked_token_closes_with_4401() -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    await sync_to_async(Consultation.objects.filter(public_id=joined["consultation_id"]).update)(
        token_nonce=new_token_nonce()
    )
    await _auth_refused(joined["token"], "token_invalid")


async def test_a_second_auth_on_the_same_connection_is_refused() -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    ws = await applicant_ws(joined)
    await ws.recv_until("queue.position")
    await ws.send(id="again", type="auth", token=joined["token"])
    error = await ws.recv()
    assert (error["code"], error["id"]) == ("invalid_state", "again")
    await ws.send(id="p", type="ping")
    assert (await ws.recv())["type"] == "pong"
    await ws.close()


async def test_staff_socket_without_a_session_closes_with_4401() -> None:
    ws = Ws("/ws/staff/")
    await ws.connect()
    error = await ws.recv()
    assert (error["type"], error["code"]) == ("error", "forbidden")
    assert await close_code(ws) == 4401
    await ws.close()


async def test_staff_socket_with_a_forged_session_closes_with_4401() -> None:
    ws = Ws("/ws/staff/", headers=[(b"cookie", b"sessionid=forged0123456789abcdef")])
    await ws.connect()
    assert (await ws.recv())["code"] == "forbidden"
    assert await close_code(ws) == 4401
    await ws.close()


async def test_a_logged_in_user_who_is_not_staff_closes_with_4403() -> None:
    @sync_to_async
    def plain_user_cookie() -> bytes:
        user = get_user_model().objects.create_user(username="warga", password="pw-warga")
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    ws = Ws("/ws/staff/", headers=[(b"cookie", await plain_user_cookie())])
    await ws.connect()
    assert (await ws.recv())["code"] == "forbidden"
    assert await close_code(ws) == 4403
    await ws.close()
    assert await sync_to_async(Connection.objects.count)() == 0


@pytest.mark.parametrize("path", ["/ws/applicant/", "/ws/staff/"])
@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", None])
async def test_a_wrong_origin_is_rejected_at_the_handshake(path: str, origin: bytes | None) -> None:
    staff = await sync_to_async(make_staff)("sari", role=StaffRole.SUPERVISOR)
    cookie = await sync_to_async(session_cookie)(staff)
    headers = [(b"cookie", cookie)]
    if origin is not None:
        headers.append((b"origin", origin))
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()
    # The same session with the right Origin is admitted.
    ws = await staff_ws(staff)
    await ws.close()


async def test_the_right_origin_with_an_allowed_host_port_is_admitted() -> None:
    await sync_to_async(make_topic)()
    joined = await sync_to_async(join)()
    comm = WebsocketCommunicator(
        application,
        "/ws/applicant/",
        headers=[(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")],
    )
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "auth", "token": joined["token"]})
    assert (await comm.receive_json_from())["type"] == "ready"
    await comm.disconnect()


async def test_no_auth_within_the_timeout_closes_with_4408(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "AUTH_TIMEOUT": 0.1}
    ws = Ws("/ws/applicant/")
    await ws.connect()
    assert await close_code(ws, timeout=3) == 4408
    await ws.close()
