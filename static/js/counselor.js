// The counselor's console: status, the queues of their topics, offers with a countdown, and their
// open consultations as tabs. Entries of each consultation are kept per tab in sessionStorage; on
// every (re)connect the console sends `resume` with the last seq it has for each one it holds.

import { attachCall, dispatchCallFrame } from "./call.js";
import { ChatView, errorText, isBackgroundRequest } from "./chat.js";
import { CannedReplies, ConsultationTools } from "./counselor-tools.js";
import { EntryLog, pruneLogs } from "./entrylog.js";
import { formatDuration, formatTime, readJson, t } from "./i18n.js";
import { ConsoleNotifier } from "./notify.js";
import { LoketSocket, connectionStatusView } from "./socket.js";

const LOG_PREFIX = "loket.counselor.log.";
const OPEN = new Set(["offered", "active"]);

const root = document.getElementById("console");
const $ = (id) => document.getElementById(id);
const myName = root.dataset.staffName;
const isCounselor = root.dataset.role === "counselor";
const topicNames = readJson("topic-names");
const topicName = (code) => topicNames[code] || code;

const ui = {
  status: $("conn-status"),
  alert: $("console-alert"),
  notice: $("console-notice"),
  statusReason: $("status-reason"),
  offers: $("offers"),
  offersEmpty: $("offers-empty"),
  queues: $("queues"),
  tabs: $("tabs"),
  panels: $("panels"),
  chatsEmpty: $("chats-empty"),
};

let socket = null;
let clockOffsetMs = 0; // server time minus local time
const consultations = new Map(); // public id -> {state, log, chat, tab, panel, offer}
const queues = new Map(); // topic code -> {element, snapshot}
let selectedId = null;
const cannedReplies = new CannedReplies();
const notifier = isCounselor ? new ConsoleNotifier({ muteButton: $("sound-toggle") }) : null;

const serverNow = () => Date.now() + clockOffsetMs;

function clone(id) {
  return $(id).content.firstElementChild.cloneNode(true);
}

function ref(node, name) {
  return node.querySelector(`[data-ref="${name}"]`);
}

function alertUser(message) {
  ui.alert.textContent = message;
  ui.alert.hidden = !message;
}

function announce(message) {
  ui.notice.textContent = message;
}

/** Offers waiting for an answer plus messages not yet on screen, counted in the page title. */
function refreshUnseen() {
  if (!notifier) return;
  let count = 0;
  for (const item of consultations.values()) {
    if (item.offer) count += 1;
    else if (item.tab && OPEN.has(item.state.status) && !item.moved) count += item.unread;
  }
  notifier.setUnseen(count);
}

function describeMeta(state) {
  return t("chat_meta", {
    topic: topicName(state.topic),
    mode: t(state.mode === "video" ? "mode_video" : "mode_chat"),
    language: t(state.language === "en" ? "lang_en" : "lang_id"),
  });
}

// ---------------------------------------------------------------------- status

function showStatus(status, reason) {
  for (const button of document.querySelectorAll(".status-switch__button")) {
    button.setAttribute("aria-pressed", String(button.dataset.status === status));
  }
  const reasonText = reason ? t(`status_reason_${reason}`) : "";
  ui.statusReason.textContent = reasonText.startsWith("status_reason_") ? "" : reasonText;
  ui.statusReason.hidden = !ui.statusReason.textContent;
}

for (const button of document.querySelectorAll(".status-switch__button")) {
  button.addEventListener("click", () => {
    socket.send({ type: "status.set", id: socket.nextId("status:"), status: button.dataset.status });
  });
}

// ---------------------------------------------------------------------- queues

