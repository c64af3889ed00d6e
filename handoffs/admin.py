from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from handoffs.choices import OutboxStatus
from handoffs.models import Handoff, HandoffEvent, Message, OutboxEntry
from handoffs.tasks import outbox_deliver
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
        "author",
        "created_at",
    ]
    list_filter = ["direction", "channel", "automated"]
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
