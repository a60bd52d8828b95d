// The counselor's consultations as tabs: one panel per consultation they hold (chat, call,
// tools, end and transfer), kept read-only after it ends or moves until they close it; and how a
// consultation's state (from `ready` or consultation.state) becomes an offer or a tab.

import { attachCall } from "../call/call.js";
import { EntryLog } from "../chat/entrylog.js";
import { ChatView } from "../chat/view.js";
import { clone, el, ref } from "../lib/dom.js";
import { t } from "../lib/i18n.js";
import { removeOffer, renderOffer } from "./offers.js";
import {
  LOG_PREFIX,
  OPEN,
  cannedReplies,
  consultations,
  describeMeta,
  isCounselor,
  myName,
  page,
  refreshUnseen,
  send,
  topicName,
  topicNames,
  ui,
} from "./state.js";
import { ConsultationTools } from "./tools.js";

export function ensureItem(state) {
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

export function buildTab(item) {
  const id = item.state.consultation_id;
  const tab = el("button", "tab");
  tab.type = "button";
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
    const option = el("option", "", name);
    option.value = code;
    select_.append(option);
  }
  ref(panel, "end-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = item.state.applicant_name || t("role_applicant");
    if (!window.confirm(t("confirm_end", { name }))) return;
    const outcome = String(new FormData(event.target).get("outcome") || "answered");
    const frame = { type: "consultation.end", id: page.socket.nextId("end:"), consultation_id: id };
    page.socket.send({ ...frame, outcome });
  });
  ref(panel, "transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const frame = {
      type: "consultation.transfer",
      id: page.socket.nextId("transfer:"),
      consultation_id: id,
    };
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
    page.socket.send(frame);
  });
  ref(panel, "close").addEventListener("click", () => closeTab(id));
  item.call = attachCall({
    root: panel,
    role: "counselor",
    consultationId: id,
    send: (frame) => send(frame),
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
    send: (frame) => send(frame),
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
    send: (frame) => send(frame),
    store: cannedReplies,
    notes: item.notes,
    topicNames,
    topicName,
    onError: (message) => showPanelAlert(item, message),
  });
}

export function showPanelAlert(item, message) {
  const alert = ref(item.panel, "alert");
  alert.textContent = message;
  alert.hidden = !message;
}

export function renderTabLabel(item) {
  if (!item.tab) return;
  const parts = [item.state.applicant_name || t("role_applicant")];
  item.tab.replaceChildren(parts[0]);
  if (!OPEN.has(item.state.status) || item.moved) {
    const badge = el("span", "badge", item.moved ? t(movedLabel(item)) : t("tab_ended"));
    item.tab.append(" ", badge);
  } else if (item.unread > 0 && item.state.consultation_id !== page.selectedId) {
    const badge = el("span", "badge badge--alert", String(item.unread));
    badge.setAttribute("aria-label", t("tab_unread", { n: item.unread }));
    item.tab.append(" ", badge);
  }
}

/** Why a tab is no longer the counselor's: the latest transfer or requeue in its log. */
export function movedLabel(item) {
  const last = item.log
    .sorted()
    .reverse()
    .find((e) => e.kind === "event" && (e.event === "transferred" || e.event === "requeued"));
  return last && last.event === "requeued" ? "tab_requeued" : "tab_transferred";
}

export function renderPanel(item) {
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

export function select(id) {
  page.selectedId = id;
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

export function onTabKey(event) {
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

export function closeTab(id) {
  const item = consultations.get(id);
  if (!item) return;
  if (item.tab) item.tab.remove();
  if (item.panel) item.panel.remove();
  if (item.call) item.call.destroy();
  if (item.tools) item.tools.destroy();
  removeOffer(item);
  item.log.clear();
  consultations.delete(id);
  if (page.selectedId === id) {
    const first = Array.from(consultations.values()).find((c) => c.tab);
    page.selectedId = null;
    if (first) select(first.state.consultation_id);
  }
  updateEmpty();
  refreshUnseen();
}

export function updateEmpty() {
  if (!ui.chatsEmpty) return;
  ui.chatsEmpty.hidden = Array.from(consultations.values()).some((c) => c.tab);
}

/** A consultation's state, from `ready` or a `consultation.state` frame. */
export function applyState(state) {
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
    if (!page.selectedId || previous === "offered") select(state.consultation_id);
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
