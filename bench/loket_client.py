"""Adapter between ``bench/relay.py`` and the real Loket server (LOKET target).

The harness starts Loket as ``daphne -b 127.0.0.1 -p PORT config.asgi:application`` from the
repo root (env DATABASE_URL, REDIS_URL, LOKET_SECRET_KEY=bench, LOKET_DEBUG=0, raised
LOKET_CHAT_RATE/LOKET_FRAME_RATE; ``manage.py migrate`` first), waits for the port, then calls
``setup(base_url)``. The same variables are in this process's ``os.environ``, so the management
commands run here as subprocesses reach the same database.

What ``setup`` does, all through Loket's public entry points:

1. ``manage.py seed_demo --topics-only`` and ``manage.py create_staff --role counselor`` (a fixed
   bench account whose password is reset on every run);
2. logs the counselor in through ``/login/`` (CSRF token + session cookie), connects the staff
   WebSocket with that cookie and an ``Origin`` header, ends whatever an earlier, interrupted run
   left held by the account, and sets the counselor available;
3. ``POST /api/consultations`` as an applicant, connects ``/ws/applicant/`` and sends ``auth``;
4. the counselor accepts the offer of that consultation.

Then ``send(text)`` is the applicant's ``chat.send`` with a unique ``client_msg_id`` (every
message is stored: transcript row, gapless ``seq``), and ``recv()`` returns the text of the next
applicant ``entry`` frame the counselor receives. The applicant's socket is drained by a task
that also watches for ``error`` frames: any error (``rate_limited`` included) fails the run
instead of being counted as a lost message. ``teardown`` ends the consultation and closes both
sockets.

Interface (as ``bench/relay.py`` expects): ``IMPLEMENTED``, ``async setup(base_url) -> (send,
recv)``, ``async teardown()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

Send = Callable[[str], Awaitable[None]]
Recv = Callable[[], Awaitable[str]]

IMPLEMENTED = True

REPO = Path(__file__).resolve().parent.parent
TOPIC = "building-approval"
COUNSELOR_USERNAME = "bench-counselor"
COMMAND_TIMEOUT = 120.0
STEP_TIMEOUT = 15.0
WS_OPTIONS: dict[str, Any] = {"compression": None, "open_timeout": 10, "close_timeout": 2}


class LoketBenchError(Exception):
    """Setting up or driving the Loket conversation failed."""


@dataclass
class _Conversation:
    counselor: ClientConnection
    applicant: ClientConnection | None = None
    consultation_id: str = ""
    drainer: asyncio.Task[None] | None = None
    applicant_error: dict[str, Any] | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


_conversation: _Conversation | None = None


# --------------------------------------------------------------------------- accounts


async def _manage(*args: str) -> str:
    """Run ``manage.py`` with this process's environment (the harness's Loket settings)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        *args,
        cwd=REPO,
        env=dict(os.environ),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise LoketBenchError(f"manage.py {args[0]} took over {COMMAND_TIMEOUT:.0f}s") from None
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise LoketBenchError(f"manage.py {args[0]} failed ({proc.returncode}):\n{text}")
    return text


async def _provision_counselor() -> str:
    """Topics and the bench counselor; returns the (new, random) password."""
    password = secrets.token_urlsafe(18)
    await _manage("seed_demo", "--topics-only")
    await _manage(
        "create_staff",
        "--role",
        "counselor",
        "--username",
        COUNSELOR_USERNAME,
        # One argument: a password may start with "-" (token_urlsafe), which argparse would
        # take for an option.
        f"--password={password}",
        "--name",
        "Bench Counselor",
        "--topics",
        TOPIC,
    )
    return password


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a login answers 302; we want to see it, not follow it


_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


