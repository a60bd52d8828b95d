// The applicant's pre-call check (templates/consult/_precheck.html): while waiting for a video
// consultation, the browser connects to Loket's own WebRTC peer, which sends the applicant's
// picture and sound straight back (docs/VIDEO.md, "Pre-call check"). The page shows the returned
// picture, the microphone level (measured here on the local track), the round-trip time and
// packet loss, and the server's verdict with what to try.
//
// The offer is complete (non-trickle): ICE gathering finishes before it is POSTed, and the
// server's answer carries all of its candidates. No ICE servers: host candidates only.

import { listenFrames } from "../lib/bus.js";
import { wallClock } from "../lib/clock.js";
import { byId } from "../lib/dom.js";
import { request } from "../lib/http.js";
import { t } from "../lib/i18n.js";

const MEASURE_MS = 6000;
const REPORT_EVERY_MS = 1000;
const GATHER_TIMEOUT_MS = 5000;
const LEVEL_EVERY_MS = 100;
const OPEN = new Set(["waiting", "offered"]);

/** Resolve when ICE gathering is complete, or after `timeoutMs` with what there is. */
function gatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class PrecheckView {
  /** The page's running view (window.loketPrecheck, see testhook.js). */
  static current = null;

  /**
   * @param {object} o
   * @param {string} o.consultationId  public id
   * @param {string} o.token  the applicant's token
   * @param {import("./call.js").CallView} [o.call]  told about the voice-only choice
   */
  constructor({ consultationId, token, call = null }) {
    this.cid = consultationId;
    this.token = token;
    this.call = call;
    this.state = null;
    this.run = null; // the running check: {pc, stream, checkId, timers, ...}
    this.runNumber = 0;
    this.lastVerdict = null;
    this.metrics = { startedAt: null, firstFrame: null, verdictAt: null };
    this.ui = {
      root: byId("precheck"),
      start: byId("precheck-start"),
      stop: byId("precheck-stop"),
      panel: byId("precheck-panel"),
      video: byId("precheck-video"),
      noPicture: byId("precheck-no-picture"),
      level: byId("precheck-level"),
      rtt: byId("precheck-rtt"),
      loss: byId("precheck-loss"),
      verdict: byId("precheck-verdict"),
      verdictTitle: byId("precheck-verdict-title"),
      advice: byId("precheck-advice"),
      audioOnly: byId("precheck-audio-only"),
    };
    this.listeners = new AbortController();
    const { signal } = this.listeners;
    this.ui.start.addEventListener("click", () => this.start(), { signal });
    this.ui.stop.addEventListener("click", () => this.stop(), { signal });
    this.ui.audioOnly.addEventListener("change", () => this.choose(), { signal });
    window.addEventListener("pagehide", () => this.stop({ leaving: true }), { signal });
    this.stopListening = listenFrames((frame) => this.onFrame(frame));
    PrecheckView.current = this;
    this.ui.audioOnly.checked = false;
    this.render();
  }

  destroy() {
    this.stop({ leaving: true });
    this.stopListening();
    this.listeners.abort();
    this.ui.root.hidden = true;
    this.ui.verdict.hidden = true;
    this.ui.panel.hidden = true;
    if (PrecheckView.current === this) PrecheckView.current = null;
  }

  onFrame(frame) {
    if (frame.type === "ready") {
      const state = (frame.consultations || []).find((s) => s.consultation_id === this.cid);
      if (state) this.applyState(state);
    } else if (frame.type === "consultation.state" && frame.consultation_id === this.cid) {
      this.applyState(frame);
    }
    return false;
  }

  applyState(state) {
    this.state = state;
    if (!this.visible() && this.run) this.stop();
    this.render();
  }

  visible() {
    return Boolean(this.state && this.state.mode === "video" && OPEN.has(this.state.status));
  }

  choose() {
    if (this.call) this.call.preferAudioOnly = this.ui.audioOnly.checked;
  }

  // ------------------------------------------------------------------ the check

  async start() {
    if (this.run) return;
    this.runNumber += 1;
    const run = { number: this.runNumber, pc: null, stream: null, checkId: null, timers: [] };
    this.run = run;
    this.metrics = { startedAt: wallClock(), firstFrame: null, verdictAt: null };
    this.lastVerdict = null;
    this.ui.verdict.hidden = false;
    this.ui.verdictTitle.textContent = t("precheck_running");
    this.ui.verdictTitle.dataset.verdict = "";
    this.ui.advice.textContent = "";
    this.ui.rtt.textContent = "–";
    this.ui.loss.textContent = "–";
    this.ui.level.value = 0;
    this.ui.noPicture.hidden = false;
    this.render();
    try {
      const stream = await this.media();
      if (this.run !== run) {
        // Stopped while the devices were opening: let them go.
        if (stream) for (const track of stream.getTracks()) track.stop();
        return;
      }
      run.stream = stream;
      if (!run.stream) {
        this.finishWith(null, t("precheck_err_media"));
        return;
      }
      this.meter(run);
      const pc = new RTCPeerConnection({ iceServers: [] });
      run.pc = pc;
      for (const track of run.stream.getTracks()) pc.addTrack(track, run.stream);
      const returned = new MediaStream();
      this.ui.video.srcObject = returned;
      pc.ontrack = ({ track }) => {
        returned.addTrack(track);
        if (track.kind === "video") this.watchFrames(run);
      };
      await pc.setLocalDescription();
      await gatheringComplete(pc, GATHER_TIMEOUT_MS);
      if (this.run !== run) return;
      const response = await this.api("POST", "", {
        sdp: pc.localDescription.sdp,
        type: pc.localDescription.type,
      });
      if (this.run !== run) {
        if (response.ok) this.api("DELETE", `/${response.body.check_id}`, null, true);
        return;
      }
      if (!response.ok) {
        const code = response.body.error ? response.body.error.code : "";
        const problem = code === "precheck_busy" ? "precheck_err_busy" : "precheck_err_failed";
        this.finishWith(null, t(problem));
        return;
      }
      run.checkId = response.body.check_id;
      await pc.setRemoteDescription({ type: response.body.type, sdp: response.body.sdp });
      run.timers.push(setInterval(() => this.poll(run), REPORT_EVERY_MS));
      run.timers.push(setTimeout(() => this.finish(run), MEASURE_MS));
    } catch (error) {
      console.warn("precheck:", error);
      if (this.run === run) this.finishWith(null, t("precheck_err_failed"));
    }
  }

  async media() {
    const tries = [{ audio: true, video: true }, { audio: true }, { video: true }];
    if (this.ui.audioOnly.checked) tries.shift();
    for (const constraints of tries) {
      try {
        return await navigator.mediaDevices.getUserMedia(constraints);
      } catch {
        // Try with less (no camera, or the camera refused).
      }
    }
    return null;
  }

  /** The microphone level from the local track (WebAudio analyser), shown in a meter. */
  meter(run) {
    const [track] = run.stream.getAudioTracks();
    if (!track || !window.AudioContext) return;
    const context = new AudioContext();
    run.audio = context;
    context.resume().catch(() => {});
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    run.timers.push(
      setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const value of samples) sum += value * value;
        const rms = Math.sqrt(sum / samples.length);
        // -60 dBFS (silence) .. 0 dBFS (full scale) as 0..1.
        const dbfs = rms > 0 ? 20 * Math.log10(rms) : -100;
        this.ui.level.value = Math.max(0, Math.min(1, (dbfs + 60) / 60));
      }, LEVEL_EVERY_MS),
    );
  }

  watchFrames(run) {
    const video = this.ui.video;
    video.play().catch(() => {});
    if (typeof video.requestVideoFrameCallback !== "function") return;
    video.requestVideoFrameCallback(() => {
      if (this.run !== run) return;
      if (!this.metrics.firstFrame) this.metrics.firstFrame = wallClock();
      this.ui.noPicture.hidden = true;
    });
  }

  async poll(run) {
    if (this.run !== run || !run.checkId) return;
    const response = await this.api("GET", `/${run.checkId}`);
    if (this.run !== run || !response.ok) return;
    await this.showFigures(run, response.body);
  }

  async showFigures(run, report) {
    let rtt = report.rtt_ms;
    let loss = report.loss_ratio;
    if ((rtt === null || rtt === undefined) && run.pc) {
      // The server has no RTCP round trip yet: the ICE candidate pair's own measurement.
      const stats = await run.pc.getStats().catch(() => null);
      if (stats) {
        for (const entry of stats.values()) {
          if (entry.type === "candidate-pair" && entry.nominated && entry.currentRoundTripTime) {
            rtt = entry.currentRoundTripTime * 1000;
          }
        }
      }
    }
    if (rtt !== null && rtt !== undefined) {
      this.ui.rtt.textContent = t("precheck_rtt", { ms: Math.round(rtt) });
    }
    if (loss !== null && loss !== undefined) {
      this.ui.loss.textContent = `${(loss * 100).toFixed(1)} %`;
    }
  }

  async finish(run) {
    if (this.run !== run) return;
    const response = await this.api("DELETE", `/${run.checkId}`);
    if (this.run !== run) return;
    if (response.ok) {
      await this.showFigures(run, response.body);
      this.finishWith(response.body, "");
    } else {
      this.finishWith(null, t("precheck_err_failed"));
    }
  }

  /** The check is over: show the verdict (or the problem), release camera and connection. */
  finishWith(report, problem) {
    this.cleanup();
    const verdict = report ? report.verdict : "connection_problem";
    this.lastVerdict = verdict;
    this.metrics.verdictAt = wallClock();
    this.ui.verdict.hidden = false;
    this.ui.verdictTitle.dataset.verdict = verdict;
    this.ui.verdictTitle.textContent = t(`precheck_verdict_${verdict}`);
    const advice = [problem || t(`precheck_advice_${verdict}`)];
    for (const reason of (report && report.reasons) || []) {
      const hint = HINTS[reason];
      if (hint && !advice.includes(t(hint))) advice.push(t(hint));
    }
    this.ui.advice.textContent = advice.join(" ");
    if (verdict === "audio_only" && this.call && !this.ui.audioOnly.checked) {
      this.ui.audioOnly.checked = true;
      this.choose();
    }
    this.render();
  }

  /** Stop a running check (the button, a state change, or the page going away). */
  stop({ leaving = false } = {}) {
    const run = this.run;
    if (!run) return;
    if (run.checkId) this.api("DELETE", `/${run.checkId}`, null, leaving);
    this.cleanup();
    if (!leaving) {
      this.ui.verdict.hidden = true;
      this.render();
    }
  }

  cleanup() {
    const run = this.run;
    this.run = null;
    if (!run) return;
    for (const timer of run.timers) {
      clearInterval(timer);
      clearTimeout(timer);
    }
    if (run.pc) run.pc.close();
    if (run.stream) for (const track of run.stream.getTracks()) track.stop();
    if (run.audio) run.audio.close().catch(() => {});
    this.ui.video.srcObject = null;
    this.ui.level.value = 0;
  }

  api(method, suffix, body = null, keepalive = false) {
    return request(`/api/consultations/${encodeURIComponent(this.cid)}/precheck${suffix}`, {
      method,
      body: body || undefined,
      token: this.token,
      keepalive,
    });
  }

  render() {
    const visible = this.visible();
    this.ui.root.hidden = !visible;
    this.ui.root.dataset.state = this.run ? "running" : this.lastVerdict ? "done" : "idle";
    this.ui.start.hidden = Boolean(this.run);
    this.ui.start.textContent = t(this.lastVerdict ? "precheck_again" : "precheck_start");
    this.ui.stop.hidden = !this.run;
    this.ui.panel.hidden = !this.run;
  }
}

// Reasons in the server's report (consult/rtc/verdict.py) and what the applicant can try.
const HINTS = {
  ice_failed: "precheck_hint_network",
  no_media: "precheck_hint_network",
  high_packet_loss: "precheck_hint_slow",
  very_high_rtt: "precheck_hint_slow",
  packet_loss: "precheck_hint_slow",
  high_rtt: "precheck_hint_slow",
  no_audio: "precheck_hint_microphone",
  low_audio_packet_rate: "precheck_hint_microphone",
  no_video: "precheck_hint_camera",
  low_video_framerate: "precheck_hint_camera",
};

/** The pre-call check of the applicant's consultation (see PrecheckView). */
export function attachPrecheck(options) {
  return new PrecheckView(options);
}
