"""Django admin: every consult model an administrator needs, consultations read-only, and opening
one recorded as a transcript read."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from consult import models
from consult.models import StaffProfile, TranscriptAccess
from tests.support.applicants import say, waiting_consultation
from tests.support.staff import counselor_online, make_staff, make_topic, staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    return staff_client(
        user=get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    )


def test_every_consult_model_is_registered_or_shown_with_its_consultation() -> None:
    registered = {m for m in admin.site._registry if m._meta.app_label == "consult"}
    everything = {
        m
        for m in vars(models).values()
        if isinstance(m, type) and issubclass(m, models.models.Model) and not m._meta.abstract
    }
    inlines = {inline.model for inline in admin.site._registry[models.Consultation].inlines}
    assert inlines == {models.TranscriptEntry, models.InternalNote}
    # Locks, the log's internal node hashes and the keyed search tokens: nothing an
    # administrator reads.
    internal = {models.DispatchLock, models.LogHead, models.LogNode, models.IdentifierToken}
    assert everything - registered - inlines == internal


@pytest.mark.parametrize(
    "model",
    [
        "topic",
        "staffprofile",
        "consultation",
        "transcriptaccess",
        "connection",
        "serverprocess",
        "declinedoffer",
    ],
)
def test_the_lists_open(admin_client: Client, model: str) -> None:
    topic = make_topic()
    sari = make_staff("sari", topics=[topic])
    counselor_online(sari)
    waiting_consultation()
    assert admin_client.get(f"/admin/consult/{model}/").status_code == 200


def test_staff_profiles_are_edited_with_topics_and_capacity(admin_client: Client) -> None:
    topic = make_topic()
    html = admin_client.get("/admin/consult/staffprofile/add/").content.decode()
    assert 'name="topics"' in html and 'name="capacity"' in html
    user = get_user_model().objects.create_user("budi", password="pw")
    response = admin_client.post(
        "/admin/consult/staffprofile/add/",
        {
            "user": user.pk,
            "display_name": "Budi",
            "role": "counselor",
            "topics": [topic.pk],
            "capacity": 2,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    budi = StaffProfile.objects.get(user=user)
    assert budi.capacity == 2 and list(budi.topics.all()) == [topic]


def test_opening_a_consultation_is_a_recorded_transcript_read(admin_client: Client) -> None:
    topic = make_topic()
    sari = make_staff("sari", topics=[topic])
    consultation = waiting_consultation(name="Siti")
    counselor_online(sari)
    say(consultation, "m1", "Berapa lama proses PBG?")
    url = f"/admin/consult/consultation/{consultation.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert "Berapa lama proses PBG?" in html
    # Read-only: no form to save, no add or delete.
    assert 'name="_save"' not in html
    assert admin_client.get("/admin/consult/consultation/add/").status_code == 403
    delete = admin_client.post(f"/admin/consult/consultation/{consultation.pk}/delete/")
    assert delete.status_code == 403
    access = TranscriptAccess.objects.get()
    assert (access.consultation_id, access.via) == (consultation.pk, "admin")
    assert access.reader.username == "root"
    # The list does not read transcripts, so it records nothing.
    admin_client.get("/admin/consult/consultation/")
    assert TranscriptAccess.objects.count() == 1
