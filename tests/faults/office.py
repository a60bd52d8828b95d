"""An office for fault tests: staff accounts, Daphne processes on one database and channel layer,
and the clients (applicants joining over HTTP, WebSockets of applicants and staff).

Built on tests/support/servers.py and live.py; the fixtures that hand one out are in conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from tests.support.live import HttpClient, LiveSocket
from tests.support.phones import new_phone
from tests.support.servers import DaphneServer, Database, manage

TOPIC = "building-approval"
PASSWORD = "faults-password-8d2e4a"
ENTRY_KEY = ("seq", "kind", "author_role", "text", "event", "client_msg_id")


class Across(NamedTuple):
    """A chat across two processes (``Office.chat_across``)."""

    server_a: DaphneServer
    server_b: DaphneServer
    counselor_http: HttpClient
    supervisor_http: HttpClient
    joined: dict[str, Any]
    applicant_socket: LiveSocket
    staff_socket: LiveSocket


@dataclass
class Office:
    """Daphne processes sharing ``database`` and the channel layer in ``env``."""

    database: Database
    env: dict[str, str]
    log_dir: Path
    servers: list[DaphneServer] = field(default_factory=list)
    sockets: list[LiveSocket] = field(default_factory=list)

    def create_staff(self, role: str = "counselor", *, capacity: int = 3) -> str:
        """A new staff account (counselor on TOPIC, or supervisor); its username."""
        username = f"{role[:3]}-{uuid.uuid4().hex[:8]}"
        args = [
            "create_staff",
            f"--role={role}",
            f"--username={username}",
            f"--password={PASSWORD}",
            f"--name={username}",
        ]
        if role == "counselor":
            args += [f"--topics={TOPIC}", f"--capacity={capacity}"]
        manage(self.env, *args)
        return username

    def start(self, *names: str) -> list[DaphneServer]:
        """Start one Daphne process per name (all at once) and wait until each answers."""
        started = [DaphneServer(name, self.env, self.log_dir) for name in names]
        self.servers.extend(started)
        for server in started:
            server.start()
        for server in started:
            server.wait_ready()
        return started

    def logs(self) -> list[tuple[str, str]]:
        return [(f"daphne {s.name} log", s.log()) for s in self.servers]

    async def login(self, server: DaphneServer, username: str) -> HttpClient:
        client = HttpClient(server.http_url)
        await asyncio.to_thread(client.login, username, PASSWORD)
        return client

    async def join(self, server: DaphneServer, name: str = "Ani") -> dict[str, Any]:
        """An applicant joins TOPIC's chat queue over HTTP; the answer (token, consultation_id)."""
        response = await asyncio.to_thread(
            HttpClient(server.http_url).post_json,
            "/api/consultations",
            # A phone of its own: one contact may hold only one open consultation.
            {"name": name, "phone": new_phone(), "topic": TOPIC, "mode": "chat"},
        )
        assert response.status == 201, response.body
        joined: dict[str, Any] = response.json()
        return joined

    async def open_socket(self, url: str, *, origin: str, cookie: str = "") -> LiveSocket:
        socket = await LiveSocket.open(url, origin=origin, cookie=cookie)
        self.sockets.append(socket)
        return socket

    async def applicant(
        self, server: DaphneServer, token: str, last_seq: int = 0
    ) -> tuple[LiveSocket, dict[str, Any]]:
        """An authenticated applicant socket on ``server`` and its ``ready`` frame."""
        socket = await self.open_socket(server.ws_url("/ws/applicant/"), origin=server.http_url)
        await socket.send(type="auth", token=token, last_seq=last_seq)
        ready = await socket.wait_for(lambda f: f["type"] == "ready", what="applicant ready")
        return socket, ready

    async def staff(
        self, server: DaphneServer, client: HttpClient
    ) -> tuple[LiveSocket, dict[str, Any]]:
        """A staff socket on ``server`` with ``client``'s session and its ``ready`` frame."""
        socket = await self.open_socket(
            server.ws_url("/ws/staff/"), origin=server.http_url, cookie=client.cookie_header()
        )
        ready = await socket.wait_for(lambda f: f["type"] == "ready", what="staff ready")
        return socket, ready

    async def accepted(
        self, applicant_on: DaphneServer, counselor_on: DaphneServer, counselor: HttpClient
    ) -> tuple[dict[str, Any], LiveSocket, LiveSocket]:
        """An applicant joins through ``applicant_on`` and opens a socket there; ``counselor``
        (logged in) opens one on ``counselor_on`` and takes the offer. The join answer and the
        applicant's and the counselor's sockets."""
        joined = await self.join(applicant_on)
        applicant_socket, _ = await self.applicant(applicant_on, joined["token"])
        staff_socket, _ = await self.staff(counselor_on, counselor)
        await offer_take(staff_socket, joined["consultation_id"])
        return joined, applicant_socket, staff_socket

    async def chat_across(self, supervisor_on: str = "B") -> Across:
        """A counselor and a supervisor account; processes A and B started; both logged in (the
        counselor on B, the supervisor on ``supervisor_on``); an applicant joins on A and the
        counselor on B takes the offer (``accepted``)."""
        counselor_name = self.create_staff("counselor")
        supervisor_name = self.create_staff("supervisor")
        server_a, server_b = self.start("A", "B")
        counselor_http = await self.login(server_b, counselor_name)
        supervisor_http = await self.login(
            {"A": server_a, "B": server_b}[supervisor_on], supervisor_name
        )
        joined, applicant_socket, staff_socket = await self.accepted(
            server_a, server_b, counselor_http
        )
        return Across(
            server_a,
            server_b,
            counselor_http,
            supervisor_http,
            joined,
            applicant_socket,
            staff_socket,
        )

    async def close_sockets(self) -> None:
        for socket in self.sockets:
            with contextlib.suppress(Exception):
                await socket.close()

    def scalar(self, query: str, *params: Any) -> Any:
        """One value read straight from PostgreSQL (the test's own connection)."""
        with self.database.connect() as conn:
            row = conn.execute(query, params).fetchone()
        assert row is not None
        return row[0]


