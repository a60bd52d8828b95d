"""Video set-up time in real Chromium: from "start video" to the first remote frame decoded.

Two measurements, ``--runs`` times each (default 20), in the same setup as the browser tests
(tests/e2e/netns.py: Daphne and Chromium in a network namespace with loopback only, fake camera
and microphone):

* **Chromium <-> Chromium**: one chat consultation between the applicant's page and the
  counselor's console (two browser contexts). Each run the applicant clicks "Switch to video";
  the counselor's page accepts as soon as the request shows (a MutationObserver in the page
  clicks Accept, so no round trip to this process is timed); the call connects; then the
  applicant hangs up. Timed from the click (a capture listener in the applicant's page) to the
  first remote video frame presented on the applicant's side, on the counselor's side, and on
  both (the later of the two); also to the applicant's connection state "connected". One clock:
  ``performance.timeOrigin + performance.now()`` in each page (both pages run on this machine).
* **Chromium <-> aiortc**: the pre-call check of a video consultation in the waiting room.
  Each run the applicant clicks "Check camera and connection" and the time to the first frame
  of their own picture coming back from the server's aiortc peer is taken; then the check is
  stopped (DELETE) before the next run.

Run as root from the repo root::

    .venv/bin/python -m bench.video                   # 20 runs of each
    .venv/bin/python -m bench.video --runs 5 --json /tmp/video.json

Exit status 0 on success, 1 when a run failed, 2 when a network namespace cannot be made.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.netns import CHROMIUM, CHROMIUM_ARGS, LoketNetns, netns_unavailable
from tests.e2e.video_pages import (
    accept_offer,
    applicant_join,
    login_counselor,
    wait_call_state,
)

RUN_TIMEOUT_MS = 20_000

# Remember when the element is clicked (capture phase: before the page's own handler runs).
MARK_CLICK_JS = """(selector) => {
  window.__benchClick = null;
  const target = document.querySelector(selector);
  target.addEventListener("click", () => {
    window.__benchClick = performance.timeOrigin + performance.now();
  }, { capture: true, once: true });
}"""

# The counselor's page accepts a call request the moment it shows.
AUTO_ACCEPT_JS = """() => {
  const incoming = document.querySelector('[data-call-ref="incoming"]');
  new MutationObserver(() => {
    if (!incoming.hidden) incoming.querySelector('[data-call-ref="accept"]').click();
  }).observe(incoming, { attributes: true, attributeFilter: ["hidden"] });
}"""

CALL_METRICS_JS = "(cid) => ({ ...window.loketCalls.get(cid).metrics })"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "chromium": version,
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 1),
        "worst_ms": round(max(values), 1),
        "best_ms": round(min(values), 1),
    }


def chromium_to_chromium(browser: Any, loket: LoketNetns, runs: int) -> list[dict[str, float]]:
    password = loket.counselor("bench", "building-approval")
    applicant_ctx, counselor_ctx = browser.new_context(), browser.new_context()
    try:
        applicant, counselor = applicant_ctx.new_page(), counselor_ctx.new_page()
        login_counselor(counselor, loket.url, "bench", password)
        cid = applicant_join(applicant, loket.url, topic="building-approval")
        accept_offer(counselor)
        ask = '[data-call-ref="ask-video"]'
        applicant.wait_for_selector(f"{ask}:visible", timeout=RUN_TIMEOUT_MS)
        counselor.evaluate(AUTO_ACCEPT_JS)
        results = []
        for number in range(runs):
            applicant.evaluate(MARK_CLICK_JS, ask)
            applicant.locator(ask).click()
            clicked = applicant.evaluate("window.__benchClick")
            for page in (applicant, counselor):
                # This call's first frame (the view keeps the last call's until the next starts).
                page.wait_for_function(
                    "([cid, t]) => window.loketCalls.get(cid).metrics.firstRemoteFrame > t",
                    arg=[cid, clicked],
                    timeout=RUN_TIMEOUT_MS,
                )
            mine = applicant.evaluate(CALL_METRICS_JS, cid)
            theirs = counselor.evaluate(CALL_METRICS_JS, cid)
            result = {
                "applicant_frame_ms": mine["firstRemoteFrame"] - clicked,
                "counselor_frame_ms": theirs["firstRemoteFrame"] - clicked,
                "connected_ms": mine["connectedAt"] - clicked,
                # The applicant's side in steps: the request, the counselor's accept and the
                # call_started state back; camera, microphone and ICE servers; ICE and DTLS;
                # the first frame decoded and shown.
                "step_in_call_ms": mine["inCallAt"] - clicked,
                "step_media_ms": mine["mediaAt"] - mine["inCallAt"],
                "step_connect_ms": mine["connectedAt"] - mine["mediaAt"],
                "step_frame_ms": mine["firstRemoteFrame"] - mine["connectedAt"],
            }
            result["both_frames_ms"] = max(
                result["applicant_frame_ms"], result["counselor_frame_ms"]
            )
            results.append(result)
            print(
                f"  call {number + 1:2d}: first remote frame applicant "
                f"{result['applicant_frame_ms']:6.0f} ms, counselor "
                f"{result['counselor_frame_ms']:6.0f} ms",
                flush=True,
            )
            applicant.locator('[data-call-ref="hangup"]:visible').click()
            wait_call_state(counselor, "ended", timeout=RUN_TIMEOUT_MS)
            # The next request needs the server to have ended this call for both pages.
            for page in (applicant, counselor):
                page.wait_for_function(
                    "(cid) => { const c = window.loketCalls.get(cid);"
                    " return !c.inCall && c.state && !c.state.in_call; }",
                    arg=cid,
                    timeout=RUN_TIMEOUT_MS,
                )
            applicant.wait_for_selector(f"{ask}:visible", timeout=RUN_TIMEOUT_MS)
        return results
    finally:
        applicant_ctx.close()
        counselor_ctx.close()


def chromium_to_aiortc(browser: Any, loket: LoketNetns, runs: int) -> list[dict[str, float]]:
    context = browser.new_context()
    try:
        page = context.new_page()
        # A video consultation on a topic nobody staffs: it stays in the waiting room.
        applicant_join(page, loket.url, topic="non-permit-letters", mode="video")
        page.wait_for_selector("#precheck-start:visible", timeout=RUN_TIMEOUT_MS)
        results = []
        for number in range(runs):
            page.evaluate(MARK_CLICK_JS, "#precheck-start")
            page.locator("#precheck-start").click()
            page.wait_for_function(
                "Boolean(window.loketPrecheck.metrics.firstFrame)", timeout=RUN_TIMEOUT_MS
            )
            clicked = page.evaluate("window.__benchClick")
            first = page.evaluate("window.loketPrecheck.metrics.firstFrame")
            results.append({"returned_frame_ms": first - clicked})
            print(f"  check {number + 1:2d}: first returned frame {first - clicked:6.0f} ms")
            page.locator("#precheck-stop").click()
            page.wait_for_selector('#precheck[data-state="idle"]', timeout=RUN_TIMEOUT_MS)
        return results
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    reason = netns_unavailable()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    report: dict[str, Any] = {"machine": machine(), "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="loket-bench-video-") as workdir:
        loket = LoketNetns(Path(workdir))
        try:
            loket.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=str(loket.chromium), args=CHROMIUM_ARGS
                )
                try:
                    print("Chromium <-> Chromium: Switch to video -> first remote frame")
                    started = time.monotonic()
                    calls = chromium_to_chromium(browser, loket, args.runs)
                    print(f"  ({time.monotonic() - started:.0f} s)")
                    print("Chromium <-> aiortc: Check camera and connection -> first frame back")
                    checks = chromium_to_aiortc(browser, loket, args.runs)
                finally:
                    browser.close()
        except Exception:
            print(loket.log()[-4000:], file=sys.stderr)
            raise
        finally:
            loket.stop()

    report["chromium_chromium"] = {key: summary([r[key] for r in calls]) for key in calls[0]}
    report["chromium_aiortc"] = {
        "returned_frame_ms": summary([r["returned_frame_ms"] for r in checks])
    }
    report["samples"] = {"chromium_chromium": calls, "chromium_aiortc": checks}
    print()
    print(f"machine: {json.dumps(report['machine'])}")
    print(f"{'measurement':58s} {'median':>8s} {'worst':>8s}  (ms, {args.runs} runs)")
    rows = [
        (
            "Chromium<->Chromium, click -> applicant's first remote frame",
            report["chromium_chromium"]["applicant_frame_ms"],
        ),
        (
            "Chromium<->Chromium, click -> counselor's first remote frame",
            report["chromium_chromium"]["counselor_frame_ms"],
        ),
        (
            "Chromium<->Chromium, click -> frames on both sides",
            report["chromium_chromium"]["both_frames_ms"],
        ),
        (
            "Chromium<->Chromium, click -> applicant connected",
            report["chromium_chromium"]["connected_ms"],
        ),
        (
            "  applicant's steps: click -> in call (request, accept)",
            report["chromium_chromium"]["step_in_call_ms"],
        ),
        (
            "  ... -> camera, microphone and ICE servers ready",
            report["chromium_chromium"]["step_media_ms"],
        ),
        (
            "  ... -> connected (offer, answer, ICE, DTLS)",
            report["chromium_chromium"]["step_connect_ms"],
        ),
        ("  ... -> first remote frame shown", report["chromium_chromium"]["step_frame_ms"]),
        (
            "Chromium<->aiortc, click -> first returned frame",
            report["chromium_aiortc"]["returned_frame_ms"],
        ),
    ]
    for title, figures in rows:
        print(f"{title:58s} {figures['median_ms']:8.0f} {figures['worst_ms']:8.0f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
