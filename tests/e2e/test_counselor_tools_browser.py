"""The counselor's tools and the applicant's after-consultation, in Chromium against real Daphne.

A counselor holds two chats at once. In one she searches the knowledge base and inserts a section
of an article (its applicant sees it as her message with its source; the other applicant sees
nothing of it), in the other she uses a shared canned reply; she writes an internal note (shown
in her console, never on the applicant's page) and ends the first chat with an outcome. That
applicant rates the consultation and opens the printable transcript (the article and its source,
no note). The stored outcome and rating are read back from the server's database.

Screenshots (counselor-kb-id.png, applicant-rating-id.png, applicant-transcript-id.png) go to
docs/screenshots/ only with LOKET_UPDATE_SCREENSHOTS=1, so an ordinary run leaves the tree clean;
each screen is also checked with axe-core.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    DOC_SHOTS,
    UPDATE_SHOTS,
    contexts_open,
    served,
)
from tests.support.browser import Server as BaseServer
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = secrets.token_urlsafe(12)
NOTE = "Pemohon belum punya KRK; sarankan urus KKPR dulu."


class Server(BaseServer):
    """The browser walk's Daphne server, with a look into its SQLite file."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.env["LOKET_ENFORCE_HOURS"] = "0"
        self.db_path = Path(self.env["LOKET_SQLITE_PATH"])

    def row(self, query: str, *params: Any) -> tuple[Any, ...]:
        with sqlite3.connect(self.db_path) as conn:
            found = conn.execute(query, params).fetchone()
        assert found is not None, query
        return tuple(found)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    sari = {"username": "sari", "password": PASSWORD, "name": "Sari", "capacity": 3}
    # Topics, and the demo knowledge base and shared canned replies.
    with served(
        tmp_path, {**sari, "topics": "building-approval,business-registration"}, server=Server
    ) as srv:
        yield srv


def accessibility_problems(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def shoot(page: Any, name: str, folder: Path, problems: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(folder / name), full_page=True)
    problems.extend(f"{name}: {p}" for p in accessibility_problems(page))


def watch_errors(page: Any, name: str, errors: list[str]) -> Any:
    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{name}: console: {msg.text}")
            if msg.type == "error" and "WebSocket" not in msg.text
            else None
        ),
    )
    return page


def join(page: Any, base: str, name: str, topic: str) -> None:
    page.goto(base + "/")
    page.get_by_label("Nama Anda").fill(name)
    page.get_by_label("Nomor telepon").fill(form_phone())
    page.get_by_label("Topik").select_option(topic)
    page.get_by_role("button", name="Masuk antrean").click()


