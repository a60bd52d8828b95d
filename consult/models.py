"""Loket's domain: topics, counselors, consultations, transcripts, presence and audit.

The database is the source of truth; the channel layer only fans out. Every deadline the system
acts on (an offer's expiry, a grace period, a server process's heartbeat) is a column here, so
that any server process's sweeper can act on it after another process died.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Upper
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


class Outcome(models.TextChoices):
    """How the counselor judged the consultation when ending it."""

    ANSWERED = "answered", _("Question answered")
    REFERRED = "referred", _("Referred elsewhere")
    NEEDS_DOCUMENTS = "needs_documents", _("Needs more documents")
    OUT_OF_SCOPE = "out_of_scope", _("Outside the office's remit")
    OTHER = "other", _("Other")


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
    # Set by the counselor who ends it (consultation.end); blank when the applicant or the system
    # ended it.
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    # The applicant's rating after the end, once: 1 to 5 with an optional comment.
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
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
    # Counts every published change of state (events.publish.consultation_changed bumps it in
    # the change's own transaction): a connection that sent a lower version has missed one.
    version = models.PositiveIntegerField(default=0)
    # A call one participant asked for and the other has not answered yet; it lapses at the
    # deadline (the sweeper records that).
    call_requested_by = models.CharField(max_length=10, blank=True)
    call_requested_audio_only = models.BooleanField(default=False)
    call_request_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The applicant's latest pre-call check result, for the counselor (consult/rtc/precheck.py).
    precheck_verdict = models.CharField(max_length=20, blank=True)
    precheck_reasons = models.JSONField(default=list, blank=True)
    precheck_at = models.DateTimeField(null=True, blank=True)
    # Set while no applicant connection is open; past it the consultation is abandoned.
    applicant_grace_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    # Rotating this invalidates every token issued for the consultation.
    token_nonce = models.CharField(max_length=32)
    last_seq = models.PositiveIntegerField(default=0)
    # When its transcript was sealed (docs/RECORDS.md): nothing is appended to it after that.
    sealed_at = models.DateTimeField(null=True, blank=True)
    # When the applicant's contact details were erased (retention or erasure).
    contact_purged_at = models.DateTimeField(null=True, blank=True)
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
            # Routing reads the heads of each lane (selectors.waiting): a topic and a mode, or a
            # named colleague and a mode, in queue order.
            models.Index(
                fields=["topic", "mode", "-priority", "queued_at", "id"],
                name="consult_waiting_lane",
                condition=Q(status="waiting"),
            ),
            models.Index(
                fields=["target_counselor", "mode", "-priority", "queued_at", "id"],
                name="consult_waiting_target",
                condition=Q(status="waiting", target_counselor__isnull=False),
            ),
            # A join looks for an open consultation of the same phone or e-mail address
            # (selectors.consultations.consultation_open_for_contact): without these it read the
            # whole table, ended consultations included.
            models.Index(
                fields=["applicant_phone"],
                name="consult_open_phone",
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
            ),
            models.Index(
                Upper("applicant_email"),
                name="consult_open_email",
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
            ),
            # A topic's handling time (selectors.queue.handling_seconds, in every queue snapshot
            # and position) reads its latest ended consultations: without this, every ended one.
            models.Index(
                fields=["topic", "-ended_at"],
                name="consult_topic_ended",
                condition=Q(status="ended"),
            ),
            # The sweeper's look for consultations over but not sealed (records.seal_pending),
            # every second in every process: none, once all are sealed.
            models.Index(
                fields=["id"],
                name="consult_unsealed",
                condition=Q(status__in=["ended", "abandoned"], sealed_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="consultation_rating_1_to_5",
            ),
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
    # The chain (docs/RECORDS.md): a random salt per entry, the salted hash of the text, and the
    # entry's hash over its fields and the previous entry's hash. Lowercase hexadecimal.
    salt = models.CharField(max_length=32)
    text_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # When the text (and its salt) was erased, and under which rule ("retention:<data>" or
    # "erasure"); the salted hash stays, so the chain still verifies.
    purged_at = models.DateTimeField(null=True, blank=True)
    purge_rule = models.CharField(max_length=40, blank=True)
    # The text with its personal identifiers masked, where that differs (written at the seal):
    # what a free-text search matches, so that it cannot probe masked digits. NULL: as ``text``.
    search_text = models.TextField(null=True, blank=True)  # noqa: DJ001

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
        indexes = [
            models.Index(fields=["consultation", "at"]),
            # Routing reads the declines still in their cooldown (selectors.waiting).
            models.Index(fields=["at"], name="consult_declined_at"),
        ]

    def __str__(self) -> str:
        return f"{self.counselor_id} declined {self.consultation_id}"


class ConnectionRole(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    COUNSELOR = "counselor", _("Counselor")
    SUPERVISOR = "supervisor", _("Supervisor")


class ServerProcess(models.Model):
    """A serving process's heartbeat: its connections live while it renews ``expires_at``.

    One row per process (``consult.runtime.SERVER_ID``), upserted every lease/3 by the process's
    runtime and by every connection it opens; a row that lapsed is removed by a sweeper once the
    process's connections have been reaped.
    """

    server_id = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"process {self.server_id}"


def heartbeat_live(now: Any) -> Exists:
    """True for a row (with a ``server_id``) whose process's heartbeat has not lapsed at ``now``:
    the one definition of a live connection."""
    return Exists(ServerProcess.objects.filter(server_id=OuterRef("server_id"), expires_at__gt=now))


class ConnectionQuerySet(models.QuerySet["Connection"]):
    def live(self, now: Any) -> ConnectionQuerySet:
        """Connections whose server process's heartbeat has not lapsed."""
        return self.filter(heartbeat_live(now))

    def lapsed(self, now: Any) -> ConnectionQuerySet:
        """Connections whose server process's heartbeat lapsed (or that have none): to reap."""
        return self.filter(~heartbeat_live(now))


