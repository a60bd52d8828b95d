"""The supervisor's screens in a real browser against a real Daphne server.

The supervisor watches the live board while an applicant joins (the waiting count and the
longest wait change, and the wait runs on by itself) and a counselor takes the consultation (the
counselor turns busy, the chat counts as active) and ends it; then finds the transcript by a word
said in it, looks at today's figures, and switches the board to English. The server, login and
screenshot helpers are those of every browser walk (tests/support/browser.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    COUNSELOR_PASSWORD,
    DOC_SHOTS,
    SUPERVISOR_PASSWORD,
    UPDATE_SHOTS,
    PageErrors,
    Server,
    contexts_open,
    log_on_failure,
    login,
    shoot,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

TOPIC = "building-approval"
NO_VALUE = "\u2013"  # an en dash: no one waiting
WORD = "garasi"


def board_cell(page: Any, column: str, topic: str = TOPIC) -> Any:
    return page.locator(f'#topic-rows tr[data-topic="{topic}"] [data-col="{column}"]')


def total(page: Any, name: str) -> Any:
    return page.locator(f'#totals [data-total="{name}"]')


def test_supervisor_watches_the_board_and_finds_a_transcript(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    errors = PageErrors()
    a11y: list[str] = []
    shots = DOC_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    base = server.url
    with log_on_failure(server):
        supervisor_ctx, applicant_ctx, counselor_ctx = contexts_open(browser, 3)

        # --- the supervisor opens the board: nobody waits, Sari is offline
        supervisor = errors.watch(supervisor_ctx.new_page(), "supervisor")
        login(supervisor, base, "dewi", SUPERVISOR_PASSWORD)
        supervisor.get_by_role("link", name="Papan", exact=True).click()
        supervisor.wait_for_url(re.compile(r"/supervisor/$"))
        expect(supervisor.locator("#board")).to_have_attribute("data-ready", "1")
        expect(supervisor.get_by_role("heading", name="Papan langsung")).to_be_visible()
        expect(board_cell(supervisor, "waiting")).to_have_text("0")
        expect(board_cell(supervisor, "longest")).to_have_text(NO_VALUE)
        expect(total(supervisor, "offline")).to_have_text("1")
        sari_row = supervisor.locator("#counselor-rows tr", has_text="Sari")
        expect(sari_row.locator(".presence")).to_have_text("Luring")

        # --- an applicant joins: the queue grows and the wait runs on by itself
        applicant = errors.watch(applicant_ctx.new_page(), "applicant")
        applicant.goto(base + "/")
        applicant.get_by_label("Nama Anda").fill("Ani Wijaya")
        applicant.get_by_label("Nomor telepon").fill(form_phone())
        applicant.get_by_label("Topik").select_option(TOPIC)
        applicant.get_by_role("button", name="Masuk antrean").click()
        expect(applicant.locator("#position")).to_have_attribute("data-position", "1")
        expect(board_cell(supervisor, "waiting")).to_have_text("1")
        expect(total(supervisor, "waiting")).to_have_text("1")
        # No frame arrives while the applicant waits: the page's own clock moves it on.
        expect(board_cell(supervisor, "longest")).to_have_text(re.compile(r"^0:0[2-9]$"))
        expect(total(supervisor, "longest")).to_have_text(re.compile(r"^0:\d\d$"))

        # --- the counselor goes available: the offer makes her busy; she accepts
        counselor = errors.watch(counselor_ctx.new_page(), "counselor")
        login(counselor, base, "sari", COUNSELOR_PASSWORD)
        counselor.get_by_role("button", name="Tersedia").click()
        offer = counselor.locator(".offer", has_text="Ani Wijaya")
        expect(offer).to_be_visible()
        expect(board_cell(supervisor, "waiting")).to_have_text("0")
        expect(board_cell(supervisor, "longest")).to_have_text(NO_VALUE)
        expect(total(supervisor, "busy")).to_have_text("1")
        expect(sari_row.locator(".presence")).to_have_text("Sibuk")
        expect(board_cell(supervisor, "chats")).to_have_text("0")
        offer.get_by_role("button", name="Terima").click()
        expect(board_cell(supervisor, "chats")).to_have_text("1")
        expect(total(supervisor, "chats")).to_have_text("1")
        expect(sari_row.locator('[data-col="load"]')).to_have_text("1 dari 3")
        shoot(supervisor, "supervisor-board-id.png", shots, a11y)

        # --- they talk; the counselor ends: the board is back to an idle counselor
        question = f"Apakah {WORD} di belakang rumah perlu PBG?"
        applicant.get_by_label("Pesan Anda").fill(question)
        applicant.get_by_label("Pesan Anda").press("Enter")
        panel = counselor.get_by_role("tabpanel")
        expect(panel.locator(".msg--peer", has_text=question)).to_be_visible()
        counselor.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Akhiri konsultasi").click()
        expect(applicant.locator("#ended-title")).to_be_visible()
        expect(board_cell(supervisor, "chats")).to_have_text("0")
        expect(total(supervisor, "available")).to_have_text("1")
        expect(sari_row.locator(".presence")).to_have_text("Tersedia")

        # --- the supervisor finds the transcript by a word said in it
        transcripts = errors.watch(supervisor_ctx.new_page(), "transcripts")
        transcripts.goto(base + "/transcripts/")
        transcripts.get_by_label("Kata dalam percakapan").fill(WORD.upper())
        transcripts.get_by_role("button", name="Cari", exact=True).click()
        transcripts.wait_for_url(re.compile(r"q=GARASI"))
        rows = transcripts.locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("A*** W***")
        transcripts.get_by_label("Kata dalam percakapan").fill("tidak-ada-kata-ini")
        transcripts.get_by_role("button", name="Cari", exact=True).click()
        expect(transcripts.locator("tbody tr")).to_have_count(0)
        expect(transcripts.locator(".empty")).to_be_visible()
        transcripts.get_by_label("Kata dalam percakapan").fill(WORD)
        transcripts.get_by_role("button", name="Cari", exact=True).click()
        transcripts.locator("tbody tr", has_text="A*** W***").get_by_role("link").click()
        timeline = transcripts.locator(".timeline")
        expect(timeline.locator(".timeline__item--message", has_text=question)).to_have_count(1)
        expect(timeline).to_contain_text("Konselor mengakhiri konsultasi.")

        # --- today's figures count the consultation
        transcripts.goto(base + "/supervisor/figures/")
        totals = transcripts.locator('tr[data-key="total"]')
        expect(totals.locator('[data-col="answered"]')).to_have_text("1")
        expect(totals.locator('[data-col="abandoned"]')).to_have_text("0")
        counselor_row = transcripts.locator("tr", has_text="Sari")
        expect(counselor_row.locator('[data-col="answered"]')).to_have_text("1")
        shoot(transcripts, "supervisor-figures-id.png", shots, a11y)
        with transcripts.expect_download() as download_info:
            transcripts.get_by_role("link", name="Unduh CSV").click()
        download = download_info.value
        assert re.fullmatch(
            r"loket-figures-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv", download.suggested_filename
        )
        content = Path(download.path()).read_text(encoding="utf-8")
        assert "Ani" not in content and "0812" not in content
        assert content.splitlines()[1].split(",")[5:7] == ["1", "0"]

        # --- English is one click away, and the board comes back live
        supervisor.get_by_role("button", name="English").click()
        expect(supervisor.get_by_role("heading", name="Live board")).to_be_visible()
        expect(supervisor.locator("#board")).to_have_attribute("data-ready", "1")
        expect(sari_row.locator(".presence")).to_have_text("Available")
        shoot(supervisor, "supervisor-board-en.png", shots, a11y)
        # A phone-width screen: the board scrolls its tables, not the page.
        supervisor.set_viewport_size({"width": 360, "height": 740})
        overflow = supervisor.evaluate(
            "() => document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"the board is {overflow}px wider than a phone screen"
    assert not errors.errors, "\n".join(errors.errors)
    assert not a11y, "accessibility:\n" + "\n".join(a11y)
