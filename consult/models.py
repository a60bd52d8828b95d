"""Loket's domain: topics, counselors, consultations, transcripts, presence and audit.

The database is the source of truth; the channel layer only fans out. Every deadline the system
acts on (an offer's expiry, a grace period, a connection's lease) is a column here, so that any
server process's sweeper can act on it after another process died.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Topic(models.Model):
    """A permit or service area applicants ask about (building approval, business registration)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_id = models.CharField(_("name (Indonesian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")

    def __str__(self) -> str:
        return self.code

    def name_for(self, language: str) -> str:
        """The topic's name in the given language (Indonesian unless English is asked for)."""
        return self.name_en if language == "en" else self.name_id


class CounselorStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class StaffRole(models.TextChoices):
    COUNSELOR = "counselor", _("Counselor")
    SUPERVISOR = "supervisor", _("Supervisor")


class StaffProfile(models.Model):
    """A staff member: a counselor (takes consultations) or a supervisor (reads and watches)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    role = models.CharField(_("role"), max_length=12, choices=StaffRole.choices)
    display_name = models.CharField(_("display name"), max_length=80)
    topics = models.ManyToManyField(Topic, blank=True, related_name="counselors")
    capacity = models.PositiveSmallIntegerField(_("chat capacity"), default=3)
    status = models.CharField(
        _("status"), max_length=10, choices=CounselorStatus.choices, default=CounselorStatus.OFFLINE
    )
    # Fairness: the available counselor who has waited longest since their last assignment is
    # offered next. Null sorts first (never assigned).
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Set when the counselor's last connection closes; when it passes with no live connection the
    # counselor is lost and what they held goes back to the queue.
    grace_deadline = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self) -> str:
        return f"{self.display_name} ({self.role})"

    @property
    def is_counselor(self) -> bool:
        return self.role == StaffRole.COUNSELOR

    @property
    def is_supervisor(self) -> bool:
        return self.role == StaffRole.SUPERVISOR


class ConsultationStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    ABANDONED = "abandoned", _("Abandoned")


OPEN_STATUSES = (ConsultationStatus.WAITING, ConsultationStatus.OFFERED, ConsultationStatus.ACTIVE)
HELD_STATUSES = (ConsultationStatus.OFFERED, ConsultationStatus.ACTIVE)


class Mode(models.TextChoices):
    CHAT = "chat", _("Chat")
    VIDEO = "video", _("Video")


class Language(models.TextChoices):
    ID = "id", _("Indonesian")
    EN = "en", _("English")


class EndedBy(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    COUNSELOR = "counselor", _("Counselor")
    SYSTEM = "system", _("System")


class Consultation(models.Model):
    """One applicant's consultation, from joining the queue to its end."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="consultations")
    # Minimum personal data: a name to address the applicant and one way to reach them.
    applicant_name = models.CharField(_("applicant name"), max_length=80)
    applicant_phone = models.CharField(_("phone"), max_length=20, blank=True)
    applicant_email = models.EmailField(_("e-mail"), blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ID
    )
    mode = models.CharField(_("mode"), max_length=5, choices=Mode.choices, default=Mode.CHAT)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ConsultationStatus.choices,
        default=ConsultationStatus.WAITING,
        db_index=True,
    )
    counselor = models.ForeignKey(
        StaffProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consultations",
    )
    # Queue order: requeued consultations (priority 1) before new ones, then by queued_at.
    priority = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    first_accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, choices=EndedBy.choices, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)
    # A transfer or requeue may name the only counselor it may go to.
    target_counselor = models.ForeignKey(
        StaffProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    in_call = models.BooleanField(default=False)
    call_started_at = models.DateTimeField(null=True, blank=True)
    call_audio_only = models.BooleanField(default=False)
    # The call's connection state as last recorded ("", connected, reconnecting), so a state both
    # sides report is recorded once.
    call_state = models.CharField(max_length=12, blank=True)
    # A call one participant asked for and the other has not answered yet; it lapses at the
    # deadline (the sweeper records that).
    call_requested_by = models.CharField(max_length=10, blank=True)
    call_requested_audio_only = models.BooleanField(default=False)
    call_request_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The applicant's latest pre-call check result, for the counselor (consult/precheck.py).
    precheck_verdict = models.CharField(max_length=20, blank=True)
    precheck_reasons = models.JSONField(default=list, blank=True)
    precheck_at = models.DateTimeField(null=True, blank=True)
    # Set while no applicant connection is open; past it the consultation is abandoned.
    applicant_grace_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    # Rotating this invalidates every token issued for the consultation.
    token_nonce = models.CharField(max_length=32)
    last_seq = models.PositiveIntegerField(default=0)
    applicant_read_seq = models.PositiveIntegerField(default=0)
    counselor_read_seq = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        indexes = [
            models.Index(
                fields=["topic", "-priority", "queued_at"],
                name="consult_queue_order",
                condition=Q(status="waiting"),
            ),
            models.Index(fields=["counselor", "status"], name="consult_counselor_load"),
        ]

    def __str__(self) -> str:
        return f"consultation {self.public_id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class EntryKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    EVENT = "event", _("System event")


class AuthorRole(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    COUNSELOR = "counselor", _("Counselor")
    SYSTEM = "system", _("System")


class TranscriptEntry(models.Model):
    """One line of the record: a message or a system event, numbered without gaps."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="entries")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    author_role = models.CharField(max_length=10, choices=AuthorRole.choices)
    author = models.ForeignKey(
        StaffProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField(blank=True)
    event = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # NULL (not "") for system events, so the unique constraint covers only client messages.
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["consultation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["consultation", "seq"], name="entry_seq_unique"),
            models.UniqueConstraint(
                fields=["consultation", "client_msg_id"],
                name="entry_client_msg_unique",
                condition=Q(client_msg_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consultation_id}#{self.seq}"


class DeclinedOffer(models.Model):
    """A counselor declined (or let expire) an offer; routing skips them for that consultation."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="+")
    counselor = models.ForeignKey(StaffProfile, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["consultation", "at"])]

    def __str__(self) -> str:
        return f"{self.counselor_id} declined {self.consultation_id}"


class ConnectionRole(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    COUNSELOR = "counselor", _("Counselor")
    SUPERVISOR = "supervisor", _("Supervisor")


class Connection(models.Model):
    """A live WebSocket connection, leased: its server process renews the lease while it lives."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    role = models.CharField(max_length=10, choices=ConnectionRole.choices)
    staff = models.ForeignKey(
        StaffProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="connections"
    )
    consultation = models.ForeignKey(
        Consultation, null=True, blank=True, on_delete=models.CASCADE, related_name="connections"
    )
    server_id = models.CharField(max_length=64, db_index=True)
    channel_name = models.CharField(max_length=200)
    opened_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.role} connection {self.pk}"


class DispatchLock(models.Model):
    """A single row every routing transaction locks, so assignments are serialised across processes.

    Routing must hold FIFO within a topic and capacity per counselor while counselors serve
    overlapping sets of topics; one short lock over the whole decision is simpler to prove correct
    than per-row SKIP LOCKED, and a routing transaction takes a few milliseconds.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    def __str__(self) -> str:
        return "dispatch lock"


class TranscriptAccess(models.Model):
    """A record of who read a transcript, when, and how (page or API)."""

    consultation = models.ForeignKey(Consultation, on_delete=models.PROTECT, related_name="+")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    via = models.CharField(max_length=10)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.reader_id} read {self.consultation_id} via {self.via}"