function renderQueue(snapshot) {
  let item = queues.get(snapshot.topic);
  if (!item) {
    const element = clone("queue-template");
    ref(element, "topic").textContent = topicName(snapshot.topic);
    const codes = [...queues.keys(), snapshot.topic].sort(
      (a, b) => Object.keys(topicNames).indexOf(a) - Object.keys(topicNames).indexOf(b),
    );
    const next = codes[codes.indexOf(snapshot.topic) + 1];
    ui.queues.insertBefore(element, next ? queues.get(next).element : null);
    item = { element, snapshot };
    queues.set(snapshot.topic, item);
  }
  item.snapshot = snapshot;
  const { element } = item;
  const waiting = snapshot.waiting;
  ref(element, "count").textContent = t("queue_count", { n: waiting.length });
  ref(element, "staffing").textContent = t("queue_staffing", {
    free: snapshot.free_slots,
    staffed: snapshot.staffed_slots,
  });
  ref(element, "empty").hidden = waiting.length > 0;
  ref(element, "table").hidden = waiting.length === 0;
  const rows = waiting.map((w) => {
    const row = document.createElement("tr");
    row.dataset.since = w.waiting_since || "";
    const position = document.createElement("td");
    position.textContent = String(w.position);
    const since = document.createElement("td");
    since.className = "queue__since";
    const mode = document.createElement("td");
    mode.textContent = t(w.mode === "video" ? "mode_video" : "mode_chat");
    if (w.requeued) {
      const badge = document.createElement("span");
      badge.className = "badge badge--warn";
      badge.textContent = t("queue_requeued");
      mode.append(" ", badge);
    }
    const language = document.createElement("td");
    language.textContent = t(w.language === "en" ? "lang_en" : "lang_id");
    row.append(position, since, mode, language);
    return row;
  });
  ref(element, "rows").replaceChildren(...rows);
  refreshWaited();
}

function refreshWaited() {
  for (const cell of ui.queues.querySelectorAll(".queue__since")) {
    const since = cell.parentElement.dataset.since;
    if (!since) continue;
    cell.textContent = t("waited_since", {
      duration: formatDuration((serverNow() - Date.parse(since)) / 1000),
      time: formatTime(since),
    });
  }
}

// ---------------------------------------------------------------------- offers

function renderOffer(item) {
  const { state } = item;
  if (!item.offer) {
    const offer = clone("offer-template");
    offer.querySelector('[data-action="accept"]').addEventListener("click", () => {
      socket.send({
        type: "offer.accept",
        id: socket.nextId("accept:"),
        consultation_id: state.consultation_id,
      });
    });
    offer.querySelector('[data-action="decline"]').addEventListener("click", () => {
      socket.send({
        type: "offer.decline",
        id: socket.nextId("decline:"),
        consultation_id: state.consultation_id,
      });
    });
    ui.offers.append(offer);
    item.offer = offer;
    announce(t("offer_new", { name: state.applicant_name || t("role_applicant") }));
    if (notifier) notifier.beep("offer");
  }
  ref(item.offer, "name").textContent = item.state.applicant_name || t("role_applicant");
  ref(item.offer, "meta").textContent = describeMeta(item.state);
  refreshCountdowns();
  ui.offersEmpty.hidden = ui.offers.children.length > 0;
  refreshUnseen();
}

function removeOffer(item) {
  if (item.offer) {
    item.offer.remove();
    item.offer = null;
  }
  if (ui.offersEmpty) ui.offersEmpty.hidden = ui.offers.children.length > 0;
  refreshUnseen();
}

function refreshCountdowns() {
  for (const item of consultations.values()) {
    if (!item.offer || !item.state.offer_expires_at) continue;
    const left = Math.ceil((Date.parse(item.state.offer_expires_at) - serverNow()) / 1000);
    const countdown = ref(item.offer, "countdown");
    const accept = item.offer.querySelector('[data-action="accept"]');
    if (left > 0) {
      countdown.textContent = t("offer_countdown", { seconds: left });
      countdown.classList.toggle("offer__countdown--urgent", left <= 5);
      accept.disabled = false;
    } else {
      countdown.textContent = t("offer_expired");
      accept.disabled = true;
    }
  }
}

// ---------------------------------------------------------------------- consultations (tabs)

function ensureItem(state) {
  let item = consultations.get(state.consultation_id);
  if (!item) {
    item = {
      state,
      log: new EntryLog(LOG_PREFIX + state.consultation_id),
      chat: null,
      tab: null,
      panel: null,
      offer: null,
      unread: 0,
      tools: null,
      notes: new Map(), // note id -> `note` frame (staff only)
    };
    consultations.set(state.consultation_id, item);
  }
  return item;
}

