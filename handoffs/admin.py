from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from handoffs.choices import OutboxStatus
from handoffs.models import (
    FaqEntry,
    Handoff,
    HandoffEvent,
    Message,
    OutboxEntry,
    TriagePhrase,
    TriageSettings,
)
from handoffs.tasks import outbox_deliver
from handoffs.triage.choices import FaqStatus
from handoffs.triage.services import faq_entries_review
from handoffs.triage.trial import TriagePhraseForm, TryMessageLink, TryMessagePage
from portal.admin import TeamScopedAdmin


class ReadOnlyAdmin(TeamScopedAdmin):
    """State changes go through services (the portal and the API), never through admin edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HandoffEventInline(admin.TabularInline):
    model = HandoffEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "kind", "actor", "data"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "contact",
        "team",
        "trigger",
        "priority",
        "status",
        "assignee",
        "first_response_due_at",
        "breached",
    ]
    list_filter = ["team", "trigger", "priority", "status", "breached"]
    search_fields = ["contact__external_id", "contact__name", "reason"]
    list_select_related = ["contact", "team", "assignee"]
    inlines = [HandoffEventInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    team_path = "handoff__team"
    list_display = [
        "id",
        "conversation",
        "direction",
        "channel",
        "automated",
        "triage",
        "sentiment",
        "author",
        "created_at",
    ]
    list_filter = ["direction", "channel", "automated", "triage"]
    list_select_related = ["conversation__contact", "author"]


@admin.register(OutboxEntry)
class OutboxAdmin(ReadOnlyAdmin):
    team_path = "message__handoff__team"
    list_display = [
        "id",
        "channel",
        "to_address",
        "status",
        "attempts",
        "backend",
        "provider_message_id",
        "created_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "channel", "backend"]
    search_fields = ["to_address", "provider_message_id"]
    actions = ["retry_now"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("handoffs.change_outboxentry")

    @admin.action(description="Retry delivery now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxEntry]) -> None:
        ids = list(
            queryset.filter(status__in=[OutboxStatus.FAILED, OutboxStatus.QUEUED]).values_list(
                "id", flat=True
            )
        )
        OutboxEntry.objects.filter(id__in=ids).update(
            status=OutboxStatus.QUEUED, next_attempt_at=timezone.now(), lease_until=None
        )
        for entry_id in ids:
            outbox_deliver.delay(entry_id)
        self.message_user(request, f"Queued {len(ids)} message(s) for delivery.")


# ---- triage: the data ops edit (docs/triage.md) -------------------------------------------


@admin.register(TriagePhrase)
class TriagePhraseAdmin(TryMessagePage, admin.ModelAdmin):
    """Phrases are patterns; the form refuses one that cannot be read. "Try a message"
    (its own URL under this admin) shows what triage would make of any text."""

    form = TriagePhraseForm
    list_display = ["phrase", "kind", "whole_message", "enabled", "updated_at"]
    list_editable = ["enabled"]
    list_filter = ["kind", "enabled", "whole_message"]
    search_fields = ["phrase"]
    change_list_template = "admin/handoffs/triage_change_list.html"
    change_form_template = "admin/handoffs/triage_change_form.html"


@admin.register(TriageSettings)
class TriageSettingsAdmin(TryMessageLink, admin.ModelAdmin):
    """One row: it is edited, never added twice or deleted."""

    list_display = [
        "__str__",
        "angry_at_most",
        "positive_at_least",
        "faq_match_at_least",
        "default_team",
    ]
    change_list_template = "admin/handoffs/triage_change_list.html"
    change_form_template = "admin/handoffs/triage_change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not TriageSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FaqEntry)
class FaqEntryAdmin(TryMessageLink, admin.ModelAdmin):
    """Candidates come from answered complexity handoffs; "Approve" makes an entry live for the
    ranker from the next message on, "Reject" keeps it out."""

    list_display = ["question", "status", "source_handoff", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["question", "answer", "keywords"]
    readonly_fields = [
        "status",
        "source_handoff",
        "created_by",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    ]
    fields = ["question", "answer", "keywords", *readonly_fields]
    actions = ["approve", "reject"]
    list_select_related = ["created_by", "source_handoff"]
    change_list_template = "admin/handoffs/triage_change_list.html"
    change_form_template = "admin/handoffs/triage_change_form.html"

    def save_model(self, request: HttpRequest, obj: FaqEntry, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # a new entry is a candidate until approved
        super().save_model(request, obj, form, change)

    @admin.action(description="Approve (the bot answers with it)", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[FaqEntry]) -> None:
        self._review(request, queryset, FaqStatus.APPROVED, "approved")

    @admin.action(description="Reject", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[FaqEntry]) -> None:
        self._review(request, queryset, FaqStatus.REJECTED, "rejected")

    def _review(
        self, request: HttpRequest, queryset: QuerySet[FaqEntry], status: str, done: str
    ) -> None:
        ids = list(queryset.values_list("id", flat=True))
        changed = faq_entries_review(entry_ids=ids, status=status, user=request.user)
        self.message_user(request, f"{changed} FAQ entr{'y' if changed == 1 else 'ies'} {done}.")
