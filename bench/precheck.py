"""Pre-call check benchmark: cost of ``consult.rtc.precheck.PrecheckService`` per concurrent check.

For each N in ``--concurrency`` (default ``1,4``) a fresh *server* subprocess runs one
``PrecheckService`` (``python bench/precheck.py --server``, driven by JSON lines on stdin/stdout)
and this process plays N applicants: N aiortc peers, each sending a synthetic camera (moving
block texture, ``--width``x``--height`` at 30 fps) and a 440 Hz tone, all with
``RTCConfiguration(iceServers=[])`` (host candidates only; no STUN/TURN, loopback only).

Measured per N:

* time from calling ``start()`` (request sent to the server) to this process decoding the first
  echoed video frame of that check (one clock: this process's ``time.monotonic``);
* the server process's CPU time (``resource.getrusage(RUSAGE_SELF)``, user+system, all threads)
  over a steady window of ``--seconds`` once every check has echoed a frame, as % of one core;
* the server process's resident memory (``VmRSS`` from ``/proc/self/status``) at the end of the
  window minus its value before the first check, and its peak (``VmHWM``);
* the server's own report per check (verdict, received fps).

Both processes share the machine's cores, so with many checks the applicant side (N encoders and
N decoders) can starve the server: compare the received fps with 30 before trusting the CPU
figures. Run from the repo root::

    .venv/bin/python bench/precheck.py                      # N = 1 and 4, 10 s each
    .venv/bin/python bench/precheck.py --concurrency 1,2,4 --seconds 5 --json /tmp/precheck.json

Exit status 0 on success, 1 when a check failed to deliver video, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import random
import resource
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

STEP_TIMEOUT_S = 20.0


# --- server side ----------------------------------------------------------------------------------


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _mark() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": time.monotonic(),
        "rss_kb": _proc_status_kb("VmRSS"),
        "hwm_kb": _proc_status_kb("VmHWM"),
    }


async def _server_main(max_concurrent: int, max_seconds: float) -> None:
    from django.conf import settings

    settings.configure(
        LOKET={"PRECHECK_MAX_CONCURRENT": max_concurrent, "PRECHECK_MAX_SECONDS": max_seconds}
    )
    from consult.rtc.ice import host_addresses_restrict

    # Media stays on loopback: this machine may send to no other address.
    host_addresses_restrict(["127.0.0.1"])
    import aiortc.codecs  # noqa: F401  (import cost before the baseline)

    from consult.rtc.precheck import PrecheckService

    service = PrecheckService()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def send(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    async def handle(msg: dict[str, Any]) -> None:
        op = msg["op"]
        if op == "start":
            try:
                result = await service.start(
                    session_key=f"bench-{msg['id']}", offer_sdp=msg["sdp"], offer_type="offer"
                )
                send({"id": msg["id"], **result})
            except Exception as exc:
                send({"id": msg["id"], "error": getattr(exc, "code", repr(exc))})
        elif op == "mark":
            send({"id": msg["id"], **_mark()})
        elif op == "report":
            send({"id": msg["id"], "report": await service.report(msg["check_id"])})
        elif op == "stopall":
            await service.shutdown()
            send({"id": msg["id"], "running": service.running_count})

    send({"id": "ready", **_mark()})
    tasks: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        msg = json.loads(line)
        if msg["op"] == "quit":
            break
        task = asyncio.create_task(handle(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await service.shutdown()


# --- applicant side -------------------------------------------------------------------------------


def _make_tracks(width: int, height: int) -> tuple[Any, Any]:
    from aiortc import VideoStreamTrack
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
    from av import AudioFrame, VideoFrame

    class TextureVideoTrack(VideoStreamTrack):
        """16x16 blocks of random luma drifting 4 px per frame, with a changing colour tint."""

        def __init__(self) -> None:
            super().__init__()
            rng = random.Random(1234)
            blocks_x = (width + 30 * 4) // 16 + 2
            tex_w = blocks_x * 16
            rows = []
            for _ in range(height // 16 + 1):
                row = b"".join(bytes([rng.randrange(16, 236)]) * 16 for _ in range(blocks_x))
                rows.extend([row] * 16)
            self._tex, self._tex_w = b"".join(rows[:height]), tex_w
            template = VideoFrame(width=width, height=height, format="yuv420p")
            self._line = template.planes[0].line_size
            self._n = 0

        async def recv(self) -> VideoFrame:
            pts, time_base = await self.next_timestamp()
            frame = VideoFrame(width=width, height=height, format="yuv420p")
            shift = (self._n % 30) * 4
            pad = bytes(self._line - width)
            frame.planes[0].update(
                b"".join(
                    self._tex[y * self._tex_w + shift : y * self._tex_w + shift + width] + pad
                    for y in range(height)
                )
            )
            tint = 128 + int(40 * math.sin(self._n / 15))
            for plane in frame.planes[1:]:
                plane.update(bytes([tint]) * plane.buffer_size)
            self._n += 1
            frame.pts, frame.time_base = pts, time_base
            return frame

    class ToneAudioTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            samples = [int(8000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(48000)]
            self._pcm = struct.pack(f"<{len(samples)}h", *samples)
            self._ts = 0
            self._start: float | None = None

        async def recv(self) -> AudioFrame:
            if self.readyState != "live":
                raise MediaStreamError
            if self._start is None:
                self._start = time.time()
            else:
                self._ts += 960
                await asyncio.sleep(self._start + self._ts / 48000 - time.time())
            frame = AudioFrame(format="s16", layout="mono", samples=960)
            offset = (self._ts % 48000) * 2
            frame.planes[0].update(self._pcm[offset : offset + 1920])
            frame.pts, frame.sample_rate = self._ts, 48000
            frame.time_base = fractions.Fraction(1, 48000)
            return frame

    return TextureVideoTrack, ToneAudioTrack


class _Server:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._seq = 0
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if msg["id"] == "ready":
                self.ready.set_result(msg)
            elif (fut := self._waiters.pop(str(msg["id"]), None)) is not None:
                fut.set_result(msg)
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(RuntimeError("server exited"))

    async def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self._seq += 1
        key = str(self._seq)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        self.proc.stdin.write((json.dumps({"op": op, "id": key, **kwargs}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(fut, STEP_TIMEOUT_S)

    async def close(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(Exception):
            self.proc.stdin.write(b'{"op": "quit"}\n')
            await self.proc.stdin.drain()
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()  # our own child, by its handle
            await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def _round(n: int, seconds: float, width: int, height: int) -> dict[str, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
    from av import VideoFrame

    video_cls, audio_cls = _make_tracks(width, height)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--server",
        "--max-concurrent",
        str(n),
        "--max-seconds",
        str(seconds + 60),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(REPO),
    )
    server = _Server(proc)
    peers: list[RTCPeerConnection] = []
    consumers: list[asyncio.Task[None]] = []
    try:
        await asyncio.wait_for(server.ready, STEP_TIMEOUT_S)
        idle0 = await server.call("mark")
        await asyncio.sleep(2.0)
        idle1 = await server.call("mark")

        first_frame = [asyncio.get_running_loop().create_future() for _ in range(n)]
        echoed = [0] * n

        def watch(i: int, pc: RTCPeerConnection) -> None:
            async def consume(track: MediaStreamTrack) -> None:
                while True:
                    try:
                        frame = await track.recv()
                    except MediaStreamError:
                        return
                    if isinstance(frame, VideoFrame):
                        echoed[i] += 1
                        if not first_frame[i].done():
                            first_frame[i].set_result(time.monotonic())

            @pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                consumers.append(asyncio.create_task(consume(track)))

        for i in range(n):
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            watch(i, pc)
            pc.addTrack(video_cls())
            pc.addTrack(audio_cls())
            await asyncio.wait_for(pc.setLocalDescription(await pc.createOffer()), 10)
            peers.append(pc)

        async def start(i: int) -> tuple[float, dict[str, Any]]:
            local = peers[i].localDescription
            t0 = time.monotonic()
            answer = await server.call("start", sdp=local.sdp)
            if "error" in answer:
                raise RuntimeError(f"start {i}: {answer['error']}")
            await peers[i].setRemoteDescription(
                RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
            )
            return t0, answer

        started = await asyncio.gather(*(start(i) for i in range(n)))
        firsts = await asyncio.wait_for(asyncio.gather(*first_frame), STEP_TIMEOUT_S)
        ttff_ms = [(t1 - t0) * 1000 for (t0, _), t1 in zip(started, firsts, strict=True)]

        echoed_before = sum(echoed)
        busy0 = await server.call("mark")
        await asyncio.sleep(seconds)
        busy1 = await server.call("mark")
        echoed_fps = (sum(echoed) - echoed_before) / (busy1["wall_s"] - busy0["wall_s"]) / n
        reports = [
            (await server.call("report", check_id=answer["check_id"]))["report"]
            for _, answer in started
        ]
        await server.call("stopall")
        after = await server.call("mark")
    finally:
        for pc in peers:
            await pc.close()
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        await server.close()

    def cpu_pct(a: dict[str, Any], b: dict[str, Any]) -> float:
        return 100.0 * (b["cpu_s"] - a["cpu_s"]) / (b["wall_s"] - a["wall_s"])

    busy_cpu = cpu_pct(busy0, busy1)
    rss_inc_mb = (busy1["rss_kb"] - idle1["rss_kb"]) / 1024
    return {
        "n": n,
        "resolution": f"{width}x{height}",
        "window_s": round(busy1["wall_s"] - busy0["wall_s"], 2),
        "ttff_ms": {
            "min": round(min(ttff_ms), 1),
            "median": round(statistics.median(ttff_ms), 1),
            "max": round(max(ttff_ms), 1),
        },
        "server_cpu_idle_pct": round(cpu_pct(idle0, idle1), 2),
        "server_cpu_pct": round(busy_cpu, 1),
        "server_cpu_pct_per_check": round(busy_cpu / n, 1),
        "server_rss_idle_mb": round(idle1["rss_kb"] / 1024, 1),
        "server_rss_increase_mb": round(rss_inc_mb, 1),
        "server_rss_increase_per_check_mb": round(rss_inc_mb / n, 1),
        "server_rss_peak_mb": round(busy1["hwm_kb"] / 1024, 1),
        "server_rss_after_stop_mb": round(after["rss_kb"] / 1024, 1),
        "server_received_fps": [r["video_fps"] for r in reports],
        "client_echoed_fps_per_check": round(echoed_fps, 1),
        "verdicts": [r["verdict"] for r in reports],
        "rtt_ms": [r["rtt_ms"] for r in reports],
        "loss_ratio": [r["loss_ratio"] for r in reports],
    }


async def _bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    from consult.rtc.ice import host_addresses_restrict

    host_addresses_restrict(["127.0.0.1"])
    results = []
    for n in args.concurrency:
        result = await _round(n, args.seconds, args.width, args.height)
        results.append(result)
        print(json.dumps(result), flush=True)
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        extra = hi["n"] - lo["n"]
        print(
            json.dumps(
                {
                    "marginal_per_check": f"N={lo['n']}->{hi['n']}",
                    "cpu_pct": round((hi["server_cpu_pct"] - lo["server_cpu_pct"]) / extra, 1),
                    "rss_mb": round(
                        (hi["server_rss_increase_mb"] - lo["server_rss_increase_mb"]) / extra, 1
                    ),
                }
            ),
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,4", help="comma-separated N (default 1,4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady window per N")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-concurrent", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--max-seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        asyncio.run(_server_main(args.max_concurrent, args.max_seconds))
        return 0
    try:
        args.concurrency = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        parser.error("--concurrency must be comma-separated whole numbers")
    if (
        not args.concurrency
        or min(args.concurrency) < 1
        or not 0 < args.seconds <= 120
        or args.width % 2
        or args.height % 2
        or not 32 <= args.width <= 1920
        or not 32 <= args.height <= 1088
    ):
        parser.error("bad --concurrency, --seconds (0-120) or --width/--height (even numbers)")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = asyncio.run(_bench(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(v == "ready" for r in results for v in r["verdicts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