function buildTab(item) {
  const id = item.state.consultation_id;
  const tab = document.createElement("button");
  tab.type = "button";
  tab.className = "tab";
  tab.setAttribute("role", "tab");
  tab.id = `tab-${id}`;
  tab.setAttribute("aria-controls", `panel-${id}`);
  tab.addEventListener("click", () => select(id));
  tab.addEventListener("keydown", onTabKey);
  tab.setAttribute("aria-selected", "false");
  tab.tabIndex = -1;
  const panel = clone("chat-template");
  panel.id = `panel-${id}`;
  panel.hidden = true;
  panel.setAttribute("aria-labelledby", tab.id);
  ui.tabs.append(tab);
  ui.panels.append(panel);
  item.tab = tab;
  item.panel = panel;

  const select_ = ref(panel, "transfer-topic");
  for (const [code, name] of Object.entries(topicNames)) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    select_.append(option);
  }
  ref(panel, "end-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = item.state.applicant_name || t("role_applicant");
    if (!window.confirm(t("confirm_end", { name }))) return;
    const outcome = String(new FormData(event.target).get("outcome") || "answered");
    socket.send({ type: "consultation.end", id: socket.nextId("end:"), consultation_id: id, outcome });
  });
  ref(panel, "transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const frame = { type: "consultation.transfer", id: socket.nextId("transfer:"), consultation_id: id };
    const topic = String(data.get("topic") || "");
    const counselor = Number.parseInt(String(data.get("counselor_id") || ""), 10);
    if (topic) frame.topic = topic;
    if (Number.isFinite(counselor) && counselor > 0) frame.counselor_id = counselor;
    if (!frame.topic && !frame.counselor_id) {
      showPanelAlert(item, t("transfer_need_target"));
      return;
    }
    const note = String(data.get("note") || "").trim();
    if (note) frame.note = note;
    socket.send(frame);
  });
  ref(panel, "close").addEventListener("click", () => closeTab(id));
  item.call = attachCall({
    root: panel,
    role: "counselor",
    consultationId: id,
    send: (frame) => (socket ? socket.send(frame) : false),
    state: item.state,
  });

  item.chat = new ChatView({
    logEl: ref(panel, "log"),
    typingEl: ref(panel, "typing"),
    form: ref(panel, "composer"),
    log: item.log,
    peerRole: "applicant",
    isOwn: (entry) => entry.author_role === "counselor" && entry.author_name === myName,
    authorLabel: (entry) =>
      entry.author_role === "applicant"
        ? item.state.applicant_name || t("role_applicant")
        : entry.author_name || t("role_counselor"),
    send: (frame) => (socket ? socket.send(frame) : false),
    consultationId: id,
    topicName,
    onError: (message) => showPanelAlert(item, message),
    onUnread: (count) => {
      item.unread = count;
      renderTabLabel(item);
      refreshUnseen();
    },
  });
  item.tools = new ConsultationTools({
    panel,
    consultationId: id,
    state: () => item.state,
    send: (frame) => (socket ? socket.send(frame) : false),
    store: cannedReplies,
    notes: item.notes,
    topicNames,
    topicName,
    onError: (message) => showPanelAlert(item, message),
  });
}

function showPanelAlert(item, message) {
  const alert = ref(item.panel, "alert");
  alert.textContent = message;
  alert.hidden = !message;
}

function renderTabLabel(item) {
  if (!item.tab) return;
  const parts = [item.state.applicant_name || t("role_applicant")];
  item.tab.replaceChildren(parts[0]);
  if (!OPEN.has(item.state.status) || item.moved) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = item.moved ? t(movedLabel(item)) : t("tab_ended");
    item.tab.append(" ", badge);
  } else if (item.unread > 0 && item.state.consultation_id !== selectedId) {
    const badge = document.createElement("span");
    badge.className = "badge badge--alert";
    badge.textContent = String(item.unread);
    badge.setAttribute("aria-label", t("tab_unread", { n: item.unread }));
    item.tab.append(" ", badge);
  }
}

