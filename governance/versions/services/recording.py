"""The transaction every governed change runs in, written as one audit entry; who may edit which
team's rules; and applying a state to a governed object (checked exactly as admin checks it)."""

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
from reversion.models import Version

from governance.versions.choices import ChangeKind
from governance.versions.models import RuleChange, RuleDraft, RuleRevision
from governance.versions.registry import extra_problems, spec_for, team_id_of
from governance.versions.snapshot import (
    Snapshot,
    describe,
    diff,
    fingerprint,
    live_snapshot,
    typed,
)
from portal.errors import Forbidden, InvalidInput
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


def require_edit(*, user: Any, team_id: int | None) -> None:
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


def build_state(model: type[models.Model], live: models.Model | None, state: Snapshot) -> Built:
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
        built = build_state(model, live, state)
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
