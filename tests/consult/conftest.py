"""Fixtures several tests/consult modules use: a topic with its counselor, and aiortc client
peers for the pre-call check (closed after the test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from consult.models import StaffProfile, Topic
from tests.support.staff import make_staff, make_topic

if TYPE_CHECKING:
    from tests.support.rtc import RtcClient, RtcClientFactory


@pytest.fixture
def topic() -> Topic:
    return make_topic()


@pytest.fixture
def sari(topic: Topic) -> StaffProfile:
    return make_staff("sari", topics=[topic])


@pytest.fixture
async def rtc_client() -> AsyncIterator[RtcClientFactory]:
    """Open aiortc client peers (``rtc_client_open`` arguments), each within 10 s."""
    # aiortc is imported by the tests that use it, not by every consult test's collection.
    from tests.support.rtc import rtc_client_open

    made: list[RtcClient] = []

    async def factory(**kwargs: Any) -> RtcClient:
        client = await asyncio.wait_for(rtc_client_open(**kwargs), 10)
        made.append(client)
        return client

    yield factory
    await asyncio.wait_for(asyncio.gather(*(c.close() for c in made)), 10)
