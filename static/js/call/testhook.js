// For the browser tests and the benchmark (tests/e2e/video_pages.py, bench/video.py), loaded by the
// pages beside the call: every call view of the page as window.loketCalls (consultation id ->
// CallView), the pre-call check as window.loketPrecheck, and the call's controls a user cannot
// reach on purpose (make both sides offer at once, lose the transport).

import { CallView, liveCalls } from "./call.js";
import { PrecheckView } from "./precheck.js";

window.loketCalls = liveCalls;
Object.defineProperty(window, "loketPrecheck", {
  configurable: true,
  get: () => PrecheckView.current,
});

const testHooks = {
  /** Queue incoming signaling instead of handling it (to make both sides offer at once). */
  holdSignals() {
    if (!this.held) this.held = [];
  },

  releaseSignals() {
    const held = this.held || [];
    this.held = null;
    for (const frame of held) this.enqueue(() => this.onSignal(frame));
  },

  /** Offer now, whether or not anything changed. */
  renegotiate() {
    return this.negotiate(this.pc);
  },

  /** Lose the transport as a crashed network stack would: close it, then recover. */
  cutTransport() {
    if (!this.pc) return;
    this.pc.close();
    this.recover();
  },
};

Object.assign(CallView.prototype, testHooks);
