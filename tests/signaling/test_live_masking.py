"""The live console's masking policy (docs/RECORDS.md, "Personal data"): by default a counselor
sees what the applicant wrote; with a rule that masks NIKs in the live console, the counselor's
socket receives them masked, live and in a replay, while the stored transcript keeps the
words."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from consult.models import Consultation, MaskingRule, TranscriptEntry
from consult.services import notes
from tests.support.sockets import Ws, accepted, counselor_and_applicant, staff_ws
from tests.support.staff import make_staff

pytestmark = pytest.mark.django_db(transaction=True)

NIK = "3174 0512 0589 0001"
MASKED = "NIK saya 3174********0001"


async def _said(applicant: Ws, counselor: Ws) -> dict[str, Any]:
    await applicant.send(id="m", type="chat.send", client_msg_id="m-1", text=f"NIK saya {NIK}")
    await applicant.recv_until("ack", id="m")
    return await counselor.recv_until("entry", client_msg_id="m-1")


async def test_a_counselor_sees_the_applicants_words_by_default() -> None:
    _, sari, joined = await counselor_and_applicant()
    applicant, counselor = await accepted(sari, joined)
    assert (await _said(applicant, counselor))["text"] == f"NIK saya {NIK}"
    await applicant.close()
    await counselor.close()


async def test_a_live_rule_masks_live_and_replayed_entries_on_the_console_only() -> None:
    _, sari, joined = await counselor_and_applicant()
    await sync_to_async(MaskingRule.objects.create)(
        role="counselor", output="live", kind="nik", action="mask"
    )
    applicant, counselor = await accepted(sari, joined)
    assert (await _said(applicant, counselor))["text"] == MASKED
    stored = await sync_to_async(lambda: TranscriptEntry.objects.get(client_msg_id="m-1").text)()
    assert stored == f"NIK saya {NIK}"
    # A second console of the same counselor reads the history from the database: masked too.
    again = await staff_ws(sari)
    await again.send(id="r", type="resume", consultation_id=joined["consultation_id"], last_seq=0)
    assert (await again.recv_until("entry", client_msg_id="m-1"))["text"] == MASKED
    for ws in (applicant, counselor, again):
        await ws.close()


async def test_a_supervisors_console_gets_notes_masked_by_default() -> None:
    _, sari, joined = await counselor_and_applicant()
    ratna = await sync_to_async(make_staff)("ratna", role="supervisor")
    applicant, counselor = await accepted(sari, joined)
    supervisor = await staff_ws(ratna)
    consultation = await sync_to_async(Consultation.objects.get)(
        public_id=joined["consultation_id"]
    )
    await sync_to_async(notes.note_add)(
        staff=sari, consultation_id=consultation.pk, text=f"Pemohon memberi NIK {NIK}"
    )
    note = await supervisor.recv_until("note")
    assert note["text"] == "Pemohon memberi NIK 3174********0001"
    # The counselor holding it reads the note as written (a counselor's live default: show).
    assert (await counselor.recv_until("note"))["text"] == f"Pemohon memberi NIK {NIK}"
    for ws in (applicant, counselor, supervisor):
        await ws.close()
