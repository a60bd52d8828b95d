// One consultation's conversation on screen: messages and system events in seq order, the
// composer, delivered and read marks, the typing indicator. Used by the applicant's page and by
// each open chat in the counselor's console.

import { el } from "../lib/dom.js";
import { formatTime, t } from "../lib/i18n.js";
import { citationText, describeEvent, errorText } from "./describe.js";
import { newClientMsgId } from "./entrylog.js";

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 6000;
const RETRY_AFTER_MS = 3000;
// A read receipt waits this long: entries that arrive together get one receipt, and an entry
// that ends the consultation is followed by its state frame before anything is sent.
const READ_DELAY_MS = 300;
// After these the consultation is over for everyone: nothing is left to mark as read.
const FINAL_EVENTS = new Set(["ended", "abandoned"]);
// Requests the page sends by itself (not on a click): a refusal of one is no news for the user,
// the consultation.state frame that caused it says what changed.
const BACKGROUND_PREFIXES = ["read:", "typing:", "resume:", "ping:"];
// Refusals that a retry cannot change: the message is dropped and the reason shown.
const FINAL_ERRORS = new Set(["text_too_long", "invalid_input", "invalid_state", "forbidden", "not_found"]);

/** Whether an error frame answers a request the page sent without the user asking. */
export function isBackgroundRequest(id) {
  return typeof id === "string" && BACKGROUND_PREFIXES.some((prefix) => id.startsWith(prefix));
}

