// The applicant page outside office hours: the offline question form. The answer comes by e-mail;
// the applicant gets a reference number (LKT-2026-000123) to quote.

import { byId } from "../lib/dom.js";
import { errorCode, request } from "../lib/http.js";
import { t } from "../lib/i18n.js";
import { isEmail, isPhone } from "./contact.js";

const MAX_QUESTION = 4000;

const form = byId("offline-form");
const submit = byId("offline-submit");
const errorBox = byId("offline-error");

function fieldError(name, message) {
  const input = byId(`q-${name}`);
  const node = byId(`q-${name}-error`);
  node.textContent = message || "";
  node.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !message;
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
  if (message) errorBox.focus();
}

function validate(data) {
  const phone = data.phone.replace(/[\s().-]/g, "");
  let email = "";
  if (!data.email) email = t("q_err_email_required");
  else if (!isEmail(data.email)) email = t("err_email");
  let question = "";
  if (!data.question.trim()) question = t("q_err_question");
  else if (data.question.length > MAX_QUESTION) question = t("q_err_too_long");
  const results = [
    fieldError("name", data.name ? "" : t("err_name")),
    fieldError("email", email),
    fieldError("phone", phone && !isPhone(phone) ? t("err_phone") : ""),
    fieldError("question", question),
  ];
  return results.every(Boolean);
}

function codeText(code) {
  if (code === "not_found") return t("err_topic");
  if (code === "text_too_long") return t("q_err_too_long");
  return t("q_err_send");
}

async function send(event) {
  event.preventDefault();
  showError("");
  const fields = new FormData(form);
  const data = {
    name: String(fields.get("name") || "").trim(),
    email: String(fields.get("email") || "").trim(),
    phone: String(fields.get("phone") || "").trim(),
    topic: String(fields.get("topic") || ""),
    question: String(fields.get("question") || ""),
    language: String(fields.get("language") || "id"),
  };
  if (!validate(data)) {
    const first = form.querySelector(".field__error:not([hidden])");
    if (first) showError(first.textContent);
    return;
  }
  const label = submit.textContent;
  submit.disabled = true;
  submit.textContent = t("q_sending");
  const answer = await request(form.dataset.api, { method: "POST", body: data });
  submit.disabled = false;
  submit.textContent = label;
  if (answer.status === 0) {
    showError(t("err_network"));
    return;
  }
  if (answer.status !== 201) {
    const code = errorCode(answer.body);
    // Too many questions: the server's message says when to try again, in the page's language.
    showError(code === "rate_limited" ? answer.body.error.message : codeText(code));
    return;
  }
  byId("offline-reference").textContent = answer.body.reference;
  form.hidden = true;
  const done = byId("offline-done");
  done.hidden = false;
  done.focus();
}

/** The offline question form, when the page has one (the office is closed). */
export function attachOfflineForm() {
  if (form) form.addEventListener("submit", send);
}