/** Why a tab is no longer the counselor's: the latest transfer or requeue in its log. */
function movedLabel(item) {
  const last = item.log
    .sorted()
    .reverse()
    .find((e) => e.kind === "event" && (e.event === "transferred" || e.event === "requeued"));
  return last && last.event === "requeued" ? "tab_requeued" : "tab_transferred";
}

function renderPanel(item) {
  const { state, panel } = item;
  ref(panel, "title").textContent = state.applicant_name || t("role_applicant");
  ref(panel, "meta").textContent = describeMeta(state);
  const open = state.status === "active" && !item.moved;
  ref(panel, "tools").hidden = !open;
  ref(panel, "ended").hidden = open;
  ref(panel, "ended-text").textContent = item.moved ? t("moved_text") : t("ended_text");
  item.chat.setEnabled(open);
  item.tools.setEnabled(open);
  if (!open) item.chat.showTyping(false);
  renderTabLabel(item);
}

function select(id) {
  selectedId = id;
  for (const [otherId, item] of consultations) {
    if (!item.tab) continue;
    const selected = otherId === id;
    item.tab.setAttribute("aria-selected", String(selected));
    item.tab.tabIndex = selected ? 0 : -1;
    item.panel.hidden = !selected;
  }
  const item = consultations.get(id);
  if (item && item.chat) {
    item.chat.scrollToEnd(true);
    item.chat.markRead();
  }
  for (const other of consultations.values()) renderTabLabel(other);
}

function onTabKey(event) {
  const tabs = Array.from(ui.tabs.querySelectorAll('[role="tab"]'));
  const index = tabs.indexOf(event.currentTarget);
  let next = null;
  if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
  else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
  else if (event.key === "Home") next = tabs[0];
  else if (event.key === "End") next = tabs[tabs.length - 1];
  if (next) {
    event.preventDefault();
    next.focus();
    select(next.id.slice("tab-".length));
  }
}

function closeTab(id) {
  const item = consultations.get(id);
  if (!item) return;
  if (item.tab) item.tab.remove();
  if (item.panel) item.panel.remove();
  if (item.call) item.call.destroy();
  if (item.tools) item.tools.destroy();
  removeOffer(item);
  item.log.clear();
  consultations.delete(id);
  if (selectedId === id) {
    const first = Array.from(consultations.values()).find((c) => c.tab);
    selectedId = null;
    if (first) select(first.state.consultation_id);
  }
  updateEmpty();
  refreshUnseen();
}

function updateEmpty() {
  if (!ui.chatsEmpty) return;
  ui.chatsEmpty.hidden = Array.from(consultations.values()).some((c) => c.tab);
}

/** A consultation's state, from `ready` or a `consultation.state` frame. */
function applyState(state) {
  // Supervisors watch the queues here; consultations are not theirs to take.
  if (!isCounselor) return;
  const known = consultations.get(state.consultation_id);
  if (!known && !OPEN.has(state.status)) return;
  const item = ensureItem(state);
  const previous = item.state.status;
  item.state = state;
  if (state.status === "offered") {
    renderOffer(item);
    return;
  }
  removeOffer(item);
  if (state.status === "active") {
    item.moved = false;
    if (!item.tab) buildTab(item);
    renderPanel(item);
    if (!selectedId || previous === "offered") select(state.consultation_id);
  } else if (item.tab) {
    // Ended, abandoned, or back in a queue (transferred or requeued): the tab stays, read-only,
    // until the counselor closes it.
    item.moved = state.status === "waiting";
    renderPanel(item);
    refreshUnseen();
  } else {
    consultations.delete(state.consultation_id);
    item.log.clear();
  }
  updateEmpty();
}

// ---------------------------------------------------------------------- frames

