// The supervisor's live board. The staff socket sends a `board` frame on every (re)connect (the
// whole office at one moment); from then on the page applies the live frames every supervisor
// connection receives: queue.snapshot (a topic's queue), consultation.state (one consultation and
// its counselor) and counselor.status. Nothing is polled; the longest wait ticks here, from the
// queue's oldest_waiting_since and the server's clock (a snapshot lists only the first waiting).

import { byId, el } from "./lib/dom.js";
import { lang, t } from "./lib/i18n.js";
import { LoketSocket, connectionStatusView } from "./lib/socket.js";

const HELD = new Set(["offered", "active"]);
const root = byId("board");

const state = {
  topics: [], // [{code, name_id, name_en}] in display order
  queues: new Map(), // topic code -> queue.snapshot frame
  counselors: new Map(), // counselor id -> {counselor_id, name, status, capacity, topics}
  held: new Map(), // consultation id -> {topic, status, mode, in_call, counselor_id}
};
let clockOffsetMs = 0; // server time minus local time
const serverNow = () => Date.now() + clockOffsetMs;

function syncClock(serverTime) {
  const at = Date.parse(serverTime);
  if (!Number.isNaN(at)) clockOffsetMs = at - Date.now();
}

function topicName(code) {
  const topic = state.topics.find((item) => item.code === code);
  if (!topic) return code;
  return lang === "en" ? topic.name_en : topic.name_id;
}

/** available | busy | away | offline (busy: available and holding a consultation). */
function presence(counselor) {
  if (counselor.status === "offline" || counselor.status === "away") return counselor.status;
  return load(counselor.counselor_id) > 0 ? "busy" : "available";
}

function load(counselorId) {
  let n = 0;
  for (const item of state.held.values()) if (item.counselor_id === counselorId) n += 1;
  return n;
}

// A snapshot lists only the first waiting: the count and the oldest wait are of the whole queue.
function oldestWaiting(topicCode) {
  const snapshot = state.queues.get(topicCode);
  const since = snapshot ? Date.parse(snapshot.oldest_waiting_since) : NaN;
  return Number.isNaN(since) ? null : since;
}

/** 0:45, 12:05, 1:02:05 */
function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function cell(row, text, { numeric = false, key = null } = {}) {
  const td = el(row.children.length ? "td" : "th");
  if (!row.children.length) td.scope = "row";
  if (numeric) td.className = "num";
  if (key) td.dataset.col = key;
  td.textContent = text;
  row.append(td);
  return td;
}

function sinceCell(row, since, key) {
  const td = cell(row, "–", { numeric: true, key });
  if (since !== null) td.dataset.since = String(since);
  return td;
}

