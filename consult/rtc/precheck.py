"""The server's own WebRTC peer for the applicant's pre-call camera and network check.

The applicant's browser sends a complete (non-trickle) SDP offer with one audio and/or one video
section. The server answers with its own ``aiortc`` peer (``iceServers=[]``: host candidates only,
no STUN/TURN server is ever contacted), receives the applicant's media, counts it, and sends it
straight back (video: the latest decoded picture; audio: the decoded frames), so the applicant
sees and hears themselves *through the server*. Nothing is stored: frames are only counted and
forwarded, no recorder is attached. This module is the service (offer, answer, limits, the end of
a check); one check's peer and media are in :mod:`consult.rtc.check`, its report in
:mod:`consult.rtc.report`, and what the measurement means in :mod:`consult.rtc.verdict`.

Limits (``settings.LOKET``, from the environment variables of these names; read at each
:meth:`PrecheckService.start`):

* ``LOKET_PRECHECK_MAX_CONCURRENT`` (default 4): checks running at once **in this process**.
  Each check decodes and re-encodes video in software (several % of a core each), so this is a
  per-process CPU budget, not a global quota; with N server processes up to N times this many
  checks run on the host. One browser session holds at most one check: a new ``start`` for the
  same session key first ends the previous one.
* ``LOKET_PRECHECK_MAX_SECONDS`` (default 30): a check's peer connection is closed this long
  after ``start`` was called, whatever its state. A connection state of ``failed`` or ``closed``
  closes it at once.

After a check ends, its final report (not its peer) is kept for
:data:`FINISHED_REPORT_SECONDS` so ``report()`` still answers; at most :data:`MAX_FINISHED`
reports are kept.

Errors are :class:`consult.errors.DomainError` subclasses with a stable ``code``:
``precheck_busy``, ``precheck_invalid_offer``, ``precheck_not_found``, ``precheck_failed``.

Fragile spot: browsers that hide host addresses behind mDNS (``*.local``) candidates need the
server to resolve them by multicast DNS, which only works on the same link. Chromium exposes
real host addresses once camera/microphone permission is granted, which is the normal case here
(the check runs after ``getUserMedia``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any, Final

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription
from aiortc.stats import RTCStatsReport
from django.conf import settings

from ..errors import DomainError
from .check import Check, EchoTrack, media_relay
from .report import check_report

logger = logging.getLogger(__name__)

MAX_OFFER_BYTES: Final = 64 * 1024
GATHER_TIMEOUT_SECONDS: Final = 10.0
STATS_TIMEOUT_SECONDS: Final = 2.0
FINISHED_REPORT_SECONDS: Final = 300.0
MAX_FINISHED: Final = 256


class PrecheckError(DomainError):
    """The check could not be set up (e.g. ICE gathering failed or the service shut down)."""

    code = "precheck_failed"
    message = "The connection check could not be started."


class PrecheckBusy(PrecheckError):
    code = "precheck_busy"
    message = "Too many connection checks are running; try again in a moment."


class PrecheckInvalid(PrecheckError):
    code = "precheck_invalid_offer"
    message = "The connection check offer is not a usable WebRTC offer."


class PrecheckNotFound(PrecheckError):
    code = "precheck_not_found"
    message = "No such connection check."


def _validate_offer(offer_sdp: str, offer_type: str) -> None:
    if offer_type != "offer":
        raise PrecheckInvalid("The description must be of type 'offer'.")
    if not isinstance(offer_sdp, str) or not offer_sdp.strip():
        raise PrecheckInvalid("The offer is empty.")
    if len(offer_sdp.encode("utf-8", "replace")) > MAX_OFFER_BYTES:
        raise PrecheckInvalid("The offer is too large.")
    try:
        parsed = SessionDescription.parse(offer_sdp)
    except Exception as exc:
        raise PrecheckInvalid("The offer is not valid SDP.") from exc
    kinds = [media.kind for media in parsed.media]
    if not kinds or any(kind not in ("audio", "video") for kind in kinds):
        raise PrecheckInvalid("The offer must contain only audio and video sections.")
    if kinds.count("audio") > 1 or kinds.count("video") > 1:
        raise PrecheckInvalid("The offer may contain at most one audio and one video section.")
    if any(media.dtls is None or not media.dtls.fingerprints for media in parsed.media):
        raise PrecheckInvalid("The offer has no DTLS fingerprint.")
    if not any(media.ice_candidates for media in parsed.media):
        raise PrecheckInvalid("The offer has no ICE candidates; wait for gathering to complete.")


class PrecheckService:
    """Runs pre-call checks; one instance per server process (see :func:`get_precheck_service`).

    The running-check count and the limit ``LOKET_PRECHECK_MAX_CONCURRENT`` are per process: the
    limit protects this process's CPU, nothing is shared between processes. All methods must be
    called from the event loop that runs the checks.
    """

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._closing: set[Check] = set()
        self._finished: OrderedDict[str, tuple[str, float, dict[str, Any]]] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()
        self._shut_down = False

    @property
    def running_count(self) -> int:
        """Checks that have not ended (their peers may be closing)."""
        return len(self._checks)

    @property
    def peer_count(self) -> int:
        """Peer connections this process still holds: running checks plus those being closed.
        This is what ``LOKET_PRECHECK_MAX_CONCURRENT`` limits."""
        return len(self._checks) + len(self._closing)

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    async def start(self, *, session_key: str, offer_sdp: str, offer_type: str) -> dict[str, str]:
        """Answer an applicant's offer; returns ``{"check_id", "sdp", "type"}``.

        Raises :class:`PrecheckInvalid` for an unusable offer, :class:`PrecheckBusy` when the
        per-process limit is reached (or the service is shutting down) and
        :class:`PrecheckError` when the answer could not be produced.
        """
        _validate_offer(offer_sdp, offer_type)
        if self._shut_down:
            raise PrecheckBusy("The server is shutting down.")
        for previous in [c for c in self._checks.values() if c.session_key == session_key]:
            await self._close(previous, "replaced")

        max_concurrent = settings.LOKET["PRECHECK_MAX_CONCURRENT"]
        max_seconds = settings.LOKET["PRECHECK_MAX_SECONDS"]
        # No await between this test and the registration below: the slot is taken atomically.
        if self.peer_count >= max_concurrent:
            raise PrecheckBusy

        check_id = secrets.token_urlsafe(16)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        check = Check(
            check_id=check_id, session_key=session_key, pc=pc, started_at=time.monotonic()
        )
        self._checks[check_id] = check
        check.timer = asyncio.create_task(self._expire(check, max_seconds))
        self._wire(check)

        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                answer = await pc.createAnswer()
            except Exception as exc:
                logger.info("precheck: unusable offer (%s)", type(exc).__name__)
                await self._close(check, "invalid_offer", remember=False)
                raise PrecheckInvalid from exc
            try:
                async with asyncio.timeout(GATHER_TIMEOUT_SECONDS):
                    await pc.setLocalDescription(answer)
            except Exception as exc:
                logger.warning("precheck: could not complete the answer (%r)", exc)
                await self._close(check, "setup_failed", remember=False)
                raise PrecheckError from exc
        except asyncio.CancelledError:
            # The caller went away (e.g. the HTTP request was aborted): free the slot now.
            self._spawn(self._close(check, "cancelled", remember=False))
            raise
        local = pc.localDescription
        if check.close_task is not None or local is None:
            raise PrecheckError
        return {"check_id": check_id, "sdp": local.sdp, "type": local.type}

    async def stop(self, check_id: str, *, session_key: str | None = None) -> None:
        """End a running check (no-op if it has already ended). With ``session_key``, only a
        check of that session is stopped; otherwise :class:`PrecheckNotFound`."""
        check = self._checks.get(check_id)
        if check is None:
            await self._wait_closing(check_id)
            if check_id in self._finished and self._owner_matches(check_id, session_key):
                return
            raise PrecheckNotFound
        if session_key is not None and check.session_key != session_key:
            raise PrecheckNotFound
        await self._close(check, "stopped")

    async def shutdown(self) -> None:
        """Close every check's peer connection (waiting for those already closing) and refuse
        new checks."""
        self._shut_down = True
        await asyncio.gather(
            *(self._close(c, "shutdown") for c in list(self._checks.values())),
            *(self._close(c, "shutdown") for c in list(self._closing)),
            return_exceptions=True,
        )
        background = list(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    async def report(self, check_id: str, *, session_key: str | None = None) -> dict[str, Any]:
        """Metrics measured by the server for a running or recently ended check, with verdict.

        Keys: ``check_id``, ``state`` (``running``/``ended``), ``end_reason``,
        ``connection_state``, ``duration_s`` (since connected, else since start),
        ``time_to_first_video_ms`` (start to first decoded video frame on the server),
        ``video_frames``, ``video_fps``, ``video_width``, ``video_height``, ``audio_packets``,
        ``audio_peak_dbfs``, ``rtt_ms``, ``loss_ratio`` (worst direction), ``loss_ratio_uplink``
        (applicant to server), ``loss_ratio_downlink`` (server to applicant, from the browser's
        receiver reports), ``verdict``, ``reasons``. Unmeasured values are ``None``.
        """
        self._prune_finished()
        check = self._checks.get(check_id)
        if check is None:
            await self._wait_closing(check_id)
            finished = self._finished.get(check_id)
            if finished is None or not self._owner_matches(check_id, session_key):
                raise PrecheckNotFound
            return dict(finished[2])
        if session_key is not None and check.session_key != session_key:
            raise PrecheckNotFound
        return check_report(check, await self._stats(check))

    # --- internals ------------------------------------------------------------------------------

    async def _wait_closing(self, check_id: str) -> None:
        """If ``check_id`` is being torn down, wait until its final report is stored."""
        for check in list(self._closing):
            if check.check_id == check_id and check.close_task is not None:
                await asyncio.shield(check.close_task)

    def _owner_matches(self, check_id: str, session_key: str | None) -> bool:
        return session_key is None or self._finished[check_id][0] == session_key

    def _wire(self, check: Check) -> None:
        pc = check.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind not in ("audio", "video") or check.close_task is not None:
                return
            echo = EchoTrack(track.kind)
            check.echo_tracks.append(echo)
            pc.addTrack(echo)
            task = asyncio.create_task(media_relay(check, track, echo))
            check.tasks.add(task)
            task.add_done_callback(check.tasks.discard)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and check.connected_at is None:
                check.connected_at = time.monotonic()
            elif state in ("failed", "closed") and check.close_task is None:
                if state == "failed":
                    check.ice_failed = True
                self._spawn(self._close(check, f"connection_{state}"))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _expire(self, check: Check, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._close(check, "max_duration")

    async def _close(self, check: Check, reason: str, *, remember: bool = True) -> None:
        """Idempotent; the slot is freed synchronously, the teardown is shielded from the
        caller's cancellation."""
        if check.close_task is None:
            self._checks.pop(check.check_id, None)
            check.ended_at = time.monotonic()
            check.end_reason = reason
            if check.timer is not None and check.timer is not asyncio.current_task():
                check.timer.cancel()
            self._closing.add(check)
            check.close_task = asyncio.create_task(self._teardown(check, remember))
        await asyncio.shield(check.close_task)

    async def _teardown(self, check: Check, remember: bool) -> None:
        try:
            if remember:
                try:
                    report = check_report(check, await self._stats(check))
                    self._finished[check.check_id] = (check.session_key, time.monotonic(), report)
                    self._prune_finished()
                except Exception:
                    logger.exception("precheck: could not build the final report")
            for echo in check.echo_tracks:
                echo.stop()
            with contextlib.suppress(Exception):
                await check.pc.close()
            for task in list(check.tasks):
                task.cancel()
            await asyncio.gather(*check.tasks, return_exceptions=True)
        finally:
            self._closing.discard(check)

    def _prune_finished(self) -> None:
        cutoff = time.monotonic() - FINISHED_REPORT_SECONDS
        while self._finished:
            check_id, (_, ended, _) = next(iter(self._finished.items()))
            if ended >= cutoff and len(self._finished) <= MAX_FINISHED:
                break
            del self._finished[check_id]

    async def _stats(self, check: Check) -> RTCStatsReport | None:
        if check.pc.connectionState == "closed":
            return None
        try:
            async with asyncio.timeout(STATS_TIMEOUT_SECONDS):
                return await check.pc.getStats()
        except Exception as exc:
            logger.debug("precheck: getStats failed (%r)", exc)
            return None


_service: PrecheckService | None = None


def get_precheck_service() -> PrecheckService:
    """The process-wide service, created on first use (and anew after :meth:`shutdown`)."""
    global _service
    if _service is None or _service.is_shut_down:
        _service = PrecheckService()
    return _service
