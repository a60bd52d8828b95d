"""The transcript as evidence, checked in a real browser (docs/RECORDS.md).

An applicant and a counselor have a short consultation, which the counselor ends (sealing it)
and the applicant rates (an addendum with a comment). From the applicant page the applicant opens
the transcript and downloads its three evidence files: the evidence bundle, the verification page
and the office's public keys. The downloaded page, opened from disk in a context without a
network, verifies the bundle; then one character of one message is changed in the bundle, and
the page finds exactly that entry changed. The page as the server publishes it runs under its
hash-based Content-Security-Policy without a console error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    COUNSELOR_PASSWORD,
    WAIT_MS,
    PageErrors,
    Server,
    accessibility_problems,
    context_options,
    contexts_open,
    log_on_failure,
    login,
    shoot,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

HELLO = "Selamat siang, Bu Ani. Ada yang bisa saya bantu?"
QUESTION = "Berapa lama proses PBG untuk rumah tinggal?"
ANSWER = "Paling lama 28 hari kerja sejak berkas lengkap."
COMMENT = "Jelas, terima kasih."


def _download(page: Any, selector: str, folder: Path) -> Path:
    """Click the download link ``selector`` and keep the file in ``folder``."""
    with page.expect_download() as info:
        page.locator(selector).click()
    download = info.value
    assert download.failure() is None, download.failure()
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def _verify(page: Any, bundle: Path, keys: Path, verdict: str) -> None:
    """Give the verification page the two files, press the button and wait for ``verdict``."""
    from playwright.sync_api import expect

    page.locator("#bundle-file").set_input_files(bundle)
    page.locator("#keys-file").set_input_files(keys)
    expect(page.locator("#result")).not_to_have_attribute("data-verdict", re.compile("."))
    page.locator("#verify-button").click()
    expect(page.locator("#result")).to_have_attribute("data-verdict", verdict)


def _changed_message(bundle: dict[str, Any]) -> int:
    """Change the first character of the applicant's question in ``bundle``; its seq."""
    for entry in bundle["entries"]:
        if entry["kind"] == "message" and entry["text"] == QUESTION:
            entry["text"] = "X" + QUESTION[1:]
            return int(entry["seq"])
    raise AssertionError(f"no message {QUESTION!r} in the bundle")


