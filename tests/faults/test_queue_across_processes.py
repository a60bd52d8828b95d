"""Queue positions for applicants connected to two Daphne processes sharing PostgreSQL and Redis.

Each process places its own waiting applicants from one placing message per change, whichever
process made the change: the head is served by a counselor on B, one applicant joins through A
with their socket on B, one leaves through A. Every applicant ends with the right position and
estimate, told once per change of either (never the same twice in a row).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.support.live import LiveSocket

from .conftest import OfficeFactory
from .office import offer_take

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]

# No history in the fresh database: the estimate assumes the default handling time.
HANDLING = 300


def _positions(socket: LiveSocket, public_id: str) -> list[tuple[int, int | None]]:
    return [
        (f["position"], f["estimated_wait_seconds"])
        for f in socket.frames
        if f["type"] == "queue.position" and f["consultation_id"] == public_id
    ]


async def _placed(socket: LiveSocket, public_id: str, position: int, wait: int | None) -> None:
    await socket.wait_for(
        lambda f: (
            f["type"] == "queue.position"
            and f["consultation_id"] == public_id
            and (f["position"], f["estimated_wait_seconds"]) == (position, wait)
        ),
        what=f"position {position} (wait {wait}) of {public_id}",
    )


def _told_once_per_change(socket: LiveSocket, public_id: str) -> None:
    told = _positions(socket, public_id)
    assert all(a != b for a, b in itertools.pairwise(told)), told
    stamps = [
        f["as_of"]
        for f in socket.frames
        if f["type"] == "queue.position" and f["consultation_id"] == public_id
    ]
    assert stamps == sorted(stamps)


async def test_positions_are_right_on_both_processes_after_the_head_is_served_and_a_join(
    office: OfficeFactory, shared_redis: str
) -> None:
    built = office(shared_redis)
    counselor_name = built.create_staff(capacity=1)
    server_a, server_b = built.start("A", "B")

    # Four wait: through A and B alternately, each socket on the process it joined through.
    waiting: list[tuple[dict[str, Any], LiveSocket]] = []
    for index, server in enumerate((server_a, server_b, server_a, server_b)):
        joined = await built.join(server, name=f"Pemohon {index}")
        socket, _ = await built.applicant(server, joined["token"])
        await _placed(socket, joined["consultation_id"], index + 1, None)
        waiting.append((joined, socket))
    (j1, _s1), (j2, s2), (j3, s3), (j4, s4) = waiting

    # The head is served by a counselor on B (capacity 1: full after it), so everyone behind
    # moves up, on A and on B, and the estimate appears: one handling time per place.
    client = await built.login(server_b, counselor_name)
    counselor, _ = await built.staff(server_b, client)
    await offer_take(counselor, j1["consultation_id"])
    await _placed(s2, j2["consultation_id"], 1, HANDLING)
    await _placed(s3, j3["consultation_id"], 2, 2 * HANDLING)
    await _placed(s4, j4["consultation_id"], 3, 3 * HANDLING)

    # One more joins through A with their socket on B: at the back, among the chats.
    j5 = await built.join(server_a, name="Pemohon 4")
    s5, _ = await built.applicant(server_b, j5["token"])
    await _placed(s5, j5["consultation_id"], 4, 4 * HANDLING)

    # The third leaves through A: those behind it, on B, move up.
    await s3.request("bye", type="leave")
    await _placed(s4, j4["consultation_id"], 2, 2 * HANDLING)
    await _placed(s5, j5["consultation_id"], 3, 3 * HANDLING)
    snapshot = await counselor.wait_for(
        lambda f: (
            f["type"] == "queue.snapshot"
            and f["waiting_count"] == 3
            and j3["consultation_id"] not in str(f["waiting"])
        ),
        what="the counselor's snapshot after the leave",
    )
    assert [w["consultation_id"] for w in snapshot["waiting"]] == [
        j["consultation_id"] for j in (j2, j4, j5)
    ]
    assert [w["position"] for w in snapshot["waiting"]] == [1, 2, 3]

    # Everyone's last word is right, and nobody was told the same thing twice in a row.
    for socket, joined, last in (
        (s2, j2, (1, HANDLING)),
        (s4, j4, (2, 2 * HANDLING)),
        (s5, j5, (3, 3 * HANDLING)),
    ):
        assert _positions(socket, joined["consultation_id"])[-1] == last
        _told_once_per_change(socket, joined["consultation_id"])
