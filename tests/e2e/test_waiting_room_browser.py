"""The waiting room's "what to prepare" checklist in a real browser against a real Daphne server.

The demo knowledge base is seeded; an applicant joins about building approval in Indonesian and,
while waiting, sees the requirements of that topic's articles as a checklist (the articles' own
numbering replaced by the list's boxes), and nothing of another topic or of the articles' other
sections. The screen is checked with axe-core and photographed (into docs/screenshots/ with
LOKET_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    DOC_SHOTS,
    UPDATE_SHOTS,
    VIEWPORT,
    WAIT_MS,
    PageErrors,
    Server,
    accessibility_problems,
    served,
)
from tests.support.phones import form_phone

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(180)]


@pytest.fixture
def seeded_server(tmp_path: Path) -> Iterator[Server]:
    # Topics, office hours and the demo knowledge-base articles; no accounts.
    with served(tmp_path) as srv:
        yield srv


def test_the_waiting_applicant_sees_what_to_prepare_for_their_topic(
    seeded_server: Server, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    errors = PageErrors()
    a11y: list[str] = []
    shots = DOC_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    context = browser.new_context(viewport=VIEWPORT, locale="id-ID", timezone_id="Asia/Jakarta")
    context.set_default_timeout(WAIT_MS)
    page = errors.watch(context.new_page(), "applicant")
    page.goto(seeded_server.url + "/")
    expect(page.locator("#requirements")).to_be_hidden()
    page.get_by_label("Nama Anda").fill("Ani Wijaya")
    page.get_by_label("Nomor telepon").fill(form_phone())
    page.get_by_label("Topik").select_option("building-approval")
    page.get_by_role("button", name="Masuk antrean").click()
    expect(page.locator("#position")).to_have_text("Anda nomor 1 dalam antrean.")

    checklist = page.get_by_role("region", name="Yang perlu disiapkan")
    expect(checklist).to_be_visible()
    expect(checklist.get_by_role("heading", level=4)).to_have_text(
        ["PBG untuk rumah tinggal (demo)", "Sertifikat Laik Fungsi (SLF) (demo)"]
    )
    first = checklist.get_by_role("list").first.get_by_role("listitem")
    expect(first).to_have_count(5)
    expect(first.first).to_have_text("KTP pemohon dan NPWP.")
    expect(first.last).to_have_text("Bukti pembayaran PBB tahun berjalan.")
    # Only the requirements, only this topic's.
    for absent in ("SIMBG", "Retribusi", "NIB", "Akta"):
        expect(checklist).not_to_contain_text(absent)

    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "applicant-waiting-checklist-id.png"), full_page=True)
    a11y.extend(accessibility_problems(page))

    # Reloading the waiting page shows the checklist once, not twice.
    page.reload()
    expect(page.locator("#position")).to_have_text("Anda nomor 1 dalam antrean.")
    expect(checklist.get_by_role("heading", level=4)).to_have_count(2)

    # Leaving the queue and starting again clears it until the next consultation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Keluar dari antrean").click()
    page.get_by_role("button", name="Mulai konsultasi baru").click()
    expect(page.locator("#requirements")).to_be_hidden()
    expect(page.locator("#requirements-lists li")).to_have_count(0)
    assert not errors.errors, errors.errors
    assert not a11y, a11y
