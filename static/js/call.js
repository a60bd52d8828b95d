// A video call between the two participants of a consultation: asking for it (call.request,
// call.accept, call.decline), the browser-to-browser WebRTC connection, and what the page shows.
//
// Negotiation is "perfect negotiation": either side may (re)negotiate at any time, and when both
// send an offer at once (glare) the polite peer (the counselor) rolls its own back and answers,
// while the impolite peer (the applicant) ignores the colliding offer. Offers, answers and ICE
// candidates travel as rtc.offer / rtc.answer / rtc.ice through Loket (docs/PROTOCOL.md). The
// first offer of every RTCPeerConnection is the impolite side's; a polite side that needs a new
// connection (a reload, a lost transport) sends rtc.hangup, and the impolite side answers that
// with a new connection and its offer.
//
// Recovery: when ICE fails (or stays disconnected), the impolite side restarts ICE; if that has
// not reconnected within RESTART_TIMEOUT_MS it closes its RTCPeerConnection and builds a new one
// (a clean rebuild), up to MAX_REBUILDS times, then hangs up. A peer notices the other side's new
// connection by the SDP session id (the o= line): an offer from another session means "the other
// side started afresh" (rebuild, reload), so it starts afresh too. Each side reports its state
// with call.state; Loket records call_connected / call_reconnecting when it changes.
// docs/VIDEO.md describes all of this.

import { t } from "./i18n.js";

const RESTART_TIMEOUT_MS = 8000;
const DISCONNECT_GRACE_MS = 3000;
const CONNECT_TIMEOUT_MS = 15000;
const MAX_REBUILDS = 3;
const ENDED_NOTICE_MS = 6000;
const QUIET_REFUSALS = new Set(["call.state", "call.end"]);

// ---------------------------------------------------------------------- strings

let videoCatalogue = null;

