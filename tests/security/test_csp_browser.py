"""The Content-Security-Policy in a real browser: every page of Loket loads and works under it.

Chromium (Playwright) against a real Daphne process walks every screen: the applicant's form,
waiting, chat (with the video pane), ended and transcript pages, the closed office, the login
page, the counselor's console with a chat and a video call, the supervisor's board, the figures,
transcript search and a transcript. Every document must carry the CSP header, and no page may
report a violation (``securitypolicyviolation`` events, reported from each page to the test as
they happen) or log a console error (Chromium also logs each refused load there).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.netns import CHROMIUM_ARGS
from tests.e2e.video_pages import accept_offer, applicant_join, login_counselor
from tests.support.browser import Server, chromium, served

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(300)]

WAIT_MS = 20_000
PASSWORD = "csp-browser-password-41d8"
FRIDAY_EVENING = "2026-03-06T18:00:00+07:00"

# Runs in every document before its own scripts: each violation goes to the test at once, so
# none is lost when the page navigates away.
REPORT_VIOLATIONS_JS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__loketCspViolation({
    page: location.pathname,
    directive: e.violatedDirective,
    blocked: e.blockedURI,
    source: e.sourceFile + ":" + e.lineNumber,
  });
});
"""


class Watch:
    """What the pages of one browser context report: violations, errors, documents' headers."""

    def __init__(self) -> None:
        self.violations: list[Any] = []
        self.errors: list[str] = []
        self.documents: list[str] = []
        self.missing_csp: list[str] = []

    def attach(self, context: Any, name: str) -> None:
        context.expose_binding(
            "__loketCspViolation", lambda _source, found: self.violations.append(found)
        )
        context.add_init_script(REPORT_VIOLATIONS_JS)
        context.on("page", lambda page: self._page(page, name))
        # On the context, not the page: a new tab's first document arrives before its "page".
        context.on("response", self._response)

    def _page(self, page: Any, name: str) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"{name} {page.url}: console: {msg.text}")
                if msg.type == "error"
                else None
            ),
        )

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document":
            return
        self.documents.append(response.url)
        policy = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in policy or "unsafe-inline" in policy:
            self.missing_csp.append(f"{response.url}: {policy!r}")

    def check(self) -> None:
        assert not self.violations, self.violations
        assert not self.errors, "\n".join(self.errors)
        assert not self.missing_csp, self.missing_csp


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Server]:
    sari = {"username": "sari", "password": PASSWORD, "name": "Sari", "topics": "building-approval"}
    dewi = {"username": "dewi", "password": PASSWORD, "role": "supervisor"}
    with served(tmp_path / "open", sari, dewi, LOKET_ICE_HOST_ADDRESSES="127.0.0.1") as srv:
        yield srv


@pytest.fixture
def closed_office(tmp_path: Path) -> Iterator[Server]:
    closed = {"LOKET_ENFORCE_HOURS": "1", "LOKET_FAKE_NOW": FRIDAY_EVENING}
    with served(tmp_path / "closed", **closed) as srv:
        yield srv


def _login(page: Any, base: str, username: str, target: str) -> None:
    page.goto(base + target)
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('main form.form button[type="submit"]').click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def test_every_page_runs_under_the_policy_without_a_violation(
    office: Server, closed_office: Server
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    watch = Watch()
    base = office.url
    with chromium(CHROMIUM_ARGS) as browser:
        try:
            contexts = {}
            for name in ("applicant", "counselor", "supervisor", "visitor"):
                ctx = browser.new_context(locale="id-ID", timezone_id="Asia/Jakarta")
                ctx.set_default_timeout(WAIT_MS)
                watch.attach(ctx, name)
                contexts[name] = ctx

            # --- the applicant's form, then waiting in the queue
            applicant = contexts["applicant"].new_page()
            cid = applicant_join(applicant, base, topic="building-approval")
            expect(applicant.locator("#position")).to_have_attribute("data-position", "1")

            # --- the login page, the counselor's console (available), then the chat
            counselor = contexts["counselor"].new_page()
            login_counselor(counselor, base, "sari", PASSWORD)
            accept_offer(counselor)
            panel = counselor.get_by_role("tabpanel")
            panel.get_by_label("Pesan Anda").fill("Selamat siang.")
            panel.get_by_label("Pesan Anda").press("Enter")
            expect(applicant.locator("#log .msg--peer", has_text="Selamat siang.")).to_be_visible()
            applicant.get_by_label("Pesan Anda").fill("Siang, Bu.")
            applicant.get_by_label("Pesan Anda").press("Enter")
            expect(panel.locator(".msg--peer", has_text="Siang, Bu.")).to_be_visible()

            # --- the video pane on both sides (fake camera and microphone)
            applicant.locator('[data-call-ref="ask-video"]').click()
            counselor.locator('[data-call-ref="accept"]:visible').click()
            for page in (applicant, counselor):
                page.wait_for_selector(
                    '[data-call-ref="root"][data-call-state="connected"]', timeout=WAIT_MS
                )
                page.wait_for_function(
                    "() => [...document.querySelectorAll('video')].some("
                    "(v) => v.srcObject && v.readyState >= 2)"
                )
            applicant.locator('[data-call-ref="hangup"]:visible').click()
            for page in (applicant, counselor):
                page.wait_for_selector('[data-call-ref="root"][data-call-state="ended"]')

            # --- the counselor ends; the applicant's ended screen and transcript
            counselor.once("dialog", lambda dialog: dialog.accept())
            panel.get_by_role("button", name="Akhiri konsultasi").click()
            expect(applicant.locator("#ended-title")).to_have_text("Konsultasi telah selesai")
            with contexts["applicant"].expect_page() as opened:
                applicant.locator("#transcript-form button[type=submit]").click()
            transcript_tab = opened.value
            transcript_tab.wait_for_load_state()
            expect(transcript_tab.locator("body")).to_contain_text("Siang, Bu.")

            # --- the supervisor: board, figures, transcript search and one transcript
            supervisor = contexts["supervisor"].new_page()
            _login(supervisor, base, "dewi", "/supervisor/")
            supervisor.wait_for_load_state("networkidle")
            supervisor.goto(base + "/supervisor/figures/")
            supervisor.goto(base + "/transcripts/?q=Siang")
            row = supervisor.locator("tr", has_text="A***")
            expect(row).to_be_visible()
            row.get_by_role("link").first.click()
            expect(supervisor.locator(".timeline")).to_contain_text("Siang, Bu.")
            assert cid in supervisor.url

            # --- the closed office (its offline-question form)
            visitor = contexts["visitor"].new_page()
            visitor.goto(closed_office.url + "/")
            expect(visitor.locator("body")).to_contain_text("tutup")
            visitor.wait_for_load_state("networkidle")
        except Exception:
            import sys

            sys.stderr.write(office.log_tail())
            raise

    visited = {re.sub(r"^https?://[^/]+", "", url).split("?")[0] for url in watch.documents}
    for path in ("/", "/login/", "/counselor/", "/supervisor/", "/supervisor/figures/"):
        assert path in visited, (path, visited)
    assert f"/c/{cid}/transcript" in visited, visited
    assert f"/transcripts/{cid}/" in visited, visited
    watch.check()
