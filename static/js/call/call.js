// A video call between the two participants of a consultation: asking for it (call.request,
// call.accept, call.decline), the call's life (begin, end, hang up) and the frames it follows.
// CallView is one object per consultation; its methods are in four modules by concern and mixed
// in below: this one (requests, frames, the call's life), negotiation.js (the RTCPeerConnection,
// perfect negotiation, recovery), media.js (camera, microphone, ICE servers) and view.js (what
// the page shows). testhook.js adds what the browser tests drive.

import { listenFrames } from "../lib/bus.js";
import { wallClock } from "../lib/clock.js";
import { media } from "./media.js";
import { negotiation } from "./negotiation.js";
import { rendering } from "./view.js";

const ENDED_NOTICE_MS = 6000;
const QUIET_REFUSALS = new Set(["call.state", "call.end"]);

/** Every call view of the page by consultation id (window.loketCalls, see testhook.js). */
export const liveCalls = new Map();

function callRef(root, name) {
  return root.querySelector(`[data-call-ref="${name}"]`);
}

export class CallView {
  /**
   * @param {object} o
   * @param {HTMLElement} o.root  templates/consult/_call.html's section, or an element holding it
   * @param {"applicant"|"counselor"} o.role
   * @param {string} o.consultationId  public id
   * @param {string} [o.token]  the applicant's token (for GET /api/ice-servers)
   * @param {(frame: object) => boolean} o.send
   * @param {object} [o.state]  the consultation's state, when known already
   */
  constructor({ root, role, consultationId, token = null, send, state = null }) {
    this.root = root.matches('[data-call-ref="root"]') ? root : callRef(root, "root");
    this.role = role;
    this.peerRole = role === "applicant" ? "counselor" : "applicant";
    this.polite = role === "counselor";
    this.cid = consultationId;
    this.token = token;
    this.sendFrame = send;
    this.state = null;
    this.inCall = false;
    this.callNumber = 0;
    this.pc = null;
    this.iceServers = [];
    this.localStream = null;
    this.micTrack = null;
    this.cameraTrack = null;
    this.micOn = true;
    this.preferAudioOnly = false;
    this.callAudioOnly = false;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingAnswer = false;
    this.remoteSession = null;
    this.connection = "idle"; // idle | connecting | connected | reconnecting | waiting | ended
    this.peerRecorded = null; // the last call_connected / call_reconnecting in the transcript
    this.reported = null;
    this.recovering = false;
    this.rebuilds = 0;
    this.timers = { recovery: null, grace: null, connect: null, ended: null, iceRefresh: null };
    this.chain = Promise.resolve();
    this.held = null;
    this.requestCounter = 0;
    this.requestTypes = new Map(); // request id -> frame type, until its ack or error
    this.stats = { rollbacks: 0, ignoredOffers: 0, restarts: 0, rebuilds: 0, offers: 0 };
    // Wall-clock times (ms) of this call's steps, for bench/video.py.
    this.metrics = {
      startedAt: null,
      inCallAt: null,
      mediaAt: null,
      connectedAt: null,
      firstRemoteFrame: null,
    };
    this.trace = []; // the last signaling steps, for a failed test's report
    this.listeners = new AbortController();

    this.ui = {
      precheck: callRef(root, "precheck"),
      ask: callRef(root, "ask"),
      askVideo: callRef(root, "ask-video"),
      askVoice: callRef(root, "ask-voice"),
      outgoing: callRef(root, "outgoing"),
      cancel: callRef(root, "cancel"),
      incoming: callRef(root, "incoming"),
      incomingText: callRef(root, "incoming-text"),
      accept: callRef(root, "accept"),
      decline: callRef(root, "decline"),
      stage: callRef(root, "stage"),
      videos: callRef(root, "videos"),
      status: callRef(root, "status"),
      remote: callRef(root, "remote"),
      remoteOff: callRef(root, "remote-off"),
      local: callRef(root, "local"),
      camera: callRef(root, "camera"),
      mic: callRef(root, "mic"),
      sound: callRef(root, "sound"),
      hangup: callRef(root, "hangup"),
      alert: callRef(root, "alert"),
    };
    const on = (node, handler) =>
      node.addEventListener("click", handler, { signal: this.listeners.signal });
    on(this.ui.askVideo, () => this.ask(false));
    on(this.ui.askVoice, () => this.ask(true));
    on(this.ui.cancel, () => this.request("call.decline"));
    on(this.ui.accept, () => this.request("call.accept", { audio_only: this.preferAudioOnly }));
    on(this.ui.decline, () => this.request("call.decline"));
    on(this.ui.camera, () => this.toggleCamera());
    on(this.ui.mic, () => this.toggleMic());
    on(this.ui.hangup, () => this.hangUp());
    on(this.ui.sound, () => this.unmuteRemote());
    window.addEventListener("pagehide", () => this.pageHidden(), {
      signal: this.listeners.signal,
    });

    this.stopListening = listenFrames((frame) => this.onFrame(frame));
    liveCalls.set(this.cid, this);
    if (state) this.applyState(state);
    else this.render();
  }

  /** Stop for good: the page drops this consultation (the call, if any, is left to the server). */
  destroy() {
    this.stopListening();
    this.listeners.abort();
    this.inCall = false;
    this.callNumber += 1; // a call being prepared stops there
    this.teardown();
    clearTimeout(this.timers.ended);
    if (liveCalls.get(this.cid) === this) liveCalls.delete(this.cid);
  }

  // ------------------------------------------------------------------ frames

