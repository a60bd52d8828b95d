"""Django admin: what an office administrator edits (office hours, holidays, offline questions)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import OfficeHoliday, OfficeHours, OfflineQuestion


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
