"""The server frames' models: built from domain objects, validated once, serialised once."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from consult.events import frames
from consult.models import AuthorRole, EntryKind, InternalNote, NoteKind, TranscriptEntry
from tests.support.applicants import waiting_consultation
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db


def test_consultation_state_hides_staff_fields_from_the_applicant() -> None:
    topic = make_topic()
    staff = make_staff("sari", topics=[topic])
    consultation = waiting_consultation()
    consultation.counselor = staff
    consultation.status = "offered"
    consultation.outcome = "answered"
    applicant = frames.ConsultationState.of(consultation, for_staff=False).model_dump()
    staff_view = frames.ConsultationState.of(consultation, for_staff=True).model_dump()
    assert set(applicant) == set(frames.ConsultationState.model_fields)
    assert applicant["counselor_name"] == staff_view["counselor_name"] == "Sari"
    assert applicant["counselor_id"] is None and staff_view["counselor_id"] == staff.pk
    assert applicant["applicant_name"] is None and staff_view["applicant_name"]
    assert applicant["outcome"] is None and staff_view["outcome"] == "answered"
    assert applicant["queued_at"] == consultation.queued_at.isoformat()
    assert applicant["consultation_id"] == str(consultation.public_id)


def test_entry_and_note_frames_carry_their_rows() -> None:
    topic = make_topic()
    staff = make_staff("sari", topics=[topic])
    consultation = waiting_consultation()
    entry = TranscriptEntry.objects.create(
        consultation=consultation,
        seq=99,
        kind=EntryKind.MESSAGE,
        author_role=AuthorRole.COUNSELOR,
        author=staff,
        text="halo",
        client_msg_id="m1",
        created_at=consultation.created_at,
    )
    frame = frames.Entry.of(entry, public_id="p").model_dump()
    assert frame == {
        "type": "entry",
        "consultation_id": "p",
        "seq": 99,
        "kind": "message",
        "author_role": "counselor",
        "author_name": "Sari",
        "text": "halo",
        "event": None,
        "data": {},
        "client_msg_id": "m1",
        "created_at": consultation.created_at.isoformat(),
    }
    note = InternalNote.objects.create(
        consultation=consultation,
        author=None,
        kind=NoteKind.NOTE,
        text="catatan",
        created_at=consultation.created_at,
    )
    assert frames.NoteFrame.of(note, public_id="p").model_dump() == {
        "type": "note",
        "consultation_id": "p",
        "note_id": note.pk,
        "kind": "note",
        "author_name": None,
        "text": "catatan",
        "created_at": consultation.created_at.isoformat(),
    }


def test_outgoing_is_the_frame_serialised_once() -> None:
    frame = frames.Pong(type="pong", id="r1", server_time=frames.now_iso())
    out = frames.Outgoing.of(frame)
    assert out.type == "pong"
    assert json.loads(out.text) == out.data == frame.model_dump(mode="json")


def test_a_frame_is_refused_when_it_breaks_its_model() -> None:
    with pytest.raises(ValidationError):
        frames.ReadFrame(type="read", consultation_id="p", role="nobody", seq=1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        frames.validated({"type": "queue.snapshot", "order": [1]})


def test_the_placing_keeps_the_ids_out_of_every_frame() -> None:
    figures = {
        "staffed_slots": 0,
        "free_slots": 0,
        "staffed_counselors": 0,
        "free_counselors": 0,
        "handling_seconds": 300.0,
    }
    as_of = frames.as_of_now()
    snapshot = frames.QueueSnapshot(
        type="queue.snapshot",
        topic="t",
        waiting=[],
        waiting_count=2,
        waiting_chats=1,
        waiting_videos=1,
        oldest_waiting_since=None,
        as_of=as_of,
        **figures,
    )
    head = frames.QueuePlacing(
        type="queue.placing", topic_id=1, as_of=as_of, video_since=None, **figures
    )
    view = frames.QueueView(snapshot=snapshot, placing=frames.Placing(head, chats=[3], videos=[1]))
    assert not {"order", "chats", "videos"} & set(frames.Outgoing.of(view.snapshot).data)
    assert not {"order", "chats", "videos"} & set(frames.QueueSnapshot.model_fields)
    assert view.placing is not None
    assert view.placing.internal() == {"chats": [3], "videos": [1]}
    assert not {"chats", "videos"} & set(json.loads(frames.Outgoing.of(head).text))
    # Not a client frame: no connection forwards it.
    assert "queue.placing" not in frames.SERVER_TYPES


def test_as_of_compares_as_text_in_time_order() -> None:
    earlier = frames.as_of_now()
    later = frames.as_of_now()
    assert earlier <= later
    assert len(earlier) == len("2026-11-27T02:14:00.000000+00:00")


def test_every_server_type_is_known() -> None:
    assert {"entry", "ack", "ready", "queue.snapshot", "board", "error"} <= frames.SERVER_TYPES
