// The console's offline questions: the list of the staff member's topics' questions (oldest first),
// one opened beside it, and the answer, which the server sends to the applicant by e-mail.
// Plain HTTP with the staff session (and its CSRF token); the list is read when the console
// opens and on Refresh.

import { byId, el } from "../lib/dom.js";
import { errorCode, request } from "../lib/http.js";
import { formatDateTime, readJson, t } from "../lib/i18n.js";

const panel = byId("offline-panel");
const topicNames = readJson("topic-names");
const topicName = (code) => topicNames[code] || code;

const ui = {
  count: byId("offline-count"),
  filter: byId("offline-filter"),
  alert: byId("offline-alert"),
  notice: byId("offline-notice"),
  empty: byId("offline-empty"),
  list: byId("offline-list"),
  detail: byId("offline-detail"),
  title: byId("offline-detail-title"),
  meta: byId("offline-detail-meta"),
  question: byId("offline-detail-question"),
  answered: byId("offline-detail-answered"),
  answeredBy: byId("offline-detail-answered-by"),
  answer: byId("offline-detail-answer"),
  form: byId("offline-answer-form"),
  text: byId("offline-answer"),
  send: byId("offline-send"),
};

let openReference = null;

function showAlert(message) {
  ui.alert.textContent = message;
  ui.alert.hidden = !message;
  if (message) ui.alert.focus();
}

function showNotice(message) {
  ui.notice.textContent = message;
  ui.notice.hidden = !message;
}

function errorText(code) {
  if (code === "invalid_state") return t("offline_err_answered");
  if (code === "mail_failed") return t("offline_err_mail");
  if (code === "forbidden") return t("err_forbidden");
  if (code === "invalid_input") return t("offline_err_empty");
  return t("err_generic");
}

/** A request to the offline questions' API: its body, or an error carrying the refusal's code. */
async function call(url, options = {}) {
  const answer = await request(url, options);
  if (!answer.ok) {
    const error = new Error("request failed");
    error.code = errorCode(answer.body);
    throw error;
  }
  return answer.body;
}

function renderList(questions) {
  ui.list.replaceChildren();
  for (const question of questions) {
    const item = el("li");
    const button = el("button", "offline-item");
    button.type = "button";
    button.dataset.reference = question.reference;
    if (question.reference === openReference) button.setAttribute("aria-current", "true");
    const reference = el("strong", "", question.reference);
    const excerpt = el("span", "offline-item__excerpt", question.excerpt);
    const meta = el("span", "offline-item__meta", t("offline_item_meta", {
      topic: topicName(question.topic),
      name: question.applicant_name,
      time: formatDateTime(question.created_at),
    }));
    button.append(reference, excerpt, meta);
    button.addEventListener("click", () => open(question.reference));
    item.append(button);
    ui.list.append(item);
  }
  ui.empty.hidden = questions.length > 0;
}

async function refresh() {
  const status = ui.filter.value;
  try {
    const body = await call(`${panel.dataset.api}?status=${encodeURIComponent(status)}`);
    renderList(body.questions);
    if (status === "open") {
      ui.count.textContent = t("offline_count", { n: body.questions.length });
      ui.count.hidden = body.questions.length === 0;
    }
  } catch {
    showAlert(t("offline_err_load"));
  }
}

function showQuestion(question) {
  openReference = question.reference;
  ui.title.textContent = question.reference;
  const meta = [
    t("offline_detail_meta", {
      name: question.applicant_name,
      topic: topicName(question.topic),
      time: formatDateTime(question.created_at),
      language: t(question.language === "en" ? "lang_en" : "lang_id"),
    }),
  ];
  if (question.applicant_phone) meta.push(t("offline_phone", { phone: question.applicant_phone }));
  ui.meta.textContent = meta.join(" · ");
  ui.question.textContent = question.question;
  const answered = question.status === "answered";
  ui.answered.hidden = !answered;
  ui.form.hidden = answered;
  if (answered) {
    ui.answeredBy.textContent = t("offline_answered_by", {
      name: question.answered_by || "",
      time: formatDateTime(question.answered_at),
    });
    ui.answer.textContent = question.answer || "";
  }
  ui.detail.hidden = false;
  for (const button of ui.list.querySelectorAll(".offline-item")) {
    if (button.dataset.reference === openReference) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

async function open(reference) {
  showAlert("");
  showNotice("");
  try {
    const body = await call(`${panel.dataset.api}/${encodeURIComponent(reference)}`);
    ui.text.value = "";
    showQuestion(body.question);
    ui.title.focus();
  } catch (error) {
    showAlert(errorText(error.code));
  }
}

function close() {
  openReference = null;
  ui.detail.hidden = true;
  for (const button of ui.list.querySelectorAll("[aria-current]")) {
    button.removeAttribute("aria-current");
  }
}

async function answer(event) {
  event.preventDefault();
  showAlert("");
  const text = ui.text.value.trim();
  if (!text) {
    showAlert(t("offline_err_empty"));
    return;
  }
  const reference = openReference;
  ui.send.disabled = true;
  try {
    const body = await call(`${panel.dataset.api}/${encodeURIComponent(reference)}/answer`, {
      method: "POST",
      body: { text },
    });
    showQuestion(body.question);
    showNotice(t("offline_sent", { reference }));
    await refresh();
  } catch (error) {
    // Someone else answered it meanwhile: show their answer.
    if (error.code === "invalid_state") await open(reference);
    showAlert(errorText(error.code));
  } finally {
    ui.send.disabled = false;
  }
}

/** The console's offline questions panel, when the page has one. */
export function attachOfflinePanel() {
  if (!panel) return;
  ui.filter.addEventListener("change", () => {
    close();
    refresh();
  });
  byId("offline-refresh").addEventListener("click", refresh);
  byId("offline-close").addEventListener("click", close);
  ui.form.addEventListener("submit", answer);
  refresh();
}
