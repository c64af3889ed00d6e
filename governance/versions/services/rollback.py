"""Roll back: restore what an audit entry changed to how it was before, as a new entry."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from governance.versions.choices import EntryAction
from governance.versions.models import RuleChange, RuleRevision
from governance.versions.services.recording import person, recording, require_edit
from governance.versions.snapshot import (
    fingerprint,
    live_snapshot,
)
from portal.errors import Conflict, InvalidInput

# --- roll back ---------------------------------------------------------------------------------


def rollback_problems(entry: RuleRevision, *, lock: bool = False) -> list[str]:
    """A roll back restores the state before `entry`, so every object it touched must still be
    as the entry left it: a later change would be silently undone."""
    problems = []
    for change in entry.changes.all():
        model = change.content_type.model_class()
        live = live_snapshot(model, change.object_id, lock=lock)
        if fingerprint(live) != fingerprint(change.after):
            later = (
                RuleChange.objects.filter(
                    content_type_id=change.content_type_id,
                    object_id=change.object_id,
                    entry_id__gt=entry.pk,
                )
                .order_by("-entry_id")
                .values_list("entry_id", flat=True)
                .first()
            )
            hint = f"; roll back entry #{later} first" if later else ""
            problems.append(f"{change.object_repr} has changed since this entry{hint}.")
    return problems


def version_rollback(*, entry_id: int, user: Any, comment: str = "") -> RuleRevision:
    """Restore every object the entry touched to its state before it (delete what it created,
    bring back what it deleted, under the same id), recorded as a new entry."""
    with transaction.atomic():
        # Race: two people rolling back the same entry. The lock queues the second; it then
        # finds the roll back recorded (and `rollback_of` is unique besides) and gets a Conflict.
        entry = RuleRevision.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise InvalidInput("That audit entry does not exist.")
        require_edit(user=user, team_id=entry.team_id)
        done = RuleRevision.objects.filter(rollback_of=entry).select_related("user").first()
        if done is not None:
            raise Conflict(
                f"Entry #{entry.pk} was already rolled back by {person(done.user)} "
                f"(entry #{done.pk})."
            )
        problems = rollback_problems(entry, lock=True)
        if problems:
            raise Conflict(
                "Nothing was rolled back. " + " ".join(problems), errors={"changes": problems}
            )
        changes = list(entry.changes.select_related("content_type"))
        note = f"Rolled back entry #{entry.pk} by {person(user)}"
        with recording(
            user=user,
            action=EntryAction.ROLLED_BACK,
            comment=f"{note}: {comment.strip()}" if comment.strip() else note,
            rollback_of=entry,
            team_id=entry.team_id,
        ) as recorder:
            # Bring back and restore first (in order), delete what the entry created last.
            for change in changes:
                if change.before is not None:
                    recorder.apply(
                        model=change.content_type.model_class(),
                        pk=change.object_id,
                        state=change.before,
                    )
            for change in reversed(changes):
                if change.before is None:
                    recorder.apply(
                        model=change.content_type.model_class(), pk=change.object_id, state=None
                    )
        if recorder.entry is None:
            raise Conflict("Nothing to roll back: the rules already look as they did before.")
        return recorder.entry
