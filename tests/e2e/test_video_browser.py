"""Video calls in real Chromium: the applicant's page and the counselor's console, each in its own
browser context, through a real Daphne process.

Both browsers and the server run in a network namespace with loopback only (tests/e2e/netns.py),
so WebRTC host candidates are 127.0.0.1 alone and nothing leaves the machine. Chromium's fake
camera and microphone stand in for real devices. The call views are reached through what a user
clicks, and through ``window.loketCalls`` for what a user cannot do on purpose (send two offers
at once, lose the transport); decoded remote video is read from ``getStats()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import chromium
from tests.support.needs import chromium_path, missing
from tests.support.processes import attach_logs

from .netns import CHROMIUM_ARGS, LoketNetns, netns_unavailable
from .video_pages import (
    WAIT_MS,
    accept_offer,
    applicant_join,
    call_frames,
    call_info,
    login_counselor,
    transcript_events,
    wait_call_state,
    wait_frames,
)

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def loket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoketNetns]:
    chromium_path()
    reason = netns_unavailable()
    if reason:
        missing(f"network namespace for browser video tests: {reason}")
    server = LoketNetns(tmp_path_factory.mktemp("video-netns"), udp_switch=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(loket: LoketNetns) -> Iterator[Any]:
    with chromium(CHROMIUM_ARGS, str(loket.chromium)) as launched:
        yield launched


class Pages:
    """The applicant's page and the counselor's console, with their uncaught errors."""

    def __init__(self, browser: Any) -> None:
        options = {"viewport": {"width": 1200, "height": 900}, "locale": "id-ID"}
        self.contexts = [browser.new_context(**options), browser.new_context(**options)]
        self.errors: list[str] = []
        self.console: list[str] = []
        self.applicant = self._watch(self.contexts[0].new_page(), "applicant")
        self.counselor = self._watch(self.contexts[1].new_page(), "counselor")

    def _watch(self, page: Any, name: str) -> Any:
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        page.on("console", lambda msg: self.console.append(f"{name}: {msg.type}: {msg.text}"))
        return page

    def calls(self) -> str:
        """Each page's call views as they are now (for a failed test's report)."""
        lines = []
        for name, page in (("applicant", self.applicant), ("counselor", self.counselor)):
            try:
                views = page.evaluate(
                    """() => Array.from(window.loketCalls || [], ([cid, c]) => ({
                      cid, connection: c.connection, inCall: c.inCall, stats: c.stats,
                      signaling: c.pc && c.pc.signalingState, ice: c.pc && c.pc.iceConnectionState,
                      pc: c.pc && c.pc.connectionState, trace: c.trace,
                      transceivers: c.pc && c.pc.getTransceivers().map((t) => [t.mid, t.direction,
                        t.currentDirection, t.sender.track && t.sender.track.readyState,
                        t.receiver.track.kind, t.receiver.track.muted]) }))"""
                )
            except Exception as exc:  # the page may be gone
                views = repr(exc)
            lines.append(f"{name}: {views}")
        return "\n".join(lines)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, loket: LoketNetns, request: pytest.FixtureRequest) -> Iterator[Pages]:
    opened = Pages(browser)
    attach_logs(
        request,
        lambda: [
            ("call views", opened.calls()),
            ("browser console", "\n".join(opened.console)),
            ("daphne (in the namespace)", loket.log()),
        ],
    )
    try:
        yield opened
    finally:
        opened.close()
    assert not opened.errors, opened.errors


def start_chat(loket: LoketNetns, pages: Pages, *, counselor: str, topic: str) -> str:
    """A counselor of its own topic takes the applicant's chat; the consultation id."""
    password = loket.counselor(counselor, topic)
    login_counselor(pages.counselor, loket.url, counselor, password)
    cid = applicant_join(pages.applicant, loket.url, topic=topic)
    accept_offer(pages.counselor)
    pages.applicant.wait_for_selector('[data-call-ref="ask-video"]:visible')
    return cid


def switch_to_video(pages: Pages) -> None:
    """The applicant asks for video, the counselor accepts; both get to connected."""
    pages.applicant.locator('[data-call-ref="ask-video"]').click()
    incoming = pages.counselor.locator('[data-call-ref="incoming"]:visible')
    incoming.wait_for()
    assert "meminta panggilan video" in incoming.inner_text()
    pages.counselor.locator('[data-call-ref="accept"]:visible').click()
    for page in (pages.applicant, pages.counselor):
        wait_call_state(page, "connected")


def assert_video_flows(pages: Pages, cid: str, more: int = 15) -> None:
    """Remote video is decoded on both sides, and keeps coming (framesDecoded rises)."""
    for page in (pages.applicant, pages.counselor):
        wait_frames(page, cid, 1)
        wait_frames(page, cid, call_frames(page, cid) + more)


def events_of(pages: Pages, cid: str) -> list[str]:
    return [e["event"] for e in transcript_events(pages.counselor, cid)]


