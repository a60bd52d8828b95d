"""Every screen, in Indonesian and in English, on a phone and on a desktop, in Chromium.

Each language walks a consultation from both sides and then the supervisor's screens (one server),
and the closed office with an offline question and its answer on the console (a second server,
its office-hours clock on a Friday evening through LOKET_FAKE_NOW). Every screen is checked at
390x844 and at 1280x800: axe-core finds no serious or critical violation, and at phone width
nothing makes the page scroll sideways. With LOKET_UPDATE_SCREENSHOTS=1 each is also saved as
docs/screenshots/<screen>-<language>-<phone|desktop>.jpg (the README's Screens section); an
ordinary run checks without writing anything. The server and browser helpers are those of every
browser walk (tests/support/browser.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    DEWI,
    DOC_SHOTS,
    SARI,
    UPDATE_SHOTS,
    WAIT_MS,
    PageErrors,
    Server,
    log_on_failure,
    served,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(480)]

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
PASSWORD = secrets.token_urlsafe(12)
# A Friday evening in Jakarta: the office is closed until Monday 07:30.
FRIDAY_EVENING = "2026-03-06T18:00:00+07:00"
LANGUAGES = ["id", "en"]

# What the people on the screens write, in each language; the transcript search looks for WORD.
TEXT = {
    "id": {
        "hello": "Selamat siang, Bu Ani. Ada yang bisa saya bantu?",
        "question": "Saya mau membangun garasi di belakang rumah. Apa saja syarat PBG-nya?",
        "kb": "PBG rumah",
        "note": "Pemohon belum punya KRK; sarankan urus KKPR dulu.",
        "other": "Bagaimana cara mendaftar NIB untuk warung saya?",
        "comment": "Jelas dan cepat, terima kasih.",
        "word": "garasi",
        "offline": "Apakah PBG rumah dua lantai perlu gambar arsitek? Luas tanah saya 120 m².",
        "answer": "Ya, untuk bangunan dua lantai gambar arsitek diperlukan.",
    },
    "en": {
        "hello": "Good afternoon, Ms Ani. How can I help you?",
        "question": "I want to build a garage behind my house. What does the PBG need?",
        "kb": "family house",
        "note": "No KRK yet; suggest applying for the KKPR first.",
        "other": "How do I register an NIB for my small shop?",
        "comment": "Clear and quick, thank you.",
        "word": "garage",
        "offline": "Does a two-storey house need an architect's drawings? My plot is 120 m².",
        "answer": "Yes, a two-storey building needs an architect's drawings.",
    },
}


class Gallery:
    """Checks a screen at each size and, on request, photographs it."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.problems: list[str] = []

    def capture(
        self, page: Any, screen: str, focus: str | None = None, phone_focus: str | None = None
    ) -> None:
        """Check ``page`` at phone and desktop size, scrolled to ``focus`` (a selector; on a phone
        ``phone_focus`` if given) or the top; the page is left at desktop size."""
        # No caret or focus ring of the last field typed into in the pictures.
        page.evaluate("document.activeElement && document.activeElement.blur()")
        for size, viewport in SIZES.items():
            name = f"{screen}-{self.language}-{size}"
            page.set_viewport_size(viewport)
            if size == "phone":
                wide = page.evaluate(OVERFLOW_JS)
                if wide is not None:
                    self.problems.append(f"{name}: {wide['over']}px too wide: {wide['wide']}")
            target = (phone_focus or focus) if size == "phone" else focus
            if target is None:
                page.evaluate("window.scrollTo(0, 0)")
            else:
                page.locator(target).evaluate("e => e.scrollIntoView({block: 'start'})")
            if UPDATE_SHOTS:
                DOC_SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(
                    path=str(DOC_SHOTS / f"{name}.jpg"),
                    type="jpeg",
                    quality=70,
                    animations="disabled",
                )
            self.problems.extend(f"{name}: {p}" for p in serious_accessibility_problems(page))


