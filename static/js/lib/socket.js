// One WebSocket that comes back by itself: reconnects with capped exponential backoff, and
// notices a dead connection within seconds. A half-open TCP connection (a NAT that forgot us, a
// proxy that stopped forwarding) gives no close event, and the browser's own close handshake on
// such a link can take a minute, so liveness is the client's job: after PING_QUIET_MS without a
// frame (PING_QUIET_WAITING_MS while the page only waits in the queue: setWaiting) and at least
// every PING_EVERY_MS it sends a ping, and a ping that nothing answers
// within REPLY_DEADLINE_MS (no pong, no other frame) means the link is dead. The socket is then
// dropped on the spot and a new one opened; an opening handshake that does not finish within
// CONNECT_DEADLINE_MS is dropped the same way. The browser's offline/online events short-cut
// both: offline drops the link at once (attempts go on with backoff), online reconnects at once.
// Documented in docs/PROTOCOL.md ("Reconnecting and a dead link"): every client does the same.

import { t } from "./i18n.js";

const PING_QUIET_MS = 5_000;
// An applicant waiting in the queue has no conversation to lose: thousands of them pinging every
// 5 s cost a server more than everything else they do (docs/BENCHMARKS.md, "Connections").
const PING_QUIET_WAITING_MS = 20_000;
const PING_EVERY_MS = 20_000;
const REPLY_DEADLINE_MS = 6_000;
const CONNECT_DEADLINE_MS = 10_000;
const TICK_MS = 1_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
// Close codes after which reconnecting cannot help (see signaling/protocol.py).
const FINAL_CLOSE_CODES = new Set([4401, 4403]);
// The close code this client uses for a link it gave up on (never reaches a dead server).
const CLOSE_DEAD = 4000;

