"""Offers: the counselor accepts or declines the consultation offered to them, or lets it lapse.

Routing (``routing.queue_dispatch``) makes the offers; an answered or lapsed one goes back through
the same pass.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..errors import Forbidden, InvalidState
from ..events import publish
from ..models import (
    Consultation,
    ConsultationStatus,
    CounselorStatus,
    DeclinedOffer,
    StaffProfile,
)
from ..selectors.consultations import consultation_holder_check, consultation_id_by_public
from .consultations import consultation_release
from .locking import consultation_lock
from .presence import counselor_status_store
from .routing import queue_dispatch
from .transcript import system_event_add


def offer_accept(
    *, staff: StaffProfile, consultation_id: int | None = None, public_id: str | None = None
) -> Consultation:
    """The counselor takes the consultation offered to them.

    A counselor's connection no longer following the consultation names it by ``public_id``
    instead; an unknown one is Forbidden, like one never offered.
    """
    if consultation_id is None:
        consultation_id = consultation_id_by_public(public_id=public_id)
        if consultation_id is None:
            raise Forbidden()
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        now = timezone.now()
        try:
            consultation_holder_check(
                consultation, staff_id=staff.pk, statuses=(ConsultationStatus.OFFERED,)
            )
        except Forbidden:
            # An offer that lapsed (or that this counselor declined or handed on) has gone back to
            # the queue or to a colleague: they had it, so they may learn it is no longer theirs.
            # Anyone else learns nothing about the consultation.
            if DeclinedOffer.objects.filter(consultation=consultation, counselor=staff).exists():
                raise InvalidState("The offer has expired.") from None
            raise
        if consultation.offer_expires_at is not None and consultation.offer_expires_at <= now:
            # Past its deadline, even if the sweeper has not re-offered it yet.
            raise InvalidState("The offer has expired.")
        consultation.status = ConsultationStatus.ACTIVE
        consultation.accepted_at = now
        consultation.first_accepted_at = consultation.first_accepted_at or now
        consultation.offer_expires_at = None
        consultation.target_counselor = None
        consultation.save(
            update_fields=[
                "status",
                "accepted_at",
                "first_accepted_at",
                "offer_expires_at",
                "target_counselor",
            ]
        )
        system_event_add(
            consultation, event="counselor_joined", data={"counselor": staff.display_name}
        )
        publish.consultation_changed(consultation)
    return consultation


def offer_decline(*, staff: StaffProfile, consultation_id: int) -> None:
    """The counselor passes; the consultation keeps its place and goes to someone else."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        consultation_holder_check(
            consultation, staff_id=staff.pk, statuses=(ConsultationStatus.OFFERED,)
        )
        DeclinedOffer.objects.create(consultation=consultation, counselor=staff, at=timezone.now())
        consultation_release(consultation, front=False, event=None, reason="declined")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=[consultation.topic_id])


def offer_expire(*, consultation_id: int) -> bool:
    """An offer nobody answered in time: re-offer it and set the silent counselor away."""
    with transaction.atomic():
        consultation = consultation_lock(consultation_id=consultation_id)
        now = timezone.now()
        if (
            consultation.status != ConsultationStatus.OFFERED
            or consultation.offer_expires_at is None
            or consultation.offer_expires_at > now
            or consultation.counselor is None
        ):
            return False
        staff = consultation.counselor
        DeclinedOffer.objects.create(consultation=consultation, counselor=staff, at=now)
        consultation_release(consultation, front=False, event=None, reason="offer_timeout")
        counselor_status_store(staff, CounselorStatus.AWAY, reason="offer_timeout")
    queue_dispatch(counselor_ids=[staff.pk], topic_ids=[consultation.topic_id])
    return True