def wait_events(pages: Pages, cid: str, wanted: list[str], timeout_ms: int = WAIT_MS) -> None:
    """Until the transcript holds ``wanted`` as a subsequence (the server records them async)."""
    pages.counselor.wait_for_function(
        """async ([cid, wanted]) => {
          const r = await fetch(`/api/consultations/${cid}/transcript`, { cache: "no-store" });
          const events = (await r.json()).entries.filter((e) => e.kind === "event");
          let i = 0;
          for (const e of events) if (i < wanted.length && e.event === wanted[i]) i += 1;
          return i === wanted.length;
        }""",
        arg=[cid, wanted],
        timeout=timeout_ms,
        polling=250,
    )


def after(events: list[str], first: str) -> list[str]:
    """The events after the last ``first``."""
    return events[len(events) - events[::-1].index(first) :]


def test_chat_switches_to_video_with_video_both_ways_glare_and_hangup(
    loket: LoketNetns, pages: Pages
) -> None:
    cid = start_chat(loket, pages, counselor="rina", topic="building-approval")
    switch_to_video(pages)
    assert_video_flows(pages, cid)
    wait_events(pages, cid, ["call_requested", "call_started", "call_connected"])

    # Glare: both sides offer at once. Each holds the other's signaling until both have sent
    # their offer, so the offers cross for certain; then perfect negotiation settles it.
    before = {p: call_info(p, cid)["stats"] for p in (pages.applicant, pages.counselor)}
    for page in (pages.applicant, pages.counselor):
        page.evaluate("(cid) => window.loketCalls.get(cid).holdSignals()", cid)
    for page in (pages.applicant, pages.counselor):
        page.evaluate("(cid) => window.loketCalls.get(cid).renegotiate()", cid)
    for page in (pages.applicant, pages.counselor):
        page.wait_for_function(
            "(cid) => window.loketCalls.get(cid).pc.signalingState === 'have-local-offer'",
            arg=cid,
        )
    for page in (pages.counselor, pages.applicant):
        page.evaluate("(cid) => window.loketCalls.get(cid).releaseSignals()", cid)
    for page in (pages.applicant, pages.counselor):
        page.wait_for_function(
            """(cid) => { const c = window.loketCalls.get(cid);
              return c.pc.signalingState === 'stable' && c.connection === 'connected'; }""",
            arg=cid,
        )
    applicant, counselor = call_info(pages.applicant, cid), call_info(pages.counselor, cid)
    # The counselor (polite) rolled its offer back; the applicant (impolite) ignored it.
    assert counselor["stats"]["rollbacks"] == before[pages.counselor]["rollbacks"] + 1
    assert applicant["stats"]["ignoredOffers"] == before[pages.applicant]["ignoredOffers"] + 1
    assert applicant["stats"]["rollbacks"] == before[pages.applicant]["rollbacks"]
    assert_video_flows(pages, cid)

    # The applicant turns the camera off (the counselor sees "Camera off") and on again.
    camera_off = pages.counselor.locator('[data-call-ref="remote-off"]:visible')
    pages.applicant.locator('[data-call-ref="camera"]:visible').click()
    camera_off.wait_for()
    assert camera_off.inner_text() == "Kamera mati"
    pages.applicant.locator('[data-call-ref="camera"]:visible').click()
    camera_off.wait_for(state="hidden")
    assert_video_flows(pages, cid, more=5)

    # Hang-up ends the call, not the chat.
    pages.applicant.locator('[data-call-ref="hangup"]:visible').click()
    for page in (pages.applicant, pages.counselor):
        wait_call_state(page, "ended")
        # The call's status line says it ended; no empty video box is left on either side.
        assert page.locator('[data-call-ref="status"]:visible').count() == 1
        assert page.locator(".call__videos:visible").count() == 0
    wait_events(pages, cid, ["call_started", "call_connected", "call_ended"])
    ended = [e for e in transcript_events(pages.counselor, cid) if e["event"] == "call_ended"]
    assert ended[-1]["data"]["reason"] == "hangup_applicant"
    assert pages.applicant.locator("#message").is_enabled()
    pages.applicant.locator("#message").fill("Terima kasih, lanjut lewat chat.")
    pages.applicant.locator("#message").press("Enter")
    pages.counselor.get_by_text("Terima kasih, lanjut lewat chat.").wait_for()
    # Both pages tell the call's history in words, not as raw event names.
    log = pages.applicant.locator("#log").inner_text()
    assert "Panggilan tersambung" in log and "call_" not in log