export function wsUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class LoketSocket {
  /**
   * @param {object} options
   * @param {string} options.path  e.g. "/ws/applicant/"
   * @param {() => void} options.onOpen  called on every (re)connect, before any frame
   * @param {(frame: object) => void} options.onFrame
   * @param {(status: string, detail: object) => void} options.onStatus
   *   status is "connecting" | "open" | "lost" | "closed"; a "lost" detail has `reason`
   *   "closed" (the connection closed), "dead" (nothing answered a ping) or "offline" (the
   *   browser says it has no network)
   */
  constructor({ path, onOpen, onFrame, onStatus }) {
    this.url = wsUrl(path);
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.everOpened = false;
    this.retryTimer = null;
    this.tickTimer = null;
    this.openedAt = 0; // when the current socket was created (for the opening deadline)
    this.lastHeard = 0;
    this.pingSentAt = 0; // the unanswered ping, 0 when none is out
    this.lastPingAt = 0;
    this.quietMs = PING_QUIET_MS;
    this.requestCounter = 0;
    this.listeners = null;
  }

  start() {
    this.stopped = false;
    this.listeners = new AbortController();
    const { signal } = this.listeners;
    window.addEventListener("offline", () => this.wentOffline(), { signal });
    window.addEventListener("online", () => this.cameOnline(), { signal });
    clearInterval(this.tickTimer);
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.onStatus("connecting", { attempt: 0 });
    // Not held back by navigator.onLine: it is false on machines that have only loopback (or a
    // network the browser does not recognise), where connecting works all the same.
    this.open();
  }

  /** Stop for good (the consultation is over, or the credentials are refused). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.tickTimer);
    if (this.listeners) this.listeners.abort();
    this.drop(1000);
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** A fresh request id with a prefix the caller can recognise in ack and error frames. */
  nextId(prefix) {
    this.requestCounter += 1;
    return `${prefix}${this.requestCounter}`;
  }

  /** Send a frame; false when the socket is not open (the caller decides what to keep). */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  open() {
    clearTimeout(this.retryTimer);
    this.drop(CLOSE_DEAD);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleRetry("closed");
      return;
    }
    this.ws = ws;
    this.openedAt = Date.now();
    this.pingSentAt = 0;
    ws.onopen = () => {
      const wasLost = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.lastPingAt = this.lastHeard;
      this.onStatus("open", { restored: wasLost });
      this.onOpen();
    };
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      this.pingSentAt = 0;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        clearInterval(this.tickTimer);
        this.onStatus("closed", { code: event.code });
        return;
      }
      this.scheduleRetry("closed");
    };
    // An error is always followed by close; the retry is scheduled there.
    ws.onerror = () => {};
  }

  /** Let the current socket go without waiting for its close handshake (it may never end). */
  drop(code) {
    const ws = this.ws;
    this.ws = null;
    this.pingSentAt = 0;
    if (!ws) return;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
    try {
      ws.close(code);
    } catch {
      // Closing a socket that never opened can throw in some browsers; it is gone either way.
    }
  }

  /** The link is dead (or the network is gone): say so and build a new one. */
  giveUp(reason) {
    if (this.stopped || !this.ws) return;
    this.drop(CLOSE_DEAD);
    this.scheduleRetry(reason);
  }

  tick() {
    if (this.stopped || !this.ws) return;
    const now = Date.now();
    if (this.ws.readyState === WebSocket.CONNECTING) {
      if (now - this.openedAt > CONNECT_DEADLINE_MS) this.giveUp("dead");
      return;
    }
    if (!this.isOpen) return;
    // Only a frame heard after the ping counts: a timer that a hidden tab ran late must not
    // declare a link dead that answered long ago.
    if (this.pingSentAt && now - this.pingSentAt > REPLY_DEADLINE_MS && this.lastHeard < this.pingSentAt) {
      this.giveUp("dead");
      return;
    }
    if (!this.pingSentAt && (now - this.lastHeard >= this.quietMs || now - this.lastPingAt >= PING_EVERY_MS)) {
      this.pingSentAt = now;
      this.lastPingAt = now;
      this.send({ type: "ping", id: this.nextId("ping:") });
    }
  }

  /** Whether the page only waits in the queue (then a quiet link is pinged less often). */
  setWaiting(waiting) {
    this.quietMs = waiting ? PING_QUIET_WAITING_MS : PING_QUIET_MS;
  }

  wentOffline() {
    if (this.stopped) return;
    this.drop(CLOSE_DEAD);
    this.scheduleRetry("offline");
  }

  cameOnline() {
    if (this.stopped || this.isOpen) return;
    // Back at once, not after whatever backoff the failed attempts had built up.
    this.attempt = 0;
    this.onStatus("connecting", { attempt: 0 });
    this.open();
  }

  scheduleRetry(reason) {
    clearTimeout(this.retryTimer);
    // Attempts go on while the browser says it is offline (it may be wrong); the online event
    // starts one at once.
    if (navigator.onLine === false) reason = "offline";
    this.attempt += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.attempt - 1));
    // Full jitter, so that a whole office reconnecting after a server restart spreads out.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.onStatus("lost", { attempt: this.attempt, delayMs: delay, reason });
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }
}

/** Show the connection state in a status line (role="status"), in the page's language. */
export function connectionStatusView(element) {
  let hideTimer = null;
  return (status, detail) => {
    clearTimeout(hideTimer);
    element.classList.remove("conn-status--lost", "conn-status--ok");
    if (status === "open") {
      if (detail.restored) {
        element.textContent = t("conn_restored");
        element.classList.add("conn-status--ok");
        element.hidden = false;
        hideTimer = setTimeout(() => {
          element.hidden = true;
        }, 4000);
      } else {
        element.hidden = true;
      }
    } else if (status === "connecting") {
      element.textContent = t("conn_connecting");
      element.hidden = false;
    } else if (status === "lost") {
      element.textContent = t(detail.reason === "offline" ? "conn_offline" : "conn_lost");
      element.classList.add("conn-status--lost");
      element.hidden = false;
    } else if (status === "closed") {
      element.textContent = t("conn_closed");
      element.classList.add("conn-status--lost");
      element.hidden = false;
    }
  };
}
