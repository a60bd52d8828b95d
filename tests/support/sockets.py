"""WebSocket clients on the real ASGI application (channels' WebsocketCommunicator), with frame
helpers, for the applicant's and the staff's sockets."""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from consult.events import queue_fanout
from consult.models import StaffProfile, Topic
from tests.support.applicants import join
from tests.support.staff import make_staff, make_topic, session_cookie

ORIGIN = (b"origin", b"http://127.0.0.1")
# A browser's handshake names the host it connects to; the Origin must be that same site.
HOST = (b"host", b"127.0.0.1")


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

    async def recv_until_any(self, kinds: set[str], timeout: float = 3) -> dict[str, Any]:
        """Frames until one of a type in ``kinds``; the others are discarded."""
        for _ in range(200):
            frame = await self.recv(timeout)
            if frame["type"] in kinds:
                return frame
        raise AssertionError(f"no frame of {sorted(kinds)}")

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


async def counselor_and_applicant(**join_fields: Any) -> tuple[Topic, StaffProfile, dict[str, Any]]:
    """What most socket tests start from: the building-approval topic, counselor sari serving it
    (offline) and an applicant who joined it (``join_fields``: ``join`` overrides), as ``join``
    answered."""
    topic = await sync_to_async(make_topic)()
    sari = await sync_to_async(make_staff)("sari", topics=[topic])
    joined = await sync_to_async(join)(**join_fields)
    return topic, sari, joined


async def available_ws(staff: StaffProfile, request_id: str = "s1") -> Ws:
    """A new staff socket of ``staff``, set available (its ``status.set`` acknowledged)."""
    ws = await staff_ws(staff)
    await ws.send(id=request_id, type="status.set", status="available")
    await ws.recv_until("ack", id=request_id)
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
    await queues_settled(counselor)
    return applicant, counselor


async def queues_settled(*sockets: Ws) -> None:
    """Until the queue changes made so far are published (the process's coalescer publishes
    them after the acks, consult/events/queue_fanout.py) and each socket has been sent what of
    them concerns it (a ping answered after them)."""
    await queue_fanout.settled()
    for number, ws in enumerate(sockets):
        await ws.send(id=f"settled-{number}", type="ping")
        await ws.recv_until("pong", id=f"settled-{number}")
        # A snapshot already sent may still be on its way through Redis behind the pong.
        await drain(ws, quiet=0.2)


async def drain(ws: Ws, quiet: float = 0.2) -> list[dict[str, Any]]:
    """Every frame until ``ws`` has been quiet for ``quiet`` seconds (at most 100 frames)."""
    frames: list[dict[str, Any]] = []
    for _ in range(100):
        if await ws.nothing(quiet):
            return frames
        frames.append(await ws.recv())
    raise AssertionError(f"still receiving after 100 frames: {frames[-3:]}")
