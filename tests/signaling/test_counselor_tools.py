"""The counselor's tools over the staff socket, through the real ASGI app: kb.insert, note.add,
the transfer note and consultation.end with an outcome; and what the applicant (and anyone else)
never receives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from consult.models import InternalNote, StaffRole, TranscriptEntry
from tests.support.knowledge import make_article
from tests.support.sockets import (
    Ws,
    accepted,
    applicant_ws,
    available_ws,
    counselor_and_applicant,
    drain,
    staff_ws,
)
from tests.support.staff import make_staff

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "RAHASIA-catatan-internal"


_article = sync_to_async(make_article)


def _mentions_secret(frames: list[dict[str, Any]]) -> bool:
    return any(SECRET in json.dumps(frame) for frame in frames)


async def test_kb_insert_reaches_the_applicant_with_its_citation() -> None:
    topic, sari, joined = await counselor_and_applicant(language="en")
    article = await _article(topic)
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    await counselor.send(
        id="kb:1",
        type="kb.insert",
        consultation_id=cid,
        client_msg_id="k-1",
        article_id=article.pk,
        section="requirements",
    )
    ack = await counselor.recv_until("ack", id="kb:1")
    assert ack["duplicate"] is False
    entry = ack["entry"]
    assert entry["text"] == (
        "Building approval for a house\n\nRequirements:\nID card and land certificate."
    )
    citation = {
        "article_id": article.pk,
        "topic": "building-approval",
        "title": "Building approval for a house",
        "section": "requirements",
    }
    assert entry["data"] == {"citation": citation}
    got = await applicant.recv_until("entry", seq=entry["seq"])
    assert (got["author_role"], got["author_name"], got["data"]) == (
        "counselor",
        "Sari",
        {"citation": citation},
    )
    # Sent again (a lost ack): the same entry, and the applicant gets nothing new.
    await counselor.send(
        id="kb:2",
        type="kb.insert",
        consultation_id=cid,
        client_msg_id="k-1",
        article_id=article.pk,
        section="requirements",
    )
    again = await counselor.recv_until("ack", id="kb:2")
    assert again["duplicate"] is True and again["entry"]["seq"] == entry["seq"]
    assert await applicant.nothing()
    # The same id for another section is a client bug, not a retry: refused, nothing stored.
    await counselor.send(
        id="kb:3",
        type="kb.insert",
        consultation_id=cid,
        client_msg_id="k-1",
        article_id=article.pk,
        section=None,
    )
    refused = await counselor.recv_until("error", id="kb:3")
    assert refused["code"] == "client_msg_id_reused"
    assert await applicant.nothing()
    # The counselor's own connection never gets its entry twice (it came in the ack).
    assert not [f for f in await drain(counselor) if f.get("seq") == entry["seq"]]
    await applicant.close()
    await counselor.close()


async def test_kb_insert_and_notes_are_refused_to_everyone_else() -> None:
    topic, sari, joined = await counselor_and_applicant()
    article = await _article(topic)
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    budi = await sync_to_async(make_staff)("budi", topics=[topic])
    dewi = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    other = await staff_ws(budi)
    supervisor = await staff_ws(dewi)
    await drain(supervisor)

    for ws in (other, supervisor):
        await ws.send(
            id="x1",
            type="kb.insert",
            consultation_id=cid,
            client_msg_id="x-1",
            article_id=article.pk,
        )
        assert (await ws.recv_until("error", id="x1"))["code"] == "forbidden"
        await ws.send(id="x2", type="note.add", consultation_id=cid, text=SECRET)
        assert (await ws.recv_until("error", id="x2"))["code"] == "forbidden"
    for kind, extra in (
        ("kb.insert", {"client_msg_id": "a-1", "article_id": article.pk}),
        ("note.add", {"text": SECRET}),
    ):
        await applicant.send(id="a1", type=kind, consultation_id=cid, **extra)
        assert (await applicant.recv_until("error", id="a1"))["code"] == "unknown_type"
    # An unknown article: not_found, nothing stored.
    await counselor.send(
        id="kb:9", type="kb.insert", consultation_id=cid, client_msg_id="k-9", article_id=999
    )
    assert (await counselor.recv_until("error", id="kb:9"))["code"] == "not_found"
    assert await sync_to_async(InternalNote.objects.count)() == 0
    assert not await sync_to_async(TranscriptEntry.objects.filter(kind="message").exists)()
    for ws in (applicant, counselor, other, supervisor):
        await ws.close()


async def test_a_note_goes_to_the_counselor_and_supervisors_never_the_applicant() -> None:
    _, sari, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    dewi = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    supervisor = await staff_ws(dewi)
    await drain(supervisor)
    second_tab = await staff_ws(sari)
    await second_tab.send(id="r", type="resume", consultation_id=cid, last_seq=2)
    await second_tab.recv_until("ack", id="r")

    await counselor.send(id="n1", type="note.add", consultation_id=cid, text=SECRET)
    await counselor.recv_until("ack", id="n1")
    for ws in (counselor, second_tab, supervisor):
        note = await ws.recv_until("note", consultation_id=cid)
        assert (note["kind"], note["text"], note["author_name"]) == ("note", SECRET, "Sari")
    assert not _mentions_secret(await drain(applicant, quiet=0.3))

    # A counselor's new connection gets the notes after its resume, after the replay.
    third = await staff_ws(sari)
    await third.send(id="r3", type="resume", consultation_id=cid, last_seq=0)
    frames = await drain(third)
    kinds = [f["type"] for f in frames]
    assert kinds.index("ack") < kinds.index("note")
    assert [f["seq"] for f in frames if f["type"] == "entry"] == [1, 2]

    # The applicant reconnecting from nothing replays the whole record: no note in it.
    await applicant.close()
    again = await applicant_ws(joined, last_seq=0)
    assert not _mentions_secret(await drain(again))
    for ws in (again, counselor, second_tab, third, supervisor):
        await ws.close()


async def test_the_applicant_never_receives_the_transfer_note() -> None:
    topic, sari, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    budi = await sync_to_async(make_staff)("budi", topics=[topic])
    applicant, counselor = await accepted(sari, joined)
    colleague = await available_ws(budi)

    await counselor.send(
        id="t1",
        type="consultation.transfer",
        consultation_id=cid,
        counselor_id=budi.pk,
        note=SECRET,
    )
    await counselor.recv_until("ack", id="t1")
    # The colleague it is offered to gets the note (staff only) after the history.
    await colleague.recv_until("consultation.state", consultation_id=cid, status="offered")
    note = await colleague.recv_until("note", consultation_id=cid)
    assert (note["kind"], note["text"]) == ("transfer", SECRET)

    frames = await drain(applicant, quiet=0.3)
    transferred = [f for f in frames if f.get("event") == "transferred"]
    assert transferred and transferred[0]["data"] == {"from": "Sari", "counselor": "Budi"}
    assert not _mentions_secret(frames)
    # Nor in a replay from the database.
    await applicant.close()
    again = await applicant_ws(joined, last_seq=0)
    assert not _mentions_secret(await drain(again))
    stored = await sync_to_async(list)(
        TranscriptEntry.objects.filter(consultation__public_id=cid).values_list("data", flat=True)
    )
    assert not _mentions_secret(stored)
    for ws in (again, counselor, colleague):
        await ws.close()


async def test_end_with_an_outcome_is_shown_to_staff_only() -> None:
    _, sari, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    await counselor.send(id="e0", type="consultation.end", consultation_id=cid, outcome="great")
    assert (await counselor.recv_until("error", id="e0"))["code"] == "invalid_message"
    await counselor.send(
        id="e1", type="consultation.end", consultation_id=cid, outcome="out_of_scope"
    )
    await counselor.recv_until("ack", id="e1")
    state = await counselor.recv_until("consultation.state", consultation_id=cid)
    assert (state["status"], state["outcome"], state["end_reason"]) == (
        "ended",
        "out_of_scope",
        "out_of_scope",
    )
    seen = await applicant.recv_until("consultation.state", status="ended")
    assert seen["outcome"] is None and seen["rating"] is None
    await applicant.close()
    await counselor.close()


async def test_a_rating_reaches_supervisors_as_state() -> None:
    _, sari, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(sari, joined)
    dewi = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    supervisor: Ws = await staff_ws(dewi)
    await counselor.send(id="e1", type="consultation.end", consultation_id=cid, outcome="answered")
    await counselor.recv_until("ack", id="e1")
    await supervisor.recv_until("consultation.state", consultation_id=cid, status="ended")

    from django.test import Client

    def rate() -> int:
        return int(
            Client()
            .post(
                f"/api/consultations/{cid}/rating",
                json.dumps({"stars": 5}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {joined['token']}",
            )
            .status_code
        )

    assert await sync_to_async(rate)() == 201
    state = await supervisor.recv_until("consultation.state", consultation_id=cid)
    assert (state["rating"], state["outcome"]) == (5, "answered")
    await applicant.recv_until("consultation.state", status="ended", rating=5)
    for ws in (applicant, counselor, supervisor):
        await ws.close()
