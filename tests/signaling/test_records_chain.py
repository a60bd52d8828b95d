"""The chain as the sockets write it (docs/RECORDS.md): messages sent one by one and in bursts
by both sides (on PostgreSQL: the one statement on the event loop's connection, several
messages at once), the consultation ended over the counselor's socket, and the result a
transcript that ``transcript_verify`` and the standalone verifier both accept, every entry's
hash as the server's Python encoder computes it."""

from __future__ import annotations

from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from consult.models import Consultation, TranscriptEntry
from consult.records import chain
from tests.support.sockets import accepted, counselor_and_applicant

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def _check(public_id: str) -> tuple[int, str]:
    consultation = Consultation.objects.get(public_id=public_id)
    prev = chain.ZERO
    for entry in TranscriptEntry.objects.filter(consultation=consultation).order_by("seq"):
        assert entry.hash == chain.hash_of(entry, public_id=public_id, prev=prev), entry.seq
        prev = entry.hash
    out = StringIO()
    call_command("transcript_verify", public_id, stdout=out)
    return consultation.last_seq, out.getvalue()


async def test_bursts_from_both_sides_chain_and_verify() -> None:
    _, sari, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    for i in range(10):
        await applicant.send(id=f"a{i}", type="chat.send", client_msg_id=f"a-{i}", text=f"A {i}")
        await counselor.send(
            id=f"c{i}",
            type="chat.send",
            consultation_id=cid,
            client_msg_id=f"c-{i}",
            text=f"Jawaban {i}",
        )
    for i in range(10):
        await applicant.recv_until("ack", id=f"a{i}", timeout=10)
        await counselor.recv_until("ack", id=f"c{i}", timeout=10)
    await counselor.send(id="end", type="consultation.end", consultation_id=cid)
    await counselor.recv_until("ack", id="end")
    last_seq, out = await _check(cid)
    assert last_seq >= 23
    assert "OK: 1 consultation(s) verified" in out
    await applicant.close()
    await counselor.close()
