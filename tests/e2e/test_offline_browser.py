"""The closed office in a real browser against a real Daphne server.

The server enforces office hours with its office-hours clock set to a Friday evening
(LOKET_FAKE_NOW; nothing else in the server is affected), and writes e-mail to files
(Django's file-based backend). An applicant finds the office closed, sees when it opens and
leaves an offline question, which gets a reference number; a counselor answers it on the console;
the answer is in the mail file, in Indonesian, quoting the reference. Both screens are
photographed (into docs/screenshots/ with LOKET_UPDATE_SCREENSHOTS=1) and checked with axe-core.
"""

from __future__ import annotations

import email
import email.header
import json
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    DOC_SHOTS,
    SARI,
    UPDATE_SHOTS,
    PageErrors,
    Server,
    accessibility_problems,
    contexts_open,
    log_on_failure,
    login,
    served,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

# A Friday evening in Jakarta: closed until Monday 07:30.
FRIDAY_EVENING = "2026-03-06T18:00:00+07:00"
PASSWORD = secrets.token_urlsafe(12)
QUESTION = "Apakah PBG rumah dua lantai perlu gambar arsitek?\nLuas tanah saya 120 m²."
ANSWER = "Ya, untuk bangunan dua lantai gambar arsitek diperlukan."


@pytest.fixture
def closed_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    with served(
        tmp_path,
        {**SARI, "password": PASSWORD},
        LOKET_ENFORCE_HOURS="1",
        LOKET_FAKE_NOW=FRIDAY_EVENING,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
    ) as srv:
        yield srv, mail_dir


def shoot_whole_page(page: Any, name: str, folder: Path, problems: list[str]) -> None:
    """Like ``shoot``, for a screen whose subject is below the fold: the whole page."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)
    problems.extend(f"{name}: {p}" for p in accessibility_problems(page))


def _join_refusal(base: str) -> tuple[int, dict[str, object]]:
    body = json.dumps({"name": "Ani", "phone": "081234567890", "topic": "building-approval"})
    request = urllib.request.Request(
        base + "/api/consultations",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _mails(folder: Path) -> list[Message]:
    """Every message the file-based backend wrote (one file per connection, messages separated
    by a line of dashes)."""
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk.strip()))
    return messages


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_closed_office_takes_an_offline_question_and_a_counselor_answers_it(
    closed_server: tuple[Server, Path], browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server, mail_dir = closed_server
    base = server.url
    # The HTTP API refuses to queue anyone, and says when the office opens.
    status, refusal = _join_refusal(base)
    assert status == 409, refusal
    assert refusal["error"] == {
        "code": "office_closed",
        "message": "The office is closed; it next takes applicants at 2026-03-09T07:30:00+07:00.",
        "next_opening": "2026-03-09T07:30:00+07:00",
    }

    errors = PageErrors()
    a11y: list[str] = []
    shots = DOC_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    with log_on_failure(server):
        applicant_ctx, counselor_ctx = contexts_open(browser, 2)

        # --- the applicant finds the office closed and leaves a question
        applicant = errors.watch(applicant_ctx.new_page(), "applicant")
        applicant.goto(base + "/")
        expect(applicant.locator("#closed-title")).to_have_text("Kantor sedang tutup")
        expect(applicant.locator("#closed-next")).to_have_text(
            "Konsultasi langsung dibuka kembali pada Senin, 9 Maret 2026 pukul 07.30 WIB."
        )
        expect(applicant.locator("#join-form")).to_be_hidden()
        form = applicant.locator("#offline-form")
        form.get_by_label("Nama Anda").fill("Ani Wijaya")
        form.get_by_label("Alamat e-mail").fill("ani@example.id")
        form.get_by_label("Nomor telepon (tidak wajib)").fill("0812 3456 7890")
        form.get_by_label("Topik").select_option("building-approval")
        form.get_by_label("Pertanyaan Anda").fill(QUESTION)
        shoot(applicant, "applicant-closed-id.png", shots, a11y)
        form.get_by_role("button", name="Kirim pertanyaan").click()
        done = applicant.locator("#offline-done")
        expect(done).to_be_visible()
        expect(done).to_contain_text("Pertanyaan Anda sudah kami terima")
        reference = applicant.locator("#offline-reference")
        expect(reference).to_have_text(re.compile(r"^LKT-\d{4}-\d{6}$"))
        number = reference.inner_text()
        expect(form).to_be_hidden()
        shoot(applicant, "applicant-closed-sent-id.png", tmp_path / "screenshots", a11y)

        # --- a counselor of the topic answers it from the console
        counselor = errors.watch(counselor_ctx.new_page(), "counselor")
        login(counselor, base, "sari", PASSWORD)
        panel = counselor.locator("#offline-panel")
        expect(panel.locator("#offline-count")).to_have_text("1 menunggu")
        item = panel.locator(".offline-item", has_text=number)
        expect(item).to_contain_text("Apakah PBG rumah dua lantai perlu gambar arsitek?")
        expect(item).to_contain_text("Ani Wijaya")
        item.click()
        expect(panel.locator("#offline-detail-title")).to_have_text(number)
        expect(panel.locator("#offline-detail-question")).to_have_text(QUESTION)
        expect(panel.locator("#offline-detail-meta")).to_contain_text("Telepon: 081234567890")
        panel.get_by_label(re.compile("^Jawaban Anda")).fill(ANSWER)
        shoot_whole_page(counselor, "counselor-offline-id.png", shots, a11y)
        panel.get_by_role("button", name="Kirim jawaban").click()
        expect(panel.locator("#offline-notice")).to_have_text(
            f"Jawaban untuk {number} sudah dikirim lewat e-mail."
        )
        expect(panel.locator("#offline-detail-answered")).to_contain_text("Dijawab oleh Sari")
        expect(panel.locator("#offline-detail-answer")).to_have_text(ANSWER)
        expect(panel.locator("#offline-answer-form")).to_be_hidden()
        expect(panel.locator("#offline-count")).to_be_hidden()
        expect(panel.locator("#offline-empty")).to_be_visible()

    # --- the e-mail went out once, in Indonesian, quoting the reference and the question
    mails = _mails(mail_dir)
    assert len(mails) == 1, [m["Subject"] for m in mails]
    (mail,) = mails
    assert mail["To"] == "ani@example.id"
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject == f"Jawaban atas pertanyaan Anda {number}"
    body = _text(mail)
    assert "Yth. Ani Wijaya," in body
    assert f"Nomor referensi: {number}" in body
    assert "> Luas tanah saya 120 m²." in body
    assert f"Jawaban kami:\n{ANSWER}" in body
    assert errors.errors == [], "\n".join(errors.errors)
    assert not a11y, "accessibility:\n" + "\n".join(a11y)