function render() {
  const totals = { waiting: 0, chats: 0, calls: 0, available: 0, busy: 0, away: 0, offline: 0 };
  let oldestOverall = null;

  const topicRows = byId("topic-rows");
  topicRows.replaceChildren();
  for (const topic of state.topics) {
    const row = el("tr");
    row.dataset.topic = topic.code;
    const counts = { available: 0, busy: 0, away: 0, offline: 0 };
    for (const counselor of state.counselors.values()) {
      if (counselor.topics.includes(topic.code)) counts[presence(counselor)] += 1;
    }
    let chats = 0;
    let calls = 0;
    for (const item of state.held.values()) {
      if (item.topic !== topic.code || item.status !== "active") continue;
      if (item.in_call) calls += 1;
      else chats += 1;
    }
    const snapshot = state.queues.get(topic.code);
    const waiting = snapshot ? snapshot.waiting_count : 0;
    const oldest = oldestWaiting(topic.code);
    if (oldest !== null && (oldestOverall === null || oldest < oldestOverall)) oldestOverall = oldest;
    totals.waiting += waiting;
    totals.chats += chats;
    totals.calls += calls;

    cell(row, topicName(topic.code));
    cell(row, String(waiting), { numeric: true, key: "waiting" });
    sinceCell(row, oldest, "longest");
    for (const key of ["available", "busy", "away", "offline"]) {
      cell(row, String(counts[key]), { numeric: true, key });
    }
    cell(row, String(chats), { numeric: true, key: "chats" });
    cell(row, String(calls), { numeric: true, key: "calls" });
    topicRows.append(row);
  }

  const counselorRows = byId("counselor-rows");
  counselorRows.replaceChildren();
  const counselors = [...state.counselors.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const counselor of counselors) {
    const kind = presence(counselor);
    totals[kind] += 1;
    const row = el("tr");
    row.dataset.counselor = String(counselor.counselor_id);
    cell(row, counselor.name);
    const status = cell(row, "", { key: "presence" });
    status.append(el("span", `presence presence--${kind}`, t(`presence_${kind}`)));
    let calls = 0;
    for (const item of state.held.values()) {
      if (item.counselor_id === counselor.counselor_id && item.in_call) calls += 1;
    }
    const held = t("load_of", { load: load(counselor.counselor_id), capacity: counselor.capacity });
    cell(row, calls ? `${held} · ${t("in_call")}` : held, { numeric: true, key: "load" });
    cell(row, counselor.topics.map(topicName).join(", "));
    counselorRows.append(row);
  }
  byId("counselors-empty").hidden = counselors.length > 0;

  for (const [key, value] of Object.entries(totals)) {
    const element = root.querySelector(`[data-total="${key}"]`);
    if (element) element.textContent = String(value);
  }
  const longest = root.querySelector('[data-total="longest"]');
  delete longest.dataset.since;
  if (oldestOverall !== null) longest.dataset.since = String(oldestOverall);
  tick();
}

/** Longest waits run on: every second, from waiting_since and the server's clock. */
function tick() {
  const now = serverNow();
  for (const element of root.querySelectorAll("[data-since], [data-total='longest']")) {
    const since = Number(element.dataset.since);
    element.textContent = element.dataset.since ? clock((now - since) / 1000) : "–";
  }
}

function applyBoard(frame) {
  syncClock(frame.server_time);
  state.topics = frame.topics;
  state.queues = new Map(frame.queues.map((queue) => [queue.topic, queue]));
  state.counselors = new Map(frame.counselors.map((c) => [c.counselor_id, { ...c }]));
  state.held = new Map(frame.consultations.map((c) => [c.consultation_id, c]));
  render();
}

function applyState(frame) {
  if (HELD.has(frame.status)) {
    state.held.set(frame.consultation_id, {
      consultation_id: frame.consultation_id,
      topic: frame.topic,
      status: frame.status,
      mode: frame.mode,
      in_call: frame.in_call,
      counselor_id: frame.counselor_id,
    });
  } else {
    state.held.delete(frame.consultation_id);
  }
  render();
}

function applyStatus(frame) {
  const known = state.counselors.get(frame.counselor_id);
  if (known) {
    known.status = frame.status;
  } else {
    // Someone who was not on the board yet (a new account): known topics arrive with the next
    // board, on the next connect.
    state.counselors.set(frame.counselor_id, {
      counselor_id: frame.counselor_id,
      name: frame.counselor_name,
      status: frame.status,
      capacity: 0,
      topics: [],
    });
  }
  render();
}

function onFrame(frame) {
  switch (frame.type) {
    case "ready":
      syncClock(frame.server_time);
      break;
    case "board":
      applyBoard(frame);
      root.dataset.ready = "1";
      break;
    case "queue.snapshot": {
      // Several server processes publish a topic's snapshots: keep the latest read (as_of is
      // ISO UTC with microseconds, compared as text).
      const known = state.queues.get(frame.topic);
      if (known && known.as_of && frame.as_of < known.as_of) break;
      state.queues.set(frame.topic, frame);
      render();
      break;
    }
    case "consultation.state":
      applyState(frame);
      break;
    case "counselor.status":
      applyStatus(frame);
      break;
    case "pong":
      syncClock(frame.server_time);
      break;
    default:
      break;
  }
}

const socket = new LoketSocket({
  path: root.dataset.wsPath,
  onOpen: () => {},
  onFrame,
  onStatus: connectionStatusView(byId("conn-status")),
});
socket.start();
setInterval(tick, 1000);