# How far the page is wider than the window, and the widest elements, or null if it fits.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const over = document.documentElement.scrollWidth - width;
  if (over <= 0) return null;
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > width + 0.5)
    .slice(0, 6)
    .map((e) => {
      const names = typeof e.className === 'string' ? e.className.split(/\\s+/) : [];
      const classes = names.filter(Boolean);
      return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''), ...classes].join('.');
    });
  return {over, wide};
}"""


def serious_accessibility_problems(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# Topics, office hours, the demo knowledge base and shared canned replies; one password for all.
STAFF = (
    {
        **SARI,
        "password": PASSWORD,
        "topics": "building-approval,business-registration,health-permit",
        "capacity": 3,
    },
    {**DEWI, "password": PASSWORD},
)


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[Server]:
    with served(tmp_path, *STAFF, LOKET_ENFORCE_HOURS="0") as srv:
        yield srv


@pytest.fixture
def closed_server(tmp_path: Path) -> Iterator[Server]:
    with served(
        tmp_path,
        *STAFF,
        LOKET_ENFORCE_HOURS="1",
        LOKET_FAKE_NOW=FRIDAY_EVENING,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
    ) as srv:
        yield srv


def _context(browser: Any, base: str, language: str) -> Any:
    context = browser.new_context(
        viewport=SIZES["desktop"], locale="id-ID", timezone_id="Asia/Jakarta"
    )
    context.set_default_timeout(WAIT_MS)
    # What the language switch in the header sets.
    context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    return context


def _log_in(page: Any, base: str, path: str, username: str) -> None:
    page.goto(base + path)
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#main button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))


def _join(page: Any, base: str, name: str, topic: str) -> None:
    page.goto(base + "/")
    page.locator("#f-name").fill(name)
    page.locator("#f-phone").fill(form_phone())
    page.locator("#f-topic").select_option(topic)


def _say(panel: Any, text: str) -> None:
    composer = panel.locator("[data-ref=composer] textarea")
    composer.fill(text)
    composer.press("Enter")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_of_a_consultation_fits_a_phone_and_passes_axe(
    open_server: Server, browser: Any, language: str
) -> None:
    from playwright.sync_api import expect

    base = open_server.url
    text = TEXT[language]
    gallery = Gallery(language)
    errors = PageErrors()
    with log_on_failure(open_server):
        # --- the staff login
        staff_ctx = _context(browser, base, language)
        sari = errors.watch(staff_ctx.new_page(), "sari")
        sari.goto(base + "/counselor/")
        expect(sari.locator("#id_username")).to_be_visible()
        expect(sari.locator("html")).to_have_attribute("lang", language)
        sari.locator("#id_username").fill("sari")
        gallery.capture(sari, "login")

        # --- an applicant fills in the form and waits with the checklist of her topic
        ani = errors.watch(_context(browser, base, language).new_page(), "ani")
        _join(ani, base, "Ani Wijaya", "building-approval")
        expect(ani.locator("#f-language")).to_have_value(language)
        gallery.capture(ani, "applicant-form")
        ani.locator("#join-submit").click()
        expect(ani.locator("#position")).to_have_attribute("data-position", "1")
        expect(ani.locator("#requirements-lists li").first).to_be_visible()
        gallery.capture(ani, "applicant-waiting")

        # --- a second applicant, of another topic
        budi = errors.watch(_context(browser, base, language).new_page(), "budi")
        _join(budi, base, "Budi Santoso", "business-registration")
        budi.locator("#join-submit").click()
        expect(budi.locator("#position")).to_have_attribute("data-position", "1")

        # --- the counselor goes available and is offered a consultation
        sari.locator("#id_password").fill(PASSWORD)
        sari.locator("#main button[type=submit]").click()
        sari.wait_for_url(re.compile(r"/counselor/$"))
        sari.locator("[data-status=available]").click()
        first_offer = sari.locator(".offer").first
        expect(first_offer).to_be_visible()
        gallery.capture(sari, "counselor-offer")

        # --- she takes both, answers Ani from the knowledge base, notes, and Budi writes
        for name in ("Ani Wijaya", "Budi Santoso"):
            sari.locator(".offer", has_text=name).locator("[data-action=accept]").click()
            expect(sari.get_by_role("tab", name=re.compile(name))).to_be_visible()
        expect(ani.locator("#chat")).to_be_visible()
        sari.get_by_role("tab", name=re.compile("Ani Wijaya")).click()
        panel = sari.get_by_role("tabpanel")
        _say(panel, text["hello"])
        expect(ani.locator("#log .msg--peer", has_text=text["hello"])).to_be_visible()
        ani.locator("#message").fill(text["question"])
        ani.locator("#message").press("Enter")
        expect(panel.locator(".msg--peer", has_text=text["question"])).to_be_visible()
        panel.locator("[data-ref=kb-form] input[name=q]").fill(text["kb"])
        panel.locator("[data-ref=kb-form] button[type=submit]").click()
        result = panel.locator(".kb-result").first
        expect(result).to_be_visible()
        result.locator("[data-ref=section]").select_option("requirements")
        result.locator("[data-ref=insert]").click()
        expect(ani.locator("#log .msg--peer .msg__source")).to_be_visible()
        panel.locator("[data-ref=note-form] textarea").fill(text["note"])
        panel.locator("[data-ref=note-form] button[type=submit]").click()
        expect(panel.locator(".note")).to_contain_text(text["note"])
        budi.locator("#message").fill(text["other"])
        budi.locator("#message").press("Enter")
        expect(
            sari.get_by_role("tab", name=re.compile("Budi Santoso")).locator(".badge--alert")
        ).to_be_visible()
        expect(ani.locator("#log .msg--own", has_text=text["question"])).to_contain_text(
            re.compile("Dibaca|Read")
        )
        gallery.capture(ani, "applicant-chat")
        gallery.capture(sari, "counselor-chats", phone_focus=".console__chats")

        # --- she ends Ani's consultation; Ani rates it and opens her transcript
        panel.locator("[data-ref=outcome]").select_option("needs_documents")
        sari.once("dialog", lambda dialog: dialog.accept())
        panel.locator("[data-ref=end-form] button[type=submit]").click()
        expect(ani.locator("#rating-form")).to_be_visible()
        ani.locator("label[for=rating-4]").click()
        ani.locator("#rating-comment").fill(text["comment"])
        gallery.capture(ani, "applicant-ended")
        ani.locator("#rating-form button[type=submit]").click()
        expect(ani.locator("#rating-done")).to_be_visible()
        with ani.context.expect_page() as opened:
            ani.locator("#transcript-form button[type=submit]").click()
        transcript = errors.watch(opened.value, "ani-transcript")
        expect(transcript.locator(".timeline__source")).to_be_visible()
        gallery.capture(transcript, "applicant-transcript")

        # --- the supervisor: the board (Budi's chat is still open), figures, transcripts
        dewi = errors.watch(_context(browser, base, language).new_page(), "dewi")
        _log_in(dewi, base, "/supervisor/", "dewi")
        expect(dewi.locator("#board")).to_have_attribute("data-ready", "1")
        expect(dewi.locator('#totals [data-total="chats"]')).to_have_text("1")
        gallery.capture(dewi, "supervisor-board")
        dewi.goto(base + "/supervisor/figures/")
        expect(dewi.locator('tr[data-key="total"] [data-col="answered"]')).to_be_visible()
        gallery.capture(dewi, "supervisor-figures", phone_focus="#period-title")
        dewi.goto(f"{base}/transcripts/?q={text['word']}")
        row = dewi.locator("tbody tr", has_text="A*** W***")
        expect(row).to_have_count(1)
        gallery.capture(dewi, "transcripts", phone_focus=".table-scroll")
        row.get_by_role("link").click()
        expect(dewi.locator(".timeline")).to_contain_text(text["note"])
        gallery.capture(dewi, "transcript")
    assert not errors.errors, "\n".join(errors.errors)
    assert not gallery.problems, "\n".join(gallery.problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_closed_office_and_offline_questions_fit_a_phone_and_pass_axe(
    closed_server: Server, browser: Any, language: str
) -> None:
    from playwright.sync_api import expect

    base = closed_server.url
    text = TEXT[language]
    gallery = Gallery(language)
    errors = PageErrors()
    with log_on_failure(closed_server):
        # --- the applicant finds the office closed and leaves a question
        ani = errors.watch(_context(browser, base, language).new_page(), "ani")
        ani.goto(base + "/")
        expect(ani.locator("#closed-next")).to_contain_text("07")
        form = ani.locator("#offline-form")
        form.locator("#q-name").fill("Ani Wijaya")
        form.locator("#q-email").fill("ani@example.id")
        form.locator("#q-topic").select_option("building-approval")
        form.locator("#q-question").fill(text["offline"])
        gallery.capture(ani, "applicant-closed")
        form.locator("button[type=submit]").click()
        expect(ani.locator("#offline-reference")).to_have_text(re.compile(r"^LKT-"))

        # --- a counselor opens it on the console and writes the answer
        sari = errors.watch(_context(browser, base, language).new_page(), "sari")
        _log_in(sari, base, "/counselor/", "sari")
        item = sari.locator("#offline-panel .offline-item").first
        expect(item).to_contain_text("Ani Wijaya")
        item.click()
        sari.locator("#offline-answer").fill(text["answer"])
        gallery.capture(sari, "counselor-offline", focus="#offline-panel")
    assert not errors.errors, "\n".join(errors.errors)
    assert not gallery.problems, "\n".join(gallery.problems)