def test_a_counselor_with_two_chats_inserts_an_article_notes_and_ends_then_the_applicant_rates(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    a11y: list[str] = []
    shots = DOC_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    base = server.url
    ani_ctx, budi_ctx, sari_ctx = contexts_open(browser, 3, viewport=VIEWPORT)

    # --- two applicants wait; the counselor takes both
    ani = watch_errors(ani_ctx.new_page(), "ani", errors)
    join(ani, base, "Ani Wijaya", "building-approval")
    budi = watch_errors(budi_ctx.new_page(), "budi", errors)
    join(budi, base, "Budi Santoso", "business-registration")
    expect(ani.locator("#position")).to_have_attribute("data-position", "1")
    expect(budi.locator("#position")).to_have_attribute("data-position", "1")

    sari = watch_errors(sari_ctx.new_page(), "sari", errors)
    sari.goto(base + "/counselor/")
    sari.get_by_label("Nama pengguna").fill("sari")
    sari.get_by_label("Kata sandi").fill(PASSWORD)
    sari.get_by_role("button", name="Masuk", exact=True).click()
    sari.wait_for_url(re.compile(r"/counselor/$"))
    sari.get_by_role("button", name="Tersedia").click()
    for name in ("Ani Wijaya", "Budi Santoso"):
        offer = sari.locator(".offer", has_text=name)
        offer.get_by_role("button", name="Terima").click()
        expect(sari.get_by_role("tab", name=re.compile(name))).to_be_visible()
    expect(ani.locator("#chat-with")).to_have_text("Anda berbicara dengan Sari.")
    expect(budi.locator("#chat-with")).to_have_text("Anda berbicara dengan Sari.")

    # --- in Budi's chat: a shared canned reply, checked and sent as a message
    sari.get_by_role("tab", name=re.compile("Budi Santoso")).click()
    budi_panel = sari.get_by_role("tabpanel")
    budi_panel.get_by_text("Balasan siap pakai", exact=True).click()
    budi_panel.get_by_role("button", name="Pakai balasan “Salam pembuka (demo)”").click()
    composer = budi_panel.get_by_label("Pesan Anda")
    expect(composer).to_have_value(re.compile("Selamat datang di layanan konsultasi"))
    composer.press("Enter")
    expect(budi.locator("#log .msg--peer")).to_contain_text("Selamat datang di layanan")

    # --- in Ani's chat: search the knowledge base and insert one section
    sari.get_by_role("tab", name=re.compile("Ani Wijaya")).click()
    panel = sari.get_by_role("tabpanel")
    panel.get_by_label("Kata pencarian").fill("PBG rumah")
    panel.get_by_role("button", name="Cari", exact=True).click()
    result = panel.locator(".kb-result", has_text="PBG untuk rumah tinggal (demo)")
    expect(result).to_be_visible()
    result.get_by_label("Bagian").select_option("requirements")
    result.get_by_role("button", name="Sisipkan “PBG untuk rumah tinggal (demo)”").click()
    inserted = ani.locator("#log .msg--peer", has_text="Bukti kepemilikan tanah")
    expect(inserted).to_contain_text("Persyaratan:")
    expect(inserted.locator(".msg__source")).to_have_text(
        "Sumber: PBG untuk rumah tinggal (demo) · Persyaratan"
    )
    expect(panel.locator(".msg--own .msg__source")).to_contain_text("Sumber: PBG")
    # Budi's chat shows nothing of it.
    expect(budi.locator("#log")).not_to_contain_text("Bukti kepemilikan tanah")

    # --- an internal note: in the console, never on the applicant's page
    panel.get_by_label("Catatan baru").fill(NOTE)
    panel.get_by_role("button", name="Tambah catatan").click()
    expect(panel.locator(".note")).to_contain_text(NOTE)
    expect(panel.locator(".note")).to_contain_text("Sari")
    shoot(sari, "counselor-kb-id.png", shots, a11y)
    assert NOTE not in ani.content()

    # --- the counselor ends Ani's chat with an outcome; Budi's stays open
    panel.get_by_label("Hasil").select_option("needs_documents")
    sari.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Akhiri konsultasi").click()
    expect(ani.locator("#ended-title")).to_have_text("Konsultasi telah selesai")
    expect(budi.get_by_label("Pesan Anda")).to_be_visible()
    outcome = server.row(
        "SELECT outcome FROM consult_consultation WHERE applicant_name = ?", "Ani Wijaya"
    )
    assert outcome == ("needs_documents",)

    # --- Ani rates, once
    rating = ani.locator("#rating-form")
    expect(rating).to_be_visible()
    rating.get_by_text("Sangat membantu").click()
    ani.get_by_label("Komentar (tidak wajib)").fill("Jelas dan cepat, terima kasih.")
    shoot(ani, "applicant-rating-id.png", shots, a11y)
    ani.get_by_role("button", name="Kirim penilaian").click()
    expect(ani.locator("#rating-done")).to_have_text("Terima kasih atas penilaian Anda.")
    expect(rating).to_be_hidden()
    stored = server.row(
        "SELECT rating, rating_comment FROM consult_consultation WHERE applicant_name = ?",
        "Ani Wijaya",
    )
    assert stored == (4, "Jelas dan cepat, terima kasih.")

    # --- and opens the printable transcript in a new tab: no token in its address
    with ani_ctx.expect_page() as opened:
        ani.get_by_role("button", name="Unduh transkrip").click()
    transcript = watch_errors(opened.value, "transcript", errors)
    transcript.wait_for_load_state()
    assert re.fullmatch(re.escape(base) + r"/c/[0-9a-f-]{36}/transcript", transcript.url)
    heading = transcript.get_by_role("heading", name="Transkrip konsultasi Anda")
    expect(heading).to_be_visible()
    page_text = transcript.locator("main")
    expect(page_text).to_contain_text("Bukti kepemilikan tanah")
    expect(page_text).to_contain_text("Sumber: PBG untuk rumah tinggal (demo) · Persyaratan")
    expect(page_text).to_contain_text("4 dari 5")
    expect(transcript.get_by_role("button", name="Cetak atau simpan sebagai PDF")).to_be_visible()
    assert NOTE not in transcript.content()
    shoot(transcript, "applicant-transcript-id.png", shots, a11y)
    assert not errors, errors
    assert not a11y, a11y