class Connection(models.Model):
    """A WebSocket connection of a server process: live while that process's heartbeat
    (``ServerProcess``) is."""

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

    objects = ConnectionQuerySet.as_manager()

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
    # Why, when the reader gave a reason (a supervisor revealing a masked value must).
    reason = models.CharField(max_length=200, blank=True)
    # What was revealed: the entry's number (a reveal reads one masked message).
    seq = models.PositiveIntegerField(null=True, blank=True)
    # The addendum that records this read in the consultation's records (docs/RECORDS.md); None
    # until it is made (a read before the seal is recorded when the seal is made).
    addendum_n = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.reader_id} read {self.consultation_id} via {self.via}"

    @property
    def via_label(self) -> str:
        """How it was read, for a person."""
        labels = {
            "page": _("transcript page"),
            "api": _("API"),
            "admin": _("admin"),
            "export": _("evidence export"),
            "reveal": _("revealed with a reason"),
        }
        return str(labels.get(self.via, self.via))


# ------------------------------------------------------------------ records (docs/RECORDS.md)


class SigningKey(models.Model):
    """A public key the office signs records with, current or retired; the private key lives in
    a file (``LOKET_SIGNING_KEY_FILE``), never in the database."""

    key_id = models.CharField(max_length=16, unique=True)
    public_key = models.CharField(max_length=44)  # base64 of the 32 raw bytes
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"key {self.key_id}"


class RecordStatement(models.Model):
    """One signed statement (a consultation's seal or an addendum to it) and one leaf of the
    office's Merkle log: ``index`` is its position in the log, without gaps."""

    index = models.PositiveBigIntegerField(primary_key=True)
    consultation = models.ForeignKey(Consultation, on_delete=models.PROTECT, related_name="+")
    # 0 for the seal, then 1, 2, ... for the consultation's addenda.
    n = models.PositiveIntegerField()
    # JCS(statement) as text: the leaf's data, byte for byte.
    statement = models.TextField()
    signature = models.CharField(max_length=88)
    hash = models.CharField(max_length=64)
    # The salts of the texts the statement's record names by their salted hash, by member
    # ("text" of a note, "comment" of a rating); the texts stay in their own rows.
    salts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["consultation", "n"], name="statement_n_unique"),
        ]

    def __str__(self) -> str:
        return f"statement {self.index}"


