"""Personal data in transcripts (docs/RECORDS.md, "Personal data"), through the pages and the API:
identifiers masked by the policy for each role and output, a supervisor's reveal with its reason
recorded, search by an identifier typed in full through keyed hashes only, and the export's
bundle withholding what the policy hides while it still verifies."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from consult.models import (
    Consultation,
    EndedBy,
    IdentifierToken,
    MaskingRule,
    RecordStatement,
    StaffProfile,
    TranscriptAccess,
)
from consult.records import loket_verify
from consult.selectors.records import keys_document
from consult.services import consultations
from consult.services.tokens import applicant_token_issue
from tests.support.applicants import active_consultation, reload, say
from tests.support.staff import make_staff, staff_client

pytestmark = pytest.mark.django_db(transaction=True)

NIK_DOTTED = "3174.0512.0589.0001"
NIK_PLAIN = "3174051205890001"
NIK_MASKED = "3174********0001"


@pytest.fixture
def ended(sari: StaffProfile) -> str:
    consultation = active_consultation(sari, name="Ani Wulandari")
    say(consultation, "a-1", f"NIK saya {NIK_DOTTED}, bisa dicek status PBG saya?")
    say(
        consultation,
        "c-1",
        "Baik, biaya retribusi Rp 1.500.000 sesuai Perda 5 Tahun 2017.",
        by=sari,
    )
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by=EndedBy.COUNSELOR, staff=sari
    )
    return str(reload(consultation).public_id)


@pytest.fixture
def ratna() -> StaffProfile:
    return make_staff("ratna", role="supervisor")


def test_a_supervisor_reads_identifiers_masked_and_reveals_one_with_a_reason(
    ended: str, ratna: StaffProfile
) -> None:
    client = staff_client(ratna)
    page = client.get(f"/transcripts/{ended}/").content.decode()
    assert NIK_MASKED in page and NIK_DOTTED not in page
    # What the office writes every day stays as it is.
    assert "Rp 1.500.000" in page and "Perda 5 Tahun 2017" in page
    assert "Ani Wulandari" not in page and "A*** W***" in page
    # The masked message has a reveal form naming it.
    seqs = re.findall(r'name="seq" value="(\d+)"', page)
    assert len(seqs) == 1
    refused = client.post(f"/transcripts/{ended}/", {"seq": seqs[0], "reason": "x"})
    assert refused.status_code == 400 and NIK_DOTTED not in refused.content.decode()
    shown = client.post(f"/transcripts/{ended}/", {"seq": seqs[0], "reason": "Cek status PBG"})
    assert shown.status_code == 200 and NIK_DOTTED in shown.content.decode()
    reveal = TranscriptAccess.objects.get(via="reveal")
    assert (reveal.reader_id, reveal.reason) == (ratna.user_id, "Cek status PBG")
    addendum = json.loads(
        RecordStatement.objects.filter(consultation_id=reveal.consultation_id).last().statement
    )
    assert addendum["record"]["via"] == "reveal" and "Cek status" not in json.dumps(addendum)
    # The read log is on the supervisor's page, with the reason.
    assert "Cek status PBG" in client.get(f"/transcripts/{ended}/").content.decode()


def test_a_counselor_may_not_reveal(ended: str, sari: StaffProfile) -> None:
    client = staff_client(sari)
    assert NIK_MASKED in client.get(f"/transcripts/{ended}/").content.decode()
    refused = client.post(f"/transcripts/{ended}/", {"seq": "2", "reason": "Saya perlu melihat"})
    assert refused.status_code == 400 and NIK_DOTTED not in refused.content.decode()
    assert not TranscriptAccess.objects.filter(via="reveal").exists()


def test_a_rule_in_admin_changes_what_a_role_sees(ended: str, ratna: StaffProfile) -> None:
    MaskingRule.objects.create(role="supervisor", output="transcript", kind="nik", action="show")
    MaskingRule.objects.create(role="supervisor", output="transcript", kind="name", action="hide")
    page = staff_client(ratna).get(f"/transcripts/{ended}/").content.decode()
    assert NIK_DOTTED in page and "Ani" not in page
    api = staff_client(ratna).get(f"/api/consultations/{ended}/transcript").json()
    assert NIK_DOTTED in " ".join(e.get("text") or "" for e in api["entries"])


def test_the_api_masks_as_the_page_does(ended: str, ratna: StaffProfile) -> None:
    body = staff_client(ratna).get(f"/api/consultations/{ended}/transcript").json()
    texts = " ".join(e.get("text") or "" for e in body["entries"])
    assert NIK_MASKED in texts and NIK_PLAIN not in texts.replace(".", "")
    assert body["consultation"]["applicant_name"] == "A*** W***"


def test_search_finds_an_identifier_typed_in_full_by_its_keyed_hash_only(
    ended: str, ratna: StaffProfile
) -> None:
    # Written with dots in the chat, searched without: the text search alone would miss it. The
    # form's POST is answered with a redirect to a URL holding the keyed hash, not the NIK.
    client = staff_client(ratna)
    sent = client.post("/transcripts/", {"q": NIK_PLAIN})
    assert sent.status_code == 303
    assert NIK_PLAIN not in sent["Location"] and "idt=" in sent["Location"]
    found = client.get(sent["Location"]).content.decode()
    assert f"/transcripts/{ended}/" in found and NIK_PLAIN not in found
    tokens = list(IdentifierToken.objects.values_list("token", flat=True))
    assert tokens and not any(NIK_PLAIN in t or "3174" in t for t in tokens)
    other = client.get("/transcripts/", {"q": "3174051205890002"}, follow=True).content.decode()
    assert f"/transcripts/{ended}/" not in other
    # Part of a NIK does not probe the masked digits; other words still find it.
    for probe in ("31740512", "0512.0589", "05890001"):
        page = client.get("/transcripts/", {"q": probe}).content.decode()
        assert f"/transcripts/{ended}/" not in page, probe
    assert (
        f"/transcripts/{ended}/"
        in client.get("/transcripts/", {"q": "status PBG"}).content.decode()
    )


def test_the_staff_export_withholds_what_the_policy_hides_and_still_verifies(
    ended: str, ratna: StaffProfile
) -> None:
    bundle = staff_client(ratna).get(f"/api/consultations/{ended}/evidence").json()
    applicant = [e for e in bundle["entries"] if e["role"] == "applicant"]
    assert len(applicant) == 1
    assert applicant[0]["text"] is None and "[NIK]" in applicant[0]["shown"]
    assert NIK_DOTTED not in json.dumps(bundle)
    assert loket_verify.verify_bundle(bundle, keys_document()).ok


def test_the_applicants_copy_shows_their_own_words_and_who_read_them(
    ended: str, ratna: StaffProfile
) -> None:
    staff_client(ratna).get(f"/transcripts/{ended}/")
    client = Client()
    token = applicant_token_issue(consultation=Consultation.objects.get(public_id=ended))
    bundle = client.get(
        f"/api/consultations/{ended}/evidence", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert NIK_DOTTED in json.dumps(bundle)
    assert loket_verify.verify_bundle(bundle, keys_document()).ok
    client.post(f"/c/{ended}/transcript", {"token": token})
    page = client.get(f"/c/{ended}/transcript").content.decode()
    assert NIK_DOTTED in page and "Ratna" in page
