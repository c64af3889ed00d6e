"""Every write to a governed rule goes through here, so each one is an audit entry: an admin save
or delete (`recording`, wrapped around the admin's own view), a draft's changes (drafted, then
published in one transaction), and a roll back of any entry. Each entry is also a
django-reversion revision of the objects it left behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import reversion
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils import timezone
from reversion.models import Version

from governance.versions.choices import ChangeKind, DraftStatus, EntryAction
from governance.versions.models import DraftChange, RuleChange, RuleDraft, RuleRevision
from governance.versions.registry import extra_problems, spec_for, team_id_of
from governance.versions.snapshot import (
    Snapshot,
    describe,
    diff,
    fingerprint,
    jsonable,
    live_snapshot,
    merged,
    snapshot,
    typed,
)
from portal.errors import Conflict, Forbidden, InvalidInput
from portal.roles import EDIT_RULES
from portal.selectors import user_can

UNSET: Any = object()


def person(user: Any) -> str:
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()


def can_edit_team(*, user: Any, team_id: int | None) -> bool:
    """Ops edit the teams they are granted; organisation-wide rules are a superuser's."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return team_id is not None and user_can(user=user, codename=EDIT_RULES, team_id=team_id)


def _require_edit(*, user: Any, team_id: int | None) -> None:
    if can_edit_team(user=user, team_id=team_id):
        return
    if team_id is None:
        raise Forbidden("Only superusers change organisation-wide rules.")
    raise Forbidden("You may not change this team's rules.")


# --- applying a state -----------------------------------------------------------------------


@dataclass
class Built:
    obj: models.Model
    children: dict[str, list[models.Model]]
    problems: list[str]


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            (f"{name}: {m}" if name != "__all__" else m)
            for name, msgs in error.message_dict.items()
            for m in msgs
        ]
    return list(error.messages)


def _build(model: type[models.Model], live: models.Model | None, state: Snapshot) -> Built:
    """The object (and its children) as `state` would save them, checked but not saved."""
    spec = spec_for(model)
    obj = live if live is not None else model()
    for name, value in typed(model, state["values"]).items():
        setattr(obj, name, value)
    problems: list[str] = []
    try:
        obj.full_clean(exclude=list(spec.extra_fields))
    except ValidationError as error:
        problems += _messages(error)
    children: dict[str, list[models.Model]] = {}
    for name, child_model in spec.children.items():
        if name not in state["related"]:
            continue
        parent_field = next(
            f.name
            for f in child_model._meta.concrete_fields
            if f.is_relation and f.related_model is model
        )
        built = []
        for values in state["related"][name]:
            child = child_model(**typed(child_model, values, model))
            try:
                child.full_clean(exclude=[parent_field], validate_constraints=False)
            except ValidationError as error:
                problems += [f"{child}: {m}" for m in _messages(error)]
            built.append(child)
        seen = [str(c) for c in built]
        problems += [f"{label} appears twice." for label in {s for s in seen if seen.count(s) > 1}]
        children[name] = built
    if not problems:
        problems += extra_problems(model, obj, children)
    return Built(obj, children, problems)


