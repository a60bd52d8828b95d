// The console's offers: a card per consultation offered to this counselor, with its countdown
// and Accept / Decline, and a sound and a notice when one arrives.

import { clone, ref } from "../lib/dom.js";
import { t } from "../lib/i18n.js";
import {
  announce,
  consultations,
  describeMeta,
  notifier,
  page,
  refreshUnseen,
  serverNow,
  ui,
} from "./state.js";

export function renderOffer(item) {
  const { state } = item;
  if (!item.offer) {
    const offer = clone("offer-template");
    offer.querySelector('[data-action="accept"]').addEventListener("click", () => {
      page.socket.send({
        type: "offer.accept",
        id: page.socket.nextId("accept:"),
        consultation_id: state.consultation_id,
      });
    });
    offer.querySelector('[data-action="decline"]').addEventListener("click", () => {
      page.socket.send({
        type: "offer.decline",
        id: page.socket.nextId("decline:"),
        consultation_id: state.consultation_id,
      });
    });
    ui.offers.append(offer);
    item.offer = offer;
    announce(t("offer_new", { name: state.applicant_name || t("role_applicant") }));
    if (notifier) notifier.beep("offer");
  }
  ref(item.offer, "name").textContent = item.state.applicant_name || t("role_applicant");
  ref(item.offer, "meta").textContent = describeMeta(item.state);
  refreshCountdowns();
  ui.offersEmpty.hidden = ui.offers.children.length > 0;
  refreshUnseen();
}

export function removeOffer(item) {
  if (item.offer) {
    item.offer.remove();
    item.offer = null;
  }
  if (ui.offersEmpty) ui.offersEmpty.hidden = ui.offers.children.length > 0;
  refreshUnseen();
}

export function refreshCountdowns() {
  for (const item of consultations.values()) {
    if (!item.offer || !item.state.offer_expires_at) continue;
    const left = Math.ceil((Date.parse(item.state.offer_expires_at) - serverNow()) / 1000);
    const countdown = ref(item.offer, "countdown");
    const accept = item.offer.querySelector('[data-action="accept"]');
    if (left > 0) {
      countdown.textContent = t("offer_countdown", { seconds: left });
      countdown.classList.toggle("offer__countdown--urgent", left <= 5);
      accept.disabled = false;
    } else {
      countdown.textContent = t("offer_expired");
      accept.disabled = true;
    }
  }
}
