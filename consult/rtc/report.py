"""What a pre-call check measured, as the report the applicant's page and the verdict read.

Loss and round-trip time come from the peer's RTP statistics (``getStats``); frame counts from
the check itself (:mod:`consult.rtc.check`).
"""

from __future__ import annotations

import math
import time
from typing import Any

from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
)

from .check import Check
from .verdict import precheck_verdict


def _ratio(lost: int, received: int) -> float | None:
    lost = max(lost, 0)
    total = lost + max(received, 0)
    if total <= 0:
        return None
    return lost / total


def check_report(check: Check, stats: RTCStatsReport | None) -> dict[str, Any]:
    """The report of ``check`` from what it counted and the peer's ``stats`` (None: none could
    be read), with its verdict; the keys are those :meth:`PrecheckService.report` lists."""
    now = check.ended_at if check.ended_at is not None else time.monotonic()
    since = check.connected_at if check.connected_at is not None else check.started_at
    duration = max(now - since, 0.0)

    audio_packets: int | None = None
    uplink: float | None = None
    downlink: float | None = None
    rtts: list[float] = []
    if stats is not None:
        up_lost = up_received = 0
        down_lost = down_received = 0
        have_remote = False
        for entry in stats.values():
            if isinstance(entry, RTCInboundRtpStreamStats):
                up_lost += entry.packetsLost
                up_received += entry.packetsReceived
                if entry.kind == "audio":
                    audio_packets = (audio_packets or 0) + entry.packetsReceived
            elif isinstance(entry, RTCRemoteInboundRtpStreamStats):
                have_remote = True
                down_lost += entry.packetsLost
                down_received += entry.packetsReceived
                # aiortc derives RTT from wall-clock LSR/DLSR; a starved event loop can
                # make it negative, which means "not measured", not "fast".
                if entry.roundTripTime is not None and entry.roundTripTime >= 0:
                    rtts.append(float(entry.roundTripTime))
        uplink = _ratio(up_lost, up_received)
        downlink = _ratio(down_lost, down_received) if have_remote else None
    if audio_packets is None:
        audio_packets = check.audio_frames
    known = [x for x in (uplink, downlink) if x is not None]
    loss = max(known) if known else None
    rtt_ms = max(rtts) * 1000.0 if rtts else None

    verdict, reasons = precheck_verdict(
        video_frames=check.video_frames,
        duration_s=duration,
        audio_packets=audio_packets,
        rtt_ms=rtt_ms,
        loss_ratio=loss,
        ice_failed=check.ice_failed,
    )
    first = check.first_video_frame_at
    return {
        "check_id": check.check_id,
        "state": "running" if check.close_task is None else "ended",
        "end_reason": check.end_reason,
        "connection_state": "failed" if check.ice_failed else check.pc.connectionState,
        "duration_s": round(duration, 3),
        "time_to_first_video_ms": (
            None if first is None else round((first - check.started_at) * 1000.0, 1)
        ),
        "video_frames": check.video_frames,
        "video_fps": round(check.video_frames / duration, 2) if duration > 0 else None,
        "video_width": check.video_width,
        "video_height": check.video_height,
        "audio_packets": audio_packets,
        "audio_peak_dbfs": (
            round(20 * math.log10(check.audio_peak / 32768), 1) if check.audio_peak else None
        ),
        "rtt_ms": None if rtt_ms is None else round(rtt_ms, 1),
        "loss_ratio": None if loss is None else round(loss, 4),
        "loss_ratio_uplink": None if uplink is None else round(uplink, 4),
        "loss_ratio_downlink": None if downlink is None else round(downlink, 4),
        "verdict": verdict,
        "reasons": reasons,
    }
