"""During a call the page renews its short-lived TURN credential before it runs out.

Chromium in a call (on loopback, host candidates) with a TURN server configured whose credentials
live 60 s (the least allowed): the page must fetch fresh ICE servers at half that lifetime while
the call goes on, so that an ICE restart or a rebuilt connection late in a long call still gets a
relay (docs/VIDEO.md). The TURN address is a closed local port; the call itself does not need it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.netns import CHROMIUM_ARGS
from tests.e2e.video_pages import accept_offer, applicant_join, login_counselor
from tests.support.browser import Server, chromium, served

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(300)]

PASSWORD = "turn-browser-password-5e1f"
WAIT_MS = 20_000


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Server]:
    sari = {"username": "sari", "password": PASSWORD, "name": "Sari", "topics": "building-approval"}
    with served(
        tmp_path,
        sari,
        LOKET_ICE_HOST_ADDRESSES="127.0.0.1",
        LOKET_TURN_URLS="turn:127.0.0.1:9?transport=udp",
        LOKET_TURN_SECRET="turn-browser-test-secret",
        LOKET_TURN_TTL_SECONDS="60",
    ) as srv:
        yield srv


def test_a_long_call_renews_its_turn_credentials(office: Server) -> None:
    fetched: dict[str, list[float]] = {"applicant": [], "counselor": []}
    with chromium(CHROMIUM_ARGS) as browser:
        pages = {}
        for name in fetched:
            ctx = browser.new_context(locale="id-ID")
            ctx.set_default_timeout(WAIT_MS)
            ctx.on(
                "request",
                lambda request, name=name: (
                    fetched[name].append(time.monotonic())
                    if "/api/ice-servers" in request.url
                    else None
                ),
            )
            pages[name] = ctx.new_page()
        applicant, counselor = pages["applicant"], pages["counselor"]
        applicant_join(applicant, office.url, topic="building-approval")
        login_counselor(counselor, office.url, "sari", PASSWORD)
        accept_offer(counselor)
        applicant.locator('[data-call-ref="ask-video"]').click()
        counselor.locator('[data-call-ref="accept"]:visible').click()
        for page in (applicant, counselor):
            page.wait_for_selector('[data-call-ref="root"][data-call-state="connected"]')
        # Half of the 60 s lifetime, and some slack for a loaded machine.
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline and min(map(len, fetched.values())) < 2:
            applicant.wait_for_timeout(500)
        # The renewal did not disturb the call.
        for page in (applicant, counselor):
            connected = page.locator('[data-call-ref="root"][data-call-state="connected"]')
            assert connected.count() >= 1
    for name, times in fetched.items():
        assert len(times) >= 2, (name, times)
        assert times[1] - times[0] >= 25, (name, times)