/** A string of the video catalogue (<script id="i18n-video">), else the page's own. */
export function vt(key, params = {}) {
  if (videoCatalogue === null) {
    const node = document.getElementById("i18n-video");
    try {
      videoCatalogue = node ? JSON.parse(node.textContent) : {};
    } catch {
      videoCatalogue = {};
    }
  }
  if (!Object.prototype.hasOwnProperty.call(videoCatalogue, key)) return t(key, params);
  return videoCatalogue[key].replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** The sentence for a call event in the transcript, or null when it is not one of ours. */
export function describeCallEvent(entry) {
  const data = entry.data || {};
  const who = (role) => vt(role === "applicant" ? "call_who_applicant" : "call_who_counselor");
  switch (entry.event) {
    case "call_requested":
      return vt(data.audio_only ? "ev_call_requested_audio" : "ev_call_requested", {
        who: who(data.by),
      });
    case "call_declined":
      return vt(data.withdrawn ? "ev_call_withdrawn" : "ev_call_declined", { who: who(data.by) });
    case "call_request_expired":
      return vt("ev_call_request_expired");
    case "call_connected":
      return vt("ev_call_connected");
    case "call_reconnecting":
      return vt("ev_call_reconnecting");
    default:
      return null;
  }
}

// ---------------------------------------------------------------------- frames

const frameListeners = new Set();

/** Listen to every frame of the page's socket; returns the function that stops listening. */
export function listenFrames(listener) {
  frameListeners.add(listener);
  return () => frameListeners.delete(listener);
}

/** Give a frame to the call (and pre-call check) views; true when it was theirs alone. */
export function dispatchCallFrame(frame) {
  let consumed = false;
  for (const listener of Array.from(frameListeners)) {
    try {
      if (listener(frame)) consumed = true;
    } catch (error) {
      console.warn("call view failed on a frame", error);
    }
  }
  return consumed;
}

// Every call view of the page by consultation id, for the browser tests and the benchmark.
const calls = new Map();
window.loketCalls = calls;

/** The SDP session id (o= line): one per RTCPeerConnection, kept across renegotiations. */
function sdpSession(sdp) {
  const match = /^o=\S+ (\S+) /m.exec(sdp || "");
  return match ? match[1] : null;
}

const wallClock = () => performance.timeOrigin + performance.now();

function ref(root, name) {
  return root.querySelector(`[data-call-ref="${name}"]`);
}

// ---------------------------------------------------------------------- the call

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
    this.root = root.matches('[data-call-ref="root"]') ? root : ref(root, "root");
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
      precheck: ref(root, "precheck"),
      ask: ref(root, "ask"),
      askVideo: ref(root, "ask-video"),
      askVoice: ref(root, "ask-voice"),
      outgoing: ref(root, "outgoing"),
      cancel: ref(root, "cancel"),
      incoming: ref(root, "incoming"),
      incomingText: ref(root, "incoming-text"),
      accept: ref(root, "accept"),
      decline: ref(root, "decline"),
      stage: ref(root, "stage"),
      videos: ref(root, "videos"),
      status: ref(root, "status"),
      remote: ref(root, "remote"),
      remoteOff: ref(root, "remote-off"),
      local: ref(root, "local"),
      camera: ref(root, "camera"),
      mic: ref(root, "mic"),
      sound: ref(root, "sound"),
      hangup: ref(root, "hangup"),
      alert: ref(root, "alert"),
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
    calls.set(this.cid, this);
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
    if (calls.get(this.cid) === this) calls.delete(this.cid);
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

  errorText(code) {
    const key = `call_err_${code}`;
    const text = vt(key);
    return text === key ? vt("call_err_generic") : text;
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

  async cameraPresent() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      return devices.some((device) => device.kind === "videoinput");
    } catch {
      return false;
    }
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

  closePc() {
    if (!this.pc) return;
    const pc = this.pc;
    this.pc = null;
    pc.onnegotiationneeded = null;
    pc.onicecandidate = null;
    pc.onicegatheringstatechange = null;
    pc.ontrack = null;
    pc.oniceconnectionstatechange = null;
    pc.onconnectionstatechange = null;
    pc.close();
  }

  pageHidden() {
    // The page goes away mid-call: tell the other side at once instead of letting ICE time out.
    if (this.inCall) this.signal({ type: "rtc.hangup" });
  }

  /** Camera and microphone (the stream returned), and the ICE servers for this call. */
  async prepare() {
    const wantVideo = !(this.preferAudioOnly || this.callAudioOnly);
    const [stream, servers] = await Promise.all([
      this.acquireMedia(wantVideo),
      this.fetchIceServers(),
    ]);
    this.iceServers = servers;
    this.scheduleIceRefresh(servers);
    return stream;
  }

  /**
   * TURN credentials are short-lived (docs/VIDEO.md): while in a call, fetch fresh ones at half
   * their ttl, so that an ICE restart or a rebuilt connection late in a long call can still
   * obtain a relay. The allocations already made are not affected.
   */
  scheduleIceRefresh(servers) {
    clearTimeout(this.timers.iceRefresh);
    const ttls = servers.map((s) => s.ttl).filter((ttl) => typeof ttl === "number" && ttl > 0);
    if (!ttls.length) return;
    this.timers.iceRefresh = setTimeout(async () => {
      if (!this.inCall) return;
      const fresh = await this.fetchIceServers();
      if (!this.inCall) return;
      if (fresh.length) {
        this.iceServers = fresh;
        if (this.pc && this.pc.signalingState !== "closed") {
          try {
            this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: fresh });
          } catch (error) {
            console.warn("call: fresh ICE servers not applied", error);
          }
        }
      }
      this.scheduleIceRefresh(fresh.length ? fresh : servers);
    }, Math.min(...ttls) * 500);
  }

  useMedia(stream) {
    this.localStream = stream;
    this.micTrack = stream.getAudioTracks()[0] || null;
    this.cameraTrack = stream.getVideoTracks()[0] || null;
    this.ui.local.srcObject = this.cameraTrack ? stream : null;
    if (!this.micTrack) this.showAlert(vt("call_no_microphone"));
  }

  async acquireMedia(wantVideo) {
    // Camera and microphone; without a camera, the microphone; without that, the camera.
    const attempts = wantVideo
      ? [{ audio: true, video: true }, { audio: true }, { video: true }]
      : [{ audio: true }];
    for (const constraints of attempts) {
      try {
        return await navigator.mediaDevices.getUserMedia(constraints);
      } catch {
        // No such device, or refused: try with less.
      }
    }
    // Nothing usable: take part in the call receiving only.
    return new MediaStream();
  }

  /** GET /api/ice-servers; an empty list (host candidates only) when none or on failure. */
  async fetchIceServers() {
    const headers = this.token ? { Authorization: `Bearer ${this.token}` } : {};
    try {
      const response = await fetch(
        `/api/ice-servers?consultation=${encodeURIComponent(this.cid)}`,
        { headers, cache: "no-store" },
      );
      if (!response.ok) return [];
      const body = await response.json();
      return Array.isArray(body.iceServers) ? body.iceServers : [];
    } catch {
      return [];
    }
  }

  // ------------------------------------------------------------------ the peer connection

  enqueue(step) {
    // Signaling is handled strictly in order, one message at a time, after any rebuild.
    this.chain = this.chain.then(step).catch((error) => console.warn("call:", error));
    return this.chain;
  }

  buildPc() {
    this.closePc();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.note("new peer connection");
    this.remoteSession = null;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingAnswer = false;
    const remoteStream = new MediaStream();
    this.ui.remote.srcObject = remoteStream;
    this.playRemote();
    this.watchFirstFrame();
    pc.onnegotiationneeded = () => this.negotiate(pc);
    pc.onicecandidate = ({ candidate }) => {
      if (this.pc !== pc) return;
      this.note(`candidate ${candidate ? candidate.address : "end"}`);
      this.signal({ type: "rtc.ice", candidate: candidate && candidate.toJSON() });
    };
    pc.onicegatheringstatechange = () => this.note(`gathering ${pc.iceGatheringState}`);
    pc.ontrack = ({ track }) => {
      if (this.pc !== pc) return;
      remoteStream.addTrack(track);
      this.render();
    };
    pc.oniceconnectionstatechange = () => this.onIceState(pc);
    pc.onconnectionstatechange = () => this.onConnectionState(pc);
    const stream = this.localStream || new MediaStream();
    if (this.micTrack) pc.addTrack(this.micTrack, stream);
    if (this.cameraTrack) pc.addTrack(this.cameraTrack, stream);
    return pc;
  }

  /** Our own new peer connection, on our initiative (a rebuild, a reload). */
  startAfresh() {
    this.buildPc();
    // The polite side makes no first offer (see negotiate): it asks the other side for one.
    if (this.polite) this.signal({ type: "rtc.hangup" });
  }

  /** Make and send an offer (negotiationneeded, or a forced renegotiation). */
  async negotiate(pc = this.pc) {
    if (!pc || pc !== this.pc || pc.signalingState !== "stable") return;
    if (this.polite && !pc.currentRemoteDescription) {
      // The first negotiation of a connection is always the impolite side's offer. Chromium
      // was seen never to gather again after a first offer was rolled back mid-gathering (glare
      // at the start of a call), so the polite side waits for that offer instead;
      // negotiationneeded fires again afterwards if anything of ours is still to negotiate.
      this.note("waiting for the first offer");
      return;
    }
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      if (pc === this.pc && pc.localDescription.type === "offer") {
        this.signal({ type: "rtc.offer", sdp: pc.localDescription.sdp });
      }
    } catch (error) {
      console.warn("call: offer failed", error);
    } finally {
      this.makingOffer = false;
    }
  }

  async onSignal(frame) {
    if (frame.type !== "rtc.ice") this.note(`got ${frame.type} ${sdpSession(frame.sdp)}`);
    if (!this.inCall) return;
    if (frame.type === "rtc.hangup") {
      // The other side dropped its peer connection (its page went away or is reloading, or the
      // polite side starts afresh): the impolite side offers to its next one.
      this.closePc();
      this.connection = "waiting";
      if (!this.polite) this.buildPc();
      this.render();
      return;
    }
    if (frame.type === "rtc.ice") {
      if (!frame.candidate || !this.pc) return;
      try {
        await this.pc.addIceCandidate(frame.candidate);
        this.note("added a remote candidate");
      } catch (error) {
        // A candidate of an offer we ignored, or of a connection we have replaced.
        this.note(`dropped a remote candidate: ${error.name}`);
      }
      return;
    }
    const description = { type: frame.type === "rtc.offer" ? "offer" : "answer", sdp: frame.sdp };
    const session = sdpSession(frame.sdp);
    if (!this.pc) {
      if (description.type === "answer") return;
      this.buildPc();
      if (this.connection === "waiting") {
        this.connection = "reconnecting";
        this.render();
      }
    } else if (this.remoteSession && session && session !== this.remoteSession) {
      // The other side has a new peer connection: so must we, the old one cannot talk to it.
      this.stats.rebuilds += 1;
      if (description.type === "answer") {
        // An answer from a connection that never had our offer: start over, both of us.
        this.startAfresh();
        return;
      }
      this.buildPc();
    }
    const pc = this.pc;
    const readyForOffer =
      !this.makingOffer && (pc.signalingState === "stable" || this.settingAnswer);
    const collision = description.type === "offer" && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) {
      this.note("ignored the offer (collision)");
      this.stats.ignoredOffers += 1;
      return;
    }
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return;
    if (collision) this.stats.rollbacks += 1;
    this.settingAnswer = description.type === "answer";
    try {
      // An offer in have-local-offer rolls our own offer back first (implicit rollback).
      await pc.setRemoteDescription(description);
    } finally {
      this.settingAnswer = false;
    }
    if (pc !== this.pc) return;
    this.remoteSession = session;
    if (description.type === "offer") {
      await pc.setLocalDescription();
      if (pc === this.pc) this.signal({ type: "rtc.answer", sdp: pc.localDescription.sdp });
    }
    this.render(); // the negotiated directions may have changed (a camera turned on or off)
  }

  // ------------------------------------------------------------------ connection state

  onIceState(pc) {
    if (pc !== this.pc) return;
    const state = pc.iceConnectionState;
    this.note(`ice ${state}`);
    if (state === "failed") {
      clearTimeout(this.timers.grace);
      this.recover();
    } else if (state === "disconnected") {
      clearTimeout(this.timers.grace);
      this.timers.grace = setTimeout(() => {
        if (this.pc === pc && pc.iceConnectionState === "disconnected") this.recover();
      }, DISCONNECT_GRACE_MS);
    } else if (state === "connected" || state === "completed") {
      clearTimeout(this.timers.grace);
    }
  }

  onConnectionState(pc) {
    if (pc !== this.pc) return;
    this.note(`connection ${pc.connectionState}`);
    if (pc.connectionState === "connected") {
      for (const name of ["recovery", "grace", "connect"]) clearTimeout(this.timers[name]);
      this.recovering = false;
      this.rebuilds = 0;
      this.connection = "connected";
      if (!this.metrics.connectedAt) this.metrics.connectedAt = wallClock();
      this.report("connected");
      this.render();
    } else if (pc.connectionState === "failed") {
      this.recover();
    }
  }

  /** Never connected in time (a lost offer, say): treat it like a failed connection. */
  watchConnect() {
    clearTimeout(this.timers.connect);
    if (this.polite) return;
    this.timers.connect = setTimeout(() => {
      if (this.inCall && this.connection !== "connected") this.recover();
    }, CONNECT_TIMEOUT_MS);
  }

  recover() {
    if (!this.inCall) return;
    const closed = !this.pc || this.pc.signalingState === "closed";
    if (this.connection === "connected" || this.connection === "connecting") {
      this.connection = "reconnecting";
      this.render();
    }
    if (this.polite) {
      if (closed) {
        // Our transport is gone: a new connection, and the impolite side offers to it.
        this.report("failed");
        this.stats.rebuilds += 1;
        this.enqueue(() => {
          if (this.inCall) this.startAfresh();
        });
      } else {
        // The impolite side restarts ICE or rebuilds; the polite side answers.
        this.report("reconnecting");
      }
      return;
    }
    if (this.recovering) return;
    this.recovering = true;
    if (closed) {
      this.rebuildSoon();
      return;
    }
    this.report("reconnecting");
    this.stats.restarts += 1;
    this.pc.restartIce();
    clearTimeout(this.timers.recovery);
    this.timers.recovery = setTimeout(() => this.rebuildSoon(), RESTART_TIMEOUT_MS);
  }

  /** ICE restart did not help: a new RTCPeerConnection, renegotiated from scratch. */
  rebuildSoon() {
    if (!this.inCall || this.connection === "connected") return;
    this.rebuilds += 1;
    if (this.rebuilds > MAX_REBUILDS) {
      this.showAlert(vt("call_gave_up"));
      this.hangUp();
      return;
    }
    this.report("failed");
    this.stats.rebuilds += 1;
    this.connection = "reconnecting";
    this.render();
    this.enqueue(() => {
      if (this.inCall) this.startAfresh();
    });
    clearTimeout(this.timers.recovery);
    this.timers.recovery = setTimeout(() => this.rebuildSoon(), RESTART_TIMEOUT_MS);
  }

  report(state) {
    if (!this.inCall || this.reported === state) return;
    this.reported = state;
    this.request("call.state", { state, audio_only: !this.cameraTrack });
  }

  // ------------------------------------------------------------------ controls

  toggleMic() {
    if (!this.micTrack) return;
    this.micOn = !this.micOn;
    this.micTrack.enabled = this.micOn;
    this.render();
  }

  async toggleCamera() {
    if (!this.inCall) return;
    const transceiver = this.pc
      ? this.pc
          .getTransceivers()
          .find((tr) => !tr.stopped && tr.receiver.track && tr.receiver.track.kind === "video")
      : null;
    if (this.cameraTrack) {
      // Off: release the camera, and stop sending video (the other side sees its track muted).
      this.cameraTrack.stop();
      if (this.localStream) this.localStream.removeTrack(this.cameraTrack);
      this.cameraTrack = null;
      this.ui.local.srcObject = null;
      if (transceiver) {
        await transceiver.sender.replaceTrack(null);
        if (transceiver.mid !== null) transceiver.direction = "recvonly";
      }
    } else {
      let track;
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: true });
        [track] = stream.getVideoTracks();
      } catch {
        this.showAlert(vt("call_no_camera"));
        return;
      }
      if (!this.inCall) {
        track.stop();
        return;
      }
      this.cameraTrack = track;
      if (!this.localStream) this.localStream = new MediaStream();
      this.localStream.addTrack(track);
      this.ui.local.srcObject = this.localStream;
      if (transceiver) {
        await transceiver.sender.replaceTrack(track);
        transceiver.direction = "sendrecv";
      } else if (this.pc) {
        this.pc.addTrack(track, this.localStream);
      }
    }
    if (this.reported) {
      this.request("call.state", { state: this.reported, audio_only: !this.cameraTrack });
    }
    this.render();
  }

  playRemote() {
    const video = this.ui.remote;
    const played = video.play();
    if (played && played.catch) {
      played.catch(() => {
        // Autoplay with sound refused until the user interacts: play muted, offer the sound.
        video.muted = true;
        this.ui.sound.hidden = false;
        video.play().catch(() => {});
      });
    }
  }

  unmuteRemote() {
    this.ui.remote.muted = false;
    this.ui.sound.hidden = true;
    this.ui.remote.play().catch(() => {});
  }

  watchFirstFrame() {
    const video = this.ui.remote;
    if (typeof video.requestVideoFrameCallback !== "function") return;
    const number = this.callNumber;
    video.requestVideoFrameCallback(() => {
      if (this.callNumber === number && !this.metrics.firstRemoteFrame) {
        this.metrics.firstRemoteFrame = wallClock();
      }
    });
  }

  // ------------------------------------------------------------------ for tests and benchmarks

  /** Queue incoming signaling instead of handling it (to make both sides offer at once). */
  holdSignals() {
    if (!this.held) this.held = [];
  }

  releaseSignals() {
    const held = this.held || [];
    this.held = null;
    for (const frame of held) this.enqueue(() => this.onSignal(frame));
  }

  /** Offer now, whether or not anything changed. */
  renegotiate() {
    return this.negotiate(this.pc);
  }

  /** Lose the transport as a crashed network stack would: close it, then recover. */
  cutTransport() {
    if (!this.pc) return;
    this.pc.close();
    this.recover();
  }

  // ------------------------------------------------------------------ rendering

  showAlert(message) {
    this.ui.alert.textContent = message;
    this.ui.alert.hidden = !message;
  }

  statusText() {
    const peer = vt(this.peerRole === "applicant" ? "call_who_applicant" : "call_who_counselor");
    if (this.connection === "connected" && this.peerRecorded) {
      const { state, by } = this.peerRecorded;
      if (state === "reconnecting" && by === this.peerRole) {
        return vt("call_status_peer_reconnecting", { who: peer });
      }
    }
    if (this.connection === "idle") return "";
    if (this.connection === "connected" && !this.cameraTrack) {
      return vt("call_status_connected_audio");
    }
    return vt(`call_status_${this.connection}`, { who: peer });
  }

  /** Whether the negotiated session has video coming from the other side (its camera is on). */
  peerSendsVideo() {
    // From the negotiated directions, not the track's muted flag: Chromium was seen to leave a
    // remote track muted for good after a rollback, with its frames arriving all the same.
    if (!this.pc) return false;
    return this.pc
      .getTransceivers()
      .some(
        (tr) =>
          tr.receiver.track.kind === "video" &&
          (tr.currentDirection === "sendrecv" || tr.currentDirection === "recvonly"),
      );
  }

  render() {
    const state = this.state || {};
    const active = state.status === "active";
    const requestedBy = active && !this.inCall ? state.call_requested_by : null;
    this.root.dataset.callState = this.connection;
    this.root.hidden = !active && this.connection !== "ended";
    if (this.ui.precheck) {
      const verdict = state.precheck_verdict;
      this.ui.precheck.hidden = this.role !== "counselor" || (state.mode !== "video" && !verdict);
      this.ui.precheck.dataset.verdict = verdict || "";
      this.ui.precheck.textContent = vt(`call_precheck_${verdict || "none"}`);
    }
    this.ui.ask.hidden = !active || this.inCall || Boolean(requestedBy);
    this.ui.askVideo.textContent = vt(
      state.mode === "video" ? "call_start_video" : `call_ask_video_${this.role}`,
    );
    this.ui.outgoing.hidden = requestedBy !== this.role;
    this.ui.incoming.hidden = !requestedBy || requestedBy === this.role;
    if (!this.ui.incoming.hidden) {
      this.ui.incomingText.textContent = vt(`call_incoming_${this.role}`);
    }
    this.ui.stage.hidden = !this.inCall && this.connection !== "ended";
    // Once the call is over only its status line stays for a moment: an empty video box is not.
    this.ui.videos.hidden = !this.inCall;
    this.ui.status.textContent = this.statusText();
    for (const name of ["camera", "mic", "hangup"]) this.ui[name].hidden = !this.inCall;
    this.ui.camera.textContent = vt(this.cameraTrack ? "call_camera_off" : "call_camera_on");
    this.ui.camera.setAttribute("aria-pressed", String(!this.cameraTrack && this.inCall));
    this.ui.mic.textContent = vt(this.micOn ? "call_mic_off" : "call_mic_on");
    this.ui.mic.setAttribute("aria-pressed", String(!this.micOn));
    this.ui.mic.disabled = !this.micTrack;
    this.ui.local.hidden = !this.cameraTrack;
    this.ui.remoteOff.hidden = this.connection !== "connected" || this.peerSendsVideo();
    if (!this.inCall) this.ui.sound.hidden = true;
  }
}

/** The call view of one consultation (see CallView). */
export function attachCall(options) {
  return new CallView(options);
}
