"""Personal identifiers as the masking policy shows them to a supervisor, in a real browser
(docs/RECORDS.md, "Personal data").

An applicant writes her NIK (with dots) and her phone number, and a sentence with a fee and a
regulation number; the counselor answers, repeating the phone number, and ends the consultation.
Then the supervisor: the transcript page masks the NIK and the phone (never in clear in the page
source) and shows the applicant's name as initials, the fee and the regulation unchanged; she
reveals the NIK message with a reason, which the page shows unmasked for that one message and
lists among the reads, and a later load masks again; the staff evidence export withholds the
texts holding an identifier; the search finds the consultation by the NIK typed without dots
(and by the phone as +62...), its name masked; the figures CSV holds no name, phone or NIK; and
a masking rule (supervisor / transcript / nik: show) shows the NIK in clear on the next load,
the phone still masked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    COUNSELOR_PASSWORD,
    SUPERVISOR_PASSWORD,
    PageErrors,
    Server,
    accessibility_problems,
    contexts_open,
    log_on_failure,
    login,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

NAME = "Ani Wulandari"
NAME_SHOWN = "A*** W***"
NIK_DOTTED = "3174.0512.0589.0001"
NIK = "3174051205890001"
NIK_SHOWN = "3174********0001"
PHONE = "0812-3456-7890"
PHONE_SHOWN = "+62812******90"
FEE = "Rp 1.500.000"
REGULATION = "Perda No. 5 Tahun 2017"
IDENTITY = f"NIK saya {NIK_DOTTED}, nomor HP saya {PHONE}."
QUESTION = f"Apakah biayanya {FEE} sesuai {REGULATION}?"
HELLO = "Selamat siang. Ada yang bisa saya bantu?"
ANSWER = f"Betul, sesuai {REGULATION}. Kami hubungi ke {PHONE} bila berkas kurang."
REASON = "Memeriksa identitas pemohon untuk berkas PBG"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _clear_identifiers(text: str, contact: str) -> list[str]:
    """The forms of the NIK and the phone numbers (the one written, the one in the contact
    details) that ``text`` holds in clear."""
    forms = {NIK, NIK_DOTTED, "3174 0512 0589 0001", PHONE}
    for phone in (PHONE, contact):
        national = _digits(phone)
        forms |= {national, "+62" + national[1:], "62" + national[1:], phone}
    return sorted(form for form in forms if form in text)


def _names(text: str) -> list[str]:
    """The applicant's name, or a part of it, in clear in ``text``."""
    return re.findall(r"\bAni\b|Wulandari", text)


def _message(page: Any, text: str) -> Any:
    return page.locator(".timeline__item--message", has_text=text)


def _results(page: Any, query: str) -> Any:
    """Search the transcripts for ``query`` from the search form; the results table."""
    page.get_by_label("Kata dalam percakapan").fill(query)
    page.get_by_role("button", name="Cari", exact=True).click()
    # The form is sent by POST; an identifier comes back as its keyed hash in the URL (idt).
    page.wait_for_url(re.compile(r"[?&]idt="))
    assert query not in page.url
    return page.locator("table.table")


