// The counselor's tools beside each open consultation: the knowledge base (search, then insert
// an article or one section as a message that cites it), canned replies (put into the composer,
// then sent as an ordinary message) and internal notes (staff only, never shown to the
// applicant). Knowledge-base inserts and notes go over the staff socket; the search and the
// canned replies are plain HTTP requests with the session (and the CSRF token for writes).

import { newClientMsgId } from "../chat/entrylog.js";
import { el, ref } from "../lib/dom.js";
import { request } from "../lib/http.js";
import { t } from "../lib/i18n.js";

const SECTIONS = ["requirements", "procedure", "legal_basis", "fees"];

/** The console's canned replies (own and shared), loaded once and shared by every chat. */
export class CannedReplies {
  constructor() {
    this.replies = [];
    this.listeners = new Set();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    for (const listener of this.listeners) listener(this.replies);
  }

  async load() {
    const answer = await request("/api/canned-replies");
    if (answer.ok) {
      this.replies = answer.body.replies || [];
      this.changed();
    }
    return answer.ok;
  }

  async create(title, text) {
    const answer = await request("/api/canned-replies", { method: "POST", body: { title, text } });
    if (answer.ok) {
      this.replies = [...this.replies, answer.body];
      this.changed();
    }
    return answer;
  }

  async remove(id) {
    const answer = await request(`/api/canned-replies/${id}`, { method: "DELETE" });
    if (answer.ok) {
      this.replies = this.replies.filter((r) => r.id !== id);
      this.changed();
    }
    return answer;
  }
}

