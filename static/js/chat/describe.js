// Words for what happened in a consultation: its system events as sentences (the call's too), the
// source line of a message citing the knowledge base, and a refusal's code as a sentence.

import { formatDuration, t } from "../lib/i18n.js";

/** A system event as a sentence in the page's language. */
export function describeEvent(entry, topicName = (code) => code) {
  const data = entry.data || {};
  switch (entry.event) {
    case "joined":
      return t("ev_joined", {
        topic: topicName(data.topic || ""),
        mode: t(data.mode === "video" ? "mode_video" : "mode_chat"),
      });
    case "counselor_joined":
      return t("ev_counselor_joined", { counselor: data.counselor || t("role_counselor") });
    case "transferred":
      if (data.counselor) {
        return t("ev_transferred_counselor", {
          from: data.from || t("role_counselor"),
          counselor: data.counselor,
        });
      }
      return t("ev_transferred_topic", {
        from: data.from || t("role_counselor"),
        topic: topicName(data.topic || ""),
      });
    case "requeued":
      return t("ev_requeued");
    case "call_started":
      return t(data.audio_only ? "ev_call_started_audio" : "ev_call_started");
    case "call_ended":
      return t("ev_call_ended", { duration: formatDuration(data.duration_seconds) });
    case "ended":
      if (data.by === "applicant") return t("ev_ended_applicant");
      if (data.by === "counselor") return t("ev_ended_counselor");
      return t("ev_ended_system");
    case "abandoned":
      return data.by === "applicant" ? t("ev_abandoned_applicant") : t("ev_abandoned_system");
    default:
      return describeCallEvent(entry) || t("ev_other", { event: entry.event || "" });
  }
}

/** The "source" line of a message that cites a knowledge-base article ("" if none). */
export function citationText(entry) {
  const citation = entry.data && entry.data.citation;
  if (!citation || !citation.title) return "";
  const section = citation.section ? t(`section_${citation.section}`) : "";
  const label = section && !section.startsWith("section_") ? `${citation.title} · ${section}` : citation.title;
  return t("source", { source: label });
}

/** A refusal's code as a sentence for the user (the server's own message is English only). */
export function errorText(code) {
  const key = `err_${code}`;
  const text = t(key);
  return text === key ? t("err_generic") : text;
}

/** The sentence for a call event in the transcript, or null when it is not one of ours. */
function describeCallEvent(entry) {
  const data = entry.data || {};
  const who = (role) => t(role === "applicant" ? "call_who_applicant" : "call_who_counselor");
  switch (entry.event) {
    case "call_requested":
      return t(data.audio_only ? "ev_call_requested_audio" : "ev_call_requested", {
        who: who(data.by),
      });
    case "call_declined":
      return t(data.withdrawn ? "ev_call_withdrawn" : "ev_call_declined", { who: who(data.by) });
    case "call_request_expired":
      return t("ev_call_request_expired");
    case "call_connected":
      return t("ev_call_connected");
    case "call_reconnecting":
      return t("ev_call_reconnecting");
    default:
      return null;
  }
}
