"""Django admin: what an office administrator edits (office hours, holidays, offline questions)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import CannedReply, KnowledgeArticle, OfficeHoliday, OfficeHours, OfflineQuestion


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
