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

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.phones import form_phone
from tests.services import chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
# The committed screenshots are rewritten only on request, so that an ordinary test run leaves
# the working tree clean: LOKET_UPDATE_SCREENSHOTS=1 pytest tests/e2e/test_pages_browser.py
DOC_SHOTS = ROOT / "docs" / "screenshots"
UPDATE_SHOTS = os.environ.get("LOKET_UPDATE_SCREENSHOTS", "") == "1"
DAPHNE = Path(sys.executable).with_name("daphne")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1200, "height": 800}
WAIT_MS = 15_000
COUNSELOR_PASSWORD = secrets.token_urlsafe(12)
SUPERVISOR_PASSWORD = secrets.token_urlsafe(12)


class Server:
    """A Daphne process serving Loket on a socket this test owns."""

    def __init__(self, workdir: Path) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.log_path = workdir / "daphne.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "LOKET_DEV_SECRET_FILE"}
        }
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "LOKET_SQLITE_PATH": str(workdir / "db.sqlite3"),
                "LOKET_SECRET_KEY": os.environ["LOKET_SECRET_KEY"],
                "LOKET_DEBUG": "0",
                # A real server renews its connection leases and sweeps deadlines.
                "LOKET_RUNTIME": "1",
                # Generous, so a slow CI machine does not lose the offer before the click.
                "LOKET_OFFER_TIMEOUT": "90",
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def start(self) -> None:
        fd = self.sock.fileno()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(DAPHNE), "--fd", str(fd), "config.asgi:application"],
                cwd=ROOT,
                env=self.env,
                pass_fds=(fd,),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The socket is already listening, so a request waits in the backlog until Daphne accepts
        # it: the answer is the readiness signal. Short attempts notice a Daphne that died.
        deadline = time.monotonic() + 40
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"daphne exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/login/", timeout=2) as response:
                    assert response.status == 200
                    return
            except (TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"daphne did not answer:\n{self.log_tail()}") from None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def close(self) -> None:
        self.stop()
        self.sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    try:
        srv.manage("migrate", "--noinput")
        srv.manage("seed_demo", "--topics-only")
        srv.manage(
            "create_staff",
            "--role=counselor",
            "--username=sari",
            f"--password={COUNSELOR_PASSWORD}",
            "--name=Sari",
            "--topics=building-approval,health-permit",
        )
        srv.manage(
            "create_staff",
            "--role=supervisor",
            "--username=dewi",
            f"--password={SUPERVISOR_PASSWORD}",
            "--name=Dewi",
        )
        srv.start()
        yield srv
    finally:
        srv.close()


class PageErrors:
    """Uncaught exceptions and console errors of the pages, checked at the end."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any, name: str) -> Any:
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"{name}: console: {msg.text}")
                if msg.type == "error" and "WebSocket" not in msg.text
                else None
            ),
        )
        return page


def login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(base + "/counselor/")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_url(re.compile(r"/counselor/$"))


def accessibility_problems(page: Any) -> list[str]:
    """axe-core findings (moderate or worse) on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("moderate", "serious", "critical")
    ]


def shoot(page: Any, name: str, folder: Path, problems: list[str]) -> None:
    """Save a screenshot of the screen and check it with axe-core."""
    folder.mkdir(parents=True, exist_ok=True)
    # Typing into a field scrolls the window; the screenshot shows the screen from its top.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(folder / name))
    problems.extend(f"{name}: {p}" for p in accessibility_problems(page))


def test_applicant_and_counselor_walk_through_a_consultation(
    server: Server, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    errors = PageErrors()
    a11y: list[str] = []
    shots = DOC_SHOTS if UPDATE_SHOTS else tmp_path / "screenshots"
    base = server.url
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        try:
            options = {"viewport": VIEWPORT, "locale": "id-ID", "timezone_id": "Asia/Jakarta"}
            applicant_ctx = browser.new_context(**options)
            counselor_ctx = browser.new_context(**options)
            supervisor_ctx = browser.new_context(**options)
            for ctx in (applicant_ctx, counselor_ctx, supervisor_ctx):
                ctx.set_default_timeout(WAIT_MS)

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
            row = supervisor.locator("tr", has_text="Ani Wijaya")
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
            expect(timeline).to_contain_text("Ani Wijaya (pemohon)")
            shoot(supervisor, "transcript-id.png", shots, a11y)

            # --- English is one click away
            visitor = errors.watch(browser.new_context(**options).new_page(), "visitor")
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
        except Exception:
            # Shown under the failed test's captured stderr.
            sys.stderr.write(server.log_tail())
            raise
        finally:
            browser.close()
    assert not errors.errors, "\n".join(errors.errors)
    assert not a11y, "accessibility:\n" + "\n".join(a11y)