class Recorder:
    """Collects the objects an action touches (their state before), then writes one audit entry
    with what each looks like after. Use through `recording`."""

    def __init__(
        self,
        *,
        user: Any,
        action: str,
        comment: str = "",
        draft: RuleDraft | None = None,
        rollback_of: RuleRevision | None = None,
        team_id: Any = UNSET,
    ) -> None:
        self.user, self.action, self.comment = user, action, comment
        self.draft, self.rollback_of, self.team_id = draft, rollback_of, team_id
        self.before: dict[tuple[type[models.Model], int], Snapshot | None] = {}
        self.entry: RuleRevision | None = None

    def track(self, model: type[models.Model], pk: Any) -> None:
        """Note the object's state before the action touches it (once)."""
        try:
            key = (model, int(pk))
        except (TypeError, ValueError):
            return
        if key not in self.before:
            self.before[key] = live_snapshot(model, key[1], lock=True)

    def track_created(self, model: type[models.Model], pk: int) -> None:
        self.before.setdefault((model, pk), None)

    def apply(
        self,
        *,
        model: type[models.Model],
        pk: int | None,
        state: Snapshot | None,
    ) -> models.Model | None:
        """Make the object look like `state` (None: delete it). A pk with no live row restores
        it under that pk. Raises InvalidInput, naming the object, when it does not validate."""
        live = model._default_manager.select_for_update().filter(pk=pk).first() if pk else None
        if live is not None:
            self.track(model, pk)
        name = str(live) if live is not None else describe(model, state) if state else f"#{pk}"
        if state is None:
            if live is None:
                return None
            try:
                live.delete()
            except (ProtectedError, RestrictedError) as error:
                blockers = getattr(error, "protected_objects", None) or error.restricted_objects
                users = ", ".join(sorted({str(o) for o in blockers})[:5])
                raise InvalidInput(
                    f"{name} cannot be deleted: it is still used by {users}.",
                    errors={name: ["still in use"]},
                ) from None
            return None
        built = _build(model, live, state)
        if built.problems:
            raise InvalidInput(
                f"{name} does not validate: " + " ".join(built.problems),
                errors={name: built.problems},
            )
        obj = built.obj
        if "version" in spec_for(model).extra_fields:
            # A rule's version counts its published changes (reasons quote it).
            before = self.before.get((model, int(pk))) if live is not None else None
            if live is None:
                restored = state["values"].get("version")
                obj.version = (restored or 0) + 1 if pk else 1
            elif before is not None:
                changed = {k: v for k, v in state["values"].items() if k != "version"}
                old = {k: v for k, v in before["values"].items() if k != "version"}
                obj.version = (before["values"]["version"] or 0) + (1 if changed != old else 0)
        try:
            with transaction.atomic():
                if live is None and pk is not None:
                    obj.pk = pk
                    obj.save(force_insert=True)
                else:
                    obj.save()
                for related_name, children in built.children.items():
                    getattr(obj, related_name).all().delete()
                    parent_field = (
                        next(
                            f.name
                            for f in type(children[0])._meta.concrete_fields
                            if f.is_relation and f.related_model is model
                        )
                        if children
                        else None
                    )
                    for child in children:
                        setattr(child, parent_field, obj)
                        child.save()
        except IntegrityError as error:
            raise InvalidInput(
                f"{name} could not be saved: it clashes with another row "
                f"({error.__cause__ or error}).",
                errors={name: ["clashes with another row"]},
            ) from None
        if live is None:
            self.track_created(model, obj.pk)
        return obj

    def finish(self) -> RuleRevision | None:
        rows: list[tuple[type[models.Model], int, Snapshot | None, Snapshot | None]] = []
        for (model, pk), before in self.before.items():
            after = live_snapshot(model, pk)
            if fingerprint(before) != fingerprint(after):
                rows.append((model, pk, before, after))
        if not rows:
            return None
        first_model, _pk, first_before, first_after = rows[0]
        team_id = self.team_id
        if team_id is UNSET:
            team_id = team_id_of(first_model, (first_after or first_before)["values"])
        entry = RuleRevision.objects.create(
            action=self.action,
            user=self.user,
            comment=self.comment[:500],
            team_id=team_id,
            draft=self.draft,
            rollback_of=self.rollback_of,
        )
        survivors = []
        changes = []
        for model, pk, before, after in rows:
            live = model._default_manager.filter(pk=pk).first() if after else None
            if live is not None:
                survivors.append(live)
            kind = (
                ChangeKind.CREATED
                if before is None
                else ChangeKind.DELETED
                if after is None
                else ChangeKind.CHANGED
            )
            changes.append(
                RuleChange(
                    entry=entry,
                    content_type=ContentType.objects.get_for_model(model),
                    object_id=pk,
                    object_repr=(str(live) if live else describe(model, before or after))[:200],
                    kind=kind,
                    before=before,
                    after=after,
                    diff=diff(model, before, after),
                )
            )
        RuleChange.objects.bulk_create(changes)
        if survivors:
            with reversion.create_revision(manage_manually=True):
                reversion.set_user(self.user)
                reversion.set_comment(self.comment or entry.get_action_display())
                for obj in survivors:
                    reversion.add_to_revision(obj)
            version = Version.objects.get_for_object(survivors[0]).first()
            if version is not None:
                entry.revision_id = version.revision_id
                entry.save(update_fields=["revision"])
        self.entry = entry
        return entry


@contextmanager
def recording(**kwargs: Any) -> Iterator[Recorder]:
    """One transaction whose changes to governed objects become one audit entry (none when
    nothing changed: an invalid form, a save with no change)."""
    with transaction.atomic():
        recorder = Recorder(**kwargs)
        yield recorder
        recorder.finish()


# --- drafts ------------------------------------------------------------------------------------


def _draft_title(user: Any) -> str:
    return f"{person(user)}'s changes, {timezone.localtime():%-d %b %H:%M}"


def draft_create(*, user: Any, team_id: int | None, title: str = "") -> RuleDraft:
    _require_edit(user=user, team_id=team_id)
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
            _require_edit(user=user, team_id=team_id)
        if delete and live is None:
            raise InvalidInput("Only an existing row can be deleted.")
        if proposed is not None:
            built = _build(model, model._default_manager.filter(pk=pk).first(), proposed)
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
        _require_edit(user=user, team_id=draft.team_id)
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
        _require_edit(user=user, team_id=draft.team_id)
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
        _require_edit(user=user, team_id=draft.team_id)
        if draft.status != DraftStatus.OPEN:
            raise Conflict(f"Draft #{draft.pk} is already {draft.get_status_display().lower()}.")
        draft.status = DraftStatus.DISCARDED
        draft.closed_at = timezone.now()
        draft.closed_by = user
        draft.save(update_fields=["status", "closed_at", "closed_by"])
        return draft


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
        _require_edit(user=user, team_id=entry.team_id)
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
