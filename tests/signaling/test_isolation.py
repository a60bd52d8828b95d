"""Nobody receives anything of a consultation that is not theirs, and nobody may signal into it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from consult.events import groups, publish
from consult.events.frames import ConsultationState, Outgoing
from consult.models import Consultation, TranscriptEntry
from tests.support.applicants import join
from tests.support.sockets import Ws, accepted, applicant_ws, drain, queues_settled, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


async def _nobody(outsiders: list[Ws]) -> None:
    quiet = await asyncio.gather(*(ws.nothing(0.3) for ws in outsiders))
    assert all(quiet), [i for i, q in enumerate(quiet) if not q]


async def _scene() -> dict[str, Any]:
    """Sari holds applicant Ani's consultation. Around them: applicant Budi waiting in the same
    topic, counselor Citra serving the same topic without holding it, counselor Dedi serving
    another topic."""
    topic = await sync_to_async(make_topic)()
    other_topic = await sync_to_async(make_topic)("health-permit")
    sari = await sync_to_async(make_staff)("sari", topics=[topic], capacity=1)
    citra = await sync_to_async(make_staff)("citra", topics=[topic])
    dedi = await sync_to_async(make_staff)("dedi", topics=[other_topic])
    joined = await sync_to_async(join)()
    applicant, counselor = await accepted(sari, joined)

    other_joined = await sync_to_async(join)(name="Budi")
    other_applicant = await applicant_ws(other_joined)
    await other_applicant.recv_until("queue.position")
    same_topic = await staff_ws(citra)
    other_topic_counselor = await staff_ws(dedi)
    await other_topic_counselor.send(id="s", type="status.set", status="available")
    await other_topic_counselor.recv_until("ack")
    outsiders = [other_applicant, same_topic, other_topic_counselor]
    # The queue changes above are published after their acks (the coalescer): wait for them.
    await queues_settled()
    await asyncio.gather(*(drain(ws) for ws in [*outsiders, counselor, applicant]))
    return {
        "cid": joined["consultation_id"],
        "other_cid": other_joined["consultation_id"],
        "applicant": applicant,
        "counselor": counselor,
        "outsiders": outsiders,
        "citra_id": citra.pk,
    }


async def _close(scene: dict[str, Any]) -> None:
    for ws in [scene["applicant"], scene["counselor"], *scene["outsiders"]]:
        await ws.close()


async def test_chat_typing_read_and_calls_reach_only_the_two_participants() -> None:
    scene = await _scene()
    cid, applicant, counselor = scene["cid"], scene["applicant"], scene["counselor"]
    outsiders = scene["outsiders"]

    await applicant.send(id="m1", type="chat.send", client_msg_id="a1", text="Rahasia")
    await counselor.recv_until("entry", text="Rahasia")
    await counselor.send(
        id="m2", type="chat.send", consultation_id=cid, client_msg_id="k1", text="Jawaban"
    )
    await applicant.recv_until("entry", text="Jawaban")
    await _nobody(outsiders)

    await applicant.send(type="typing", active=True)
    await counselor.recv_until("typing")
    await counselor.send(type="typing", consultation_id=cid, active=True)
    await applicant.recv_until("typing")
    await _nobody(outsiders)

    await counselor.send(id="r", type="read", consultation_id=cid, seq=3)
    await applicant.recv_until("read")
    await _nobody(outsiders)

    await applicant.send(id="c0", type="call.request")
    await counselor.recv_until("entry", event="call_requested")
    await counselor.send(id="c1", type="call.accept", consultation_id=cid)
    await applicant.recv_until("entry", event="call_started")
    await counselor.send(id="c2", type="call.end", consultation_id=cid)
    await applicant.recv_until("entry", event="call_ended")
    # The call's start and end change Sari's free places, so her topic's queue goes out again
    # (to Citra); nothing of the call itself.
    frames = [frame for ws in outsiders for frame in await drain(ws)]
    assert {frame["type"] for frame in frames} <= {"queue.snapshot"}, frames
    await _close(scene)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("rtc.offer", {"sdp": "v=0"}),
        ("rtc.answer", {"sdp": "v=0"}),
        ("rtc.ice", {"candidate": {"candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host"}}),
        ("rtc.hangup", {}),
    ],
)
async def test_rtc_relay_reaches_only_the_other_participant(
    kind: str, body: dict[str, Any]
) -> None:
    scene = await _scene()
    cid, applicant, counselor = scene["cid"], scene["applicant"], scene["counselor"]
    await applicant.send(type=kind, **body)
    assert (await counselor.recv())["type"] == kind
    await counselor.send(type=kind, consultation_id=cid, **body)
    assert (await applicant.recv())["type"] == kind
    await _nobody(scene["outsiders"])
    await _close(scene)


async def test_a_third_partys_rtc_offer_is_refused_and_relayed_to_nobody() -> None:
    scene = await _scene()
    cid, applicant, counselor = scene["cid"], scene["applicant"], scene["counselor"]
    other_applicant, same_topic, other_topic = scene["outsiders"]

    for number, ws in enumerate(scene["outsiders"]):
        await ws.send(id=f"x{number}", type="rtc.offer", consultation_id=cid, sdp="v=0 evil")
        error = await ws.recv()
        assert (error["type"], error["code"], error["id"]) == ("error", "forbidden", f"x{number}")
        await ws.send(id=f"t{number}", type="typing", consultation_id=cid, active=True)
        assert (await ws.recv())["code"] == "forbidden"
    # An applicant's own consultation, still waiting, has nobody to signal to.
    await other_applicant.send(id="own", type="rtc.offer", sdp="v=0")
    assert (await other_applicant.recv())["code"] == "invalid_state"
    await _nobody([applicant, counselor, same_topic, other_topic])
    await _close(scene)


async def test_outsiders_get_no_history_when_they_resume_someone_elses_consultation() -> None:
    scene = await _scene()
    cid = scene["cid"]
    for number, ws in enumerate(scene["outsiders"]):
        await ws.send(id=f"r{number}", type="resume", consultation_id=cid, last_seq=0)
        error = await ws.recv()
        assert (error["code"], error["id"]) == ("forbidden", f"r{number}")
    await _nobody(scene["outsiders"])
    count = await sync_to_async(TranscriptEntry.objects.filter(consultation__public_id=cid).count)()
    assert count == 2
    await _close(scene)


def _staff_state(public_id: str) -> tuple[int, ConsultationState]:
    consultation = Consultation.objects.select_related("topic", "counselor").get(
        public_id=public_id
    )
    return consultation.pk, ConsultationState.of(consultation, for_staff=True)


async def _to_staff(staff_id: int, internal: int, state: ConsultationState) -> None:
    """A state frame on a counselor's staff group, as a publisher sends it."""
    message = publish.layer_message(
        Outgoing.of(state), consultation_id=internal, audience=groups.AUDIENCE_STAFF
    )
    await get_channel_layer().group_send(groups.group_staff(staff_id), message)


