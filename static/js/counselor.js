// The counselor's console: status, the queues of their topics, offers with a countdown, and their
// open consultations as tabs. Entries of each consultation are kept per tab in sessionStorage; on
// every (re)connect the console sends `resume` with the last seq it has for each one it holds.

import { dispatchFrame } from "./lib/bus.js";
import { t } from "./lib/i18n.js";
import { LoketSocket, connectionStatusView } from "./lib/socket.js";
import "./call/testhook.js";
import { errorText } from "./chat/describe.js";
import { pruneLogs } from "./chat/entrylog.js";
import { isBackgroundRequest } from "./chat/view.js";
import { attachOfflinePanel } from "./counselor/offline-panel.js";
import { refreshCountdowns, removeOffer } from "./counselor/offers.js";
import { refreshWaited, renderQueue } from "./counselor/queues.js";
import {
  LOG_PREFIX,
  OPEN,
  alertUser,
  cannedReplies,
  consultations,
  isCounselor,
  notifier,
  page,
  refreshUnseen,
  root,
  ui,
} from "./counselor/state.js";
import { applyState, renderPanel, updateEmpty } from "./counselor/tabs.js";

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
    const id = page.socket.nextId("status:");
    page.socket.send({ type: "status.set", id, status: button.dataset.status });
  });
}

// ---------------------------------------------------------------------- frames

function onReady(frame) {
  page.clockOffsetMs = Date.parse(frame.server_time) - Date.now() || 0;
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
    page.socket.send({
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
  if (dispatchFrame(frame)) return;
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
      if (fresh && notifier && (frame.consultation_id !== page.selectedId || document.hidden)) {
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

const showConnection = connectionStatusView(ui.status);

function onStatus(status, detail) {
  showConnection(status, detail);
  if (status === "lost") {
    for (const item of consultations.values()) if (item.chat) item.chat.connectionLost();
  }
  // 4401/4403: the session ended (logged out elsewhere, expired): log in again.
  if (status === "closed") window.location.assign(`/login/?next=${encodeURIComponent("/counselor/")}`);
}

page.socket = new LoketSocket({
  path: root.dataset.wsPath,
  onOpen: () => alertUser(""),
  onFrame,
  onStatus,
});
page.socket.start();
if (isCounselor) cannedReplies.load();

setInterval(() => {
  refreshCountdowns();
  refreshWaited();
}, 1000);

document.addEventListener("visibilitychange", () => {
  const item = consultations.get(page.selectedId);
  if (item && item.chat) item.chat.markRead();
});

if (!isCounselor) updateEmpty();

attachOfflinePanel();
