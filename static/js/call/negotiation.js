// The WebRTC connection of a call, as methods of CallView (call.js mixes them in): the
// RTCPeerConnection, negotiation and recovery.
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

import { wallClock } from "../lib/clock.js";
import { t } from "../lib/i18n.js";

const RESTART_TIMEOUT_MS = 8000;
const DISCONNECT_GRACE_MS = 3000;
const CONNECT_TIMEOUT_MS = 15000;
const MAX_REBUILDS = 3;

/** The SDP session id (o= line): one per RTCPeerConnection, kept across renegotiations. */
function sdpSession(sdp) {
  const match = /^o=\S+ (\S+) /m.exec(sdp || "");
  return match ? match[1] : null;
}

export const negotiation = {
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
  },

  enqueue(step) {
    // Signaling is handled strictly in order, one message at a time, after any rebuild.
    this.chain = this.chain.then(step).catch((error) => console.warn("call:", error));
    return this.chain;
  },

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
  },

  /** Our own new peer connection, on our initiative (a rebuild, a reload). */
  startAfresh() {
    this.buildPc();
    // The polite side makes no first offer (see negotiate): it asks the other side for one.
    if (this.polite) this.signal({ type: "rtc.hangup" });
  },

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
  },

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
  },

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
  },

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
  },

  /** Never connected in time (a lost offer, say): treat it like a failed connection. */
  watchConnect() {
    clearTimeout(this.timers.connect);
    if (this.polite) return;
    this.timers.connect = setTimeout(() => {
      if (this.inCall && this.connection !== "connected") this.recover();
    }, CONNECT_TIMEOUT_MS);
  },

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
  },

  /** ICE restart did not help: a new RTCPeerConnection, renegotiated from scratch. */
  rebuildSoon() {
    if (!this.inCall || this.connection === "connected") return;
    this.rebuilds += 1;
    if (this.rebuilds > MAX_REBUILDS) {
      this.showAlert(t("call_gave_up"));
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
  },

  report(state) {
    if (!this.inCall || this.reported === state) return;
    this.reported = state;
    this.request("call.state", { state, audio_only: !this.cameraTrack });
  },
};
