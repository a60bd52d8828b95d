// The counselor's console: what its modules share. The page's elements, the topics, the
// consultations this tab follows (by public id: {state, log, chat, call, tools, tab, panel,
// offer, unread, notes, moved}), the queues shown, the socket, and the little helpers that
// every part of the console uses.

import { byId } from "../lib/dom.js";
import { readJson, t } from "../lib/i18n.js";
import { ConsoleNotifier } from "./notify.js";
import { CannedReplies } from "./tools.js";

export const LOG_PREFIX = "loket.counselor.log.";
export const OPEN = new Set(["offered", "active"]);

export const root = byId("console");
export const myName = root.dataset.staffName;
export const isCounselor = root.dataset.role === "counselor";
export const topicNames = readJson("topic-names");
export const topicName = (code) => topicNames[code] || code;

export const ui = {
  status: byId("conn-status"),
  alert: byId("console-alert"),
  notice: byId("console-notice"),
  statusReason: byId("status-reason"),
  offers: byId("offers"),
  offersEmpty: byId("offers-empty"),
  queues: byId("queues"),
  tabs: byId("tabs"),
  panels: byId("panels"),
  chatsEmpty: byId("chats-empty"),
};

/** What changes over the page's life: its socket, the server's clock, the selected tab. */
export const page = {
  socket: null,
  clockOffsetMs: 0, // server time minus local time
  selectedId: null,
};
export const consultations = new Map(); // public id -> the item described above
export const queues = new Map(); // topic code -> {element, snapshot}
export const cannedReplies = new CannedReplies();
export const notifier = isCounselor ? new ConsoleNotifier({ muteButton: byId("sound-toggle") }) : null;

export const serverNow = () => Date.now() + page.clockOffsetMs;

/** Send a frame over the staff socket; false when it is not open. */
export function send(frame) {
  return page.socket ? page.socket.send(frame) : false;
}

export function alertUser(message) {
  ui.alert.textContent = message;
  ui.alert.hidden = !message;
}

export function announce(message) {
  ui.notice.textContent = message;
}

/** Offers waiting for an answer plus messages not yet on screen, counted in the page title. */
export function refreshUnseen() {
  if (!notifier) return;
  let count = 0;
  for (const item of consultations.values()) {
    if (item.offer) count += 1;
    else if (item.tab && OPEN.has(item.state.status) && !item.moved) count += item.unread;
  }
  notifier.setUnseen(count);
}

export function describeMeta(state) {
  return t("chat_meta", {
    topic: topicName(state.topic),
    mode: t(state.mode === "video" ? "mode_video" : "mode_chat"),
    language: t(state.language === "en" ? "lang_en" : "lang_id"),
  });
}
