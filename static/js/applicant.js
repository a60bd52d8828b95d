// The applicant's page: join form -> waiting room -> chat -> ended. The consultation id and token
// live in sessionStorage, so a reload (or a dropped connection) picks up where it was.

import { AfterConsultation } from "./applicant/after.js";
import { attachJoinForm, resetJoinForm, showJoinError } from "./applicant/join.js";
import { attachOfflineForm } from "./applicant/offline-form.js";
import { RequirementsView } from "./applicant/requirements.js";
import { attachCall } from "./call/call.js";
import { attachPrecheck } from "./call/precheck.js";
import "./call/testhook.js";
import { errorText } from "./chat/describe.js";
import { EntryLog } from "./chat/entrylog.js";
import { ChatView, isBackgroundRequest } from "./chat/view.js";
import { dispatchFrame } from "./lib/bus.js";
import { byId } from "./lib/dom.js";
import { t } from "./lib/i18n.js";
import { LoketSocket, connectionStatusView } from "./lib/socket.js";

const SESSION_KEY = "loket.applicant";
const LOG_PREFIX = "loket.applicant.log.";

const root = byId("applicant");

const ui = {
  status: byId("conn-status"),
  join: byId("join"),
  consultation: byId("consultation"),
  waiting: byId("waiting"),
  position: byId("position"),
  estimate: byId("estimate"),
  offered: byId("offered"),
  chat: byId("chat"),
  chatWith: byId("chat-with"),
  endButton: byId("end-button"),
  ended: byId("ended"),
  endedTitle: byId("ended-title"),
  endedText: byId("ended-text"),
};

const topicNames = new Map(
  Array.from(document.querySelectorAll("#f-topic option"), (o) => [o.value, o.textContent.trim()]),
);
const topicName = (code) => topicNames.get(code) || code;

let session = null; // {consultation_id, token}
let socket = null;
let chat = null;
let status = null;
let call = null; // the video call (call/call.js)
let precheck = null; // the pre-call check (call/precheck.js)
const after = new AfterConsultation({
  ratingForm: byId("rating-form"),
  ratingDone: byId("rating-done"),
  transcriptForm: byId("transcript-form"),
  session: () => session,
});
const requirements = new RequirementsView({
  section: byId("requirements"),
  lists: byId("requirements-lists"),
});

function readSession() {
  try {
    const value = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
    return value && value.consultation_id && value.token ? value : null;
  } catch {
    return null;
  }
}

function forget() {
  if (session) new EntryLog(LOG_PREFIX + session.consultation_id).clear();
  window.sessionStorage.removeItem(SESSION_KEY);
  session = null;
}

// ---------------------------------------------------------------------- consultation

function show(section) {
  for (const name of ["waiting", "offered", "ended"]) ui[name].hidden = name !== section;
}

function applyState(state) {
  const previous = status;
  status = state.status;
  if (socket) socket.setWaiting(status === "waiting");
  const open = ["waiting", "offered", "active"].includes(status);
  ui.chat.hidden = false;
  chat.setEnabled(open);
  ui.endButton.hidden = status !== "active";
  if (status === "waiting") {
    show("waiting");
    requirements.load(session);
    ui.chatWith.textContent = t("chat_waiting");
  } else if (status === "offered") {
    show("offered");
    ui.chatWith.textContent = t("chat_waiting");
  } else if (status === "active") {
    show(null);
    ui.chatWith.textContent = t("chat_with", {
      counselor: state.counselor_name || t("role_counselor"),
    });
    if (previous !== "active") byId("message").focus();
  } else {
    show("ended");
    const abandoned = status === "abandoned";
    ui.endedTitle.textContent = t(abandoned ? "abandoned_title" : "ended_title");
    ui.endedText.textContent = t(abandoned ? "abandoned_text" : "ended_text");
    ui.chatWith.textContent = "";
    chat.showTyping(false);
    after.show(state);
    // Nothing more can happen in this consultation. The server answers a ping only after it has
    // replayed everything, so the socket (and its pings) stops once that pong arrives.
    if (socket) socket.send({ type: "ping", id: "final" });
    if (previous && previous !== status) ui.endedTitle.focus();
  }
}

// The as_of of the queue read the shown position comes from: server processes publish in
// parallel, and one read earlier than what is shown is not shown (ISO UTC with microseconds:
// compared as text).
let positionAsOf = "";

function showPosition(frame) {
  if (frame.as_of && frame.as_of < positionAsOf) return;
  positionAsOf = frame.as_of || positionAsOf;
  ui.position.textContent = t("position", { position: frame.position });
  ui.position.dataset.position = String(frame.position);
  byId("position-number").textContent = String(frame.position);
  const wait = frame.estimated_wait_seconds;
  if (wait === null || wait === undefined) ui.estimate.textContent = t("estimate_unknown");
  else if (wait < 60) ui.estimate.textContent = t("estimate_soon");
  else ui.estimate.textContent = t("estimate", { minutes: Math.round(wait / 60) });
}