def _login(base_url: str, username: str, password: str) -> str:
    """Log in through /login/ (blocking); returns the ``sessionid=...`` cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    login_url = f"{base_url}/login/"
    token = ""
    try:
        with opener.open(login_url, timeout=STEP_TIMEOUT) as response:
            page = response.read().decode(errors="replace")
        match = _CSRF_INPUT.search(page)
        token = match.group(1) if match else ""
    except urllib.error.HTTPError as exc:
        exc.close()
    if not token or not any(c.name == "csrftoken" for c in jar):
        # The login page could not be rendered (no template yet): use Django's double-submit
        # check directly, a CSRF secret of our own in both the cookie and the form field.
        token = secrets.token_hex(16)
        host = urllib.parse.urlsplit(base_url).hostname or "127.0.0.1"
        jar.set_cookie(_cookie("csrftoken", token, host))
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        login_url,
        data=body,
        method="POST",
        headers={"Origin": base_url, "Referer": login_url},
    )
    try:
        with opener.open(request, timeout=STEP_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if status != 302 or session is None:
        raise LoketBenchError(f"login as {username} failed: HTTP {status}, session={session!r}")
    return f"sessionid={session}"


def _cookie(name: str, value: str, host: str) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=host,
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )


def _post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=STEP_TIMEOUT) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        exc.close()
        raise LoketBenchError(f"POST {url}: HTTP {exc.code} {detail}") from None


# --------------------------------------------------------------------------- WebSocket


def _ws_base(base_url: str) -> str:
    return "ws" + base_url.removeprefix("http")


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    raw = await ws.recv()
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise LoketBenchError(f"unexpected frame {raw!r}")
    return data


async def _until(
    ws: ClientConnection, what: str, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Read frames until one matches (bounded in time); an error frame for us fails."""
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                frame = await _frame(ws)
                if match(frame):
                    return frame
                if frame.get("type") == "error":
                    raise LoketBenchError(f"while waiting for {what}: {frame}")
    except TimeoutError:
        raise LoketBenchError(f"no {what} within {STEP_TIMEOUT:.0f}s") from None


