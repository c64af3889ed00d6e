"""Drafts (changes not live yet) and the audit (what changed, by whom, when, and how to undo it).

An audit entry (`RuleRevision`) groups every object one action touched: an admin save, a delete,
a published draft or a roll back. Each `RuleChange` keeps the object's state before and after
as a snapshot (`governance/versions/snapshot.py`), so the diff reads without recomputing and a
roll back restores exactly what was there. The matching django-reversion `Revision` (when the
action left objects behind) keeps the library's own per-object history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from governance.versions.choices import ChangeKind, DraftStatus, EntryAction

__all__ = ["DraftChange", "RuleChange", "RuleDraft", "RuleRevision"]


class RuleDraft(models.Model):
    """Changes gathered for one team (or organisation-wide: no team), not live until published."""

    team = models.ForeignKey(
        "portal.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=200)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=DraftStatus.choices, default=DraftStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    entry = models.OneToOneField(
        "governance.RuleRevision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="published_draft",
        help_text="The audit entry its publish made.",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["team", "status"], name="rule_draft_team_status")]

    def __str__(self) -> str:
        return f"Draft #{self.pk} {self.title}"


class DraftChange(models.Model):
    """One object's proposed state: new (no `object_id`), changed or deleted. `values` and
    `related` are as in `governance.changes.ProposedChange`, stored as JSON."""

    draft = models.ForeignKey(RuleDraft, on_delete=models.CASCADE, related_name="changes")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    object_repr = models.CharField(max_length=200)
    deletes = models.BooleanField(default=False, help_text="The draft deletes the row.")
    note = models.CharField(max_length=400, blank=True, help_text="Why, in the author's words.")
    values = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    related = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    base_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="The live object's fingerprint when the change was drafted: publishing "
        "refuses if it has changed since.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "content_type", "object_id"],
                condition=Q(object_id__isnull=False),
                name="draft_change_once_per_object",
            )
        ]

    def __str__(self) -> str:
        return self.object_repr


class RuleRevision(models.Model):
    """One audit entry: who did what, when and why, to one or more governed objects."""

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    action = models.CharField(max_length=12, choices=EntryAction.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    comment = models.CharField(max_length=500, blank=True)
    team = models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Whose rules changed; empty: organisation-wide.",
    )
    draft = models.ForeignKey(
        RuleDraft, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rollback_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rolled_back_by",
        help_text="The entry this one undid (one roll back per entry).",
    )
    revision = models.OneToOneField(
        "reversion.Revision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rule_revision",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["team", "-id"], name="rule_revision_team_id")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_action_display()}"


class RuleChange(models.Model):
    """One object in an audit entry, before and after (None: it did not exist)."""

    entry = models.ForeignKey(RuleRevision, on_delete=models.CASCADE, related_name="changes")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    object_repr = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=ChangeKind.choices)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    diff = models.JSONField(
        default=list,
        help_text="[{field, old, new}] as a person reads them (labels, names, HH:MM).",
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="rule_change_object"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.object_repr}"


from governance.versions.registry import register_governed  # noqa: E402

register_governed()
