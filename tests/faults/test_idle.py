"""Idle links on Redis: a counselor's staff socket and an applicant's socket stay open through a
minute of silence, and a socket that never authenticates is closed with 4408 at the auth timeout
(not with 1011 earlier). The scenario is tests/faults/idle.py: the three sockets at once, and the
whole in the background while the other fault tests run, so the suite pays the minute once."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.processes import attach_logs

from .conftest import Background

pytestmark = [pytest.mark.processes, pytest.mark.postgres, pytest.mark.redis]


async def test_idle_sockets_survive_a_minute_and_the_unauthenticated_one_times_out(
    shared_redis: str, idle_in_background: Background | None, request: pytest.FixtureRequest
) -> None:
    assert idle_in_background is not None, "conftest.py did not start the idle scenario"
    attach_logs(request, idle_in_background.logs)
    await asyncio.to_thread(idle_in_background.outcome, 240)
