// Translated strings and formatting. The page's template renders the strings (with Django's
// {% translate %}) into <script type="application/json" data-i18n> blocks (and the video
// strings, templates/consult/_i18n_video.html, into <script id="i18n-video">), so there is no JS
// catalogue to build and no string shown by the scripts escapes translation. The blocks' keys do
// not overlap: one catalogue, one t().

/** The JSON of the page's <script type="application/json" id=...> block ({} if none). */
export function readJson(id) {
  const node = document.getElementById(id);
  if (!node) return {};
  try {
    return JSON.parse(node.textContent);
  } catch {
    return {};
  }
}

function readCatalogue() {
  const catalogue = {};
  for (const node of document.querySelectorAll("script[data-i18n], script#i18n-video")) {
    try {
      Object.assign(catalogue, JSON.parse(node.textContent));
    } catch {
      // A broken block only loses its own strings; keys are shown instead.
    }
  }
  return catalogue;
}

const catalogue = readCatalogue();

export const lang = document.documentElement.lang || "id";
const timeZone = document.documentElement.dataset.tz || undefined;

/** The translated string for `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const template = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

function formatter(options) {
  try {
    return new Intl.DateTimeFormat(lang, { timeZone, ...options });
  } catch {
    return new Intl.DateTimeFormat(lang, options);
  }
}

// 24-hour clock in both languages, as the office's own documents use.
const timeFormat = formatter({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/** "14.05" (id) or "14:05" (en) in the office's time zone. */
export function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
}

const dateTimeFormat = formatter({
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** "6 Mar 14.05": a day and a time in the office's time zone ("" for no date). */
export function formatDateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : dateTimeFormat.format(date);
}

/** A short duration: "45 s" under a minute, otherwise whole minutes ("3 min"). */
export function formatDuration(seconds) {
  const value = Math.max(0, Math.round(Number(seconds) || 0));
  if (value < 60) return t("seconds_short", { n: value });
  return t("minutes_short", { n: Math.round(value / 60) });
}