function onReady(frame) {
  clockOffsetMs = Date.parse(frame.server_time) - Date.now() || 0;
  if (frame.role === "counselor") showStatus(frame.status);
  const held = new Set(frame.consultations.map((c) => c.consultation_id));
  // Consultations this tab had that are no longer held: the tabs stay (read-only), but the
  // server will not send anything more about them.
  for (const [id, item] of consultations) {
    if (!held.has(id) && OPEN.has(item.state.status)) {
      if (item.tab) {
        item.moved = true;
        renderPanel(item);
      } else {
        removeOffer(item);
        consultations.delete(id);
      }
    }
  }
  const keep = new Set([...held, ...consultations.keys()]);
  pruneLogs(LOG_PREFIX, keep);
  refreshUnseen();
  for (const state of frame.consultations) {
    applyState(state);
    const item = consultations.get(state.consultation_id);
    socket.send({
      type: "resume",
      id: `resume:${state.consultation_id}`,
      consultation_id: state.consultation_id,
      last_seq: item.log.lastSeq,
    });
  }
}

function route(frame, fn) {
  const item = consultations.get(frame.consultation_id);
  if (item && item.chat) fn(item);
  else if (item && frame.type === "entry") item.log.add(frame);
}

function onFrame(frame) {
  // Call signaling and the replies to call requests are the call views' alone.
  if (dispatchCallFrame(frame)) return;
  switch (frame.type) {
    case "ready":
      onReady(frame);
      break;
    case "consultation.state":
      applyState(frame);
      break;
    case "entry": {
      const item = consultations.get(frame.consultation_id);
      const fresh =
        item &&
        frame.kind === "message" &&
        frame.author_role === "applicant" &&
        frame.seq > item.log.maxSeq;
      route(frame, (it) => it.chat.addEntry(frame));
      // A sound only for a message that is not on screen already.
      if (fresh && notifier && (frame.consultation_id !== selectedId || document.hidden)) {
        notifier.beep("message");
      }
      break;
    }
    case "ack":
      if (frame.id && frame.id.startsWith("resume:")) {
        // The replay for this consultation is complete: now re-send what was never acked.
        const item = consultations.get(frame.id.slice("resume:".length));
        if (item && item.chat) item.chat.reconnected();
      } else if (frame.entry) {
        route(frame.entry, (item) => item.chat.acked(frame));
      }
      break;
    case "note": {
      // Staff only: kept per consultation, shown in its notes panel (again after a resume).
      const item = consultations.get(frame.consultation_id);
      if (item) {
        item.notes.set(frame.note_id, frame);
        if (item.tools) item.tools.renderNotes();
      }
      break;
    }
    case "typing":
      if (frame.role === "applicant") route(frame, (item) => item.chat.showTyping(frame.active));
      break;
    case "read":
      if (frame.role === "applicant") route(frame, (item) => item.chat.setPeerRead(frame.seq));
      break;
    case "queue.snapshot":
      renderQueue(frame);
      break;
    case "counselor.status":
      if (isCounselor) showStatus(frame.status, frame.reason);
      break;
    case "error":
      onError(frame);
      break;
    default:
      break;
  }
}

function onError(frame) {
  // A read receipt or typing note that crossed the consultation's end: nothing the counselor did.
  if (isBackgroundRequest(frame.id)) return;
  if (frame.id && frame.id.startsWith("m:")) {
    for (const item of consultations.values()) {
      if (item.chat && item.log.pending.some((m) => `m:${m.client_msg_id}` === frame.id)) {
        item.chat.failed(frame);
        return;
      }
    }
  }
  alertUser(errorText(frame.code));
}

const showConnection = connectionStatusView(ui.status, t);

function onStatus(status, detail) {
  showConnection(status, detail);
  if (status === "lost") {
    for (const item of consultations.values()) if (item.chat) item.chat.connectionLost();
  }
  // 4401/4403: the session ended (logged out elsewhere, expired): log in again.
  if (status === "closed") window.location.assign(`/login/?next=${encodeURIComponent("/counselor/")}`);
}

socket = new LoketSocket({
  path: root.dataset.wsPath,
  onOpen: () => alertUser(""),
  onFrame,
  onStatus,
});
socket.start();
if (isCounselor) cannedReplies.load();

setInterval(() => {
  refreshCountdowns();
  refreshWaited();
}, 1000);

document.addEventListener("visibilitychange", () => {
  const item = consultations.get(selectedId);
  if (item && item.chat) item.chat.markRead();
});

if (!isCounselor) updateEmpty();
