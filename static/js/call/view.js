// What a call shows, as methods of CallView (call.js mixes them in): the ask / incoming / stage
// parts of templates/consult/_call.html, the status line and the alert.

import { t } from "../lib/i18n.js";

export const rendering = {
  errorText(code) {
    const key = `call_err_${code}`;
    const text = t(key);
    return text === key ? t("call_err_generic") : text;
  },

  showAlert(message) {
    this.ui.alert.textContent = message;
    this.ui.alert.hidden = !message;
  },

  statusText() {
    const peer = t(this.peerRole === "applicant" ? "call_who_applicant" : "call_who_counselor");
    if (this.connection === "connected" && this.peerRecorded) {
      const { state, by } = this.peerRecorded;
      if (state === "reconnecting" && by === this.peerRole) {
        return t("call_status_peer_reconnecting", { who: peer });
      }
    }
    if (this.connection === "idle") return "";
    if (this.connection === "connected" && !this.cameraTrack) {
      return t("call_status_connected_audio");
    }
    return t(`call_status_${this.connection}`, { who: peer });
  },

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
  },

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
      this.ui.precheck.textContent = t(`call_precheck_${verdict || "none"}`);
    }
    this.ui.ask.hidden = !active || this.inCall || Boolean(requestedBy);
    this.ui.askVideo.textContent = t(
      state.mode === "video" ? "call_start_video" : `call_ask_video_${this.role}`,
    );
    this.ui.outgoing.hidden = requestedBy !== this.role;
    this.ui.incoming.hidden = !requestedBy || requestedBy === this.role;
    if (!this.ui.incoming.hidden) {
      this.ui.incomingText.textContent = t(`call_incoming_${this.role}`);
    }
    this.ui.stage.hidden = !this.inCall && this.connection !== "ended";
    // Once the call is over only its status line stays for a moment: an empty video box is not.
    this.ui.videos.hidden = !this.inCall;
    this.ui.status.textContent = this.statusText();
    for (const name of ["camera", "mic", "hangup"]) this.ui[name].hidden = !this.inCall;
    this.ui.camera.textContent = t(this.cameraTrack ? "call_camera_off" : "call_camera_on");
    this.ui.camera.setAttribute("aria-pressed", String(!this.cameraTrack && this.inCall));
    this.ui.mic.textContent = t(this.micOn ? "call_mic_off" : "call_mic_on");
    this.ui.mic.setAttribute("aria-pressed", String(!this.micOn));
    this.ui.mic.disabled = !this.micTrack;
    this.ui.local.hidden = !this.cameraTrack;
    this.ui.remoteOff.hidden = this.connection !== "connected" || this.peerSendsVideo();
    if (!this.inCall) this.ui.sound.hidden = true;
  },
};
