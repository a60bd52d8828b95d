"""The staff socket's session checks through the real ASGI application (one process, the
in-memory channel layer); the same across real Daphne processes is test_sessions.py."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from consult.models import StaffRole
from tests.support.sockets import Ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


async def close_code(ws: Ws, timeout: float = 5) -> int:
    """The code the server closed ``ws`` with; frames sent before the close are skipped, but
    none may be an ack (nothing is handled once the session has ended)."""
    while True:
        output = await ws.comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            return int(output.get("code", 1000))
        assert '"type":"ack"' not in output.get("text", ""), output


async def _console(role: str = StaffRole.COUNSELOR) -> tuple[Client, Ws, Any]:
    staff = await sync_to_async(lambda: make_staff("sari", role=role, topics=[make_topic()]))()
    http = Client()
    await sync_to_async(http.force_login)(staff.user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"
    ws = Ws("/ws/staff/", headers=[(b"cookie", cookie.encode())])
    await ws.connect()
    await ws.recv_until("ready")
    return http, ws, staff


@pytest.mark.parametrize("role", [StaffRole.COUNSELOR, StaffRole.SUPERVISOR])
async def test_logout_closes_the_socket_with_4401(role: str) -> None:
    http, ws, _ = await _console(role)
    assert (await sync_to_async(http.post)("/logout/")).status_code == 302
    assert await close_code(ws) == 4401
    await ws.close()


async def test_a_password_change_ends_the_other_sessions_sockets() -> None:
    _, ws, staff = await _console()

    def change_password() -> None:
        user = get_user_model().objects.get(pk=staff.user_id)
        user.set_password("a-new-password-93x")
        user.save()

    await sync_to_async(change_password)()
    assert await close_code(ws) == 4401
    await ws.close()


async def test_a_deleted_session_stops_the_next_frame(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "SESSION_FRAME_RECHECK": 0}
    http, ws, staff = await _console()
    from django.contrib.sessions.models import Session

    key = http.cookies[settings.SESSION_COOKIE_NAME].value
    await sync_to_async(Session.objects.filter(session_key=key).delete)()
    await ws.send(id="s1", type="status.set", status="available")
    assert await close_code(ws) == 4401
    await ws.close()
    await sync_to_async(staff.refresh_from_db)()
    assert staff.status == "offline"