/** The tools panel of one consultation in the console. */
export class ConsultationTools {
  /**
   * @param {object} o
   * @param {HTMLElement} o.panel  the consultation's panel (holds the tools' data-refs)
   * @param {string} o.consultationId
   * @param {() => object} o.state  the consultation's latest state
   * @param {(frame: object) => boolean} o.send  over the staff socket
   * @param {CannedReplies} o.store  the console's canned replies
   * @param {Map<number, object>} o.notes  this consultation's notes by id (filled by `note` frames)
   * @param {(code: string) => string} o.topicName
   * @param {(message: string) => void} o.onError
   */
  constructor(o) {
    Object.assign(this, o);
    this.composer = ref(this.panel, "composer").querySelector("textarea");
    this.enabled = true;
    this.searchSeq = 0;
    const kbForm = ref(this.panel, "kb-form");
    const topicSelect = ref(this.panel, "kb-topic");
    for (const [code, name] of Object.entries(o.topicNames || {})) {
      const option = el("option", "", name);
      option.value = code;
      topicSelect.append(option);
    }
    topicSelect.value = this.state().topic || "";
    kbForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    ref(this.panel, "note-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addNote();
    });
    ref(this.panel, "canned-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveReply(event.target);
    });
    this.unsubscribe = this.store.subscribe(() => this.renderReplies());
    this.renderReplies();
    this.renderNotes();
  }

  destroy() {
    this.unsubscribe();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    for (const button of this.panel.querySelectorAll("[data-needs-active]")) {
      button.disabled = !enabled;
    }
  }

  status(name, text) {
    const node = ref(this.panel, name);
    node.textContent = text;
  }

  // ---------------------------------------------------------------- knowledge base

  async search() {
    const form = ref(this.panel, "kb-form");
    const data = new FormData(form);
    const params = new URLSearchParams({
      q: String(data.get("q") || "").trim(),
      topic: String(data.get("topic") || ""),
      // Shown as it will be inserted: in the consultation's language.
      language: this.state().language || "id",
    });
    const seq = ++this.searchSeq;
    this.status("kb-status", t("kb_searching"));
    const answer = await request(`/api/kb/search?${params}`);
    if (seq !== this.searchSeq) return; // a newer search was started meanwhile
    if (!answer.ok) {
      this.status("kb-status", t("kb_failed"));
      return;
    }
    const articles = answer.body.articles || [];
    this.status("kb-status", articles.length ? t("kb_found", { n: articles.length }) : t("kb_none"));
    ref(this.panel, "kb-results").replaceChildren(...articles.map((a) => this.articleNode(a)));
  }

  articleNode(article) {
    const template = document.getElementById("kb-result-template");
    const node = template.content.firstElementChild.cloneNode(true);
    ref(node, "title").textContent = article.title;
    ref(node, "topic").textContent = this.topicName(article.topic);
    const sections = ref(node, "sections");
    const select = ref(node, "section");
    for (const section of article.sections) {
      sections.append(el("h5", "kb-result__label", section.label), el("p", "kb-result__text", section.text));
      const option = el("option", "", section.label);
      option.value = section.key;
      select.append(option);
    }
    const id = `kb-section-${this.consultationId}-${article.id}`;
    select.id = id;
    ref(node, "section-label").htmlFor = id;
    const insert = ref(node, "insert");
    insert.setAttribute("aria-label", t("kb_insert_label", { title: article.title }));
    insert.disabled = !this.enabled;
    insert.addEventListener("click", () => this.insert(article, select.value || null));
    return node;
  }

  insert(article, section) {
    if (!this.enabled) return;
    const clientMsgId = newClientMsgId();
    const sent = this.send({
      type: "kb.insert",
      id: `kb:${clientMsgId}`,
      consultation_id: this.consultationId,
      client_msg_id: clientMsgId,
      article_id: article.id,
      section: SECTIONS.includes(section) ? section : null,
    });
    this.status(
      "kb-status",
      sent ? t("kb_inserted", { title: article.title }) : t("not_sent_offline"),
    );
  }

  // ---------------------------------------------------------------- canned replies

  renderReplies() {
    const language = this.state().language;
    const list = ref(this.panel, "canned-list");
    const usable = this.store.replies.filter((r) => !r.language || r.language === language);
    ref(this.panel, "canned-empty").hidden = usable.length > 0;
    list.replaceChildren(
      ...usable.map((reply) => {
        const item = el("li", "canned__item");
        const use = el("button", "button button--secondary button--small canned__use", reply.title);
        use.type = "button";
        use.title = reply.text;
        use.setAttribute("aria-label", t("canned_use_label", { title: reply.title }));
        use.addEventListener("click", () => this.useReply(reply));
        item.append(use);
        if (reply.shared) {
          item.append(" ", el("span", "badge", t("canned_shared")));
        } else {
          const remove = el("button", "link-button canned__remove", t("canned_delete"));
          remove.type = "button";
          remove.setAttribute("aria-label", t("canned_delete_label", { title: reply.title }));
          remove.addEventListener("click", async () => {
            if (!window.confirm(t("canned_confirm_delete", { title: reply.title }))) return;
            const answer = await this.store.remove(reply.id);
            if (!answer.ok) this.onError(t("canned_failed"));
          });
          item.append(" ", remove);
        }
        return item;
      }),
    );
  }

  useReply(reply) {
    const current = this.composer.value.trim();
    this.composer.value = current ? `${current}\n${reply.text}` : reply.text;
    this.composer.focus();
    this.composer.setSelectionRange(this.composer.value.length, this.composer.value.length);
  }

  async saveReply(form) {
    const data = new FormData(form);
    const title = String(data.get("title") || "").trim();
    const text = String(data.get("text") || "").trim();
    if (!title || !text) {
      this.status("canned-status", t("canned_need_both"));
      return;
    }
    const answer = await this.store.create(title, text);
    if (answer.ok) {
      form.reset();
      this.status("canned-status", t("canned_saved", { title }));
    } else {
      this.status("canned-status", t("canned_failed"));
    }
  }

  // ---------------------------------------------------------------- internal notes

  renderNotes() {
    const notes = Array.from(this.notes.values()).sort(
      (a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.note_id - b.note_id,
    );
    ref(this.panel, "notes-count").textContent = notes.length ? String(notes.length) : "";
    ref(this.panel, "notes-empty").hidden = notes.length > 0;
    ref(this.panel, "notes-list").replaceChildren(
      ...notes.map((note) => {
        const item = el("li", `note note--${note.kind}`);
        const meta = el("p", "note__meta");
        const kind = note.kind === "transfer" ? t("note_transfer") : t("note_note");
        meta.append(el("strong", "", note.author_name || t("role_counselor")), ` · ${kind}`);
        item.append(meta, el("p", "note__text", note.text));
        return item;
      }),
    );
  }

  addNote() {
    const field = ref(this.panel, "note-form").querySelector("textarea");
    const text = field.value.trim();
    if (!text || !this.enabled) return;
    const sent = this.send({
      type: "note.add",
      id: `note:${newClientMsgId()}`,
      consultation_id: this.consultationId,
      text,
    });
    if (sent) field.value = "";
    else this.onError(t("not_sent_offline"));
  }
}