class LogNode(models.Model):
    """The hash of a complete subtree of the log: leaves [index * 2**level, (index + 1) *
    2**level), kept as leaves are appended so that roots and proofs need O(log n) reads."""

    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="lognode_unique"),
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class LogHead(models.Model):
    """The log's size, in one row that every append locks (appends are serialised)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"log of {self.size}"


class Checkpoint(models.Model):
    """A signed checkpoint of the log (a C2SP signed note), as published."""

    size = models.PositiveBigIntegerField(unique=True)
    root = models.CharField(max_length=64)
    note = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-size"]

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class MaskRole(models.TextChoices):
    COUNSELOR = "counselor", _("Counselor")
    SUPERVISOR = "supervisor", _("Supervisor")
    APPLICANT = "applicant", _("Applicant")


class MaskOutput(models.TextChoices):
    LIVE = "live", _("Live console")
    TRANSCRIPT = "transcript", _("Transcript page and API")
    SEARCH = "search", _("Search results")
    EXPORT = "export", _("CSV and exports")
    OWN_COPY = "own_copy", _("Applicant's own copy")


class MaskAction(models.TextChoices):
    SHOW = "show", _("Show")
    MASK = "mask", _("Mask")
    HIDE = "hide", _("Hide")


class MaskingRule(models.Model):
    """What a role sees of one kind of personal identifier in one output (docs/RECORDS.md,
    "Personal data"); where no rule is set, the built-in default applies."""

    role = models.CharField(_("role"), max_length=12, choices=MaskRole.choices)
    output = models.CharField(_("output"), max_length=12, choices=MaskOutput.choices)
    kind = models.CharField(_("kind of data"), max_length=20)
    action = models.CharField(_("action"), max_length=4, choices=MaskAction.choices)

    class Meta:
        verbose_name = _("masking rule")
        verbose_name_plural = _("masking rules")
        ordering = ["role", "output", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["role", "output", "kind"], name="masking_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.role}/{self.output}/{self.kind}: {self.action}"


class IdentifierToken(models.Model):
    """A keyed hash of a personal identifier found in a consultation's transcript or contact
    details (``masking.search_tokens``): search finds the consultation by the identifier typed
    in full, while the identifier itself is in no index."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=80, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "token"], name="identifier_token_unique"
            )
        ]

    def __str__(self) -> str:
        return f"token of {self.consultation_id}"


class RetentionData(models.TextChoices):
    TRANSCRIPT_TEXT = "transcript_text", _("Transcript text")
    CONTACT = "contact", _("Applicant's contact details")
    READ_LOG = "read_log", _("Read log")
    RECORDINGS = "recordings", _("Recordings")


class RetentionRule(models.Model):
    """How long one kind of data is kept after its consultation ends, and why (docs/RECORDS.md,
    "Retention"); the purge (``manage.py retention_purge``, and the sweeper) erases what is past
    it."""

    data = models.CharField(_("data"), max_length=20, choices=RetentionData.choices, unique=True)
    days = models.PositiveIntegerField(_("days kept after the end"))
    legal_basis = models.TextField(_("legal basis"))

    class Meta:
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        ordering = ["data"]

    def __str__(self) -> str:
        return f"{self.data}: {self.days} days"


# ------------------------------------------------------- office hours and offline questions


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class OfficeHours(models.Model):
    """One weekday of the office's weekly schedule, in Asia/Jakarta time.

    A weekday without a row, or marked closed, is closed. With no rows at all the default
    schedule applies (Monday to Friday, 07:30 to 16:00; see consult/hours.py).
    """

    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices, unique=True)
    closed = models.BooleanField(_("closed all day"), default=False)
    opens_at = models.TimeField(_("opens at"), null=True, blank=True)
    closes_at = models.TimeField(_("closes at"), null=True, blank=True)
    last_entry_minutes = models.PositiveSmallIntegerField(
        _("last entry (minutes before closing)"),
        default=15,
        help_text=_("New applicants may join the queue until this many minutes before closing."),
    )

    class Meta:
        ordering = ["weekday"]
        verbose_name = _("office hours")
        verbose_name_plural = _("office hours")

    def __str__(self) -> str:
        return str(self.get_weekday_display())

    def clean(self) -> None:
        if self.closed:
            return
        if self.opens_at is None or self.closes_at is None:
            raise ValidationError(_("Give the opening and closing times, or mark the day closed."))
        if self.closes_at <= self.opens_at:
            raise ValidationError(_("The office must close after it opens (on the same day)."))
        minutes_open = (
            self.closes_at.hour * 60
            + self.closes_at.minute
            - self.opens_at.hour * 60
            - self.opens_at.minute
        )
        if self.last_entry_minutes >= minutes_open:
            raise ValidationError(_("The last entry must come after the opening time."))