def test_the_downloaded_page_verifies_the_downloaded_evidence_offline(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    errors = PageErrors()
    a11y: list[str] = []
    shots = tmp_path / "screenshots"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    base = server.url
    with log_on_failure(server):
        applicant_ctx, counselor_ctx = contexts_open(browser, 2)

        # --- a short consultation: the applicant joins, the counselor takes it, they chat
        applicant = errors.watch(applicant_ctx.new_page(), "applicant")
        applicant.goto(base + "/")
        applicant.get_by_label("Nama Anda").fill("Ani Wijaya")
        applicant.get_by_label("Nomor telepon").fill(form_phone())
        applicant.get_by_label("Topik").select_option("building-approval")
        applicant.get_by_role("button", name="Masuk antrean").click()
        expect(applicant.locator("#position")).to_have_attribute("data-position", "1")

        counselor = errors.watch(counselor_ctx.new_page(), "counselor")
        login(counselor, base, "sari", COUNSELOR_PASSWORD)
        available = counselor.get_by_role("button", name="Tersedia")
        available.click()
        expect(available).to_have_attribute("aria-pressed", "true")
        offer = counselor.locator(".offer", has_text="Ani Wijaya")
        offer.get_by_role("button", name="Terima").click()
        panel = counselor.get_by_role("tabpanel")
        expect(applicant.locator("#chat-with")).to_have_text("Anda berbicara dengan Sari.")

        panel.get_by_label("Pesan Anda").fill(HELLO)
        panel.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator("#log .msg--peer", has_text=HELLO)).to_have_count(1)
        applicant.get_by_label("Pesan Anda").fill(QUESTION)
        applicant.get_by_label("Pesan Anda").press("Enter")
        expect(panel.locator(".msg--peer", has_text=QUESTION)).to_have_count(1)
        panel.get_by_label("Pesan Anda").fill(ANSWER)
        panel.get_by_label("Pesan Anda").press("Enter")
        expect(applicant.locator("#log .msg--peer", has_text=ANSWER)).to_have_count(1)

        # --- the counselor ends it (the seal); the applicant rates it (an addendum)
        counselor.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Akhiri konsultasi").click()
        expect(applicant.locator("#ended-title")).to_have_text("Konsultasi telah selesai")
        rating = applicant.locator("#rating-form")
        expect(rating).to_be_visible()
        applicant.locator("label[for=rating-5]").click()
        applicant.get_by_label("Komentar (tidak wajib)").fill(COMMENT)
        applicant.get_by_role("button", name="Kirim penilaian").click()
        expect(applicant.locator("#rating-done")).to_be_visible()

        # --- the transcript, opened from the applicant page, offers the three evidence files
        with applicant_ctx.expect_page() as opened:
            applicant.get_by_role("button", name="Unduh transkrip").click()
        transcript = errors.watch(opened.value, "transcript")
        transcript.wait_for_load_state()
        assert re.fullmatch(re.escape(base) + r"/c/[0-9a-f-]{36}/transcript", transcript.url)
        public_id = transcript.url.split("/")[-2]
        expect(transcript.locator("#evidence-title")).to_be_visible()
        expect(transcript.locator("#evidence-download")).to_have_attribute(
            "href", f"/c/{public_id}/evidence.json"
        )
        expect(transcript.locator("#evidence-verifier")).to_have_attribute(
            "href", "/.well-known/loket/verify.html"
        )
        expect(transcript.locator("#evidence-keys")).to_have_attribute(
            "href", "/.well-known/loket/keys"
        )
        a11y.extend(f"transcript: {p}" for p in accessibility_problems(transcript))
        bundle_path = _download(transcript, "#evidence-download", downloads)
        page_path = _download(transcript, "#evidence-verifier", downloads)
        keys_path = _download(transcript, "#evidence-keys", downloads)
        assert bundle_path.name == f"loket-evidence-{public_id}.json"
        assert page_path.name == "loket-verify.html"
        bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
        assert bundle["consultation"] == public_id
        assert [item["statement"]["type"] for item in bundle["statements"]][:1] == ["seal"]
        texts = [entry["text"] for entry in bundle["entries"] if entry["kind"] == "message"]
        assert texts == [HELLO, QUESTION, ANSWER]

        # --- the saved page, opened from disk with the network off, verifies the evidence
        offline_ctx = browser.new_context(**context_options())
        offline_ctx.set_default_timeout(WAIT_MS)
        offline_ctx.set_offline(True)
        verifier = errors.watch(offline_ctx.new_page(), "verifier (file)")
        requests: list[str] = []
        verifier.on("request", lambda request: requests.append(request.url))
        verifier.goto(page_path.as_uri())
        expect(verifier.locator("html")).to_have_attribute("lang", "id")
        _verify(verifier, bundle_path, keys_path, "valid")
        result = verifier.locator("#result")
        expect(verifier.locator("#result-title")).to_have_text(re.compile("^SAH: "))
        summary = verifier.locator("#summary")
        expect(summary.locator("dt:text-is('Konsultasi') + dd")).to_have_text(public_id)
        expect(summary.locator("dt:text-is('Entri') + dd")).to_have_text(
            str(len(bundle["entries"]))
        )
        expect(verifier.locator("#failures li")).to_have_count(0)
        shoot(verifier, "verify-valid-id.png", shots, a11y)

        # One character of the applicant's question changed: that entry, and nothing else.
        seq = _changed_message(bundle)
        altered = downloads / "altered-evidence.json"
        altered.write_text(json.dumps(bundle, ensure_ascii=False, indent=1), encoding="utf-8")
        _verify(verifier, altered, keys_path, "invalid")
        failures = verifier.locator("#failures li")
        expect(failures).to_have_count(1)
        expect(failures.first).to_have_text(re.compile(rf"^seq {seq}: text_changed: "))
        expect(verifier.locator("#result-title")).to_have_text(re.compile("^TIDAK SAH: "))
        shoot(verifier, "verify-invalid-id.png", shots, a11y)

        # In English, at a phone's width, the same result; nothing scrolls sideways.
        verifier.locator("#lang-en").click()
        expect(verifier.locator("html")).to_have_attribute("lang", "en")
        expect(verifier.locator("#verify-button")).to_have_text("Verify the evidence")
        expect(result).to_contain_text("INVALID: 1 problem(s) found")
        expect(failures.first).to_have_text(
            f"seq {seq}: text_changed: the text does not match its salted hash"
        )
        verifier.set_viewport_size({"width": 320, "height": 640})
        overflow = verifier.evaluate(
            "() => document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"the verification page is {overflow}px wider than a phone screen"
        shoot(verifier, "verify-invalid-en-320.png", shots, a11y)
        assert [url for url in requests if not url.startswith("file:")] == []
        offline_ctx.close()

        # --- the page as served: its policy allows its one script and one style, nothing else
        served = errors.watch(browser.new_context(**context_options()).new_page(), "verifier")
        response = served.goto(base + "/.well-known/loket/verify.html")
        assert response is not None and response.ok
        policy = response.headers["content-security-policy"]
        assert "script-src 'sha256-" in policy and "style-src 'sha256-" in policy, policy
        header = served.locator(".site-header")
        expect(header).to_have_css("background-color", "rgb(18, 53, 91)")
        served.locator("#lang-en").click()
        expect(served.locator("html")).to_have_attribute("lang", "en")
        served.locator("#verify-button").click()
        expect(served.locator("#result")).to_have_attribute("data-verdict", "error")
        expect(served.locator("#result-detail")).to_have_text("Choose the evidence file (JSON).")
        _verify(served, bundle_path, keys_path, "valid")
    assert not errors.errors, "\n".join(errors.errors)
    assert not a11y, "accessibility:\n" + "\n".join(a11y)
