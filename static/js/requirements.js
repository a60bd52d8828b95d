// What to prepare, in the waiting room: the requirements of the applicant's topic from the office's
// knowledge base, as checklists. Fetched once per consultation with the token in the Authorization
// header (never in the address); with nothing to show, or on any failure, the section stays hidden.

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
    let body = null;
    try {
      const response = await fetch(
        `/api/consultations/${encodeURIComponent(session.consultation_id)}/requirements`,
        { headers: { Authorization: `Bearer ${session.token}` }, cache: "no-store" },
      );
      if (response.ok) body = await response.json();
    } catch {
      body = null;
    }
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
      const title = document.createElement("h4");
      title.className = "requirements__title";
      title.textContent = article.title;
      const list = document.createElement("ul");
      list.className = "requirements__list";
      for (const item of article.items) {
        const li = document.createElement("li");
        li.textContent = item;
        list.append(li);
      }
      nodes.push(title, list);
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