async def _request(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a request with an id and wait for its ack (an error with that id fails)."""
    request_id = frame["id"]
    await ws.send(json.dumps(frame))

    def answered(f: dict[str, Any]) -> bool:
        if f.get("id") != request_id:
            return False
        if f.get("type") == "error":
            raise LoketBenchError(f"{frame['type']} refused: {f}")
        return f.get("type") == "ack"

    return await _until(ws, f"ack of {frame['type']}", answered)


async def _counselor_connect(base_url: str, cookie: str) -> ClientConnection:
    ws = await connect(
        f"{_ws_base(base_url)}/ws/staff/",
        origin=Origin(base_url),
        additional_headers={"Cookie": cookie},
        **WS_OPTIONS,
    )
    ready = await _until(ws, "staff ready", lambda f: f.get("type") in ("ready", "error"))
    if ready["type"] != "ready" or ready.get("role") != "counselor":
        await ws.close()
        raise LoketBenchError(f"staff socket not ready: {ready}")
    # An interrupted earlier run may have left consultations with this account: end them, so
    # capacity is free and nothing of theirs interleaves with this run.
    for n, held in enumerate(ready.get("consultations", [])):
        kind = "consultation.end" if held["status"] == "active" else "offer.decline"
        await _request(
            ws, {"type": kind, "id": f"clean-{n}", "consultation_id": held["consultation_id"]}
        )
    return ws


async def _accept_offer(conv: _Conversation) -> None:
    """Accept the offer of our consultation; decline any other (left over) one offered first."""
    declined = 0

    def ours(frame: dict[str, Any]) -> bool:
        return (
            frame.get("type") == "consultation.state"
            and frame.get("status") == "offered"
            and frame.get("consultation_id") == conv.consultation_id
        )

    while True:
        frame = await _until(
            conv.counselor,
            "the offer",
            lambda f: f.get("type") == "consultation.state" and f.get("status") == "offered",
        )
        if ours(frame):
            break
        declined += 1
        if declined > 50:
            raise LoketBenchError("too many stray offers before ours")
        await _request(
            conv.counselor,
            {
                "type": "offer.decline",
                "id": f"decline-{declined}",
                "consultation_id": frame["consultation_id"],
            },
        )
    await _request(
        conv.counselor,
        {"type": "offer.accept", "id": "accept", "consultation_id": conv.consultation_id},
    )


# --------------------------------------------------------------------------- interface


async def setup(base_url: str) -> tuple[Send, Recv]:
    """Create the conversation (see the module docstring) and return (send, recv)."""
    global _conversation
    password = await _provision_counselor()
    cookie = await asyncio.to_thread(_login, base_url, COUNSELOR_USERNAME, password)
    conv = _Conversation(counselor=await _counselor_connect(base_url, cookie))
    _conversation = conv
    await _request(conv.counselor, {"type": "status.set", "id": "avail", "status": "available"})

    joined = await asyncio.to_thread(
        _post_json,
        f"{base_url}/api/consultations",
        # A phone of its own: one contact may hold only one open consultation.
        {
            "name": "Bench Applicant",
            "phone": f"0819{secrets.randbelow(10**8):08d}",
            "topic": TOPIC,
            "mode": "chat",
        },
    )
    conv.consultation_id = str(joined["consultation_id"])
    applicant = await connect(str(joined["ws_url"]), origin=Origin(base_url), **WS_OPTIONS)
    conv.applicant = applicant
    await applicant.send(json.dumps({"type": "auth", "token": joined["token"], "last_seq": 0}))
    await _until(applicant, "applicant ready", lambda f: f.get("type") == "ready")
    await _accept_offer(conv)

    async def drain() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in applicant:
                # Acks and the applicant's own entries are dropped; an error must not be.
                if conv.applicant_error is None and '"type":"error"' in raw:
                    conv.applicant_error = json.loads(raw)

    conv.drainer = asyncio.create_task(drain())
    prefix = secrets.token_hex(6)
    counter = 0
    counselor = conv.counselor
    consultation_id = conv.consultation_id

    async def send(text: str) -> None:
        nonlocal counter
        counter += 1
        await applicant.send(
            json.dumps({"type": "chat.send", "client_msg_id": f"{prefix}-{counter}", "text": text})
        )

    async def recv() -> str:
        while True:
            if conv.applicant_error is not None:
                raise LoketBenchError(f"the applicant got an error: {conv.applicant_error}")
            frame = json.loads(await counselor.recv())
            if (
                frame.get("type") == "entry"
                and frame.get("kind") == "message"
                and frame.get("author_role") == "applicant"
                and frame.get("consultation_id") == consultation_id
            ):
                return str(frame["text"])
            if frame.get("type") == "error":
                raise LoketBenchError(f"the counselor got an error: {frame}")

    return send, recv


async def teardown() -> None:
    """End the consultation and close both sockets (best effort, bounded)."""
    global _conversation
    conv, _conversation = _conversation, None
    if conv is None:
        return
    if conv.drainer is not None:
        conv.drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await conv.drainer
    if conv.consultation_id:
        with contextlib.suppress(Exception):
            await _request(
                conv.counselor,
                {
                    "type": "consultation.end",
                    "id": "end",
                    "consultation_id": conv.consultation_id,
                    "reason": "bench",
                },
            )
    for ws in (conv.applicant, conv.counselor):
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()


# --------------------------------------------------------------------------- many conversations
#
# The functions below serve the benchmarks with more than one conversation (``bench/relay.py
# --conversations``, ``bench/scale.py connections``). Same public entry points as ``setup``: the
# counselors are provisioned with ``manage.py create_staff`` and log in through ``/login/``; the
# applicants join with ``POST /api/consultations`` and authenticate with their token; a
# counselor accepts the offers of the consultations it was told to expect (and declines any
# other). Every message is an applicant ``chat.send``; the text of each applicant ``entry`` the
# counselor receives is handed to the conversation it belongs to.

PROVISION_PARALLEL = 4
UNEXPECTED_OFFER_WAIT = 3.0


class LoketCounselor:
    """One counselor's staff socket, read by one task that accepts the expected offers and
    routes each applicant message entry to its conversation's queue."""

    def __init__(self, ws: ClientConnection, username: str) -> None:
        self.ws = ws
        self.username = username
        self.expected: dict[str, asyncio.Future[None]] = {}
        self.inboxes: dict[str, asyncio.Queue[str]] = {}
        self.errors: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.frames = 0
        self._requests = 0
        self.unexpected: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader = asyncio.create_task(self._read())

    def expect(self, consultation_id: str) -> asyncio.Future[None]:
        """A future done once the offer of ``consultation_id`` is accepted."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.expected[consultation_id] = future
        self.inboxes[consultation_id] = asyncio.Queue()
        if self.unexpected.pop(consultation_id, None) is not None:
            # Offered before the join's answer reached us.
            self._tasks.add(asyncio.create_task(self._answer(consultation_id)))
        return future

    async def _answer(self, consultation_id: str) -> None:
        future = self.expected.get(consultation_id)
        accept = future is not None and not future.done()
        kind = "offer.accept" if accept else "offer.decline"
        await self.request({"type": kind, "consultation_id": consultation_id})

    async def _decline_later(self, consultation_id: str) -> None:
        """An offer nobody expects (left over by an interrupted run, or one whose join answer
        is still on its way): if it is still unexpected after a while, it is a leftover, taken
        and ended so that it leaves the queue (declined, it would come back to the next
        counselor, and stay ahead of every new join)."""
        await asyncio.sleep(UNEXPECTED_OFFER_WAIT)
        if self.unexpected.pop(consultation_id, None) is not None:
            await self.request({"type": "offer.accept", "consultation_id": consultation_id})
            await self.request(
                {"type": "consultation.end", "consultation_id": consultation_id, "reason": "bench"}
            )

    async def request(self, frame: dict[str, Any]) -> None:
        self._requests += 1
        await self.ws.send(json.dumps({**frame, "id": f"{frame['type']}-{self._requests}"}))

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.frames += 1
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "entry":
                    inbox = self.inboxes.get(str(frame.get("consultation_id")))
                    if (
                        inbox is not None
                        and frame.get("kind") == "message"
                        and frame.get("author_role") == "applicant"
                    ):
                        inbox.put_nowait(str(frame["text"]))
                elif kind == "consultation.state" and frame.get("status") == "offered":
                    cid = str(frame.get("consultation_id"))
                    if cid in self.expected:
                        await self._answer(cid)
                    else:
                        self.unexpected[cid] = time.monotonic()
                        task = asyncio.create_task(self._decline_later(cid))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                elif kind == "consultation.state" and frame.get("status") == "active":
                    future = self.expected.get(str(frame.get("consultation_id")))
                    if future is not None and not future.done():
                        future.set_result(None)
                elif kind == "counselor.status":
                    self.statuses.append(frame)
                elif kind == "error":
                    self.errors.append(frame)

    async def close(self) -> None:
        for cid in list(self.expected):
            with contextlib.suppress(Exception):
                await self.request(
                    {"type": "consultation.end", "consultation_id": cid, "reason": "bench"}
                )
        for task in (self._reader, *self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.ws.close()


@dataclass
class LoketConversation:
    """An applicant in a conversation with ``counselor``: ``send`` stores a chat message,
    ``recv`` returns the text of the next one the counselor receives."""

    consultation_id: str
    applicant: ClientConnection
    counselor: LoketCounselor
    errors: list[dict[str, Any]] = field(default_factory=list)
    drainer: asyncio.Task[None] | None = None
    counter: int = 0
    prefix: str = field(default_factory=lambda: secrets.token_hex(6))

    async def send(self, text: str) -> None:
        if self.errors:
            raise LoketBenchError(f"the applicant got an error: {self.errors[0]}")
        self.counter += 1
        msg_id = f"{self.prefix}-{self.counter}"
        await self.applicant.send(
            json.dumps({"type": "chat.send", "client_msg_id": msg_id, "text": text})
        )

    async def recv(self) -> str:
        return await self.counselor.inboxes[self.consultation_id].get()

    async def close(self) -> None:
        if self.drainer is not None:
            self.drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.drainer
        with contextlib.suppress(Exception):
            await self.applicant.close()


async def counselors_provision(
    usernames: list[str], *, topics: list[str], capacity: int | None = None
) -> dict[str, str]:
    """Create (or reset) counselor accounts serving ``topics``; returns username -> password."""
    passwords = {name: secrets.token_urlsafe(18) for name in usernames}
    gate = asyncio.Semaphore(PROVISION_PARALLEL)

    async def one(name: str) -> None:
        args = ["create_staff", "--role", "counselor", "--username", name]
        args += [f"--password={passwords[name]}", "--name", name, "--topics", ",".join(topics)]
        if capacity is not None:
            args += ["--capacity", str(capacity)]
        async with gate:
            await _manage(*args)

    await asyncio.gather(*(one(name) for name in usernames))
    return passwords


async def counselor_open(base_url: str, username: str, password: str) -> LoketCounselor:
    """Log in, open the staff socket (ending what an earlier run left held) and go available."""
    cookie = await asyncio.to_thread(_login, base_url, username, password)
    ws = await _counselor_connect(base_url, cookie)
    await _request(ws, {"type": "status.set", "id": "avail", "status": "available"})
    return LoketCounselor(ws, username)


async def applicant_join(base_url: str, topic: str) -> dict[str, Any]:
    """``POST /api/consultations`` (a chat, with a phone of its own)."""
    return await asyncio.to_thread(
        _post_json,
        f"{base_url}/api/consultations",
        {
            "name": "Bench Applicant",
            "phone": f"0819{secrets.randbelow(10**8):08d}",
            "topic": topic,
            "mode": "chat",
        },
    )


async def applicant_open(
    base_url: str, ws_url: str, token: str, *, last_seq: int = 0
) -> tuple[ClientConnection, dict[str, Any]]:
    """Open an applicant socket and authenticate; returns it with the ``ready`` frame."""
    ws = await connect(ws_url, origin=Origin(base_url), **WS_OPTIONS)
    try:
        auth = {"type": "auth", "id": "auth", "token": token, "last_seq": last_seq}
        await ws.send(json.dumps(auth))
        ready = await _until(ws, "applicant ready", lambda f: f.get("type") == "ready")
    except BaseException:
        await ws.close()
        raise
    return ws, ready


async def conversation_open(
    base_url: str, counselors: list[LoketCounselor], topic: str
) -> LoketConversation:
    """A new applicant joins ``topic``; whichever of ``counselors`` is offered it accepts."""
    joined = await applicant_join(base_url, topic)
    cid = str(joined["consultation_id"])
    accepted = [c.expect(cid) for c in counselors]
    applicant, _ = await applicant_open(base_url, str(joined["ws_url"]), str(joined["token"]))
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            done, _ = await asyncio.wait(accepted, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        await applicant.close()
        raise LoketBenchError(f"no counselor accepted {cid} within {STEP_TIMEOUT:.0f}s") from None
    holder = counselors[accepted.index(next(iter(done)))]
    for counselor in counselors:
        if counselor is not holder:
            counselor.expected.pop(cid, None)
            counselor.inboxes.pop(cid, None)
    conv = LoketConversation(consultation_id=cid, applicant=applicant, counselor=holder)

    async def drain() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in applicant:
                if '"type":"error"' in raw:
                    conv.errors.append(json.loads(raw))

    conv.drainer = asyncio.create_task(drain())
    return conv


async def conversations_open(
    base_url: str,
    count: int,
    *,
    capacity: int,
    username_prefix: str = "bench-conv",
    topic: str = TOPIC,
) -> tuple[list[LoketConversation], list[LoketCounselor]]:
    """``count`` conversations over ceil(count / capacity) counselors serving ``topic`` (the
    demo topics are created first); joined one after the other."""
    await _manage("seed_demo", "--topics-only")
    names = [f"{username_prefix}-{n:03d}" for n in range(-(-count // capacity))]
    passwords = await counselors_provision(names, topics=[topic], capacity=capacity)
    counselors = [await counselor_open(base_url, name, passwords[name]) for name in names]
    conversations = []
    try:
        for _ in range(count):
            conversations.append(await conversation_open(base_url, counselors, topic))
    except BaseException:
        await conversations_close(conversations, counselors)
        raise
    return conversations, counselors


async def conversations_close(
    conversations: list[LoketConversation], counselors: list[LoketCounselor]
) -> None:
    """End every conversation (by its counselor) and close every socket, best effort."""
    for conv in conversations:
        await conv.close()
    for counselor in counselors:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STEP_TIMEOUT):
                await counselor.close()
