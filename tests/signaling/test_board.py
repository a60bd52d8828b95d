"""The supervisor's board over the staff socket: a snapshot on connect, then live frames."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from consult.models import StaffRole
from tests.support.applicants import join
from tests.support.sockets import accepted, applicant_ws, counselor_and_applicant, drain, staff_ws
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


async def test_supervisor_gets_the_board_then_live_changes() -> None:
    building = await sync_to_async(make_topic)("building-approval")
    health = await sync_to_async(make_topic)("health-permit")
    sari = await sync_to_async(make_staff)("sari", topics=[building, health], capacity=2)
    budi = await sync_to_async(make_staff)("budi", topics=[health])
    dewi = await sync_to_async(make_staff)("dewi", role=StaffRole.SUPERVISOR)
    # Before the supervisor connects: Budi holds an active consultation in health-permit.
    first = await sync_to_async(join)(topic="health-permit", name="Ani")
    applicant, budi_ws = await accepted(budi, first)

    supervisor = await staff_ws(dewi)
    board = await supervisor.recv_until("board")
    assert [t["code"] for t in board["topics"]] == ["building-approval", "health-permit"]
    assert {q["topic"]: q["waiting"] for q in board["queues"]} == {
        "building-approval": [],
        "health-permit": [],
    }
    assert "order" not in board["queues"][0]
    counselors = {c["name"]: c for c in board["counselors"]}
    assert set(counselors) == {"Sari", "Budi"}  # supervisors are not on the board
    assert counselors["Budi"]["status"] == "available"
    assert counselors["Sari"] == {
        "counselor_id": sari.pk,
        "name": "Sari",
        "status": "offline",
        "capacity": 2,
        "topics": ["building-approval", "health-permit"],
    }
    assert board["consultations"] == [
        {
            "consultation_id": first["consultation_id"],
            "topic": "health-permit",
            "status": "active",
            "mode": "chat",
            "in_call": False,
            "counselor_id": budi.pk,
        }
    ]
    # No applicant's name or contact on the board.
    assert "Ani" not in str(board) and "0812" not in str(board)
    await drain(supervisor)

    # An applicant joins building-approval: the queue changes live.
    second = await sync_to_async(join)(topic="building-approval", name="Citra")
    snapshot = await supervisor.recv_until("queue.snapshot", topic="building-approval")
    assert [w["consultation_id"] for w in snapshot["waiting"]] == [second["consultation_id"]]
    assert snapshot["waiting"][0]["waiting_since"]
    waiting = await applicant_ws(second)

    # Sari goes available: her status, the offer to her (with her id), the emptied queue.
    sari_ws = await staff_ws(sari)
    await sari_ws.send(id="a", type="status.set", status="available")
    status = await supervisor.recv_until("counselor.status", counselor_id=sari.pk)
    assert status["status"] == "available"
    offered = await supervisor.recv_until(
        "consultation.state", consultation_id=second["consultation_id"]
    )
    assert (offered["status"], offered["counselor_id"]) == ("offered", sari.pk)
    # The state frame goes out as the offer commits; the topic's snapshots leave from the
    # process's coalescer, so one read just before the offer (Citra still waiting) may arrive
    # after it. The one read after it follows within the coalescing interval.
    emptied = await supervisor.recv_until("queue.snapshot", topic="building-approval", waiting=[])
    assert emptied["waiting_count"] == 0

    # She accepts: the consultation is active on the board.
    await sari_ws.recv_until("consultation.state", status="offered")
    await sari_ws.send(id="acc", type="offer.accept", consultation_id=second["consultation_id"])
    active = await supervisor.recv_until(
        "consultation.state", consultation_id=second["consultation_id"], status="active"
    )
    assert active["counselor_id"] == sari.pk

    for ws in (applicant, budi_ws, supervisor, waiting, sari_ws):
        await ws.close()


async def test_counselors_and_applicants_get_no_board_and_no_counselor_id() -> None:
    _, sari, joined = await counselor_and_applicant()
    applicant, counselor = await accepted(sari, joined)
    frames = await drain(counselor)
    assert "board" not in {f["type"] for f in frames}
    await counselor.send(
        id="end", type="consultation.end", consultation_id=joined["consultation_id"]
    )
    state = await applicant.recv_until("consultation.state", status="ended")
    assert state["counselor_id"] is None
    staff_state = await counselor.recv_until("consultation.state", status="ended")
    assert staff_state["counselor_id"] == sari.pk
    await applicant.close()
    await counselor.close()
