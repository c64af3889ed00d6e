"""Drafts: changes kept out of the live rules until published, all at once or not at all."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from governance.versions.choices import DraftStatus, EntryAction
from governance.versions.models import DraftChange, RuleChange, RuleDraft, RuleRevision
from governance.versions.registry import spec_for, team_id_of
from governance.versions.services.recording import (
    UNSET,
    build_state,
    can_edit_team,
    person,
    recording,
    require_edit,
)
from governance.versions.snapshot import (
    describe,
    fingerprint,
    jsonable,
    live_snapshot,
    merged,
    snapshot,
)
from portal.errors import Conflict, InvalidInput

# --- drafts ------------------------------------------------------------------------------------


def _draft_title(user: Any) -> str:
    return f"{person(user)}'s changes, {timezone.localtime():%-d %b %H:%M}"


def draft_create(*, user: Any, team_id: int | None, title: str = "") -> RuleDraft:
    require_edit(user=user, team_id=team_id)
    return RuleDraft.objects.create(
        team_id=team_id, title=(title.strip() or _draft_title(user))[:200], author=user
    )


def _open_draft_for(
    *, user: Any, team_id: int | None, draft_id: int | None, title: str, new_draft: bool
) -> RuleDraft:
    if draft_id is not None:
        draft = RuleDraft.objects.select_for_update().filter(pk=draft_id).first()
        if draft is None or not can_edit_team(user=user, team_id=draft.team_id):
            raise InvalidInput("That draft does not exist.")
        if draft.status != DraftStatus.OPEN:
            raise Conflict(
                f"Draft #{draft.pk} is {draft.get_status_display().lower()}; start a new one."
            )
        if draft.team_id != team_id:
            raise InvalidInput(
                f"Draft #{draft.pk} holds {draft.team or 'organisation-wide'} changes only; this "
                "change belongs in another draft."
            )
        return draft
    if not new_draft and not title.strip():
        found = (
            RuleDraft.objects.select_for_update()
            .filter(author=user, team_id=team_id, status=DraftStatus.OPEN)
            .order_by("-id")
            .first()
        )
        if found is not None:
            return found
    return draft_create(user=user, team_id=team_id, title=title)


def draft_change_save(
    *,
    user: Any,
    model: type[models.Model],
    pk: int | None,
    values: dict[str, Any] | None = None,
    related: dict[str, list[dict[str, Any]]] | None = None,
    delete: bool = False,
    draft_id: int | None = None,
    title: str = "",
    new_draft: bool = False,
    note: str = "",
) -> DraftChange:
    """Put a change into a draft instead of making it live: the user's latest open draft for the
    object's team (or `draft_id`, or a new one when asked or given a `title`). A second change to
    the same object replaces the first but keeps the live state it was drafted against."""
    spec_for(model)
    with transaction.atomic():
        live = model._default_manager.filter(pk=pk).first() if pk is not None else None
        if pk is not None and live is None:
            raise InvalidInput("That row no longer exists.")
        live_snap = snapshot(live)
        live_team = team_id_of(model, live_snap["values"]) if live_snap else UNSET
        proposed = None if delete else merged(live_snap, values or {}, related or {})
        new_team = team_id_of(model, proposed["values"]) if proposed else live_team
        for team_id in {live_team, new_team} - {UNSET}:
            require_edit(user=user, team_id=team_id)
        if delete and live is None:
            raise InvalidInput("Only an existing row can be deleted.")
        if proposed is not None:
            built = build_state(model, model._default_manager.filter(pk=pk).first(), proposed)
            if built.problems:
                raise InvalidInput("The change does not validate: " + " ".join(built.problems))
        team_id = live_team if live is not None else new_team
        draft = _open_draft_for(
            user=user, team_id=team_id, draft_id=draft_id, title=title, new_draft=new_draft
        )
        content_type = ContentType.objects.get_for_model(model)
        name = str(live) if live is not None else describe(model, proposed)
        change = (
            draft.changes.filter(content_type=content_type, object_id=pk).first()
            if pk is not None
            else None
        )
        if change is None:
            change = DraftChange(
                draft=draft,
                content_type=content_type,
                object_id=pk,
                base_hash=fingerprint(live_snap),
            )
        change.object_repr = name[:200]
        change.deletes = delete
        change.note = note.strip()[:400] or change.note
        change.values = {} if delete else jsonable(values or {})
        change.related = {} if delete else jsonable(related or {})
        change.save()
        return change


def draft_change_remove(*, user: Any, change_id: int) -> RuleDraft:
    with transaction.atomic():
        change = DraftChange.objects.select_related("draft").filter(pk=change_id).first()
        if change is None:
            raise InvalidInput("That change is no longer in the draft.")
        draft = RuleDraft.objects.select_for_update().get(pk=change.draft_id)
        require_edit(user=user, team_id=draft.team_id)
        if draft.status != DraftStatus.OPEN:
            raise Conflict(f"Draft #{draft.pk} is {draft.get_status_display().lower()}.")
        change.delete()
        return draft


def _changed_since(content_type: ContentType, object_id: int, since: Any) -> str:
    later = (
        RuleChange.objects.filter(
            content_type=content_type, object_id=object_id, entry__created_at__gte=since
        )
        .select_related("entry__user")
        .order_by("-id")
        .first()
    )
    if later is None:
        return ""
    entry = later.entry
    when = timezone.localtime(entry.created_at)
    return f" (by {person(entry.user)}, {when:%-d %b %H:%M}, entry #{entry.pk})"


def stale_problems(change: DraftChange, *, lock: bool = False) -> list[str]:
    """Why a drafted change can no longer be applied as drafted: the live object changed or
    went since."""
    if change.object_id is None:
        return []
    model = change.content_type.model_class()
    live = live_snapshot(model, change.object_id, lock=lock)
    if live is None:
        return [f"{change.object_repr} was deleted after this was drafted; remove the change."]
    if fingerprint(live) != change.base_hash:
        who = _changed_since(change.content_type, change.object_id, change.created_at)
        return [
            f"{change.object_repr} changed after this was drafted{who}; remove the change and "
            "draft it again from the live rule."
        ]
    return []


def draft_publish(*, draft_id: int, user: Any) -> RuleRevision:
    """Apply every change in the draft at once, as one audit entry ("Published draft #N by …"),
    or nothing: a change that no longer validates, or whose live object changed since it was
    drafted, refuses the whole publish with the reason."""
    with transaction.atomic():
        # Race: two people pressing Publish together. The row lock queues the second until the
        # first commits; it then sees the draft published and gets a Conflict, not a re-run.
        draft = (
            RuleDraft.objects.select_for_update(of=("self",))
            .select_related("closed_by")
            .filter(pk=draft_id)
            .first()
        )
        if draft is None:
            raise InvalidInput("That draft does not exist.")
        require_edit(user=user, team_id=draft.team_id)
        if draft.status == DraftStatus.PUBLISHED:
            raise Conflict(f"Draft #{draft.pk} was already published by {person(draft.closed_by)}.")
        if draft.status == DraftStatus.DISCARDED:
            raise Conflict(f"Draft #{draft.pk} was discarded; it cannot be published.")
        changes = list(draft.changes.select_related("content_type"))
        if not changes:
            raise InvalidInput("The draft has no changes to publish.")
        problems = [p for change in changes for p in stale_problems(change, lock=True)]
        if problems:
            raise Conflict(
                "Nothing was published. " + " ".join(problems), errors={"changes": problems}
            )
        notes = "; ".join(f"{c.object_repr}: {c.note}" for c in changes if c.note)
        comment = f"Published draft #{draft.pk} by {person(user)}: {draft.title}"
        comment += f" — {notes}" if notes else ""
        with recording(
            user=user,
            action=EntryAction.PUBLISHED,
            comment=comment,
            draft=draft,
            team_id=draft.team_id,
        ) as recorder:
            for change in changes:
                model = change.content_type.model_class()
                if change.deletes:
                    recorder.apply(model=model, pk=change.object_id, state=None)
                    continue
                live = live_snapshot(model, change.object_id)
                state = merged(live, change.values, change.related)
                recorder.apply(model=model, pk=change.object_id, state=state)
        if recorder.entry is None:
            raise InvalidInput("Nothing to publish: every change matches the live rules already.")
        draft.status = DraftStatus.PUBLISHED
        draft.closed_at = timezone.now()
        draft.closed_by = user
        draft.entry = recorder.entry
        draft.save(update_fields=["status", "closed_at", "closed_by", "entry"])
        return recorder.entry


def draft_discard(*, draft_id: int, user: Any) -> RuleDraft:
    with transaction.atomic():
        draft = RuleDraft.objects.select_for_update().filter(pk=draft_id).first()
        if draft is None:
            raise InvalidInput("That draft does not exist.")
        require_edit(user=user, team_id=draft.team_id)
        if draft.status != DraftStatus.OPEN:
            raise Conflict(f"Draft #{draft.pk} is already {draft.get_status_display().lower()}.")
        draft.status = DraftStatus.DISCARDED
        draft.closed_at = timezone.now()
        draft.closed_by = user
        draft.save(update_fields=["status", "closed_at", "closed_by"])
        return draft
