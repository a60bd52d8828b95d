// Getting the counselor's attention: the number of unseen items (offers waiting for an answer,
// messages in a chat that is not on screen) in the page title, and a short beep for a new offer
// or message. The beep is generated with WebAudio, so there is no audio file to fetch; the mute
// switch is remembered in localStorage.

import { t } from "../lib/i18n.js";

const MUTE_KEY = "loket.counselor.muted";
const MIN_GAP_MS = 700; // a burst of messages (a replay) beeps once

function readMuted() {
  try {
    return window.localStorage.getItem(MUTE_KEY) === "1";
  } catch {
    return false;
  }
}

function storeMuted(muted) {
  try {
    window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
  } catch {
    // Private mode or storage full: the switch still works for this page.
  }
}

export class ConsoleNotifier {
  /**
   * @param {object} o
   * @param {HTMLButtonElement | null} o.muteButton the toggle; aria-pressed="true" means muted
   */
  constructor({ muteButton }) {
    this.baseTitle = document.title;
    this.button = muteButton;
    this.muted = readMuted();
    this.context = null;
    this.lastBeep = 0;
    this.unseen = 0;
    if (this.button) {
      this.button.hidden = false;
      this.renderMute();
      this.button.addEventListener("click", () => {
        this.muted = !this.muted;
        storeMuted(this.muted);
        this.renderMute();
      });
    }
    // Browsers start an AudioContext only after a user gesture: prepare it on the first one.
    const unlock = () => {
      if (!this.muted) this.audio();
    };
    document.addEventListener("pointerdown", unlock, { once: true, capture: true });
    document.addEventListener("keydown", unlock, { once: true, capture: true });
  }

  renderMute() {
    this.button.setAttribute("aria-pressed", String(this.muted));
  }

  /** The number of unseen items; 0 restores the plain title. */
  setUnseen(count) {
    this.unseen = Math.max(0, count);
    const title = this.baseTitle;
    document.title = this.unseen > 0 ? t("title_unseen", { n: this.unseen, title }) : title;
  }

  audio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!this.context) {
      try {
        this.context = new Context();
      } catch {
        return null;
      }
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  /** A short beep: higher and double for an offer, single for a message. */
  beep(kind) {
    if (this.muted) return;
    const now = Date.now();
    if (now - this.lastBeep < MIN_GAP_MS) return;
    this.lastBeep = now;
    const context = this.audio();
    if (!context) return;
    const tones = kind === "offer" ? [880, 1175] : [660];
    const start = context.currentTime + 0.01;
    tones.forEach((frequency, index) => {
      const at = start + index * 0.16;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      // A quick fade in and out: no click at either end.
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.14);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.15);
    });
  }
}