async def test_an_overtaken_offer_frame_opens_nothing_to_the_counselor_it_named() -> None:
    # A counselor's connection decides from a state frame's own values whether it concerns
    # them, and asks the database only before following. Sari holds Ani's consultation; Citra's
    # connection gets frames that once offered it to her.
    scene = await _scene()
    cid, applicant, counselor = scene["cid"], scene["applicant"], scene["counselor"]
    citra = scene["outsiders"][1]
    internal, now = await sync_to_async(_staff_state)(cid)
    offered_to_citra = now.model_copy(
        update={"status": "offered", "counselor_id": scene["citra_id"], "counselor_name": None}
    )
    # Out of order: the newer state first (not hers), then the older offer: dropped.
    newer = now.model_copy(update={"version": now.version + 2})
    await _to_staff(scene["citra_id"], internal, newer)
    await _to_staff(
        scene["citra_id"],
        internal,
        offered_to_citra.model_copy(update={"version": now.version + 1}),
    )
    assert await citra.nothing(0.5)
    # An offer whose successor never reached her (the layer dropped it): the console shows it,
    # the database then says it is not hers, and nothing of the consultation follows.
    await _to_staff(
        scene["citra_id"],
        internal,
        offered_to_citra.model_copy(update={"version": now.version + 3}),
    )
    shown = await citra.recv_until("consultation.state", consultation_id=cid)
    assert shown["status"] == "offered"
    await applicant.send(id="m1", type="chat.send", client_msg_id="a1", text="Rahasia")
    await counselor.recv_until("entry", text="Rahasia")
    assert await citra.nothing(0.5)
    await citra.send(id="r", type="resume", consultation_id=cid, last_seq=0)
    assert (await citra.recv())["code"] == "forbidden"
    # The newer state that took it from her (here: back in the queue) takes it off her console,
    # once; later states of someone else's consultation are not hers to see.
    back = now.model_copy(
        update={"status": "waiting", "counselor_id": None, "version": now.version + 4}
    )
    await _to_staff(scene["citra_id"], internal, back)
    taken = await citra.recv_until("consultation.state", consultation_id=cid)
    assert (taken["status"], taken["version"]) == ("waiting", now.version + 4)
    await _to_staff(
        scene["citra_id"], internal, back.model_copy(update={"version": now.version + 5})
    )
    assert await citra.nothing(0.5)
    await _close(scene)