  onFrame(frame) {
    switch (frame.type) {
      case "ready":
        for (const state of frame.consultations || []) {
          if (state.consultation_id === this.cid) this.applyState(state);
        }
        return false;
      case "consultation.state":
        if (frame.consultation_id === this.cid) this.applyState(frame);
        return false;
      case "entry":
        if (frame.consultation_id === this.cid) this.onEntry(frame);
        return false;
      case "rtc.offer":
      case "rtc.answer":
      case "rtc.ice":
      case "rtc.hangup":
        if (frame.consultation_id !== this.cid) return false;
        if (this.held) this.held.push(frame);
        else this.enqueue(() => this.onSignal(frame));
        return true;
      case "ack":
      case "error":
        if (!frame.id || !frame.id.startsWith(this.requestPrefix())) return false;
        if (frame.type === "error" && !QUIET_REFUSALS.has(this.requestTypes.get(frame.id))) {
          // A state report or hang-up refused because the call is over already says nothing new.
          this.showAlert(this.errorText(frame.code));
        }
        this.requestTypes.delete(frame.id);
        return true;
      default:
        return false;
    }
  }

  requestPrefix() {
    return `call:${this.cid}:`;
  }

  request(type, extra = {}) {
    this.showAlert("");
    this.requestCounter += 1;
    const id = `${this.requestPrefix()}${this.requestCounter}`;
    this.requestTypes.set(id, type);
    return this.sendFrame({
      type,
      id,
      consultation_id: this.cid,
      ...extra,
    });
  }

  note(what) {
    this.trace.push(`${Math.round(performance.now())} ${what}`);
    if (this.trace.length > 80) this.trace.shift();
  }

  signal(frame) {
    if (frame.type === "rtc.offer") this.stats.offers += 1;
    if (frame.type !== "rtc.ice") this.note(`sent ${frame.type}`);
    this.sendFrame({ consultation_id: this.cid, ...frame });
  }

  onEntry(entry) {
    if (entry.kind !== "event") return;
    const data = entry.data || {};
    if (entry.event === "call_started") {
      this.callAudioOnly = Boolean(data.audio_only);
      this.peerRecorded = null;
    } else if (entry.event === "call_connected" || entry.event === "call_reconnecting") {
      this.peerRecorded = { state: entry.event.slice("call_".length), by: data.by };
    } else if (entry.event === "call_ended") {
      this.peerRecorded = null;
    } else {
      return;
    }
    this.render();
  }

  applyState(state) {
    const previous = this.state;
    this.state = state;
    const active = state.status === "active";
    if (active && state.in_call) {
      // A call already going on when this view first hears of the consultation: a reload.
      if (!this.inCall) this.beginCall({ rejoin: previous === null });
    } else if (this.inCall) {
      this.endCall();
    }
    if (this.role === "applicant" && active && !state.in_call && state.mode === "video") {
      this.autoStart(previous);
    }
    this.render();
  }

  /** A video consultation: the applicant's page starts the call once the counselor has joined. */
  autoStart(previous) {
    const key = `loket.call.autostarted.${this.cid}`;
    try {
      if (window.sessionStorage.getItem(key)) return;
      window.sessionStorage.setItem(key, "1");
    } catch {
      if (previous && previous.status === "active") return;
    }
    this.request("call.start", { audio_only: this.preferAudioOnly });
  }

  async ask(audioOnly) {
    let withoutCamera = audioOnly;
    if (!audioOnly) withoutCamera = !(await this.cameraPresent());
    if (withoutCamera) this.preferAudioOnly = true;
    this.metrics.startedAt = wallClock();
    this.request("call.request", { audio_only: withoutCamera });
  }

  // ------------------------------------------------------------------ the call's life

  beginCall({ rejoin = false } = {}) {
    this.inCall = true;
    this.callNumber += 1;
    const number = this.callNumber;
    clearTimeout(this.timers.ended);
    this.connection = "connecting";
    this.reported = null;
    this.rebuilds = 0;
    this.recovering = false;
    this.metrics.firstRemoteFrame = null;
    this.metrics.connectedAt = null;
    this.metrics.mediaAt = null;
    this.metrics.inCallAt = wallClock();
    this.showAlert("");
    this.enqueue(async () => {
      const prepared = await this.prepare();
      if (this.callNumber !== number || !this.inCall) {
        // The call ended (or the view went) while the devices were opening: let them go.
        for (const track of prepared.getTracks()) track.stop();
        return;
      }
      this.useMedia(prepared);
      this.metrics.mediaAt = wallClock();
      if (rejoin) this.startAfresh();
      else this.buildPc();
      this.watchConnect();
    });
    this.render();
  }

  /** The call is over (hung up here or there, or the consultation ended). */
  endCall() {
    this.inCall = false;
    this.callNumber += 1;
    this.teardown();
    this.connection = "ended";
    this.preferAudioOnly = false;
    clearTimeout(this.timers.ended);
    this.timers.ended = setTimeout(() => {
      if (!this.inCall) {
        this.connection = "idle";
        this.render();
      }
    }, ENDED_NOTICE_MS);
    this.render();
  }

  hangUp() {
    if (!this.inCall) return;
    this.request("call.end");
    this.endCall();
  }

  teardown() {
    for (const name of ["recovery", "grace", "connect", "iceRefresh"]) {
      clearTimeout(this.timers[name]);
    }
    this.closePc();
    if (this.localStream) for (const track of this.localStream.getTracks()) track.stop();
    this.localStream = null;
    this.micTrack = null;
    this.cameraTrack = null;
    this.micOn = true;
    this.held = null;
    this.ui.local.srcObject = null;
    this.ui.remote.srcObject = null;
  }

  pageHidden() {
    // The page goes away mid-call: tell the other side at once instead of letting ICE time out.
    if (this.inCall) this.signal({ type: "rtc.hangup" });
  }
}

Object.assign(CallView.prototype, negotiation, media, rendering);

/** The call view of one consultation (see CallView). */
export function attachCall(options) {
  return new CallView(options);
}
