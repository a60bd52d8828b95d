"""A transfer between two counselors, in real Chromium against a real Daphne server.

Sari (building approval) takes Ani's consultation and chats, then transfers it to the
business-registration queue with a note. Budi (business registration) gets the offer: his page
title counts it and his console beeps (Sari muted hers, and hears nothing); the note is his to
read, never Ani's. Budi accepts, chats, ends; Ani rates. Ani's page shows the transfer as a system
line and both counselors' messages in order; the supervisor's transcript (API and page) has the
transfer and both counselors joining.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    COUNSELOR_PASSWORD,
    DEWI,
    SARI,
    SUPERVISOR_PASSWORD,
    WAIT_MS,
    PageErrors,
    Server,
    contexts_open,
    log_on_failure,
    login,
    served,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

NOTE = "Pemohon sudah punya PBG; pertanyaannya soal NIB untuk kafe."
# Counts the oscillators the page starts: one per tone of a beep. No sound leaves the machine.
COUNT_BEEPS = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    sari = {**SARI, "topics": "building-approval"}
    budi = {**SARI, "username": "budi", "name": "Budi", "topics": "business-registration"}
    with served(tmp_path, sari, budi, DEWI) as srv:
        yield srv


def say(page: Any, scope: Any, text: str) -> None:
    scope.get_by_label("Pesan Anda").fill(text)
    scope.get_by_label("Pesan Anda").press("Enter")


def test_a_consultation_transferred_to_a_colleague_with_a_note(
    server: Server, browser: Any
) -> None:
    from playwright.sync_api import expect

    errors = PageErrors()
    base = server.url
    with log_on_failure(server):
        contexts = contexts_open(browser, 4)
        for ctx in contexts:
            ctx.add_init_script(COUNT_BEEPS)
        ani_ctx, sari_ctx, budi_ctx, dewi_ctx = contexts

        # --- both counselors available; Sari mutes her sounds (remembered over a reload)
        sari = errors.watch(sari_ctx.new_page(), "sari")
        login(sari, base, "sari", COUNSELOR_PASSWORD)
        mute = sari.get_by_role("button", name="Bisukan suara")
        expect(mute).to_have_attribute("aria-pressed", "false")
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")
        sari.reload()
        expect(sari.get_by_role("button", name="Bisukan suara")).to_have_attribute(
            "aria-pressed", "true"
        )
        sari.get_by_role("button", name="Tersedia").click()
        expect(sari.get_by_role("button", name="Tersedia")).to_have_attribute(
            "aria-pressed", "true"
        )
        budi = errors.watch(budi_ctx.new_page(), "budi")
        login(budi, base, "budi", COUNSELOR_PASSWORD)
        budi.get_by_role("button", name="Tersedia").click()
        expect(budi.get_by_role("button", name="Tersedia")).to_have_attribute(
            "aria-pressed", "true"
        )
        plain_title = budi.title()
        assert not plain_title.startswith("("), plain_title

        # --- Ani joins building approval; Sari takes the offer (silently) and they chat
        ani = errors.watch(ani_ctx.new_page(), "ani")
        ani.goto(base + "/")
        ani.get_by_label("Nama Anda").fill("Ani Wijaya")
        ani.get_by_label("Nomor telepon").fill(form_phone())
        ani.get_by_label("Topik").select_option("building-approval")
        ani.get_by_role("button", name="Masuk antrean").click()
        offer = sari.locator(".offer", has_text="Ani Wijaya")
        expect(offer).to_contain_text("Jawab dalam")
        expect(sari).to_have_title(re.compile(r"^\(1\) Konsol konselor"))
        assert sari.evaluate("window.__tones") == 0, "a muted console beeped"
        offer.get_by_role("button", name="Terima").click()
        expect(sari).to_have_title(re.compile(r"^Konsol konselor"))
        sari_panel = sari.get_by_role("tabpanel")
        hello_a = "Selamat siang, Bu Ani. Saya Sari."
        say(sari, sari_panel, hello_a)
        expect(ani.locator("#log .msg--peer", has_text=hello_a)).to_contain_text("Sari")
        question = "Saya mau buka kafe, izin usahanya bagaimana?"
        say(ani, ani, question)
        expect(sari_panel.locator(".msg--peer", has_text=question)).to_be_visible()

        # --- Sari transfers to the business-registration queue, with a note for Budi
        sari_panel.locator("summary", has_text="Alihkan").click()
        sari_panel.get_by_label("Ke antrean topik").select_option("business-registration")
        sari_panel.get_by_label("Catatan untuk rekan (tidak wajib)").fill(NOTE)
        sari_panel.get_by_role("button", name="Alihkan sekarang").click()
        expect(sari_panel).to_contain_text("Konsultasi ini tidak lagi Anda tangani")
        transfer_line = "Sari mengalihkan konsultasi ke Pendaftaran Usaha (NIB)."
        expect(ani.locator("#log .event", has_text=transfer_line)).to_have_count(1)

        # --- Budi is offered it: the title counts it and the console beeps
        offer = budi.locator(".offer", has_text="Ani Wijaya")
        expect(offer).to_contain_text("Jawab dalam")
        expect(budi).to_have_title(re.compile(r"^\(1\) Konsol konselor"))
        budi.wait_for_function("() => window.__tones > 0", timeout=WAIT_MS)
        offer.get_by_role("button", name="Terima").click()
        expect(budi).to_have_title(plain_title)
        budi_panel = budi.get_by_role("tabpanel")
        expect(budi_panel.locator(".note")).to_contain_text(NOTE)
        # Ani's page has the whole history, and Budi's console too; the note is staff only.
        expect(budi_panel.locator(".msg--peer", has_text=question)).to_be_visible()
        expect(ani.locator("#log .event", has_text="Budi bergabung")).to_have_count(1)
        hello_b = "Selamat siang, Bu Ani. Saya Budi, bagian NIB."
        say(budi, budi_panel, hello_b)
        expect(ani.locator("#log .msg--peer", has_text=hello_b)).to_contain_text("Budi")
        thanks = "Terima kasih, Pak Budi."
        say(ani, ani, thanks)
        expect(budi_panel.locator(".msg--peer", has_text=thanks)).to_be_visible()
        assert NOTE not in ani.content()

        lines = ani.locator("#log [data-seq]").all_inner_texts()

        def at(text: str) -> int:
            found = [i for i, line in enumerate(lines) if text in line]
            assert len(found) == 1, (text, lines)
            return found[0]

        assert (
            at(hello_a)
            < at(question)
            < at(transfer_line)
            < at("Budi bergabung")
            < at(hello_b)
            < at(thanks)
        ), lines

        # --- Budi ends; Ani rates
        budi.once("dialog", lambda dialog: dialog.accept())
        budi_panel.get_by_role("button", name="Akhiri konsultasi").click()
        expect(ani.locator("#ended-title")).to_have_text("Konsultasi telah selesai")
        rating = ani.locator("#rating-form")
        rating.get_by_text("Sangat membantu").click()
        ani.get_by_role("button", name="Kirim penilaian").click()
        expect(ani.locator("#rating-done")).to_have_text("Terima kasih atas penilaian Anda.")

        # --- the supervisor's transcript: the transfer and both counselors joining
        dewi = errors.watch(dewi_ctx.new_page(), "dewi")
        login(dewi, base, "dewi", SUPERVISOR_PASSWORD)
        dewi.goto(base + "/transcripts/")
        link = dewi.locator("tr", has_text="A*** W***").get_by_role("link")
        href = link.get_attribute("href") or ""
        public_id = href.rstrip("/").rsplit("/", 1)[-1]
        response = dewi_ctx.request.get(f"{base}/api/consultations/{public_id}/transcript")
        assert response.status == 200
        record = response.json()
        events = [(e["event"], e["data"]) for e in record["entries"] if e["kind"] == "event"]
        order = [
            (name, data.get("counselor"))
            for name, data in events
            if name in ("counselor_joined", "transferred")
        ]
        assert order == [
            ("counselor_joined", "Sari"),
            ("transferred", None),
            ("counselor_joined", "Budi"),
        ], events
        assert any(NOTE in n.get("text", "") for n in record["notes"]), record["notes"]
        assert record["consultation"]["rating"] == 4
        link.click()
        timeline = dewi.locator(".timeline")
        expect(timeline).to_contain_text("Sari bergabung dalam konsultasi.")
        expect(timeline).to_contain_text(transfer_line)
        expect(timeline).to_contain_text("Budi bergabung dalam konsultasi.")
        expect(timeline.locator(".timeline__item--note")).to_contain_text(NOTE)
    assert not errors.errors, "\n".join(errors.errors)
