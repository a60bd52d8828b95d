// What to prepare, in the waiting room: the requirements of the applicant's topic from the office's
// knowledge base, as checklists. Fetched once per consultation with the token in the Authorization
// header (never in the address); with nothing to show, or on any failure, the section stays hidden.

import { el } from "../lib/dom.js";
import { request } from "../lib/http.js";

export class RequirementsView {
  /**
   * @param {object} o
   * @param {HTMLElement} o.section  the section (hidden until there is something to show)
   * @param {HTMLElement} o.lists  where the article checklists go
   */
  constructor(o) {
    Object.assign(this, o);
    this.loadedFor = null;
  }

  /** Show the consultation's checklist (once; later calls for the same consultation do nothing). */
  async load(session) {
    if (!session || this.loadedFor === session.consultation_id) return;
    this.loadedFor = session.consultation_id;
    const answer = await request(
      `/api/consultations/${encodeURIComponent(session.consultation_id)}/requirements`,
      { token: session.token },
    );
    const body = answer.ok ? answer.body : null;
    if (this.loadedFor !== session.consultation_id) return; // reset meanwhile
    if (!body || !Array.isArray(body.articles) || body.articles.length === 0) {
      if (!body) this.loadedFor = null; // try again on the next `ready`
      return;
    }
    this.render(body);
  }

  render(body) {
    const nodes = [];
    for (const article of body.articles) {
      const list = el("ul", "requirements__list");
      for (const item of article.items) list.append(el("li", "", item));
      nodes.push(el("h4", "requirements__title", article.title), list);
    }
    // The items are in the consultation's language, which may differ from the page's.
    this.lists.lang = body.language || "";
    this.lists.replaceChildren(...nodes);
    this.section.hidden = false;
  }

  clear() {
    this.loadedFor = null;
    this.section.hidden = true;
    this.lists.replaceChildren();
    this.lists.removeAttribute("lang");
  }
}