def state_of(public_id: str, *statuses: str) -> Callable[[dict[str, Any]], bool]:
    """Matches a ``consultation.state`` frame of ``public_id`` (with one of ``statuses``)."""

    def match(frame: dict[str, Any]) -> bool:
        return (
            frame["type"] == "consultation.state"
            and frame["consultation_id"] == public_id
            and (not statuses or frame["status"] in statuses)
        )

    return match


async def offer_take(staff_socket: LiveSocket, public_id: str) -> None:
    """The counselor on ``staff_socket`` becomes available and accepts the offer of
    ``public_id`` (the only consultation waiting)."""
    await staff_socket.request("status", type="status.set", status="available")
    await staff_socket.wait_for(state_of(public_id, "offered"), what="the offer")
    await staff_socket.request("accept", type="offer.accept", consultation_id=public_id)


def entry_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(entry[k] for k in ENTRY_KEY)


def received(
    frames: list[dict[str, Any]], public_id: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The entries a client got, in arrival order (entry frames and acks of new messages), and
    the entries that came back in acks of repeated messages (of ``public_id`` if given)."""
    fresh: list[dict[str, Any]] = []
    repeats: list[dict[str, Any]] = []
    for frame in frames:
        if frame["type"] == "entry":
            fresh.append(frame)
        elif frame["type"] == "ack" and frame.get("entry"):
            (repeats if frame["duplicate"] else fresh).append(frame["entry"])
    if public_id is not None:
        fresh = [e for e in fresh if e["consultation_id"] == public_id]
        repeats = [e for e in repeats if e["consultation_id"] == public_id]
    return fresh, repeats


def contiguous_seq(frames: list[dict[str, Any]], public_id: str | None = None) -> int:
    """The highest sequence number up to which the client has every entry."""
    seqs = {entry["seq"] for entry in received(frames, public_id)[0]}
    last = 0
    while last + 1 in seqs:
        last += 1
    return last


def has_seq(seq: int, public_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def match(frame: dict[str, Any]) -> bool:
        entry = frame if frame["type"] == "entry" else frame.get("entry") or {}
        return (
            frame["type"] in ("entry", "ack")
            and entry.get("seq") == seq
            and (public_id is None or entry.get("consultation_id") == public_id)
        )

    return match


async def transcript(client: HttpClient, public_id: str) -> dict[str, Any]:
    """The supervisor transcript API's answer for one consultation."""
    response = await asyncio.to_thread(client.get, f"/api/consultations/{public_id}/transcript")
    assert response.status == 200, response.body
    stored: dict[str, Any] = response.json()
    return stored


class Side:
    """One participant: its socket(s) and the messages it sent, in order."""

    def __init__(self, role: str, socket: LiveSocket, ref: dict[str, str]) -> None:
        self.role = role
        self.sockets = [socket]
        self.ref = ref
        self.sent: list[str] = []
        self.texts: dict[str, str] = {}

    @property
    def socket(self) -> LiveSocket:
        return self.sockets[-1]

    @property
    def frames(self) -> list[dict[str, Any]]:
        return [frame for socket in self.sockets for frame in socket.frames]

    def compose(self, client_msg_id: str) -> dict[str, Any]:
        text = f"{self.role} {client_msg_id}: apakah IMB masih berlaku? ✓"
        self.sent.append(client_msg_id)
        self.texts[client_msg_id] = text
        return {"type": "chat.send", "client_msg_id": client_msg_id, "text": text, **self.ref}

    async def say(self, client_msg_id: str, timeout: float = 10) -> dict[str, Any]:
        ack = await self.socket.request(
            f"req-{client_msg_id}", timeout=timeout, **self.compose(client_msg_id)
        )
        assert ack["duplicate"] is False
        return ack


async def converse(applicant: Side, counselor: Side, count: int, tag: str) -> None:
    """Both sides write ``count`` messages at the same time, each waiting for its acks."""

    async def write(side: Side) -> None:
        for index in range(count):
            await side.say(f"{side.role[0]}-{tag}-{index}")

    await asyncio.gather(write(applicant), write(counselor))


async def ping(socket: LiveSocket, request_id: str, timeout: float = 10) -> dict[str, Any]:
    """Send ``ping`` and return its ``pong`` (the server sends what the client is missing first)."""
    await socket.send(type="ping", id=request_id)
    return await socket.wait_for(
        lambda f: f.get("id") == request_id and f["type"] in ("pong", "error"),
        timeout=timeout,
        what=f"pong to {request_id}",
    )
