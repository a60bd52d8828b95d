// The console's queues: one table per topic the staff member serves, from its queue.snapshot
// frames, with how long each applicant has waited (ticking every second). A frame lists only the
// first waiting (LOKET_QUEUE_SNAPSHOT_ITEMS) and counts all of them: "and N more" below. The
// newest read wins (as_of).

import { el, clone, ref } from "../lib/dom.js";
import { formatDuration, formatTime, t } from "../lib/i18n.js";
import { queues, serverNow, topicName, topicNames, ui } from "./state.js";

export function renderQueue(snapshot) {
  let item = queues.get(snapshot.topic);
  // Several server processes publish a topic's snapshots: one read before the one shown is
  // stale (as_of is ISO UTC with microseconds, compared as text).
  if (item && item.snapshot.as_of && snapshot.as_of < item.snapshot.as_of) return;
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
  const total = snapshot.waiting_count;
  ref(element, "count").textContent = t("queue_count", { n: total });
  ref(element, "staffing").textContent = t("queue_staffing", {
    free: snapshot.free_slots,
    staffed: snapshot.staffed_slots,
  });
  ref(element, "empty").hidden = waiting.length > 0;
  ref(element, "table").hidden = waiting.length === 0;
  const rows = waiting.map((w) => {
    const row = el("tr");
    row.dataset.since = w.waiting_since || "";
    const position = el("td", "", String(w.position));
    const since = el("td", "queue__since");
    const mode = el("td", "", t(w.mode === "video" ? "mode_video" : "mode_chat"));
    if (w.requeued) mode.append(" ", el("span", "badge badge--warn", t("queue_requeued")));
    const language = el("td", "", t(w.language === "en" ? "lang_en" : "lang_id"));
    row.append(position, since, mode, language);
    return row;
  });
  ref(element, "rows").replaceChildren(...rows);
  const more = ref(element, "more");
  more.hidden = total <= waiting.length;
  more.textContent = more.hidden
    ? ""
    : t("queue_more", {
        n: total - waiting.length,
        chats: snapshot.waiting_chats,
        videos: snapshot.waiting_videos,
      });
  refreshWaited();
}

export function refreshWaited() {
  for (const cell of ui.queues.querySelectorAll(".queue__since")) {
    const since = cell.parentElement.dataset.since;
    if (!since) continue;
    cell.textContent = t("waited_since", {
      duration: formatDuration((serverNow() - Date.parse(since)) / 1000),
      time: formatTime(since),
    });
  }
}