export class ChatView {
  /**
   * @param {object} o
   * @param {HTMLElement} o.logEl  the role="log" container
   * @param {HTMLElement} o.typingEl
   * @param {HTMLFormElement} o.form  the composer (a textarea and a submit button)
   * @param {import("./entrylog.js").EntryLog} o.log
   * @param {string} o.peerRole  "counselor" on the applicant's page, "applicant" on the console
   * @param {(entry: object) => boolean} o.isOwn
   * @param {(entry: object) => string} o.authorLabel
   * @param {(frame: object) => boolean} o.send
   * @param {string|null} o.consultationId  put in every frame (the staff socket needs it)
   * @param {(code: string) => string} o.topicName
   * @param {(message: string) => void} o.onError
   * @param {(count: number) => void} [o.onUnread]
   */
  constructor(o) {
    Object.assign(this, o);
    this.textarea = this.form.querySelector("textarea");
    this.enabled = true;
    this.typingSentAt = 0;
    this.typingIdleTimer = null;
    this.typingShowTimer = null;
    this.retryTimer = null;
    this.readTimer = null;
    this.requestCounter = 0;
    this.nodes = new Map(); // seq -> element
    this.pendingNodes = new Map(); // client_msg_id -> element
    this.maxRendered = 0;
    // One controller for every listener, so a view can be dropped while its form stays.
    this.listeners = new AbortController();
    const { signal } = this.listeners;
    this.form.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        this.submit();
      },
      { signal },
    );
    this.textarea.addEventListener(
      "keydown",
      (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.submit();
        }
      },
      { signal },
    );
    this.textarea.addEventListener("input", () => this.typed(), { signal });
    this.renderAll();
  }

  /** Stop listening and cancel timers (the page reuses the elements for a new consultation). */
  destroy() {
    this.listeners.abort();
    clearTimeout(this.typingIdleTimer);
    clearTimeout(this.typingShowTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.readTimer);
    this.send = () => false;
  }

  /** A request id for a frame the page sends by itself (see isBackgroundRequest). */
  backgroundId(prefix) {
    this.requestCounter += 1;
    return `${prefix}${this.consultationId || ""}:${this.requestCounter}`;
  }

  frame(extra) {
    return this.consultationId ? { consultation_id: this.consultationId, ...extra } : extra;
  }

  // ------------------------------------------------------------------ rendering

  renderAll() {
    this.logEl.replaceChildren();
    this.nodes.clear();
    this.pendingNodes.clear();
    this.maxRendered = 0;
    for (const entry of this.log.sorted()) this.insert(entry);
    for (const message of this.log.pending) this.insertPending(message);
    this.refreshMarks();
    this.scrollToEnd(true);
  }

  nodeFor(entry) {
    if (entry.kind === "event") {
      const node = el("p", "event");
      const time = el("time", "event__time", formatTime(entry.created_at));
      time.dateTime = entry.created_at;
      node.append(time, " ", el("span", "event__text", describeEvent(entry, this.topicName)));
      return node;
    }
    const own = this.isOwn(entry);
    const node = el("div", `msg ${own ? "msg--own" : "msg--peer"}`);
    const meta = el("p", "msg__meta");
    const time = el("time", "msg__time", formatTime(entry.created_at));
    time.dateTime = entry.created_at;
    meta.append(el("span", "msg__author", own ? t("you") : this.authorLabel(entry)), " ", time);
    node.append(meta, el("p", "msg__text", entry.text));
    const source = citationText(entry);
    if (source) node.append(el("p", "msg__source", source));
    if (own) node.append(el("p", "msg__status"));
    return node;
  }

  insert(entry) {
    if (this.nodes.has(entry.seq)) return false;
    const node = this.nodeFor(entry);
    node.dataset.seq = String(entry.seq);
    if (entry.client_msg_id) {
      const pending = this.pendingNodes.get(entry.client_msg_id);
      if (pending) {
        pending.remove();
        this.pendingNodes.delete(entry.client_msg_id);
      }
    }
    // Entries arrive in order almost always (then they go after the last one, before any
    // bubble still waiting for its ack); an earlier one is put in its place.
    let before = null;
    if (entry.seq < this.maxRendered) {
      for (const [seq, other] of this.nodes) {
        if (seq > entry.seq && (!before || seq < Number(before.dataset.seq))) before = other;
      }
    } else {
      before = this.logEl.querySelector(".msg--pending");
    }
    this.logEl.insertBefore(node, before);
    this.nodes.set(entry.seq, node);
    this.maxRendered = Math.max(this.maxRendered, entry.seq);
    return true;
  }

  insertPending(message) {
    if (this.pendingNodes.has(message.client_msg_id)) return;
    const node = el("div", "msg msg--own msg--pending");
    const meta = el("p", "msg__meta");
    meta.append(el("span", "msg__author", t("you")));
    const status = el("p", "msg__status", t("sending"));
    node.append(meta, el("p", "msg__text", message.text), status);
    this.logEl.append(node);
    this.pendingNodes.set(message.client_msg_id, node);
  }

  refreshMarks() {
    for (const [seq, node] of this.nodes) {
      const status = node.querySelector(".msg__status");
      if (!status) continue;
      const read = seq <= this.log.peerReadSeq;
      status.textContent = read ? `✓✓ ${t("read")}` : `✓ ${t("delivered")}`;
      status.classList.toggle("msg__status--read", read);
    }
  }

  nearEnd() {
    const box = this.logEl;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  scrollToEnd(force = false) {
    if (force || this.nearEnd()) this.logEl.scrollTop = this.logEl.scrollHeight;
  }

  // ------------------------------------------------------------------ frames from the server

  /** An entry frame (live or replayed); duplicates are ignored. */
  addEntry(entry) {
    const follow = this.nearEnd();
    this.log.add(entry);
    if (this.insert(entry)) {
      this.refreshMarks();
      if (follow || this.isOwn(entry)) this.scrollToEnd(true);
      if (!this.isOwn(entry) && entry.kind === "message") this.showTyping(false);
    }
    this.markRead();
  }

  /** The ack of a chat.send: the stored entry replaces the pending bubble. */
  acked(frame) {
    if (frame.entry) this.addEntry(frame.entry);
  }

  /** An error frame answering one of our chat.send requests. */
  failed(frame) {
    const clientMsgId = frame.id.slice("m:".length);
    const node = this.pendingNodes.get(clientMsgId);
    if (FINAL_ERRORS.has(frame.code)) {
      this.log.removePending(clientMsgId);
      if (node) {
        node.remove();
        this.pendingNodes.delete(clientMsgId);
      }
      this.onError(errorText(frame.code));
      return;
    }
    if (frame.code === "rate_limited") this.onError(t("err_rate_limited"));
    if (node) node.querySelector(".msg__status").textContent = t("send_failed");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.resendPending(), RETRY_AFTER_MS);
  }

  setPeerRead(seq) {
    if (this.log.setPeerRead(seq)) this.refreshMarks();
  }

  showTyping(active) {
    clearTimeout(this.typingShowTimer);
    this.typingEl.textContent = active ? t(`typing_${this.peerRole}`) : "";
    if (active) this.typingShowTimer = setTimeout(() => this.showTyping(false), TYPING_SHOW_MS);
  }

  // ------------------------------------------------------------------ sending

  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) clearTimeout(this.readTimer);
    this.form.hidden = !enabled;
    this.textarea.disabled = !enabled;
  }

  requestId(clientMsgId) {
    return `m:${clientMsgId}`;
  }

  submit() {
    const text = this.textarea.value.trim();
    if (!text || !this.enabled) return;
    if (text.length > 4000) {
      this.onError(t("err_text_too_long"));
      return;
    }
    const message = { client_msg_id: newClientMsgId(), text };
    this.log.addPending(message);
    this.insertPending(message);
    this.scrollToEnd(true);
    this.textarea.value = "";
    this.stopTyping();
    this.sendPending(message);
  }

  sendPending(message) {
    const sent = this.send(
      this.frame({
        type: "chat.send",
        id: this.requestId(message.client_msg_id),
        client_msg_id: message.client_msg_id,
        text: message.text,
      }),
    );
    const node = this.pendingNodes.get(message.client_msg_id);
    if (node) node.querySelector(".msg__status").textContent = sent ? t("sending") : t("send_failed");
  }

  /** After a (re)connect: messages never acknowledged go again, with the same client_msg_id. */
  resendPending() {
    for (const message of this.log.pending) this.sendPending(message);
  }

  typed() {
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_SEND_EVERY_MS) {
      this.typingSentAt = now;
      this.send(this.frame({ type: "typing", id: this.backgroundId("typing:"), active: true }));
    }
    clearTimeout(this.typingIdleTimer);
    this.typingIdleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingIdleTimer);
    if (this.typingSentAt) {
      this.typingSentAt = 0;
      this.send(this.frame({ type: "typing", id: this.backgroundId("typing:"), active: false }));
    }
  }

  /** Tell the other side how far we have read, if the conversation is on screen and open. */
  markRead() {
    this.reportUnread();
    if (!this.enabled || !this.onScreen()) return;
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => this.sendRead(), READ_DELAY_MS);
  }

  onScreen() {
    return document.visibilityState === "visible" && Boolean(this.logEl.offsetParent);
  }

  sendRead() {
    // Checked again: the consultation may have ended, moved or gone off screen meanwhile.
    if (!this.enabled || !this.onScreen()) return;
    const seq = this.log.maxSeq;
    if (seq <= this.log.ownReadSeq) return;
    const last = this.log.entries.get(seq);
    if (last && last.kind === "event" && FINAL_EVENTS.has(last.event)) return;
    if (this.send(this.frame({ type: "read", id: this.backgroundId("read:"), seq }))) {
      this.log.setOwnRead(seq);
      this.reportUnread();
    }
  }

  reportUnread() {
    if (!this.onUnread) return;
    let count = 0;
    for (const entry of this.log.entries.values()) {
      if (entry.seq > this.log.ownReadSeq && entry.kind === "message" && !this.isOwn(entry)) count += 1;
    }
    this.onUnread(count);
  }

  /** The link is down: messages still waiting for their ack say so (they go again on reconnect). */
  connectionLost() {
    for (const node of this.pendingNodes.values()) {
      node.querySelector(".msg__status").textContent = t("send_failed");
    }
  }

  /** The socket is back (and the server has replayed what we missed). */
  reconnected() {
    this.resendPending();
    this.markRead();
  }
}
