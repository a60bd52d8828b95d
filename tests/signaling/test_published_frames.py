"""A published frame reaches every connection as its publisher serialised it: consumers forward
its text, they do not build or validate it again per recipient."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from consult.events import frames, groups
from consult.models import Consultation
from tests.support.sockets import Ws, accepted, counselor_and_applicant, drain, staff_ws
from tests.support.staff import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def _internal_id(public_id: str) -> int:
    return int(Consultation.objects.values_list("pk", flat=True).get(public_id=public_id))


async def _active_chat() -> tuple[str, int, Ws, Ws]:
    """An active consultation with both sides' sockets drained: its public id, its internal id,
    the applicant's socket and the counselor's."""
    _, staff, joined = await counselor_and_applicant()
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    await drain(applicant)
    await drain(counselor)
    return cid, await sync_to_async(_internal_id)(cid), applicant, counselor


async def _publish(internal: int, **event: Any) -> None:
    """A frame event on the consultation's group (to all its connections), as a publisher
    sends it: ``event`` holds the frame and, from this release on, its text."""
    await get_channel_layer().group_send(
        groups.group_consultation(internal),
        {
            "type": groups.FRAME_EVENT,
            **event,
            "consultation_id": internal,
            "audience": groups.AUDIENCE_ALL,
        },
    )


async def test_a_message_to_three_connections_is_serialised_once() -> None:
    _, staff, joined = await counselor_and_applicant()
    supervisor = await sync_to_async(make_staff)("budi", role="supervisor")
    cid = joined["consultation_id"]
    applicant, counselor = await accepted(staff, joined)
    board = await staff_ws(supervisor)
    second_tab = await staff_ws(staff)
    # A new connection gets a consultation's entries once it said what it has.
    await second_tab.send(id="r", type="resume", consultation_id=cid, last_seq=0)
    await second_tab.recv_until("ack", id="r")
    for ws in (applicant, counselor, board, second_tab):
        await drain(ws)
    with mock.patch.object(frames.Outgoing, "of", wraps=frames.Outgoing.of) as serialise:
        await applicant.send(
            id="m", type="chat.send", consultation_id=cid, client_msg_id="c1", text="halo"
        )
        await applicant.recv_until("ack", id="m")
        for ws in (counselor, second_tab):
            entry = await ws.recv_until("entry", consultation_id=cid)
            assert entry["text"] == "halo"
    assert serialise.call_count == 1
    for ws in (applicant, counselor, board, second_tab):
        await ws.close()


async def test_consumers_forward_the_published_text_as_is() -> None:
    cid, internal, applicant, counselor = await _active_chat()
    frame = {"type": "read", "consultation_id": cid, "role": "counselor", "seq": 1}
    # A text that differs from the frame's values (a field no model has): whatever a consumer
    # forwards is the publisher's text, not something it rebuilt.
    text = json.dumps({**frame, "x": 7})
    await _publish(internal, frame=frame, text=text)
    for ws in (applicant, counselor):
        received = await ws.recv_until("read", consultation_id=cid)
        assert received["x"] == 7
    await applicant.close()
    await counselor.close()


async def test_a_frame_from_a_process_of_the_earlier_release_is_still_forwarded() -> None:
    # During a rolling upgrade a process of the earlier release publishes the frame's values
    # only (no serialised text); a connection on a new process still forwards it, validated.
    cid, internal, applicant, counselor = await _active_chat()
    await _publish(
        internal, frame={"type": "read", "consultation_id": cid, "role": "counselor", "seq": 1}
    )
    for ws in (applicant, counselor):
        received = await ws.recv_until("read", consultation_id=cid)
        assert received == {"type": "read", "consultation_id": cid, "role": "counselor", "seq": 1}
    await applicant.close()
    await counselor.close()
