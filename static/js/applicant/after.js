// The applicant after the consultation: a one-to-five rating with an optional comment (sent once,
// with the consultation's token in the Authorization header) and the transcript, opened in a new
// tab by a form that POSTs the token, so that the token never appears in an address.

import { errorCode, request } from "../lib/http.js";
import { t } from "../lib/i18n.js";

export class AfterConsultation {
  /**
   * @param {object} o
   * @param {HTMLFormElement} o.ratingForm
   * @param {HTMLElement} o.ratingDone  shown once the rating is given
   * @param {HTMLFormElement} o.transcriptForm
   * @param {() => ({consultation_id: string, token: string} | null)} o.session
   */
  constructor(o) {
    Object.assign(this, o);
    this.status = this.ratingForm.querySelector("[data-ref='rating-status']");
    this.ratingForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.rate();
    });
    this.transcriptForm.addEventListener("submit", () => {
      const session = this.session();
      if (!session) return;
      // Set only for this submission; the hidden field is cleared again right after.
      this.transcriptForm.action = `/c/${encodeURIComponent(session.consultation_id)}/transcript`;
      this.transcriptForm.elements.token.value = session.token;
      setTimeout(() => {
        this.transcriptForm.elements.token.value = "";
      }, 0);
    });
  }

  /** The consultation is over: offer the rating (if it had a counselor) and the transcript. */
  show(state) {
    const rateable = Boolean(state.counselor_name);
    this.transcriptForm.hidden = false;
    this.ratingDone.hidden = !(rateable && state.rating);
    this.ratingForm.hidden = !rateable || Boolean(state.rating);
  }

  hide() {
    this.ratingForm.hidden = true;
    this.ratingDone.hidden = true;
    this.transcriptForm.hidden = true;
    this.ratingForm.reset();
    this.status.textContent = "";
  }

  async rate() {
    const session = this.session();
    const data = new FormData(this.ratingForm);
    const stars = Number.parseInt(String(data.get("stars") || ""), 10);
    if (!session) return;
    if (!(stars >= 1 && stars <= 5)) {
      this.status.textContent = t("rating_choose");
      return;
    }
    const button = this.ratingForm.querySelector("button[type='submit']");
    button.disabled = true;
    this.status.textContent = t("rating_sending");
    const answer = await request(
      `/api/consultations/${encodeURIComponent(session.consultation_id)}/rating`,
      {
        method: "POST",
        token: session.token,
        body: { stars, comment: String(data.get("comment") || "").trim() },
      },
    );
    button.disabled = false;
    if (answer.status === 0) {
      this.status.textContent = t("err_network");
      return;
    }
    const code = errorCode(answer.body);
    if (answer.status === 201 || code === "already_rated") {
      this.ratingForm.hidden = true;
      this.ratingDone.hidden = false;
      this.ratingDone.focus();
      return;
    }
    this.status.textContent = t("rating_failed");
  }
}
