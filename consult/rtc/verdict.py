"""The pre-call check's verdict: what a measurement means for a consultation. Pure.

The thresholds are module constants; :func:`precheck_verdict` classifies one measurement and
:func:`verdict_settled` says whether a report's verdict is worth keeping for the counselor.
"""

from __future__ import annotations

from typing import Any, Final

#: Below this average received video frame rate (frames per second of connected time) the
#: camera counts as not usable: the picture would look frozen to the counselor.
MIN_VIDEO_FPS: Final = 5.0
#: Below this average rate of received audio RTP packets the microphone path counts as broken.
#: A normal Opus stream is 50 packets/s; with DTX during silence browsers still send about 2.5/s.
MIN_AUDIO_PACKETS_PER_S: Final = 2.0
#: Packet loss (worst direction, share of packets) above which a warning is given ...
LOSS_WARN_RATIO: Final = 0.05
#: ... and above which the connection is not good enough for a consultation.
LOSS_PROBLEM_RATIO: Final = 0.15
#: Round-trip time above which a warning is given ...
RTT_WARN_MS: Final = 400.0
#: ... and above which conversation becomes impractical.
RTT_PROBLEM_MS: Final = 1000.0
#: Measurements shorter than this are flagged ``short_measurement`` (informational only).
MIN_MEASUREMENT_S: Final = 3.0

VERDICT_READY: Final = "ready"
VERDICT_AUDIO_ONLY: Final = "audio_only"
VERDICT_CONNECTION_PROBLEM: Final = "connection_problem"


def precheck_verdict(
    *,
    video_frames: int,
    duration_s: float,
    audio_packets: int,
    rtt_ms: float | None,
    loss_ratio: float | None,
    ice_failed: bool,
) -> tuple[str, list[str]]:
    """Classify a measurement. Pure; thresholds are the module constants above.

    Returns ``(verdict, reasons)``; ``verdict`` is one of

    * ``"connection_problem"``: ICE failed (``ice_failed``), nothing arrived (``no_media``), loss
      above :data:`LOSS_PROBLEM_RATIO` (``high_packet_loss``), RTT above :data:`RTT_PROBLEM_MS`
      (``very_high_rtt``), or audio missing / below :data:`MIN_AUDIO_PACKETS_PER_S`
      (``no_audio`` / ``low_audio_packet_rate``), since a consultation needs sound;
    * ``"audio_only"``: audio is fine but no video arrived (``no_video``) or its rate is below
      :data:`MIN_VIDEO_FPS` (``low_video_framerate``);
    * ``"ready"``: otherwise.

    Warnings that do not change the verdict: ``packet_loss`` (loss above
    :data:`LOSS_WARN_RATIO`), ``high_rtt`` (above :data:`RTT_WARN_MS`) and ``short_measurement``
    (``duration_s`` below :data:`MIN_MEASUREMENT_S`, so the rates are rough). ``rtt_ms`` and
    ``loss_ratio`` of ``None`` mean "not measured" and count as fine.
    """
    reasons: list[str] = []
    if ice_failed:
        return VERDICT_CONNECTION_PROBLEM, ["ice_failed"]
    if video_frames <= 0 and audio_packets <= 0:
        return VERDICT_CONNECTION_PROBLEM, ["no_media"]

    duration = max(duration_s, 1e-3)
    problem = False
    if loss_ratio is not None:
        if loss_ratio > LOSS_PROBLEM_RATIO:
            problem = True
            reasons.append("high_packet_loss")
        elif loss_ratio > LOSS_WARN_RATIO:
            reasons.append("packet_loss")
    if rtt_ms is not None:
        if rtt_ms > RTT_PROBLEM_MS:
            problem = True
            reasons.append("very_high_rtt")
        elif rtt_ms > RTT_WARN_MS:
            reasons.append("high_rtt")
    if audio_packets <= 0:
        problem = True
        reasons.append("no_audio")
    elif audio_packets / duration < MIN_AUDIO_PACKETS_PER_S:
        problem = True
        reasons.append("low_audio_packet_rate")

    video_ok = False
    if video_frames <= 0:
        reasons.append("no_video")
    elif video_frames / duration < MIN_VIDEO_FPS:
        reasons.append("low_video_framerate")
    else:
        video_ok = True
    if duration_s < MIN_MEASUREMENT_S:
        reasons.append("short_measurement")

    if problem:
        return VERDICT_CONNECTION_PROBLEM, reasons
    if not video_ok:
        return VERDICT_AUDIO_ONLY, reasons
    return VERDICT_READY, reasons


def verdict_settled(report: dict[str, Any]) -> bool:
    """Whether a check report's verdict is settled: the final one, or one measured for long
    enough (a running check's verdict of a short measurement is still rough)."""
    return report["state"] == "ended" or "short_measurement" not in report["reasons"]
