"""Transcript search: every filter, who sees what, pagination, and the read still recorded."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from consult.models import (
    AuthorRole,
    Consultation,
    ConsultationStatus,
    EntryKind,
    Outcome,
    StaffProfile,
    StaffRole,
    Topic,
    TranscriptAccess,
    TranscriptEntry,
)
from consult.selectors.transcript import TranscriptQuery, transcript_search
from tests.support.staff import make_staff, make_topic, staff_client

pytestmark = pytest.mark.django_db

JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    # The office day the tests call today: 10 March 2026 in Jakarta.
    monkeypatch.setattr("consult.selectors.figures.office_today", lambda: date(2026, 3, 10))
    monkeypatch.setattr("consult.selectors.transcript.office_today", lambda: date(2026, 3, 10))


def closed(
    topic: Topic,
    *,
    day: date,
    counselor: StaffProfile | None,
    words: str,
    outcome: str = "",
    rating: int | None = None,
    name: str = "Ani",
) -> Consultation:
    created = datetime(day.year, day.month, day.day, 9, 0, tzinfo=JAKARTA)
    c = Consultation.objects.create(
        topic=topic,
        applicant_name=name,
        status=ConsultationStatus.ENDED if counselor else ConsultationStatus.ABANDONED,
        counselor=counselor,
        queued_at=created,
        first_accepted_at=created + timedelta(seconds=20) if counselor else None,
        ended_at=created + timedelta(minutes=5),
        outcome=outcome,
        token_nonce="n",
        last_seq=2,
    )
    Consultation.objects.filter(pk=c.pk).update(created_at=created, rating=rating)
    TranscriptEntry.objects.create(
        consultation=c,
        seq=1,
        kind=EntryKind.MESSAGE,
        author_role=AuthorRole.APPLICANT,
        text=words,
        created_at=created,
    )
    TranscriptEntry.objects.create(
        consultation=c,
        seq=2,
        kind=EntryKind.EVENT,
        author_role=AuthorRole.SYSTEM,
        event="ended",
        data={"by": "counselor", "reason": "answered"},
        created_at=created + timedelta(minutes=5),
    )
    return c


@pytest.fixture
def office() -> dict[str, Any]:
    building = make_topic("building-approval")
    health = make_topic("health-permit")
    sari = make_staff("sari", topics=[building, health])
    budi = make_staff("budi", topics=[health])
    dewi = make_staff("dewi", role=StaffRole.SUPERVISOR)
    today = date(2026, 3, 10)
    c = {
        "garage": closed(
            building,
            name="garage",
            day=today,
            counselor=sari,
            words="Apakah garasi perlu PBG?",
            outcome=Outcome.ANSWERED,
            rating=5,
        ),
        "fence": closed(
            building,
            name="fence",
            day=today - timedelta(days=3),
            counselor=sari,
            words="Pagar rumah setinggi dua meter",
            outcome=Outcome.NEEDS_DOCUMENTS,
            rating=2,
        ),
        "clinic": closed(
            health,
            name="clinic",
            day=today - timedelta(days=1),
            counselor=budi,
            words="Izin klinik pratama",
            outcome=Outcome.REFERRED,
            rating=5,
        ),
        "left": closed(health, name="left", day=today, counselor=None, words="halo GARASI"),
        "old": closed(
            building, name="old", day=today - timedelta(days=45), counselor=sari, words="garasi"
        ),
    }
    return {"sari": sari, "budi": budi, "dewi": dewi, **c}


def found(staff: StaffProfile, **query: Any) -> set[str]:
    results = transcript_search(staff=staff, query=TranscriptQuery(**query))
    return {c.applicant_name for c in results}


def test_each_filter_narrows_the_search(office: dict[str, Any]) -> None:
    dewi = office["dewi"]
    # Default: the last 30 office days.
    assert found(dewi) == {"garage", "fence", "clinic", "left"}
    assert found(dewi, date_from=date(2026, 1, 1)) == {"garage", "fence", "clinic", "left", "old"}
    assert found(dewi, date_from=date(2026, 3, 9), date_to=date(2026, 3, 9)) == {"clinic"}
    assert found(dewi, topic="health-permit") == {"clinic", "left"}
    assert found(dewi, counselor_id=office["sari"].pk) == {"garage", "fence"}
    assert found(dewi, outcome=Outcome.NEEDS_DOCUMENTS) == {"fence"}
    assert found(dewi, rating=5) == {"garage", "clinic"}
    # Text: case-insensitive, in any message.
    assert found(dewi, text="garasi") == {"garage", "left"}
    assert found(dewi, text="garasi", date_from=date(2026, 1, 1)) == {"garage", "left", "old"}
    # Only messages are searched, not system events.
    assert found(dewi, text="answered") == set()
    assert found(dewi, text="garasi", topic="building-approval", rating=5) == {"garage"}


def test_counselors_find_only_their_own(office: dict[str, Any]) -> None:
    assert found(office["budi"]) == {"clinic"}
    assert found(office["budi"], text="garasi") == set()
    # A counselor who wrote in a consultation before a transfer finds it too.
    TranscriptEntry.objects.create(
        consultation=office["garage"],
        seq=3,
        kind=EntryKind.MESSAGE,
        author_role=AuthorRole.COUNSELOR,
        author=office["budi"],
        text="Saya teruskan.",
        created_at=office["garage"].created_at,
    )
    assert found(office["budi"]) == {"clinic", "garage"}


def page(client: Client, query: str = "", status: int = 200) -> str:
    response = client.get("/transcripts/" + query)
    assert response.status_code == status
    return response.content.decode()


def listed(html: str) -> list[str]:
    return re.findall(r'href="/transcripts/([0-9a-f-]{36})/"', html)


def test_the_page_filters_by_a_word_and_paginates(office: dict[str, Any]) -> None:
    client = staff_client(office["dewi"])
    html = page(client, "?q=garasi")
    assert set(listed(html)) == {str(office["garage"].public_id), str(office["left"].public_id)}
    for n in range(30):
        closed(
            Topic.objects.get(code="health-permit"),
            day=date(2026, 3, 10),
            counselor=office["budi"],
            words=f"izin usaha {n}",
            name=f"usaha-{n}",
        )
    first = page(client, "?q=usaha")
    second = page(client, "?q=usaha&page=2")
    assert len(listed(first)) == 25 and len(listed(second)) == 5
    assert not set(listed(first)) & set(listed(second))
    # The next page's link keeps the filters.
    assert "q=usaha&amp;page=2" in first
    # A page past the end shows the last one.
    assert listed(page(client, "?q=usaha&page=9")) == listed(second)


def test_the_page_counselor_filter_is_for_supervisors_only(office: dict[str, Any]) -> None:
    html = page(staff_client(office["dewi"]), f"?counselor={office['budi'].pk}")
    assert listed(html) == [str(office["clinic"].public_id)]
    assert 'name="counselor"' in html
    html = page(staff_client(office["budi"]), f"?counselor={office['sari'].pk}")
    assert 'name="counselor"' not in html
    assert listed(html) == [str(office["clinic"].public_id)]


def test_a_bad_filter_is_shown_not_ignored(office: dict[str, Any]) -> None:
    html = page(
        staff_client(office["dewi"]), "?date_from=2026-03-10&date_to=2026-03-01", status=400
    )
    assert 'role="alert"' in html
    assert listed(html) == []


def test_opening_a_found_transcript_is_recorded(office: dict[str, Any]) -> None:
    client = staff_client(office["dewi"])
    public_id = listed(page(client, "?q=pagar"))[0]
    assert client.get(f"/transcripts/{public_id}/").status_code == 200
    access = TranscriptAccess.objects.get()
    assert access.consultation_id == office["fence"].pk
    assert (access.reader_id, access.via) == (office["dewi"].user_id, "page")


def test_anonymous_visitors_are_sent_to_log_in() -> None:
    response = Client().get("/transcripts/?q=garasi")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_consultation_that_ended_without_a_counselor_names_the_last_who_joined(
    office: dict[str, Any], client: Client
) -> None:
    # "left" was transferred twice (Sari, then Budi joined) and abandoned back in the queue.
    left = office["left"]
    for seq, name in ((3, "Sari"), (4, "Budi")):
        TranscriptEntry.objects.create(
            consultation=left,
            seq=seq,
            kind=EntryKind.EVENT,
            author_role=AuthorRole.SYSTEM,
            event="counselor_joined",
            data={"counselor": name},
            created_at=left.created_at,
        )
    shown = {
        c.applicant_name: c.counselor_shown
        for c in transcript_search(staff=office["dewi"], query=TranscriptQuery())
    }
    assert shown["left"] == "Budi"
    assert shown["garage"] == "Sari"  # the counselor holding it at the end

    client.force_login(office["dewi"].user)
    page = client.get("/transcripts/").content.decode()
    # The results name the applicant as the masking policy shows names in search: "l***".
    row = re.search(
        r"<tr>\s*<td><a[^>]*>[^<]*<time[^>]*>[^<]*</time></a></td>\s*<td>l\*\*\*</td>"
        r".*?</tr>",
        page,
        re.S,
    )
    assert row and "<td>Budi</td>" in row.group(0), page
    transcript = client.get(f"/transcripts/{left.public_id}/").content.decode()
    assert re.search(r"<dd>Budi</dd>", transcript), transcript


def test_the_transcript_names_the_outcome_once(office: dict[str, Any], client: Client) -> None:
    # A counselor's end records the outcome as the end reason too.
    garage = office["garage"]
    Consultation.objects.filter(pk=garage.pk).update(end_reason=Outcome.ANSWERED)
    client.force_login(office["dewi"].user)
    page = client.get(f"/transcripts/{garage.public_id}/").content.decode()
    facts = page[page.index('<dl class="facts">') : page.index("</dl>")]
    assert facts.count("Pertanyaan terjawab") == 1, facts
