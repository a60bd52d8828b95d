// A call's camera, microphone and ICE servers, as methods of CallView (call.js mixes them in):
// opening the devices, the controls that turn them on and off, playing the other side's media,
// and fetching (and refreshing) the TURN credentials.

import { wallClock } from "../lib/clock.js";
import { request } from "../lib/http.js";
import { t } from "../lib/i18n.js";

export const media = {
  async cameraPresent() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      return devices.some((device) => device.kind === "videoinput");
    } catch {
      return false;
    }
  },

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
  },

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
  },

  useMedia(stream) {
    this.localStream = stream;
    this.micTrack = stream.getAudioTracks()[0] || null;
    this.cameraTrack = stream.getVideoTracks()[0] || null;
    this.ui.local.srcObject = this.cameraTrack ? stream : null;
    if (!this.micTrack) this.showAlert(t("call_no_microphone"));
  },

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
  },

  /** GET /api/ice-servers; an empty list (host candidates only) when none or on failure. */
  async fetchIceServers() {
    const answer = await request(`/api/ice-servers?consultation=${encodeURIComponent(this.cid)}`, {
      token: this.token,
    });
    return answer.ok && Array.isArray(answer.body.iceServers) ? answer.body.iceServers : [];
  },

  toggleMic() {
    if (!this.micTrack) return;
    this.micOn = !this.micOn;
    this.micTrack.enabled = this.micOn;
    this.render();
  },

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
        this.showAlert(t("call_no_camera"));
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
  },

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
  },

  unmuteRemote() {
    this.ui.remote.muted = false;
    this.ui.sound.hidden = true;
    this.ui.remote.play().catch(() => {});
  },

  watchFirstFrame() {
    const video = this.ui.remote;
    if (typeof video.requestVideoFrameCallback !== "function") return;
    const number = this.callNumber;
    video.requestVideoFrameCallback(() => {
      if (this.callNumber === number && !this.metrics.firstRemoteFrame) {
        this.metrics.firstRemoteFrame = wallClock();
      }
    });
  },
};