class OfficeHoliday(models.Model):
    """A date the office is closed all day."""

    date = models.DateField(_("date"), unique=True)
    name_id = models.CharField(_("name (Indonesian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name_id}"

    def name_for(self, language: str) -> str:
        """The holiday's name in the given language (Indonesian unless English is asked for)."""
        return self.name_en if language == "en" else self.name_id


class OfflineQuestionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")


class OfflineQuestion(models.Model):
    """A question left while the office was closed, answered later by e-mail."""

    # LKT-<year>-<number>, set in the same transaction as the row (the number is the primary key).
    reference = models.CharField(_("reference"), max_length=24, unique=True, null=True)  # noqa: DJ001
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="offline_questions")
    applicant_name = models.CharField(_("applicant name"), max_length=80)
    applicant_email = models.EmailField(_("e-mail"))
    applicant_phone = models.CharField(_("phone"), max_length=20, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ID
    )
    question = models.TextField(_("question"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=OfflineQuestionStatus.choices,
        default=OfflineQuestionStatus.OPEN,
        db_index=True,
    )
    created_at = models.DateTimeField(_("asked at"))
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        StaffProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("offline question")
        verbose_name_plural = _("offline questions")
        indexes = [models.Index(fields=["topic", "status", "created_at"])]

    def __str__(self) -> str:
        return self.reference or f"offline question {self.pk}"


class KnowledgeSection(models.TextChoices):
    """The parts of a knowledge-base article, in the order they are shown and inserted."""

    REQUIREMENTS = "requirements", _("Requirements")
    PROCEDURE = "procedure", _("Procedure")
    LEGAL_BASIS = "legal_basis", _("Legal basis")
    FEES = "fees", _("Fees (levies)")


class KnowledgeArticle(models.Model):
    """A knowledge-base article for counselors: one permit's requirements, procedure, legal
    basis and fees, in Indonesian and English. Edited in the Django admin."""

    topic = models.ForeignKey(
        Topic, on_delete=models.PROTECT, related_name="articles", verbose_name=_("topic")
    )
    title_id = models.CharField(_("title (Indonesian)"), max_length=160)
    title_en = models.CharField(_("title (English)"), max_length=160)
    requirements_id = models.TextField(_("requirements (Indonesian)"), blank=True)
    requirements_en = models.TextField(_("requirements (English)"), blank=True)
    procedure_id = models.TextField(_("procedure (Indonesian)"), blank=True)
    procedure_en = models.TextField(_("procedure (English)"), blank=True)
    legal_basis_id = models.TextField(_("legal basis (Indonesian)"), blank=True)
    legal_basis_en = models.TextField(_("legal basis (English)"), blank=True)
    fees_id = models.TextField(_("fees (Indonesian)"), blank=True)
    fees_en = models.TextField(_("fees (English)"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["topic", "order", "pk"]
        verbose_name = _("knowledge-base article")
        verbose_name_plural = _("knowledge base")

    def __str__(self) -> str:
        return self.title_id

    def title_for(self, language: str) -> str:
        """The title in ``language``, falling back to Indonesian when the English one is empty."""
        return (self.title_en if language == "en" else "") or self.title_id

    def section_for(self, section: str, language: str) -> str:
        """One section's text in ``language`` (Indonesian when the English text is empty)."""
        if section not in KnowledgeSection.values:
            raise ValueError(section)
        english = getattr(self, f"{section}_en") if language == "en" else ""
        return str(english or getattr(self, f"{section}_id"))


class CannedReply(models.Model):
    """A ready-made reply: personal (owned by one counselor) or shared (no owner, admin-edited)."""

    owner = models.ForeignKey(
        StaffProfile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        verbose_name=_("owner"),
        help_text=_("Leave empty for a reply shared with every counselor."),
    )
    title = models.CharField(_("title"), max_length=80)
    text = models.TextField(_("text"), max_length=4000)
    # Blank: for consultations in either language.
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "pk"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title

    @property
    def shared(self) -> bool:
        return self.owner_id is None


class NoteKind(models.TextChoices):
    NOTE = "note", _("Note")
    TRANSFER = "transfer", _("Transfer note")


class InternalNote(models.Model):
    """A staff-only note on a consultation. Never part of the transcript the applicant receives:
    it has no sequence number and travels only on staff connections."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        StaffProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=NoteKind.choices, default=NoteKind.NOTE)
    text = models.TextField()
    created_at = models.DateTimeField()
    # As for TranscriptAccess: the addendum that records it, once made.
    addendum_n = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["consultation", "created_at", "pk"]

    def __str__(self) -> str:
        return f"note on {self.consultation_id}"
