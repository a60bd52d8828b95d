// What this tab has of one consultation, kept in sessionStorage so that a reload resumes where it
// was: the transcript entries received (by seq, so a replay never duplicates), the messages sent
// but not yet acknowledged (re-sent with the same client_msg_id after a reconnect), and how far
// the other side has read.

const MAX_ENTRIES = 2000;

function storageGet(key) {
  try {
    return JSON.parse(window.sessionStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    window.sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page still works, it just replays more after a reload.
  }
}

export function newClientMsgId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class EntryLog {
  constructor(key) {
    this.key = key;
    const saved = storageGet(key) || {};
    this.entries = new Map();
    for (const entry of saved.entries || []) this.entries.set(entry.seq, entry);
    this.pending = saved.pending || [];
    this.peerReadSeq = saved.peerReadSeq || 0;
    this.ownReadSeq = saved.ownReadSeq || 0;
  }

  save() {
    let entries = this.sorted();
    if (entries.length > MAX_ENTRIES) entries = entries.slice(-MAX_ENTRIES);
    storageSet(this.key, {
      entries,
      pending: this.pending,
      peerReadSeq: this.peerReadSeq,
      ownReadSeq: this.ownReadSeq,
    });
  }

  clear() {
    this.entries.clear();
    this.pending = [];
    this.peerReadSeq = 0;
    this.ownReadSeq = 0;
    try {
      window.sessionStorage.removeItem(this.key);
    } catch {
      // ignore
    }
  }

  sorted() {
    return Array.from(this.entries.values()).sort((a, b) => a.seq - b.seq);
  }

  /**
   * The highest seq up to which this log has every entry. The server replays everything after
   * it, so a hole (which should not happen) is filled instead of skipped.
   */
  get lastSeq() {
    let seq = 0;
    while (this.entries.has(seq + 1)) seq += 1;
    return seq;
  }

  get maxSeq() {
    let max = 0;
    for (const seq of this.entries.keys()) max = Math.max(max, seq);
    return max;
  }

  /** Store an entry; false when it was already there (a replay or a second delivery). */
  add(entry) {
    const known = this.entries.has(entry.seq);
    this.entries.set(entry.seq, entry);
    if (entry.client_msg_id) this.removePending(entry.client_msg_id, { save: false });
    this.save();
    return !known;
  }

  addPending(message) {
    this.pending.push(message);
    this.save();
  }

  removePending(clientMsgId, { save = true } = {}) {
    const before = this.pending.length;
    this.pending = this.pending.filter((m) => m.client_msg_id !== clientMsgId);
    if (save && before !== this.pending.length) this.save();
  }

  setOwnRead(seq) {
    if (seq > this.ownReadSeq) {
      this.ownReadSeq = seq;
      this.save();
    }
  }

  setPeerRead(seq) {
    if (seq > this.peerReadSeq) {
      this.peerReadSeq = seq;
      this.save();
      return true;
    }
    return false;
  }
}

/** Remove stored logs under `prefix` whose consultation is not in `keep` (a Set of ids). */
export function pruneLogs(prefix, keep) {
  try {
    const doomed = [];
    for (let i = 0; i < window.sessionStorage.length; i += 1) {
      const key = window.sessionStorage.key(i);
      if (key && key.startsWith(prefix) && !keep.has(key.slice(prefix.length))) doomed.push(key);
    }
    for (const key of doomed) window.sessionStorage.removeItem(key);
  } catch {
    // ignore
  }
}
