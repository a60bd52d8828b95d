"""The idle-links scenario: a counselor's staff socket and an applicant's socket through a minute
of silence on Redis, and a socket that never authenticates, all three at once on one process.

It only waits, so the suite runs it in a thread of its own while the other fault tests run
(conftest.py starts it; tests/faults/test_idle.py collects its outcome).
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.exceptions import ConnectionClosed

from tests.support.live import LiveSocket

from .office import Office, Side, received

SILENCE = 60.0
AUTH_TIMEOUT = 10  # the default, left as deployed


async def stays_open(socket: LiveSocket, seconds: float) -> None:
    """Fail as soon as ``socket`` closes within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        await socket.wait_closed(timeout=seconds)
        raise AssertionError(f"closed while idle: {socket.closed!r}")


def close_code(exc: BaseException | None) -> int | None:
    if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
        return exc.rcvd.code
    return None


async def idle_links(built: Office) -> None:
    """Run the scenario on ``built`` (an Office on Redis); an AssertionError says what broke."""
    counselor_name = built.create_staff("counselor")
    (server,) = built.start("A")
    counselor_http = await built.login(server, counselor_name)
    joined, applicant_socket, staff_socket = await built.accepted(server, server, counselor_http)
    public_id = joined["consultation_id"]
    for socket in (applicant_socket, staff_socket):
        await socket.wait_for(
            lambda f: f["type"] == "entry" and f["event"] == "counselor_joined",
            what="counselor_joined",
        )

    loop = asyncio.get_running_loop()
    log_offset = len(server.log())
    unauthenticated = await built.open_socket(
        server.ws_url("/ws/applicant/"), origin=server.http_url
    )
    silent_from = loop.time()

    # Silence: nobody sends anything. Fail as soon as any socket closes early.
    await unauthenticated.wait_closed(timeout=AUTH_TIMEOUT + 10)
    unauthenticated_after = loop.time() - silent_from
    remaining = SILENCE - (loop.time() - silent_from)
    await asyncio.gather(
        stays_open(applicant_socket, remaining), stays_open(staff_socket, remaining)
    )

    # The unauthenticated socket was closed for not authenticating, at the timeout.
    assert close_code(unauthenticated.closed) == 4408, unauthenticated.closed
    assert AUTH_TIMEOUT - 0.5 <= unauthenticated_after < AUTH_TIMEOUT + 5, unauthenticated_after

    # After the minute both still talk, and each hears the other.
    applicant = Side("applicant", applicant_socket, {})
    counselor = Side("counselor", staff_socket, {"consultation_id": public_id})
    sent_by_counselor = await counselor.say("c-after-silence")
    sent_by_applicant = await applicant.say("a-after-silence")
    await applicant_socket.wait_for(
        lambda f: f["type"] == "entry" and f["seq"] == sent_by_counselor["entry"]["seq"],
        what="the counselor's message at the applicant",
    )
    await staff_socket.wait_for(
        lambda f: f["type"] == "entry" and f["seq"] == sent_by_applicant["entry"]["seq"],
        what="the applicant's message at the counselor",
    )
    for socket in (applicant_socket, staff_socket):
        seqs = [e["seq"] for e in received(socket.frames, public_id)[0]]
        assert seqs == list(range(1, len(seqs) + 1)), seqs

    # Presence held: two connection rows, the counselor still available, the chat active.
    assert built.scalar("SELECT count(*) FROM consult_connection") == 2
    assert (
        built.scalar(
            "SELECT s.status FROM consult_staffprofile s JOIN auth_user u ON u.id = s.user_id "
            "WHERE u.username = %s",
            counselor_name,
        )
        == "available"
    )
    assert (
        built.scalar("SELECT status FROM consult_consultation WHERE public_id = %s", public_id)
        == "active"
    )
    quiet = server.log_since(log_offset)
    assert "Traceback" not in quiet and "Timeout reading" not in quiet, quiet[-5000:]
