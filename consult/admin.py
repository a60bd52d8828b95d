"""Django admin: what an office administrator edits (office hours, holidays, offline questions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    CannedReply,
    Checkpoint,
    Connection,
    Consultation,
    DeclinedOffer,
    InternalNote,
    KnowledgeArticle,
    MaskingRule,
    OfficeHoliday,
    OfficeHours,
    OfflineQuestion,
    RecordStatement,
    RetentionRule,
    ServerProcess,
    SigningKey,
    StaffProfile,
    Topic,
    TranscriptAccess,
    TranscriptEntry,
    heartbeat_live,
)
from .services.transcript import transcript_access_record


@admin.register(OfficeHours)
class OfficeHoursAdmin(admin.ModelAdmin):
    list_display = ["weekday", "closed", "opens_at", "closes_at", "last_entry_minutes"]
    list_editable = ["closed", "opens_at", "closes_at", "last_entry_minutes"]
    ordering = ["weekday"]


@admin.register(OfficeHoliday)
class OfficeHolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name_id", "name_en"]
    date_hierarchy = "date"
    search_fields = ["name_id", "name_en"]


@admin.register(OfflineQuestion)
class OfflineQuestionAdmin(admin.ModelAdmin):
    """Read-only here: questions are answered from the counselor console, which sends the e-mail."""

    list_display = ["reference", "topic", "status", "created_at", "answered_by", "answered_at"]
    list_filter = ["status", "topic"]
    search_fields = ["reference"]
    fields = (
        "reference",
        "topic",
        "status",
        "language",
        "applicant_name",
        "applicant_email",
        "applicant_phone",
        "created_at",
        "question",
        "answer",
        "answered_by",
        "answered_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    """The knowledge base counselors search and cite: every text in Indonesian and English."""

    list_display = ["title_id", "topic", "active", "order", "updated_at"]
    list_editable = ["active", "order"]
    list_filter = ["topic", "active"]
    search_fields = ["title_id", "title_en", "requirements_id", "requirements_en"]
    fieldsets = [
        (None, {"fields": ["topic", "active", "order", ("title_id", "title_en")]}),
        (_("Requirements"), {"fields": [("requirements_id", "requirements_en")]}),
        (_("Procedure"), {"fields": [("procedure_id", "procedure_en")]}),
        (_("Legal basis"), {"fields": [("legal_basis_id", "legal_basis_en")]}),
        (_("Fees (levies)"), {"fields": [("fees_id", "fees_en")]}),
    ]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """Shared replies (no owner) are edited here; counselors manage their own in the console."""

    list_display = ["title", "owner", "language", "created_at"]
    list_filter = ["language", ("owner", admin.EmptyFieldListFilter)]
    search_fields = ["title", "text"]


# ------------------------------------------------------------- the core: topics, staff, records


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["code", "name_id", "name_en", "active", "order"]
    list_editable = ["active", "order"]
    search_fields = ["code", "name_id", "name_en"]
    ordering = ["order", "code"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """Staff accounts: role, the topics a counselor serves and how many chats they hold at once.

    Status and the routing bookkeeping are the console's; they are shown, not edited here."""

    list_display = ["display_name", "user", "role", "capacity", "status", "topic_list"]
    list_filter = ["role", "status", "topics"]
    search_fields = ["display_name", "user__username"]
    filter_horizontal = ["topics"]
    raw_id_fields = ["user"]
    fields = ["user", "display_name", "role", "topics", "capacity", "status", "last_assigned_at"]
    readonly_fields = ["status", "last_assigned_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StaffProfile]:
        return super().get_queryset(request).select_related("user").prefetch_related("topics")

    @admin.display(description=_("topics"))
    def topic_list(self, obj: StaffProfile) -> str:
        return ", ".join(topic.code for topic in obj.topics.all())


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TranscriptEntryInline(_ReadOnlyInline):
    model = TranscriptEntry
    fields = (
        "seq",
        "created_at",
        "kind",
        "author_role",
        "author",
        "text",
        "event",
        "data",
    )
    readonly_fields = fields
    ordering = ["seq"]
    verbose_name = _("transcript entry")
    verbose_name_plural = _("transcript")


class InternalNoteInline(_ReadOnlyInline):
    model = InternalNote
    fields = (
        "created_at",
        "kind",
        "author",
        "text",
    )
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    verbose_name = _("internal note")
    verbose_name_plural = _("internal notes (staff only)")


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Records the system writes: viewed here, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Consultation)
class ConsultationAdmin(_ReadOnlyAdmin):
    """Consultations, read-only, with the whole transcript. Opening one is a transcript read and
    is recorded like one (``TranscriptAccess`` with via "admin")."""

    list_display = ["public_id", "created_at", "topic", "mode", "status", "counselor", "outcome"]
    list_filter = ["status", "topic", "mode", "outcome", "rating"]
    list_select_related = ["topic", "counselor"]
    search_fields = ["=public_id"]
    date_hierarchy = "created_at"
    inlines = [TranscriptEntryInline, InternalNoteInline]
    fields = (
        "public_id",
        "topic",
        "mode",
        "language",
        "status",
        "counselor",
        "applicant_name",
        "applicant_phone",
        "applicant_email",
        "created_at",
        "first_accepted_at",
        "ended_at",
        "ended_by",
        "end_reason",
        "outcome",
        "rating",
        "rating_comment",
    )
    readonly_fields = fields

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        user = request.user
        if request.method == "GET" and response.status_code == 200 and user.is_authenticated:
            consultation = self.get_object(request, unquote(object_id))
            if consultation is not None:
                transcript_access_record(consultation=consultation, reader=user, via="admin")
        return response


