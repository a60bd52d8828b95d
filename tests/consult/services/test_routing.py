"""Routing rules, through the services: who is offered what, in which order, and how much."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from consult.models import Consultation, ConsultationStatus, DeclinedOffer, Mode, StaffProfile
from consult.services import calls, consultations, offers, presence, routing
from consult.services.routing import queue_dispatch
from tests.support.applicants import offered_with_a_free_colleague, reload, waiting_consultation
from tests.support.staff import counselor_online, make_staff, make_topic

pytestmark = pytest.mark.django_db


def _statuses(*consultations: Consultation) -> list[str]:
    return [reload(c).status for c in consultations]


def _held(staff: StaffProfile) -> list[int]:
    return list(
        Consultation.objects.filter(
            counselor=staff, status__in=[ConsultationStatus.OFFERED, ConsultationStatus.ACTIVE]
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _finish(staff: StaffProfile, consultation: Consultation) -> None:
    offers.offer_accept(staff=staff, consultation_id=consultation.pk)
    consultations.consultation_end(
        consultation_id=consultation.pk, ended_by="counselor", staff=staff
    )


def test_first_come_first_offered_within_a_topic(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic], capacity=1)
    first, second, third = (waiting_consultation(name=n) for n in ("Ani", "Budi", "Citra"))
    counselor_online(sari)
    assert _statuses(first, second, third) == ["offered", "waiting", "waiting"]
    _finish(sari, first)
    assert _statuses(second, third) == ["offered", "waiting"]
    _finish(sari, second)
    assert _statuses(third) == ["offered"]


def test_a_topic_nobody_serves_does_not_hold_up_another(topic: Any) -> None:
    make_topic("health-permit")
    sari = make_staff("sari", topics=[topic], capacity=1)
    elsewhere = waiting_consultation("health-permit")
    mine = waiting_consultation()
    counselor_online(sari)
    assert _statuses(elsewhere, mine) == ["waiting", "offered"]


def test_a_transferred_consultation_goes_to_the_front_of_its_new_queue(topic: Any) -> None:
    health = make_topic("health-permit")
    sari = make_staff("sari", topics=[topic], capacity=1)
    budi = make_staff("budi", topics=[health], capacity=1)
    counselor_online(budi, available=False)
    already_waiting = waiting_consultation("health-permit", name="Lama")
    counselor_online(sari)
    moving = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=moving.pk)

    consultations.consultation_transfer(
        staff=sari, consultation_id=moving.pk, topic_code="health-permit"
    )
    assert _statuses(moving, already_waiting) == ["waiting", "waiting"]
    presence.counselor_status_set(staff=budi, status="available")
    assert reload(moving).counselor_id == budi.pk
    assert _statuses(moving, already_waiting) == ["offered", "waiting"]


def test_a_transfer_to_a_colleague_is_offered_only_to_them(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    budi = make_staff("budi", topics=[topic])
    citra = make_staff("citra", topics=[topic])
    counselor_online(sari)
    consultation = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    counselor_online(citra)  # free and idle longest, but not the one named
    counselor_online(budi, available=False)

    consultations.consultation_transfer(
        staff=sari, consultation_id=consultation.pk, counselor_id=budi.pk
    )
    assert reload(consultation).status == "waiting"
    # A targeted consultation does not block the queue behind it.
    behind = waiting_consultation(name="Budi")
    assert reload(behind).counselor_id == citra.pk
    presence.counselor_status_set(staff=budi, status="available")
    assert reload(consultation).counselor_id == budi.pk


def test_the_counselor_idle_longest_is_offered_first(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    budi = make_staff("budi", topics=[topic])
    citra = make_staff("citra", topics=[topic])
    now = timezone.now()
    StaffProfile.objects.filter(pk=sari.pk).update(last_assigned_at=now - timedelta(minutes=1))
    StaffProfile.objects.filter(pk=budi.pk).update(last_assigned_at=now - timedelta(minutes=9))
    for staff in (sari, budi, citra):
        counselor_online(staff)
    # Never assigned counts as idle longest; then the oldest assignment; then round again.
    order = [reload(waiting_consultation(name=f"A{n}")).counselor_id for n in range(4)]
    assert order == [citra.pk, budi.pk, sari.pk, citra.pk]


def test_capacity_is_never_exceeded(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])  # default capacity 3
    assert sari.capacity == 3
    queue = [waiting_consultation(name=f"A{n}") for n in range(5)]
    counselor_online(sari)
    assert _held(sari) == [c.pk for c in queue[:3]]
    assert queue_dispatch() == []
    for consultation in queue[:3]:
        offers.offer_accept(staff=sari, consultation_id=consultation.pk)
    assert queue_dispatch() == [] and len(_held(sari)) == 3
    consultations.consultation_end(consultation_id=queue[0].pk, ended_by="counselor", staff=sari)
    assert _held(sari) == [c.pk for c in queue[1:4]]
    assert _statuses(queue[4]) == ["waiting"]


def test_a_video_consultation_takes_the_whole_capacity(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    video = waiting_consultation(mode=Mode.VIDEO)
    chat = waiting_consultation(name="Budi")
    counselor_online(sari)
    assert _held(sari) == [video.pk]
    assert _statuses(chat) == ["waiting"]


def test_a_video_consultation_waits_for_a_counselor_with_nothing_else(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    budi = make_staff("budi", topics=[topic])
    counselor_online(sari)
    chat = waiting_consultation()
    assert reload(chat).counselor_id == sari.pk
    video = waiting_consultation(mode=Mode.VIDEO, name="Budi")
    assert reload(video).status == "waiting"  # Sari has room for chats, not for a video
    counselor_online(budi)
    assert reload(video).counselor_id == budi.pk


def test_a_chat_in_a_call_takes_the_whole_capacity(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    chat = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=chat.pk)
    calls.call_request(consultation_id=chat.pk, by_role="counselor", staff=sari, audio_only=False)
    calls.call_accept(consultation_id=chat.pk, by_role="applicant")
    behind = waiting_consultation(name="Budi")
    assert reload(behind).status == "waiting"
    calls.call_end(consultation_id=chat.pk, by_role="counselor", staff=sari)
    assert reload(behind).counselor_id == sari.pk


def test_a_declined_offer_goes_to_another_counselor_not_back(topic: Any) -> None:
    sari, budi, consultation = offered_with_a_free_colleague(topic)
    assert reload(consultation).counselor_id == sari.pk
    offers.offer_decline(staff=sari, consultation_id=consultation.pk)
    assert reload(consultation).counselor_id == budi.pk
    offers.offer_decline(staff=budi, consultation_id=consultation.pk)
    # Both passed: it waits, keeping its place, rather than bouncing between them.
    declined = reload(consultation)
    assert (declined.status, declined.counselor_id, declined.priority) == ("waiting", None, 0)
    behind = waiting_consultation(name="Budi")
    assert reload(behind).status == "offered"


def test_a_declined_offer_returns_after_the_cooldown(topic: Any, settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "DECLINE_COOLDOWN": 0}
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    consultation = waiting_consultation()
    offers.offer_decline(staff=sari, consultation_id=consultation.pk)
    assert reload(consultation).counselor_id == sari.pk


def test_only_available_connected_counselors_are_offered(topic: Any) -> None:
    away = make_staff("away", topics=[topic])
    gone = make_staff("gone", topics=[topic])
    supervisor = make_staff("dewi", role="supervisor", topics=[topic])
    counselor_online(away, available=False)
    presence.counselor_status_set(staff=away, status="away")
    # Available, but no live connection.
    StaffProfile.objects.filter(pk=gone.pk).update(status="available")
    StaffProfile.objects.filter(pk=supervisor.pk).update(status="available")
    counselor_online(supervisor, available=False)
    consultation = waiting_consultation()
    assert queue_dispatch() == []
    assert reload(consultation).status == "waiting"


def test_a_transfer_within_ones_own_topics_goes_to_a_colleague_not_back(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic], capacity=2)
    budi = make_staff("budi", topics=[topic], capacity=2)
    counselor_online(budi, available=False)
    counselor_online(sari)
    moving = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=moving.pk)

    consultations.consultation_transfer(
        staff=sari, consultation_id=moving.pk, topic_code=topic.code
    )
    # Sari still has room, but she just handed it on: it waits for someone else.
    assert reload(moving).status == "waiting"
    presence.counselor_status_set(staff=budi, status="available")
    assert reload(moving).counselor_id == budi.pk


# ------------------------------------------------------------ chats and videos in one topic


def test_a_chat_passes_a_video_nobody_could_take_and_fifo_holds_per_mode(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic], capacity=3)
    counselor_online(sari)
    held = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    first_video = waiting_consultation(mode=Mode.VIDEO, name="Budi")
    second_video = waiting_consultation(mode=Mode.VIDEO, name="Citra")
    chat = waiting_consultation(name="Dewi")
    # Sari has two chat places free but is not free for a video: the chat goes ahead of both.
    assert _statuses(first_video, second_video, chat) == ["waiting", "waiting", "offered"]
    offers.offer_accept(staff=sari, consultation_id=chat.pk)
    for consultation in (held, chat):
        consultations.consultation_end(
            consultation_id=consultation.pk, ended_by="counselor", staff=sari
        )
    # Fully free now: the videos come in their own order, one at a time.
    assert _statuses(first_video, second_video) == ["offered", "waiting"]


def test_a_video_that_waited_too_long_keeps_the_next_counselor_to_free_fully(
    topic: Any, settings: Any
) -> None:
    sari = make_staff("sari", topics=[topic], capacity=3)
    budi = make_staff("budi", topics=[topic], capacity=2)
    counselor_online(sari)
    held = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    video = waiting_consultation(mode=Mode.VIDEO, name="Budi")
    early = waiting_consultation(name="Eka")
    assert _statuses(video, early) == ["waiting", "offered"]  # within the bound: chats pass
    offers.offer_accept(staff=sari, consultation_id=early.pk)
    # Past the bound the video reserves Sari: her free chat place is not offered any more, so
    # she drains to fully free.
    settings.LOKET = {**settings.LOKET, "VIDEO_RESERVE_AFTER": 0}
    chat = waiting_consultation(name="Citra")
    assert _statuses(video, chat) == ["waiting", "waiting"]
    for consultation in (held, early):
        consultations.consultation_end(
            consultation_id=consultation.pk, ended_by="counselor", staff=sari
        )
    assert (reload(video).status, reload(video).counselor_id) == ("offered", sari.pk)
    # A colleague with room takes the chat that waited behind it.
    counselor_online(budi)
    assert (reload(chat).status, reload(chat).counselor_id) == ("offered", budi.pk)


def test_a_reserved_counselor_is_released_when_a_colleague_takes_the_video(
    topic: Any, settings: Any
) -> None:
    settings.LOKET = {**settings.LOKET, "VIDEO_RESERVE_AFTER": 0}
    sari = make_staff("sari", topics=[topic], capacity=2)
    budi = make_staff("budi", topics=[topic], capacity=2)
    counselor_online(sari)
    held = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    video = waiting_consultation(mode=Mode.VIDEO, name="Budi")
    chat = waiting_consultation(name="Citra")
    assert _statuses(video, chat) == ["waiting", "waiting"]
    # Budi arrives fully free: he takes the video and, in the same pass, Sari's place goes to
    # the chat.
    counselor_online(budi)
    assert reload(video).counselor_id == budi.pk
    assert reload(chat).counselor_id == sari.pk


def test_the_estimate_is_per_mode_and_counts_only_usable_places(topic: Any, settings: Any) -> None:
    from consult.selectors.queue import queue_position

    sari = make_staff("sari", topics=[topic], capacity=3)
    counselor_online(sari)
    held = waiting_consultation()
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    video = waiting_consultation(mode=Mode.VIDEO, name="Budi")
    frame = queue_position(consultation=reload(video))
    assert frame is not None and frame["position"] == 1
    # Two chat places are free, but none for a video: at least one handling time (300 s), never
    # "under a minute".
    assert frame["estimated_wait_seconds"] >= 300
    consultations.consultation_end(consultation_id=held.pk, ended_by="counselor", staff=sari)
    assert reload(video).status == "offered"

    # Chats count chat places: Sari holds the video, so a chat waits one handling time / 3.
    chat = waiting_consultation(name="Citra")
    chat_frame = queue_position(consultation=reload(chat))
    assert chat_frame is not None and chat_frame["position"] == 1
    assert chat_frame["estimated_wait_seconds"] > 0


# ------------------------------------------------------------ long queues


def _long_queue(topic: Any, count: int) -> list[int]:
    """``count`` consultations waiting in ``topic`` for an hour already (older than any joined
    now), oldest first; their ids."""
    start = timezone.now() - timedelta(hours=1)
    Consultation.objects.bulk_create(
        Consultation(
            topic=topic,
            applicant_name=f"A{n}",
            queued_at=start + timedelta(milliseconds=n),
            token_nonce="long-queue",
        )
        for n in range(count)
    )
    return list(
        Consultation.objects.filter(topic=topic, status=ConsultationStatus.WAITING)
        .order_by("queued_at")
        .values_list("pk", flat=True)
    )


@pytest.mark.parametrize("mode", [Mode.CHAT, Mode.VIDEO])
def test_a_topic_is_served_while_another_has_thousands_waiting(
    topic: Any, mode: str, django_assert_max_num_queries: Any
) -> None:
    health = make_topic("health-permit")
    sari = make_staff("sari", topics=[topic], capacity=1)
    budi = make_staff("budi", topics=[health])
    queue = _long_queue(topic, 3000)
    only_one = waiting_consultation("health-permit", mode=mode)
    for staff in (sari, budi):
        counselor_online(staff, available=False)
    StaffProfile.objects.filter(pk__in=[sari.pk, budi.pk]).update(status="available")
    # One pass, a handful of queries whatever the length of the other queue: the head of each.
    with django_assert_max_num_queries(30):
        offered = queue_dispatch()
    assert sorted(offered) == sorted([queue[0], only_one.pk])
    assert reload(only_one).counselor_id == budi.pk
    # FIFO in the long queue: Sari's next place goes to the second oldest.
    _finish(sari, Consultation.objects.get(pk=queue[0]))
    assert _held(sari) == [queue[1]]


def test_heads_passed_for_a_decline_do_not_keep_the_next_one_waiting(topic: Any) -> None:
    sari = make_staff("sari", topics=[topic], capacity=1)
    counselor_online(sari)
    declined = []
    for name in ("Ani", "Budi", "Citra"):
        consultation = waiting_consultation(name=name)
        assert reload(consultation).counselor_id == sari.pk
        offers.offer_decline(staff=sari, consultation_id=consultation.pk)
        declined.append(consultation)
    # Three heads Sari declined, in their cooldown, before her one free place: the fourth gets it.
    fourth = waiting_consultation(name="Dewi")
    assert _statuses(*declined, fourth) == ["waiting", "waiting", "waiting", "offered"]


def test_a_transfer_to_a_colleague_kept_for_a_video_waits_until_the_video_is_placed(
    topic: Any, settings: Any
) -> None:
    sari = make_staff("sari", topics=[topic], capacity=2)
    budi = make_staff("budi", topics=[topic], capacity=3)
    citra = make_staff("citra", topics=[topic], capacity=2)
    counselor_online(budi)
    moving, *others = (waiting_consultation(name=n) for n in ("Ani", "Eka", "Fajar"))
    counselor_online(sari)
    held = waiting_consultation(name="Dewi")
    for consultation in (moving, *others):
        offers.offer_accept(staff=budi, consultation_id=consultation.pk)
    offers.offer_accept(staff=sari, consultation_id=held.pk)
    # Past the bound the video keeps Sari, the least loaded: not even a transfer named to her
    # is offered to her.
    settings.LOKET = {**settings.LOKET, "VIDEO_RESERVE_AFTER": 0}
    video = waiting_consultation(mode=Mode.VIDEO, name="Budi")
    consultations.consultation_transfer(staff=budi, consultation_id=moving.pk, counselor_id=sari.pk)
    assert _statuses(video, moving) == ["waiting", "waiting"]
    # Citra arrives fully free and takes the video; in the same pass Sari is free for chats
    # again and gets the transfer.
    counselor_online(citra)
    assert reload(video).counselor_id == citra.pk
    assert reload(moving).counselor_id == sari.pk


def _random_office(rng: random.Random) -> None:
    """Topics, available connected counselors with some load, waiting chats and videos (some
    requeued, some named to a colleague, some past the video bound) and recent declines."""
    now = timezone.now()
    topics = [make_topic(f"topic-{n}") for n in range(rng.randint(1, 3))]
    staff = []
    for n in range(rng.randint(1, 4)):
        served = rng.sample(topics, rng.randint(1, len(topics)))
        member = make_staff(f"staff{n}", topics=served, capacity=rng.randint(1, 3))
        counselor_online(member, available=False)
        last = None if rng.random() < 0.3 else now - timedelta(seconds=rng.randint(1, 999))
        StaffProfile.objects.filter(pk=member.pk).update(status="available", last_assigned_at=last)
        staff.append(member)
        for _ in range(rng.randint(0, member.capacity)):
            Consultation.objects.create(
                topic=rng.choice(served),
                applicant_name="Held",
                queued_at=now,
                token_nonce="held",
                status=rng.choice(["active", "offered"]),
                counselor=member,
                mode=rng.choice([Mode.CHAT, Mode.CHAT, Mode.VIDEO]),
                in_call=rng.random() < 0.1,
            )
    for _ in range(rng.randint(0, 25)):
        consultation = Consultation.objects.create(
            topic=rng.choice(topics),
            applicant_name="Waiting",
            token_nonce="waiting",
            queued_at=now - timedelta(seconds=rng.choice([rng.randint(0, 300), 50, 200])),
            mode=rng.choice([Mode.CHAT, Mode.CHAT, Mode.VIDEO]),
            priority=1 if rng.random() < 0.2 else 0,
            target_counselor=rng.choice(staff) if rng.random() < 0.2 else None,
        )
        for member in staff:
            if rng.random() < 0.15:
                DeclinedOffer.objects.create(
                    consultation=consultation,
                    counselor=member,
                    at=now - timedelta(seconds=rng.choice([5, 100])),
                )


def _decisions() -> dict[int, int | None]:
    """What one pass would offer to whom (undone afterwards)."""
    savepoint = transaction.savepoint()
    offered = queue_dispatch()
    decided = dict(Consultation.objects.filter(pk__in=offered).values_list("pk", "counselor_id"))
    transaction.savepoint_rollback(savepoint)
    return decided


@pytest.mark.parametrize("seed", range(200))
def test_reading_only_the_heads_decides_as_a_walk_of_the_whole_queue(
    topic: Any, seed: int, monkeypatch: Any
) -> None:
    _random_office(random.Random(seed))
    decided = _decisions()

    def everyone(**_: Any) -> list[Consultation]:
        return list(
            Consultation.objects.filter(status=ConsultationStatus.WAITING)
            .select_related("topic")
            .order_by("-priority", "queued_at", "pk")
        )

    def every_video(**_: Any) -> list[Consultation]:
        return [c for c in everyone() if c.mode == Mode.VIDEO]

    monkeypatch.setattr(routing, "waiting_heads", everyone)
    monkeypatch.setattr(routing, "video_heads", every_video)
    assert decided == _decisions()
