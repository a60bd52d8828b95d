"""The pages in a real browser against a real Daphne server.

One walk through the core issue: an applicant joins and waits, a counselor logs in and takes the
offer, they chat both ways, the server restarts under them (both pages say so and come back; a
message written meanwhile arrives once), the applicant reloads without losing or doubling the
history, the counselor ends, the applicant starts afresh, a supervisor reads the transcript, and a
visitor switches to English. Every screen is photographed (into docs/screenshots/ when
LOKET_UPDATE_SCREENSHOTS=1) and checked with axe-core (bundled with axe-playwright-python).

The server is a single Daphne process on a SQLite file with the in-memory channel layer. The test
holds the listening socket and hands it to Daphne (``--fd``), so a restarted server takes over the
same port and browsers' connections wait in the backlog instead of failing.
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
    context_options,
    contexts_open,
    log_on_failure,
    login,
    shoot,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]


def test_applicant_and_counselor_walk_through_a_consultation(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    errors = PageErrors()
    a11y: list[str] = []
    shots = DOC_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    base = server.url
    with log_on_failure(server):
        applicant_ctx, counselor_ctx, supervisor_ctx = contexts_open(browser, 3)

        # --- the applicant joins and waits in first place
        applicant = errors.watch(applicant_ctx.new_page(), "applicant")
        applicant.goto(base + "/")
        applicant.get_by_label("Nama Anda").fill("Ani Wijaya")
        applicant.get_by_label("Nomor telepon").fill(form_phone())
        applicant.get_by_label("Topik").select_option("building-approval")
        applicant.get_by_role("button", name="Masuk antrean").click()
        position = applicant.locator("#position")
        expect(position).to_have_text("Anda nomor 1 dalam antrean.")
        expect(position).to_have_attribute("data-position", "1")
        expect(applicant.locator("#log")).to_contain_text("Konsultasi diajukan")
        shoot(applicant, "applicant-waiting-id.png", shots, a11y)

        # --- the counselor logs in, becomes available and takes the offer
        counselor = errors.watch(counselor_ctx.new_page(), "counselor")
        login(counselor, base, "sari", COUNSELOR_PASSWORD)
        queue = counselor.locator(".queue", has_text="Persetujuan Bangunan Gedung")
        expect(queue).to_contain_text("1 menunggu")
        available = counselor.get_by_role("button", name="Tersedia")
        available.click()
        expect(available).to_have_attribute("aria-pressed", "true")
        offer = counselor.locator(".offer", has_text="Ani Wijaya")
        expect(offer).to_contain_text("Jawab dalam")
        shoot(counselor, "counselor-offer-id.png", shots, a11y)
        offer.get_by_role("button", name="Terima").click()
        expect(counselor.get_by_role("tab", name=re.compile("Ani Wijaya"))).to_have_attribute(
            "aria-selected", "true"
        )
        panel = counselor.get_by_role("tabpanel")
        expect(applicant.locator("#chat-with")).to_have_text("Anda berbicara dengan Sari.")
        expect(applicant.locator("#waiting")).to_be_hidden()

        # --- they chat both ways
        hello = "Selamat siang, Bu Ani. Ada yang bisa saya bantu?"
        panel.get_by_label("Pesan Anda").fill(hello)
        expect(applicant.locator("#typing")).to_have_text("Konselor sedang mengetik…")
        panel.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator("#log .msg--peer", has_text=hello)).to_contain_text("Sari")
        expect(applicant.locator("#typing")).to_have_text("")
        question = "Saya ingin tahu syarat PBG untuk rumah tinggal."
        applicant.get_by_label("Pesan Anda").fill(question)
        applicant.get_by_role("button", name="Kirim").click()
        expect(panel.locator(".msg--peer", has_text=question)).to_contain_text("Ani Wijaya")
        # Each side marks the other's message read once it is on screen.
        expect(panel.locator(".msg--own", has_text=hello)).to_contain_text("Dibaca")
        expect(applicant.locator(".msg--own", has_text=question)).to_contain_text("Dibaca")
        shoot(applicant, "applicant-chat-id.png", shots, a11y)
        shoot(counselor, "counselor-id.png", shots, a11y)

        # --- the server restarts: both pages say so, come back, and nothing is lost
        server.stop()
        lost = "Sambungan terputus, menyambungkan kembali…"
        expect(applicant.locator("#conn-status")).to_have_text(lost)
        expect(counselor.locator("#conn-status")).to_have_text(lost)
        offline_text = "Apakah perlu gambar dari arsitek?"
        applicant.get_by_label("Pesan Anda").fill(offline_text)
        applicant.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator(".msg--pending", has_text=offline_text)).to_contain_text(
            "Belum terkirim"
        )
        server.start()
        expect(panel.locator(".msg--peer", has_text=offline_text)).to_have_count(1)
        expect(applicant.locator(".msg--pending")).to_have_count(0)
        expect(applicant.locator(".msg--own", has_text=offline_text)).to_have_count(1)
        expect(applicant.locator("#conn-status")).not_to_have_text(lost)
        reply = "Perlu, untuk bangunan dua lantai atau lebih."
        panel.get_by_label("Pesan Anda").fill(reply)
        panel.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator(".msg--peer", has_text=reply)).to_have_count(1)

        # --- a reload keeps the history, with no duplicates
        applicant.reload()
        log = applicant.locator("#log")
        for text in (hello, question, offline_text, reply):
            expect(log.locator(".msg", has_text=text)).to_have_count(1)
        expect(applicant.locator("#chat-with")).to_have_text("Anda berbicara dengan Sari.")
        seqs = log.locator("[data-seq]").evaluate_all("nodes => nodes.map(n => n.dataset.seq)")
        assert len(seqs) == len(set(seqs)), seqs
        assert [int(s) for s in seqs] == sorted(int(s) for s in seqs), seqs

        # --- the counselor ends; the applicant sees it
        counselor.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Akhiri konsultasi").click()
        expect(applicant.locator("#ended-title")).to_have_text("Konsultasi telah selesai")
        expect(applicant.locator("#log")).to_contain_text("Konselor mengakhiri konsultasi.")
        expect(panel).to_contain_text("Konsultasi ini telah selesai.")
        expect(applicant.get_by_label("Pesan Anda")).to_be_hidden()
        shoot(applicant, "applicant-ended-id.png", shots, a11y)

        # --- a new consultation from the same page starts clean
        applicant.get_by_role("button", name="Mulai konsultasi baru").click()
        applicant.get_by_label("Nama Anda").fill("Ani Wijaya")
        applicant.get_by_label("Alamat e-mail").fill("ani@example.id")
        applicant.get_by_role("button", name="Masuk antrean").click()
        expect(applicant.locator("#log [data-seq]")).to_have_count(1)
        applicant.get_by_label("Pesan Anda").fill("Pertanyaan kedua.")
        applicant.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator("#log .msg--own")).to_have_count(1)
        expect(applicant.locator("#log [data-seq]")).to_have_count(2)
        expect(applicant.locator("#log")).not_to_contain_text(hello)

        # --- the supervisor reads the transcript
        supervisor = errors.watch(supervisor_ctx.new_page(), "supervisor")
        login(supervisor, base, "dewi", SUPERVISOR_PASSWORD)
        supervisor.goto(base + "/transcripts/")
        # Search results and transcripts name the applicant as the masking policy says: initials.
        row = supervisor.locator("tr", has_text="A*** W***")
        expect(row).to_contain_text("Persetujuan Bangunan Gedung")
        expect(row).to_contain_text("Selesai")
        expect(row).to_contain_text("Pertanyaan terjawab")
        shoot(supervisor, "transcripts-id.png", shots, a11y)
        row.get_by_role("link").click()
        timeline = supervisor.locator(".timeline")
        for text in (hello, question, offline_text, reply):
            expect(timeline.locator(".timeline__item--message", has_text=text)).to_have_count(1)
        expect(timeline).to_contain_text("Sari bergabung dalam konsultasi.")
        expect(timeline).to_contain_text("Konselor mengakhiri konsultasi.")
        expect(timeline).to_contain_text("A*** W*** (pemohon)")
        shoot(supervisor, "transcript-id.png", shots, a11y)

        # --- English is one click away
        visitor = errors.watch(browser.new_context(**context_options()).new_page(), "visitor")
        visitor.goto(base + "/")
        expect(visitor.get_by_label("Nama Anda")).to_be_visible()
        shoot(visitor, "applicant-form-id.png", shots, a11y)
        visitor.get_by_role("button", name="English").click()
        expect(visitor.get_by_label("Your name")).to_be_visible()
        expect(visitor.get_by_role("button", name="Join the queue")).to_be_visible()
        expect(visitor.locator("html")).to_have_attribute("lang", "en")
        shoot(visitor, "applicant-form-en.png", shots, a11y)
        # A phone-width screen: the form fits without sideways scrolling.
        visitor.set_viewport_size({"width": 360, "height": 740})
        overflow = visitor.evaluate(
            "() => document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    assert not errors.errors, "\n".join(errors.errors)
    assert not a11y, "accessibility:\n" + "\n".join(a11y)
