// The applicant's join form: checked here first (the server checks again), then POSTed; the
// server's refusals are shown above the form in the page's language.

import { byId } from "../lib/dom.js";
import { errorCode, request } from "../lib/http.js";
import { t } from "../lib/i18n.js";
import { isEmail, isPhone } from "./contact.js";

const ui = {
  form: byId("join-form"),
  error: byId("join-error"),
  submit: byId("join-submit"),
};

function fieldError(id, message) {
  const node = byId(id);
  node.textContent = message || "";
  node.hidden = !message;
}

export function showJoinError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
  if (message) ui.error.focus();
}

function validate(data) {
  let ok = true;
  fieldError("f-name-error", "");
  fieldError("f-contact-error", "");
  byId("f-name").removeAttribute("aria-invalid");
  if (!data.name) {
    fieldError("f-name-error", t("err_name"));
    byId("f-name").setAttribute("aria-invalid", "true");
    ok = false;
  }
  const phone = data.phone.replace(/[\s().-]/g, "");
  let contact = "";
  if (!phone && !data.email) contact = t("err_contact");
  else if (phone && !isPhone(phone)) contact = t("err_phone");
  else if (data.email && !isEmail(data.email)) contact = t("err_email");
  if (contact) {
    fieldError("f-contact-error", contact);
    ok = false;
  }
  return ok;
}

/**
 * Send the join form (`onJoined` gets {consultation_id, token} when the server has queued it).
 * @param {SubmitEvent} event
 * @param {string} api  the consultations endpoint (the page's data-api)
 * @param {(session: object) => void} onJoined
 */
async function join(event, api, onJoined) {
  event.preventDefault();
  showJoinError("");
  const form = new FormData(ui.form);
  const data = {
    name: String(form.get("name") || "").trim(),
    phone: String(form.get("phone") || "").trim(),
    email: String(form.get("email") || "").trim(),
    topic: String(form.get("topic") || ""),
    mode: String(form.get("mode") || "chat"),
    language: String(form.get("language") || "id"),
  };
  if (!validate(data)) {
    const firstError = ui.form.querySelector(".field__error:not([hidden])");
    if (firstError) showJoinError(firstError.textContent);
    return;
  }
  ui.submit.disabled = true;
  ui.submit.textContent = t("joining");
  try {
    const answer = await request(api, { method: "POST", body: data });
    if (answer.status === 0) {
      showJoinError(t("err_network"));
      return;
    }
    if (answer.status !== 201) {
      const code = errorCode(answer.body);
      if (code === "office_closed") {
        // The office closed while the form was open: the page then says when it opens again
        // and takes an offline question instead.
        window.location.reload();
        return;
      }
      // Too many joins, or this contact is already in the queue: the server's message says
      // what to do and when, in the page's language.
      const explained = ["rate_limited", "already_queued"].includes(code) && answer.body.error.message;
      showJoinError(explained || (code === "not_found" ? t("err_topic") : t("err_join")));
      return;
    }
    onJoined({ consultation_id: answer.body.consultation_id, token: answer.body.token });
  } catch {
    showJoinError(t("err_network"));
  } finally {
    ui.submit.disabled = false;
    ui.submit.textContent = ui.submit.dataset.label;
  }
}

/** Listen to the join form; `onJoined` starts the consultation (inside the form's error handling). */
export function attachJoinForm(api, onJoined) {
  ui.submit.dataset.label = ui.submit.textContent;
  ui.form.addEventListener("submit", (event) => join(event, api, onJoined));
}

/** Empty the form for a new consultation and put the cursor in its first field. */
export function resetJoinForm() {
  ui.form.reset();
  byId("f-name").focus();
}
