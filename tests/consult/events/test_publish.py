"""Publishing: after commit only, each frame validated and serialised once per publish."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from django.db import transaction

from consult.events import frames, groups, publish
from consult.models import InternalNote, NoteKind
from tests.support.applicants import waiting_consultation
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent() -> Any:
    """Every (group, frame, layer message) handed to the channel layer."""
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def record(group: str, frame: dict[str, Any], message: dict[str, Any]) -> None:
        calls.append((group, frame, message))

    with mock.patch.object(publish, "_send_now", record):
        yield calls


def test_a_frame_to_several_groups_is_built_and_serialised_once(
    sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    topic = make_topic()
    staff = make_staff("sari", topics=[topic])
    consultation = waiting_consultation()
    consultation.counselor = staff
    note = InternalNote.objects.create(
        consultation=consultation,
        author=staff,
        kind=NoteKind.NOTE,
        text="catatan",
        created_at=consultation.created_at,
    )
    sent.clear()
    with (
        mock.patch.object(frames.Outgoing, "of", wraps=frames.Outgoing.of) as serialise,
        django_capture_on_commit_callbacks(execute=True),
    ):
        publish.note_added(consultation, note)
        assert sent == []  # nothing before the commit
    assert serialise.call_count == 1
    assert [group for group, _, _ in sent] == [
        groups.GROUP_SUPERVISORS,
        groups.group_staff(staff.pk),
    ]
    first, second = (message for _, _, message in sent)
    assert first is second
    assert first["audience"] == groups.AUDIENCE_STAFF
    assert json.loads(first["text"]) == first["frame"]
    assert first["frame"]["type"] == "note"


def test_nothing_is_published_for_a_write_that_rolls_back(
    sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    make_topic()
    consultation = waiting_consultation()
    sent.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        publish.read_marked(consultation, role="applicant", seq=1)
        raise RuntimeError
    assert callbacks == []
    assert sent == []


def test_a_queue_change_sends_staff_a_bounded_snapshot_and_the_listeners_the_placing(
    sent: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.LOKET = {**settings.LOKET, "QUEUE_SNAPSHOT_ITEMS": 2}
    topic = make_topic()
    first = waiting_consultation()
    video = waiting_consultation(mode="video")
    third = waiting_consultation()
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        publish.queues_changed(topic_ids=[topic.pk])
    assert [group for group, _, _ in sent] == [
        groups.group_topic(topic.pk),
        "supervisors",
        groups.group_placing(topic.pk),
    ]
    snapshot = sent[0][2]
    assert [w["consultation_id"] for w in snapshot["frame"]["waiting"]] == [
        str(first.public_id),
        str(video.public_id),
    ]
    assert (snapshot["frame"]["waiting_count"], snapshot["frame"]["waiting_chats"]) == (3, 2)
    # No ids of the whole queue beside the staff frame: its size does not grow with the queue.
    assert not {"order", "chats", "videos", "modes"} & set(snapshot)
    placing = sent[2][2]
    assert (placing["chats"], placing["videos"]) == ([first.pk, third.pk], [video.pk])
    head = placing["frame"]
    assert head["type"] == "queue.placing" and head["topic_id"] == topic.pk
    assert head["video_since"] == snapshot["frame"]["waiting"][1]["waiting_since"]
    assert head["as_of"] == snapshot["frame"]["as_of"]
    # The ids travel beside the head, never in its text.
    assert "chats" not in json.loads(placing["text"])


def test_a_state_change_bumps_the_version_and_tells_each_audience_its_view(
    sent: Any, django_capture_on_commit_callbacks: Any
) -> None:
    make_topic()
    consultation = waiting_consultation()
    before = consultation.version
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        publish.consultation_changed(consultation)
    assert consultation.version == before + 1
    by_audience = {message["audience"]: frame for _, frame, message in sent}
    assert by_audience[groups.AUDIENCE_APPLICANT]["applicant_name"] is None
    assert by_audience[groups.AUDIENCE_STAFF]["applicant_name"] == "Ani"
    assert {frame["version"] for _, frame, _ in sent} == {before + 1}
