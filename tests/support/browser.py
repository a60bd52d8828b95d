"""Browser tests: the Daphne a walk runs against (``tests.support.sqlite.SqliteServer``), the
Chromium it is driven with (Playwright, sync API), and what every walk checks on its pages
(errors, axe-core, screenshots)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.needs import chromium_path
from tests.support.servers import ROOT
from tests.support.sqlite import SqliteServer, sqlite_server

# The committed screenshots are rewritten only on request, so that an ordinary test run leaves
# the working tree clean: LOKET_UPDATE_SCREENSHOTS=1 pytest tests/e2e/test_pages_browser.py
DOC_SHOTS = ROOT / "docs" / "screenshots"
UPDATE_SHOTS = os.environ.get("LOKET_UPDATE_SCREENSHOTS", "") == "1"
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


class Server(SqliteServer):
    """A browser walk's server: offers wait long enough for a slow machine's click."""

    def __init__(self, workdir: Path, **env: str) -> None:
        # Generous, so a slow CI machine does not lose the offer before the click.
        super().__init__(workdir, LOKET_OFFER_TIMEOUT="90", **env)


def served(
    workdir: Path, *staff: dict[str, Any], server: type[Server] = Server, **env: str
) -> contextlib.AbstractContextManager[Server]:
    """A started browser-walk ``server``: see ``tests.support.sqlite.sqlite_server``."""
    return sqlite_server(workdir, *staff, server=server, **env)


# The office most walks use: a counselor and a supervisor.
SARI = {
    "username": "sari",
    "password": COUNSELOR_PASSWORD,
    "name": "Sari",
    "topics": "building-approval,health-permit",
}
DEWI = {"username": "dewi", "password": SUPERVISOR_PASSWORD, "role": "supervisor", "name": "Dewi"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Counselor sari (building approval, health permit) and supervisor dewi."""
    with served(tmp_path, SARI, DEWI) as srv:
        yield srv


@contextlib.contextmanager
def chromium(args: list[str] = LAUNCH_ARGS, executable: str | None = None) -> Iterator[Any]:
    """Chromium (``executable``, or the one ``chromium_path`` finds) launched with ``args``,
    closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable or chromium_path(), args=args)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium, closed after the test; ``expect`` waits up to WAIT_MS."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    with chromium() as launched:
        yield launched


@contextlib.contextmanager
def log_on_failure(server: SqliteServer) -> Iterator[None]:
    """On a failure inside, the server's log tail, shown under the failed test's captured
    stderr."""
    try:
        yield
    except Exception:
        sys.stderr.write(server.log_tail())
        raise


def context_options(viewport: dict[str, int] = VIEWPORT) -> dict[str, Any]:
    """A browser context as the office's visitors have it: Indonesian, in Jakarta's time."""
    return {"viewport": viewport, "locale": "id-ID", "timezone_id": "Asia/Jakarta"}


def contexts_open(browser: Any, count: int, viewport: dict[str, int] = VIEWPORT) -> list[Any]:
    """``count`` contexts (one per person of a walk) with ``context_options``, each waiting up
    to WAIT_MS for what a step expects."""
    opened = [browser.new_context(**context_options(viewport)) for _ in range(count)]
    for context in opened:
        context.set_default_timeout(WAIT_MS)
    return opened


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