def test_supervisor_sees_identifiers_as_the_masking_policy_says(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    errors = PageErrors()
    a11y: list[str] = []
    base = server.url
    contact = form_phone()
    with log_on_failure(server):
        applicant_ctx, counselor_ctx, supervisor_ctx = contexts_open(browser, 3)

        # --- the consultation: the applicant writes her NIK and phone, a fee and a regulation
        applicant = errors.watch(applicant_ctx.new_page(), "applicant")
        applicant.goto(base + "/")
        applicant.get_by_label("Nama Anda").fill(NAME)
        applicant.get_by_label("Nomor telepon").fill(contact)
        applicant.get_by_label("Topik").select_option("building-approval")
        applicant.get_by_role("button", name="Masuk antrean").click()
        expect(applicant.locator("#position")).to_have_attribute("data-position", "1")

        counselor = errors.watch(counselor_ctx.new_page(), "counselor")
        login(counselor, base, "sari", COUNSELOR_PASSWORD)
        available = counselor.get_by_role("button", name="Tersedia")
        available.click()
        expect(available).to_have_attribute("aria-pressed", "true")
        counselor.locator(".offer", has_text=NAME).get_by_role("button", name="Terima").click()
        panel = counselor.get_by_role("tabpanel")
        expect(applicant.locator("#chat-with")).to_have_text("Anda berbicara dengan Sari.")

        panel.get_by_label("Pesan Anda").fill(HELLO)
        panel.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator("#log .msg--peer", has_text=HELLO)).to_have_count(1)
        for text in (IDENTITY, QUESTION):
            applicant.get_by_label("Pesan Anda").fill(text)
            applicant.get_by_label("Pesan Anda").press("Enter")
            # The counselor's live console shows what the applicant wrote (the default: show).
            expect(panel.locator(".msg--peer", has_text=text)).to_have_count(1)
        panel.get_by_label("Pesan Anda").fill(ANSWER)
        panel.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator("#log .msg--peer", has_text=ANSWER)).to_have_count(1)
        counselor.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Akhiri konsultasi").click()
        expect(applicant.locator("#ended-title")).to_have_text("Konsultasi telah selesai")

        # --- 1. the transcript page: identifiers masked, the name as initials
        supervisor = errors.watch(supervisor_ctx.new_page(), "supervisor")
        login(supervisor, base, "dewi", SUPERVISOR_PASSWORD)
        supervisor.goto(base + "/transcripts/")
        supervisor.locator("tbody tr", has_text=NAME_SHOWN).get_by_role("link").click()
        supervisor.wait_for_url(re.compile(r"/transcripts/[0-9a-f-]{36}/$"))
        transcript_url = supervisor.url
        public_id = transcript_url.rstrip("/").split("/")[-1]
        expect(supervisor.locator("#transcript-title")).to_have_text(f"Transkrip: {NAME_SHOWN}")
        identity = _message(supervisor, NIK_SHOWN)
        expect(identity.locator(".timeline__text")).to_have_text(
            f"NIK saya {NIK_SHOWN}, nomor HP saya {PHONE_SHOWN}."
        )
        expect(identity.locator(".timeline__author")).to_have_text(f"{NAME_SHOWN} (pemohon)")
        question = _message(supervisor, QUESTION)
        expect(question.locator(".timeline__text")).to_have_text(QUESTION)
        expect(question.locator("form.reveal")).to_have_count(0)
        answer = _message(supervisor, "bila berkas kurang")
        expect(answer.locator(".timeline__text")).to_have_text(
            f"Betul, sesuai {REGULATION}. Kami hubungi ke {PHONE_SHOWN} bila berkas kurang."
        )
        expect(supervisor.locator("form.reveal")).to_have_count(2)
        html = supervisor.content()
        assert _clear_identifiers(html, contact) == [], "in clear on the transcript page"
        assert _names(html) == [], "the applicant's name in clear on the transcript page"
        a11y.extend(f"transcript: {p}" for p in accessibility_problems(supervisor))

        # The API: the same policy.
        api = supervisor.request.get(f"{base}/api/consultations/{public_id}/transcript")
        assert api.ok, api.status
        body = api.text()
        assert _clear_identifiers(body, contact) == [] and _names(body) == [], body
        data = json.loads(body)
        assert data["consultation"]["applicant_name"] == NAME_SHOWN
        texts = [entry["text"] for entry in data["entries"] if entry["kind"] == "message"]
        assert f"NIK saya {NIK_SHOWN}, nomor HP saya {PHONE_SHOWN}." in texts
        assert QUESTION in texts

        # --- 2. reveal the NIK message with a reason: that one message, recorded
        seq = identity.locator("input[name=seq]").get_attribute("value")
        assert seq is not None and seq.isdigit()
        identity.get_by_label("Alasan membuka (dicatat)").fill(REASON)
        with supervisor.expect_navigation():
            identity.get_by_role("button", name="Buka", exact=True).click()
        revealed = _message(supervisor, NIK_DOTTED)
        expect(revealed.locator(".timeline__text")).to_have_text(IDENTITY)
        expect(revealed.locator(".timeline__revealed")).to_have_text(
            "Ditampilkan tanpa penyamaran untuk Anda; pembukaan ini dicatat beserta alasan Anda."
        )
        expect(revealed.locator("form.reveal")).to_have_count(0)
        expect(supervisor.locator(".timeline__revealed")).to_have_count(1)
        # The counselor's answer, with the same phone number, stays masked.
        expect(
            _message(supervisor, "bila berkas kurang").locator(".timeline__text")
        ).to_contain_text(PHONE_SHOWN)
        reads = supervisor.locator("section.reads")
        expect(reads.get_by_role("heading")).to_have_text("Siapa yang membaca catatan ini")
        reveal_row = reads.locator("tbody tr", has_text=REASON)
        expect(reveal_row).to_have_count(1)
        expect(reveal_row.locator("td").nth(1)).to_have_text("Dewi")
        expect(reveal_row.locator("td").nth(2)).to_contain_text("dibuka dengan alasan")
        expect(reveal_row.locator("td").nth(3)).to_have_text(REASON)
        a11y.extend(f"transcript (revealed): {p}" for p in accessibility_problems(supervisor))

        # A load without the POST masks it again.
        supervisor.goto(transcript_url)
        expect(_message(supervisor, NIK_SHOWN).locator(".timeline__text")).to_have_text(
            f"NIK saya {NIK_SHOWN}, nomor HP saya {PHONE_SHOWN}."
        )
        expect(supervisor.locator(".timeline__revealed")).to_have_count(0)
        assert _clear_identifiers(supervisor.content(), contact) == []
        expect(supervisor.locator("section.reads tbody tr", has_text=REASON)).to_have_count(1)

        # The staff evidence export withholds the texts the policy masks.
        with supervisor.expect_download() as info:
            supervisor.locator("#evidence-export").click()
        download = info.value
        assert download.failure() is None, download.failure()
        exported = Path(download.path()).read_text(encoding="utf-8")
        assert _clear_identifiers(exported, contact) == [], "in clear in the evidence export"
        assert _names(exported) == [], "the name in clear in the evidence export"
        messages = {
            entry["seq"]: entry
            for entry in json.loads(exported)["entries"]
            if entry["kind"] == "message"
        }
        withheld = messages[int(seq)]
        assert withheld["text"] is None and withheld["salt"] is None, withheld
        assert withheld["shown"] == "NIK saya [NIK], nomor HP saya [PHONE].", withheld
        assert [e["text"] for e in messages.values() if e["text"] is not None] == [HELLO, QUESTION]

        # --- 3. the search by the NIK typed without dots: found, its name masked
        supervisor.goto(base + "/transcripts/")
        table = _results(supervisor, NIK)
        rows = table.locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator("td").nth(1)).to_have_text(NAME_SHOWN)
        # The identifier typed is not echoed: not in the search field, not in the language
        # form's return address, nowhere on the page.
        expect(supervisor.get_by_label("Kata dalam percakapan")).to_have_value("")
        results = table.evaluate("table => table.outerHTML")
        assert _clear_identifiers(results, contact) == [] and _names(results) == [], results
        html = supervisor.content()
        assert NIK not in html and _clear_identifiers(html, contact) == [], html
        assert _names(html) == []
        a11y.extend(f"search: {p}" for p in accessibility_problems(supervisor))
        rows.get_by_role("link").click()
        supervisor.wait_for_url(transcript_url)
        # The phone typed as +62...: the same consultation.
        supervisor.goto(base + "/transcripts/")
        phone_rows = _results(supervisor, "+6281234567890").locator("tbody tr")
        expect(phone_rows).to_have_count(1)
        expect(phone_rows.locator("td").nth(1)).to_have_text(NAME_SHOWN)

        # --- 4. the figures CSV: aggregate figures only
        supervisor.goto(base + "/supervisor/figures/")
        with supervisor.expect_download() as info:
            supervisor.get_by_role("link", name="Unduh CSV").click()
        download = info.value
        assert download.failure() is None, download.failure()
        figures = Path(download.path()).read_text(encoding="utf-8")
        assert figures.strip(), "an empty figures CSV"
        assert _clear_identifiers(figures, contact) == [], figures
        assert _names(figures) == [] and NAME_SHOWN not in figures, figures

        # --- 5. a masking rule: supervisors see the NIK in transcripts, the phone still masked.
        # A supervisor account has no admin permissions, so the rule is saved as other walks
        # prepare data: manage.py against the server's own SQLite file.
        server.manage(
            "shell",
            "-c",
            "from consult.models import MaskingRule; "
            "MaskingRule.objects.create("
            "role='supervisor', output='transcript', kind='nik', action='show')",
        )
        supervisor.goto(transcript_url)
        shown = _message(supervisor, NIK_DOTTED)
        expect(shown.locator(".timeline__text")).to_have_text(
            f"NIK saya {NIK_DOTTED}, nomor HP saya {PHONE_SHOWN}."
        )
        # Not a reveal: no hint; the phone is still masked, so the message may still be revealed.
        expect(shown.locator(".timeline__revealed")).to_have_count(0)
        expect(shown.locator("form.reveal")).to_have_count(1)
        expect(supervisor.locator("#transcript-title")).to_have_text(f"Transkrip: {NAME_SHOWN}")
        html = supervisor.content()
        assert _clear_identifiers(html, contact) == [NIK_DOTTED], "only the NIK, as written"
        assert _names(html) == []
        # The rule is for the transcript output only: the search results still mask the name.
        supervisor.goto(base + "/transcripts/")
        expect(_results(supervisor, NIK).locator("tbody tr td").nth(1)).to_have_text(NAME_SHOWN)
    assert not errors.errors, "\n".join(errors.errors)
    assert not a11y, "accessibility:\n" + "\n".join(a11y)
