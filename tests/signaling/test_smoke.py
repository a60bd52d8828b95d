import pytest

from tests.support.sockets import applicant_ws, counselor_and_applicant, staff_ws

pytestmark = pytest.mark.django_db(transaction=True)


async def test_join_offer_accept_chat_both_ways() -> None:
    _, staff, joined = await counselor_and_applicant()
    applicant = await applicant_ws(joined)
    first = await applicant.recv_until("entry")
    assert first["event"] == "joined" and first["seq"] == 1
    pos = await applicant.recv_until("queue.position")
    assert pos["position"] == 1
    counselor = await staff_ws(staff)
    await counselor.send(id="s1", type="status.set", status="available")
    offer = await counselor.recv_until("consultation.state", status="offered")
    cid = offer["consultation_id"]
    await counselor.send(id="a1", type="offer.accept", consultation_id=cid)
    await counselor.recv_until("ack", id="a1")
    joined_evt = await applicant.recv_until("entry", event="counselor_joined")
    assert joined_evt["seq"] == 2
    await applicant.send(id="m1", type="chat.send", client_msg_id="c-1", text="Halo")
    ack = await applicant.recv_until("ack", id="m1")
    assert ack["entry"]["seq"] == 3
    got = await counselor.recv_until("entry", seq=3)
    assert got["text"] == "Halo"
    await counselor.send(
        id="m2", type="chat.send", consultation_id=cid, client_msg_id="k-1", text="Selamat siang"
    )
    reply = await applicant.recv_until("entry", seq=4)
    assert reply["author_role"] == "counselor" and reply["author_name"] == "Sari"
    await applicant.close()
    await counselor.close()