function onFrame(frame) {
  // Call signaling and the replies to call requests are the call view's alone.
  if (dispatchFrame(frame)) return;
  switch (frame.type) {
    case "ready":
      if (frame.consultations[0]) applyState(frame.consultations[0]);
      // The replay of what we missed follows `ready` on the same connection, and the server
      // handles frames in order, so re-sent messages are answered after the replay.
      if (["waiting", "offered", "active"].includes(status)) chat.reconnected();
      break;
    case "entry":
      chat.addEntry(frame);
      break;
    case "ack":
      if (frame.entry) chat.acked(frame);
      break;
    case "queue.position":
      showPosition(frame);
      break;
    case "consultation.state":
      applyState(frame);
      break;
    case "typing":
      if (frame.role === "counselor") chat.showTyping(frame.active);
      break;
    case "read":
      if (frame.role === "counselor") chat.setPeerRead(frame.seq);
      break;
    case "error":
      onError(frame);
      break;
    case "pong":
      if (frame.id === "final" && socket) {
        socket.stop();
        ui.status.hidden = true;
      }
      break;
    default:
      break;
  }
}

function onError(frame) {
  if (frame.code === "token_invalid" || frame.code === "token_expired") {
    expired();
    return;
  }
  if (isBackgroundRequest(frame.id)) return;
  if (frame.id && frame.id.startsWith("m:")) {
    chat.failed(frame);
    return;
  }
  notify(errorText(frame.code));
}

function notify(message) {
  const alert = byId("chat-alert");
  alert.textContent = message;
  alert.hidden = !message;
}

function expired() {
  if (socket) socket.stop();
  socket = null;
  forget();
  reset();
  showJoinError(t("session_expired"));
}

const showStatus = connectionStatusView(ui.status);

function onStatus(state, detail) {
  if (state === "closed") {
    // 4401: the token was refused (the error frame said why); nothing to resume.
    expired();
    return;
  }
  showStatus(state, detail);
  if (state === "lost" && chat) chat.connectionLost();
}

function start() {
  ui.join.hidden = true;
  ui.consultation.hidden = false;
  const log = new EntryLog(LOG_PREFIX + session.consultation_id);
  chat = new ChatView({
    logEl: byId("log"),
    typingEl: byId("typing"),
    form: byId("composer"),
    log,
    peerRole: "counselor",
    isOwn: (entry) => entry.author_role === "applicant",
    authorLabel: (entry) => entry.author_name || t("role_counselor"),
    send: (frame) => (socket ? socket.send(frame) : false),
    consultationId: null,
    topicName,
    onError: notify,
  });
  call = attachCall({
    root: ui.chat,
    role: "applicant",
    consultationId: session.consultation_id,
    token: session.token,
    send: (frame) => (socket ? socket.send(frame) : false),
  });
  precheck = attachPrecheck({
    consultationId: session.consultation_id,
    token: session.token,
    call,
  });
  ui.chat.hidden = false;
  ui.waiting.hidden = true;
  socket = new LoketSocket({
    path: root.dataset.wsPath,
    onOpen: () =>
      socket.send({ type: "auth", id: "auth", token: session.token, last_seq: log.lastSeq }),
    onFrame,
    onStatus,
  });
  socket.start();
  byId("consultation-title").focus();
}

function reset() {
  status = null;
  after.hide();
  requirements.clear();
  if (chat) chat.destroy();
  chat = null;
  if (call) call.destroy();
  call = null;
  if (precheck) precheck.destroy();
  precheck = null;
  ui.consultation.hidden = true;
  ui.join.hidden = false;
  show(null);
  ui.chat.hidden = true;
  ui.status.hidden = true;
  byId("log").replaceChildren();
  notify("");
}

function leave() {
  const question = status === "active" ? t("confirm_end") : t("confirm_leave");
  if (!window.confirm(question)) return;
  if (socket) socket.send({ type: "leave", id: "leave" });
}

function restart() {
  if (socket) socket.stop();
  socket = null;
  forget();
  reset();
  resetJoinForm();
}

attachJoinForm(root.dataset.api, (joined) => {
  session = joined;
  window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  start();
});
byId("leave-button").addEventListener("click", leave);
ui.endButton.addEventListener("click", leave);
byId("restart-button").addEventListener("click", restart);
document.addEventListener("visibilitychange", () => {
  if (chat) chat.markRead();
});
window.addEventListener("focus", () => {
  if (chat) chat.markRead();
});

session = readSession();
if (session) start();
attachOfflineForm();
