"""transcript_append: gapless sequence numbers and idempotent client_msg_id, including repeats
that race each other and repeats that arrive after the consultation changed."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from consult.errors import ClientMsgIdReused, Forbidden, InvalidInput, InvalidState, NotFound
from consult.models import Consultation, StaffProfile, TranscriptEntry
from consult.services import consultations
from consult.services.transcript import transcript_append_many
from tests.support.applicants import active_consultation, reload, say
from tests.support.needs import postgres_url
from tests.support.staff import make_staff, make_topic

# Each rule both inside a caller's transaction (the general path: lock, check, insert) and in
# autocommit, where on PostgreSQL a message is one statement (and a refusal falls back to the
# general path to say why).
BOTH_PATHS = pytest.mark.parametrize(
    "db",
    [
        pytest.param("in a transaction", marks=pytest.mark.django_db),
        pytest.param("autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)


def _seqs(consultation: Consultation) -> list[int]:
    return list(
        TranscriptEntry.objects.filter(consultation=consultation)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def _gapless(consultation: Consultation) -> bool:
    seqs = _seqs(consultation)
    return (
        seqs == list(range(1, len(seqs) + 1)) == list(range(1, reload(consultation).last_seq + 1))
    )


@BOTH_PATHS
def test_a_repeat_returns_the_stored_entry_and_takes_no_sequence_number(
    db: str,
    sari: StaffProfile,
) -> None:
    consultation = active_consultation(sari)
    first, created = say(consultation, "m-1", "Halo")
    repeat, repeat_created = say(consultation, "m-1", "Halo")
    after, _ = say(consultation, "m-2")
    assert (created, repeat_created) == (True, False)
    assert (repeat.pk, repeat.seq, repeat.text) == (first.pk, first.seq, "Halo")
    assert str(repeat.consultation.public_id) == str(consultation.public_id)
    assert after.seq == first.seq + 1
    assert _gapless(consultation)


@BOTH_PATHS
def test_the_same_client_msg_id_with_other_text_is_refused_and_takes_no_number(
    db: str,
    sari: StaffProfile,
) -> None:
    consultation = active_consultation(sari)
    first, _ = say(consultation, "m-1", "Halo")
    with pytest.raises(ClientMsgIdReused):
        say(consultation, "m-1", "Halo (lagi)")
    after, _ = say(consultation, "m-2")
    assert after.seq == first.seq + 1
    assert (
        TranscriptEntry.objects.get(consultation=consultation, client_msg_id="m-1").text == "Halo"
    )
    assert _gapless(consultation)


@BOTH_PATHS
def test_a_repeat_after_the_consultation_ended_still_gets_its_entry(
    db: str, sari: StaffProfile
) -> None:
    consultation = active_consultation(sari)
    sent, _ = say(consultation, "sebelum")
    consultations.consultation_end(consultation_id=consultation.pk, ended_by="applicant")
    repeat, created = say(consultation, "sebelum")
    assert (repeat.pk, created) == (sent.pk, False)
    with pytest.raises(InvalidState):
        say(consultation, "sesudah")
    assert _gapless(consultation)


@BOTH_PATHS
def test_a_counselors_repeat_after_a_transfer_still_gets_its_entry(
    db: str, sari: StaffProfile
) -> None:
    make_topic("health-permit")
    consultation = active_consultation(sari)
    sent, _ = say(consultation, "k-1", "Saya teruskan", by=sari)
    consultations.consultation_transfer(
        staff=sari, consultation_id=consultation.pk, topic_code="health-permit"
    )
    repeat, created = say(consultation, "k-1", "Saya teruskan", by=sari)
    assert (repeat.pk, created) == (sent.pk, False)
    with pytest.raises(Forbidden):
        say(consultation, "k-2", "Masih di sini?", by=sari)
    assert _gapless(consultation)


@BOTH_PATHS
def test_refusals_take_no_sequence_number(db: str, sari: StaffProfile) -> None:
    consultation = active_consultation(sari)
    say(consultation, "m-1")
    with pytest.raises(InvalidInput):  # another author reusing the id
        say(consultation, "m-1", "Saya juga", by=sari)
    other = make_staff("budi")
    with pytest.raises(Forbidden):
        say(consultation, "b-1", "Bukan milik saya", by=other)
    with pytest.raises(NotFound):
        say(consultation.pk + 1000, "x", "?")
    after, _ = say(consultation, "m-2")
    assert after.seq == reload(consultation).last_seq
    assert _gapless(consultation)


@pytest.mark.django_db(transaction=True)
def test_the_same_message_sent_twice_at_once_is_stored_once(sari: StaffProfile) -> None:
    """Two connections send the same client_msg_id while the row is locked: both get the one
    stored entry, and no sequence number is lost (PostgreSQL: real row locks)."""
    postgres_url()
    consultation = active_consultation(sari)
    results: list[tuple[int, int, bool]] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            entry, created = say(consultation, "kembar")
            results.append((entry.pk, entry.seq, created))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        # Hold the consultation's row lock so both senders queue on it.
        Consultation.objects.select_for_update().get(pk=consultation.pk)
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while _lock_waiters() < 2:
            assert time.monotonic() < deadline, "the senders never queued on the row lock"
            time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=10)
    assert not errors, errors
    assert sorted(created for _, _, created in results) == [False, True]
    assert len({(pk, seq) for pk, seq, _ in results}) == 1
    assert TranscriptEntry.objects.filter(client_msg_id="kembar").count() == 1
    assert _gapless(consultation)


def _lock_waiters() -> int:
    """Backends of this database waiting for a lock."""
    with connection.cursor() as cursor:
        # Activity is read once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.django_db(transaction=True)
def test_a_chat_message_is_one_statement_on_postgresql_and_is_committed(
    sari: StaffProfile,
) -> None:
    postgres_url()
    consultation = active_consultation(sari)
    with CaptureQueriesContext(connection) as queries:
        entry, created = say(consultation, "satu", "Satu pernyataan", by=sari)
    assert created
    assert len(queries.captured_queries) == 1, queries.captured_queries
    # Committed when the call returned: another connection sees it.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT seq, text, author_id FROM consult_transcriptentry WHERE id = %s",
                [entry.pk],
            )
            assert cursor.fetchone() == (entry.seq, "Satu pernyataan", sari.pk)
    finally:
        other.close()
    assert entry.seq == reload(consultation).last_seq
    assert (entry.consultation.public_id, entry.author) == (consultation.public_id, sari)
    assert _gapless(consultation)


def _many(
    consultation: Consultation, messages: list[tuple[str, str]], by: StaffProfile | None = None
) -> list[tuple[TranscriptEntry, bool] | Exception]:
    return transcript_append_many(
        consultation_id=consultation.pk,
        author_role="applicant" if by is None else "counselor",
        author=by,
        messages=messages,
    )


@pytest.mark.django_db(transaction=True)
def test_messages_that_piled_up_are_one_statement_on_postgresql_in_order(
    sari: StaffProfile,
) -> None:
    postgres_url()
    consultation = active_consultation(sari)
    before = reload(consultation).last_seq
    sent = [(f"pesan {i}", f"b-{i}") for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        results = _many(consultation, sent, by=sari)
    assert len(queries.captured_queries) == 1, queries.captured_queries
    stored = [result for result in results if not isinstance(result, Exception)]
    assert [created for _, created in stored] == [True] * 5
    assert [(e.seq, e.text, e.client_msg_id) for e, _ in stored] == [
        (before + 1 + i, text, msg_id) for i, (text, msg_id) in enumerate(sent)
    ]
    assert all(str(e.consultation.public_id) == str(consultation.public_id) for e, _ in stored)
    assert _seqs(consultation)[-5:] == [e.seq for e, _ in stored]
    assert _gapless(consultation)


@BOTH_PATHS
def test_each_message_of_a_pile_gets_what_it_would_get_alone(db: str, sari: StaffProfile) -> None:
    """A repeat (stored before, and twice in the pile), a reused id with other text and an
    empty message among new ones: the statement for all cannot take them, so each goes on its
    own, and sequence numbers stay gapless."""
    consultation = active_consultation(sari)
    earlier, _ = say(consultation, "r-0", "sudah ada")
    results = _many(
        consultation,
        [
            ("baru satu", "r-1"),
            ("sudah ada", "r-0"),
            ("baru dua", "r-2"),
            ("baru dua", "r-2"),
            ("lain", "r-0"),
            ("   ", "r-3"),
            ("baru tiga", "r-4"),
        ],
    )
    new_1, repeat, new_2, twice, reused, empty, new_3 = results
    assert not isinstance(new_1, Exception) and new_1[1] is True
    assert not isinstance(repeat, Exception)
    assert (repeat[0].pk, repeat[1]) == (earlier.pk, False)
    assert not isinstance(new_2, Exception) and not isinstance(twice, Exception)
    assert (twice[0].pk, twice[1]) == (new_2[0].pk, False)
    assert isinstance(reused, ClientMsgIdReused)
    assert isinstance(empty, InvalidInput)
    assert not isinstance(new_3, Exception)
    assert [new_1[0].seq, new_2[0].seq, new_3[0].seq] == [
        earlier.seq + 1,
        earlier.seq + 2,
        earlier.seq + 3,
    ]
    assert _gapless(consultation)


@BOTH_PATHS
def test_a_pile_for_a_consultation_the_author_may_not_write_to_is_refused_each(
    db: str, sari: StaffProfile
) -> None:
    consultation = active_consultation(sari)
    budi = make_staff("budi", topics=[consultation.topic])
    results = _many(consultation, [("bukan milik saya", "x-1"), ("dua", "x-2")], by=budi)
    assert all(isinstance(result, Forbidden) for result in results)
    assert _gapless(consultation)
