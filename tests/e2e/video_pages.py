"""Driving the applicant's page and the counselor's console through a video call in Chromium
(Playwright, sync API). Shared by tests/e2e/test_video_browser.py and bench/video.py.

The pages expose their call views as ``window.loketCalls`` (consultation id -> CallView, see
static/js/call.js) and the pre-call check as ``window.loketPrecheck``; everything else goes
through what a user clicks.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.phones import new_phone

WAIT_MS = 20_000

# Remote video frames decoded by the call's RTCPeerConnection (-1: no connection yet).
CALL_FRAMES_JS = """async (cid) => {
  const call = window.loketCalls && window.loketCalls.get(cid);
  if (!call || !call.pc) return -1;
  const report = await call.pc.getStats();
  let frames = 0;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
  });
  return frames;
}"""

CALL_FRAMES_AT_LEAST_JS = "async ([cid, n]) => (await (" + CALL_FRAMES_JS + ")(cid)) >= n"

# The call view's own view of itself.
CALL_INFO_JS = """(cid) => {
  const call = window.loketCalls && window.loketCalls.get(cid);
  if (!call) return null;
  return {
    connection: call.connection,
    signaling: call.pc ? call.pc.signalingState : null,
    ice: call.pc ? call.pc.iceConnectionState : null,
    stats: { ...call.stats },
    metrics: { ...call.metrics },
  };
}"""

# The transcript's system events, in order, read by the counselor's page (its session).
EVENTS_JS = """async (cid) => {
  const response = await fetch(`/api/consultations/${cid}/transcript`, { cache: "no-store" });
  const body = await response.json();
  return body.entries
    .filter((e) => e.kind === "event")
    .map((e) => ({ event: e.event, data: e.data }));
}"""


def login_counselor(page: Any, base: str, username: str, password: str) -> None:
    """Log in through the login page (Indonesian labels) and set the status to Available."""
    page.goto(base + "/counselor/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator('main form.form button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/counselor/$"))
    # The console shows the current status once its socket is ready; a click before that is lost.
    page.wait_for_selector('.status-switch__button[aria-pressed="true"]', timeout=WAIT_MS)
    page.locator('.status-switch__button[data-status="available"]').click()
    page.wait_for_selector(
        '.status-switch__button[data-status="available"][aria-pressed="true"]', timeout=WAIT_MS
    )


def applicant_join(page: Any, base: str, *, topic: str, mode: str = "chat") -> str:
    """Fill in the join form; the consultation's public id once the page is in the queue."""
    page.goto(base + "/")
    page.locator("#f-name").fill("Ani")
    page.locator("#f-phone").fill(new_phone())
    page.locator("#f-topic").select_option(topic)
    page.locator(f'input[name="mode"][value="{mode}"]').check()
    page.locator("#join-submit").click()
    page.wait_for_selector("#consultation:not([hidden])", timeout=WAIT_MS)
    return str(
        page.evaluate("JSON.parse(sessionStorage.getItem('loket.applicant')).consultation_id")
    )


def accept_offer(page: Any) -> None:
    page.locator('.offer [data-action="accept"]').click(timeout=WAIT_MS)


def call_root(page: Any) -> Any:
    """The visible call section (the counselor's selected tab, or the applicant's chat)."""
    return page.locator('[data-call-ref="root"]:visible')


def wait_call_state(page: Any, state: str, timeout: int = WAIT_MS) -> None:
    page.wait_for_selector(f'[data-call-ref="root"][data-call-state="{state}"]', timeout=timeout)


def call_frames(page: Any, cid: str) -> int:
    return int(page.evaluate(CALL_FRAMES_JS, cid))


def wait_frames(page: Any, cid: str, at_least: int, timeout: int = WAIT_MS) -> None:
    """Until the call has decoded ``at_least`` remote video frames (polled from getStats)."""
    page.wait_for_function(
        CALL_FRAMES_AT_LEAST_JS, arg=[cid, at_least], timeout=timeout, polling=100
    )


def call_info(page: Any, cid: str) -> dict[str, Any]:
    return dict(page.evaluate(CALL_INFO_JS, cid))


def transcript_events(counselor_page: Any, cid: str) -> list[dict[str, Any]]:
    return list(counselor_page.evaluate(EVENTS_JS, cid))
