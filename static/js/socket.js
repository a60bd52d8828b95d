// One WebSocket that comes back by itself: reconnects with capped exponential backoff, pings
// every 20 s, and treats 45 s of silence as a dead connection (a half-open TCP connection gives
// no close event, so silence is the only sign of it).

const PING_INTERVAL_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
// Close codes after which reconnecting cannot help (see signaling/protocol.py).
const FINAL_CLOSE_CODES = new Set([4401, 4403]);

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
   *   status is "connecting" | "open" | "lost" | "closed"
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
    this.pingTimer = null;
    this.lastHeard = 0;
    this.requestCounter = 0;
  }

  start() {
    this.stopped = false;
    this.onStatus("connecting", { attempt: 0 });
    this.open();
  }

  /** Stop for good (the consultation is over, or the credentials are refused). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
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
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const wasLost = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.lastHeard = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.tick(), PING_INTERVAL_MS);
      this.onStatus("open", { restored: wasLost });
      this.onOpen();
    };
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      clearInterval(this.pingTimer);
      this.ws = null;
      if (this.stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.onStatus("closed", { code: event.code });
        return;
      }
      this.scheduleRetry();
    };
    // An error is always followed by close; the retry is scheduled there.
    ws.onerror = () => {};
  }

  tick() {
    if (!this.isOpen) return;
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      // Silent for too long: assume the connection is dead and build a new one.
      this.ws.close(4000);
      return;
    }
    this.send({ type: "ping", id: this.nextId("ping:") });
  }

  scheduleRetry() {
    this.attempt += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.attempt - 1));
    // Full jitter, so that a whole office reconnecting after a server restart spreads out.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.onStatus("lost", { attempt: this.attempt, delayMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }
}

/** Show the connection state in a status line (role="status"), in the page's language. */
export function connectionStatusView(element, t) {
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
      element.textContent = t("conn_lost");
      element.classList.add("conn-status--lost");
      element.hidden = false;
    } else if (status === "closed") {
      element.textContent = t("conn_closed");
      element.classList.add("conn-status--lost");
      element.hidden = false;
    }
  };
}
