"""Shared test helpers: staff, applicants, and WebSocket clients on the real ASGI application."""

from __future__ import annotations

import itertools
import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from config.asgi import application
from consult.models import (
    Connection,
    ConnectionRole,
    Consultation,
    CounselorStatus,
    StaffProfile,
    StaffRole,
    Topic,
)
from consult.services import lifecycle, presence

ORIGIN = (b"origin", b"http://127.0.0.1")
# A browser's handshake names the host it connects to; the Origin must be that same site.
HOST = (b"host", b"127.0.0.1")


def make_topic(code: str = "building-approval") -> Topic:
    topic, _ = Topic.objects.get_or_create(
        code=code, defaults={"name_id": f"Topik {code}", "name_en": f"Topic {code}"}
    )
    return topic


def make_staff(
    username: str,
    *,
    role: str = StaffRole.COUNSELOR,
    topics: list[Topic] | None = None,
    capacity: int = 3,
) -> StaffProfile:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    staff = StaffProfile.objects.create(
        user=user, role=role, display_name=username.title(), capacity=capacity
    )
    if topics:
        staff.topics.set(topics)
    return staff


def session_cookie(staff: StaffProfile) -> bytes:
    client = Client()
    client.force_login(staff.user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={value}".encode()


_phones = itertools.count(1)


def new_phone() -> str:
    """A phone number no other applicant of this test run has: one contact may hold only one open
    consultation, and most tests want several applicants."""
    return f"0812{next(_phones):08d}"


def join(topic: str = "building-approval", **overrides: Any) -> dict[str, Any]:
    body = {"name": "Ani", "phone": new_phone(), "topic": topic, "mode": "chat"}
    body.update(overrides)
    response = Client().post(
        "/api/consultations", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


class Ws:
    """A WebSocket client on the real ASGI application, with frame helpers."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.comm = WebsocketCommunicator(
            application, path, headers=[ORIGIN, HOST, *(headers or [])]
        )

    async def connect(self) -> None:
        connected, _ = await self.comm.connect()
        assert connected

    async def send(self, **frame: Any) -> None:
        await self.comm.send_to(text_data=json.dumps(frame))

    async def send_raw(self, text: str) -> None:
        await self.comm.send_to(text_data=text)

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        return dict(json.loads(await self.comm.receive_from(timeout=timeout)))

    async def recv_until(self, kind: str, timeout: float = 3, **match: Any) -> dict[str, Any]:
        """Frames until one of type ``kind`` (matching ``match``); the others are discarded."""
        for _ in range(200):
            frame = await self.recv(timeout)
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame
        raise AssertionError(f"no {kind} frame")

    async def nothing(self, timeout: float = 0.3) -> bool:
        return bool(await self.comm.receive_nothing(timeout=timeout))

    async def close(self) -> None:
        await self.comm.disconnect()


async def applicant_ws(joined: dict[str, Any], last_seq: int | None = None) -> Ws:
    ws = Ws("/ws/applicant/")
    await ws.connect()
    await ws.send(type="auth", token=joined["token"], last_seq=last_seq)
    ready = await ws.recv()
    assert ready["type"] == "ready", ready
    return ws


async def staff_ws(staff: StaffProfile) -> Ws:
    cookie = await sync_to_async(session_cookie)(staff)
    ws = Ws("/ws/staff/", headers=[(b"cookie", cookie)])
    await ws.connect()
    ready = await ws.recv()
    assert ready["type"] == "ready", ready
    return ws


async def close_code(ws: Ws, timeout: float = 3) -> int:
    """The code the server closed ``ws`` with (the next output must be the close)."""
    output = await ws.comm.receive_output(timeout)
    assert output["type"] == "websocket.close", output
    return int(output.get("code", 1000))


async def accepted(staff: StaffProfile, joined: dict[str, Any]) -> tuple[Ws, Ws]:
    """The applicant of ``joined`` and ``staff`` (serving its topic, not yet available) in an
    active consultation; both sockets are drained up to the ``active`` state."""
    cid = joined["consultation_id"]
    applicant = await applicant_ws(joined)
    await applicant.recv_until("queue.position")
    counselor = await staff_ws(staff)
    await counselor.send(id="avail", type="status.set", status="available")
    await counselor.recv_until("consultation.state", status="offered", consultation_id=cid)
    await counselor.send(id="accept", type="offer.accept", consultation_id=cid)
    await counselor.recv_until("ack", id="accept")
    # The entry is published before the state change (both after the same commit).
    await counselor.recv_until("entry", consultation_id=cid, event="counselor_joined")
    await counselor.recv_until("consultation.state", consultation_id=cid, status="active")
    await applicant.recv_until("entry", event="counselor_joined")
    await applicant.recv_until("consultation.state", status="active")
    return applicant, counselor


async def drain(ws: Ws, quiet: float = 0.2) -> list[dict[str, Any]]:
    """Every frame until ``ws`` has been quiet for ``quiet`` seconds (at most 100 frames)."""
    frames: list[dict[str, Any]] = []
    for _ in range(100):
        if await ws.nothing(quiet):
            return frames
        frames.append(await ws.recv())
    raise AssertionError(f"still receiving after 100 frames: {frames[-3:]}")


# ---------------------------------------------------------------- service-level helpers


def counselor_online(staff: StaffProfile, *, available: bool = True) -> Connection:
    """Record a live connection for ``staff`` as a server process would, and (by default) make
    them available, which runs routing."""
    connection = presence.connection_open(
        role=ConnectionRole.COUNSELOR,
        server_id="test-server",
        channel_name=f"test.staff.{staff.pk}.{Connection.objects.count()}",
        staff=staff,
    )
    if available:
        lifecycle.counselor_status_set(staff=staff, status=CounselorStatus.AVAILABLE)
    return connection


def waiting_consultation(topic: str = "building-approval", **overrides: Any) -> Consultation:
    """A new applicant in the queue, through the join service."""
    fields: dict[str, Any] = {"name": "Ani", "phone": new_phone(), "topic_code": topic}
    fields.update(overrides)
    consultation, _ = lifecycle.consultation_join(applicant_grace_seconds=60, **fields)
    return Consultation.objects.get(pk=consultation.pk)


def reload(consultation: Consultation) -> Consultation:
    return Consultation.objects.select_related("counselor").get(pk=consultation.pk)