def test_precheck_then_video_consultation_starts_the_call(loket: LoketNetns, pages: Pages) -> None:
    cid = applicant_join(pages.applicant, loket.url, topic="business-registration", mode="video")
    page = pages.applicant
    page.locator("#precheck:visible").wait_for()
    page.locator("#precheck-start").click()
    # The picture that comes back through the server's own peer: it has a size, and it moves.
    # Functions, not bare expressions: Playwright runs an expression with eval(), which the
    # pages' Content-Security-Policy (script-src 'self') refuses.
    page.wait_for_function("() => document.getElementById('precheck-video').videoWidth > 0")
    frames = page.evaluate(
        "document.getElementById('precheck-video').getVideoPlaybackQuality().totalVideoFrames"
    )
    page.wait_for_function(
        """(n) => document.getElementById('precheck-video')
             .getVideoPlaybackQuality().totalVideoFrames > n + 10""",
        arg=frames,
    )
    page.wait_for_function("() => document.getElementById('precheck-level').value > 0")
    page.wait_for_function(
        "() => /\\d+ ms/.test(document.getElementById('precheck-rtt').textContent)"
    )
    page.locator('#precheck-verdict-title[data-verdict="ready"]').wait_for(timeout=WAIT_MS)
    assert page.locator("#precheck-verdict-title").inner_text().startswith("Siap")
    assert page.locator("#precheck").get_attribute("data-state") == "done"

    password = loket.counselor("joko", "business-registration")
    login_counselor(pages.counselor, loket.url, "joko", password)
    accept_offer(pages.counselor)
    verdict = pages.counselor.locator('[data-call-ref="precheck"]:visible')
    verdict.wait_for()
    assert verdict.get_attribute("data-verdict") == "ready"
    # A video consultation: the call starts by itself once the counselor has joined.
    for each in (pages.applicant, pages.counselor):
        wait_call_state(each, "connected")
    assert_video_flows(pages, cid)
    events = events_of(pages, cid)
    assert "call_requested" not in events
    wait_events(pages, cid, ["counselor_joined", "call_started", "call_connected"])


def test_closed_transport_is_rebuilt_and_the_call_goes_on(loket: LoketNetns, pages: Pages) -> None:
    cid = start_chat(loket, pages, counselor="tono", topic="health-permit")
    switch_to_video(pages)
    assert_video_flows(pages, cid, more=5)
    wait_events(pages, cid, ["call_started", "call_connected"])
    rebuilt = call_info(pages.counselor, cid)["stats"]["rebuilds"]

    # The applicant's transport dies; it builds a new RTCPeerConnection and the counselor's side,
    # seeing an offer of a new session, builds one too.
    pages.applicant.evaluate("(cid) => window.loketCalls.get(cid).cutTransport()", cid)
    for page in (pages.applicant, pages.counselor):
        wait_call_state(page, "connected")
    assert call_info(pages.counselor, cid)["stats"]["rebuilds"] == rebuilt + 1
    assert_video_flows(pages, cid, more=5)
    wait_events(pages, cid, ["call_connected", "call_reconnecting", "call_connected"])
    events = transcript_events(pages.counselor, cid)
    reconnecting = [e for e in events if e["event"] == "call_reconnecting"]
    assert reconnecting[-1]["data"] == {"by": "applicant", "audio_only": False, "reason": "failed"}
    assert "call_ended" not in [e["event"] for e in events]


def test_network_cut_mid_call_recovers(loket: LoketNetns, pages: Pages) -> None:
    if loket.udp_switch_error:
        missing(f"cutting UDP in the namespace: {loket.udp_switch_error}")
    cid = start_chat(loket, pages, counselor="wati", topic="environment-permit")
    switch_to_video(pages)
    assert_video_flows(pages, cid, more=5)
    wait_events(pages, cid, ["call_started", "call_connected"])

    loket.block_udp()
    try:
        # Both pages notice (ICE disconnected for a few seconds), say so, and Loket records it.
        for page in (pages.applicant, pages.counselor):
            wait_call_state(page, "reconnecting", timeout=30_000)
        status = pages.counselor.locator('[data-call-ref="status"]:visible').inner_text()
        assert re.search(r"menyambungkan kembali", status), status
        wait_events(pages, cid, ["call_connected", "call_reconnecting"])
    finally:
        loket.unblock_udp()
    # The applicant's ICE restart (or a rebuild) brings the media back.
    for page in (pages.applicant, pages.counselor):
        wait_call_state(page, "connected", timeout=30_000)
    assert_video_flows(pages, cid, more=5)
    wait_events(pages, cid, ["call_connected", "call_reconnecting", "call_connected"])
    assert after(events_of(pages, cid), "call_reconnecting") == ["call_connected"]
    assert call_info(pages.applicant, cid)["stats"]["restarts"] >= 1


def test_counselor_reloads_mid_call_and_the_call_comes_back(
    loket: LoketNetns, pages: Pages
) -> None:
    cid = start_chat(loket, pages, counselor="dodi", topic="non-permit-letters")
    switch_to_video(pages)
    assert_video_flows(pages, cid, more=5)

    # The reloading console says goodbye (rtc.hangup): the applicant waits for it to come back.
    # The new console finds the call going on, builds a connection and asks for an offer.
    pages.counselor.reload()
    for page in (pages.applicant, pages.counselor):
        wait_call_state(page, "connected", timeout=30_000)
    assert_video_flows(pages, cid, more=5)
    # The applicant's page heard the console go, and built a new connection for the new one.
    steps = pages.applicant.evaluate("(cid) => window.loketCalls.get(cid).trace", cid)
    assert any(step.endswith("got rtc.hangup null") for step in steps), steps
    assert sum(step.endswith("new peer connection") for step in steps) >= 2, steps
    wait_events(pages, cid, ["call_started", "call_connected"])
    assert "call_ended" not in events_of(pages, cid)