@admin.register(TranscriptAccess)
class TranscriptAccessAdmin(_ReadOnlyAdmin):
    """The audit of transcript reads (page, API, admin)."""

    list_display = ["at", "reader", "via", "consultation"]
    list_filter = ["via"]
    list_select_related = ["reader", "consultation"]
    search_fields = ["reader__username", "=consultation__public_id"]
    date_hierarchy = "at"
    fields = (
        "at",
        "reader",
        "via",
        "seq",
        "reason",
        "consultation",
    )
    readonly_fields = fields


@admin.register(MaskingRule)
class MaskingRuleAdmin(admin.ModelAdmin):
    """What each role sees of each kind of personal identifier in each output; without a rule,
    the built-in default (docs/RECORDS.md, "Personal data")."""

    list_display = ["role", "output", "kind", "action"]
    list_filter = ["role", "output", "action"]
    list_editable = ["action"]


@admin.register(RetentionRule)
class RetentionRuleAdmin(admin.ModelAdmin):
    """How long each kind of data is kept after a consultation ends; without a rule, the
    default (docs/RECORDS.md, "Retention")."""

    list_display = ["data", "days"]


@admin.register(RecordStatement)
class RecordStatementAdmin(_ReadOnlyAdmin):
    """The office's log (docs/RECORDS.md): every seal and addendum, as signed."""

    list_display = ["index", "consultation", "n", "created_at"]
    list_select_related = ["consultation"]
    search_fields = ["=consultation__public_id"]
    fields = ("index", "consultation", "n", "statement", "signature", "hash", "created_at")
    readonly_fields = fields


@admin.register(Checkpoint)
class CheckpointAdmin(_ReadOnlyAdmin):
    """The log's signed checkpoints, as published at /.well-known/loket/checkpoint."""

    list_display = ["size", "created_at", "root"]
    fields = ("size", "root", "note", "created_at")
    readonly_fields = fields


@admin.register(SigningKey)
class SigningKeyAdmin(_ReadOnlyAdmin):
    """The office's public keys (``manage.py signing_key --rotate`` adds one)."""

    list_display = ["key_id", "created_at", "retired_at"]
    fields = ("key_id", "public_key", "created_at", "retired_at")
    readonly_fields = fields


@admin.register(Connection)
class ConnectionAdmin(_ReadOnlyAdmin):
    """Connections and whether their server process's heartbeat is live, for seeing who is
    connected to which server process."""

    list_display = ["role", "staff", "server_id", "opened_at", "live"]
    list_filter = ["role", "server_id"]
    fields = (
        "role",
        "staff",
        "consultation",
        "server_id",
        "opened_at",
        "live",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connection]:
        return super().get_queryset(request).annotate(is_live=heartbeat_live(timezone.now()))

    @admin.display(description=_("live"), boolean=True)
    def live(self, obj: Connection) -> bool:
        return bool(getattr(obj, "is_live", False))


@admin.register(ServerProcess)
class ServerProcessAdmin(_ReadOnlyAdmin):
    """Server processes' heartbeats: a process's connections live while its heartbeat does."""

    list_display = ["server_id", "started_at", "expires_at"]
    fields = ("server_id", "started_at", "expires_at")
    readonly_fields = fields


@admin.register(DeclinedOffer)
class DeclinedOfferAdmin(_ReadOnlyAdmin):
    """Offers a counselor declined or let lapse (routing skips them for that consultation)."""

    list_display = ["at", "counselor", "consultation"]
    list_select_related = ["counselor", "consultation"]
    fields = (
        "at",
        "counselor",
        "consultation",
    )
    readonly_fields = fields


# DispatchLock is one row that routing transactions lock; there is nothing to see or edit in it.
