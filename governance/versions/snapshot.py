"""A governed object's state as plain JSON, its fingerprint, and the diff a person reads.

A snapshot is `{"values": {attname: value}, "related": {name: [child values, ...]}}`: the fields
ops edit (plus a rule's version), children without their parent link, in JSON form (times as
"09:00:00"). Two snapshots of the same state are equal, so a fingerprint tells whether the live
object changed since a draft (or an audit entry) saw it."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from governance.versions.registry import spec_for

Snapshot = dict[str, Any]
NONE = "—"


def governed_fields(model: type[models.Model], parent: type[models.Model] | None = None) -> list:
    """The fields a version keeps: what ops edit, not ids or timestamps (and for a child, not
    the link to its parent)."""
    extra = spec_for(model).extra_fields if parent is None else ()
    out = []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if parent is not None and f.is_relation and f.related_model is parent:
            continue
        if f.name in extra or (
            f.editable
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
        ):
            out.append(f)
    return out


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def values_of(obj: models.Model, parent: type[models.Model] | None = None) -> dict[str, Any]:
    return jsonable(
        {f.attname: f.value_from_object(obj) for f in governed_fields(type(obj), parent)}
    )


def _sorted_children(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(children, key=lambda c: json.dumps(c, sort_keys=True))


def snapshot(obj: models.Model | None) -> Snapshot | None:
    if obj is None:
        return None
    model = type(obj)
    related = {
        name: _sorted_children([values_of(c, model) for c in getattr(obj, name).all()])
        for name in spec_for(model).children
    }
    return {"values": values_of(obj), "related": related}


def live_snapshot(
    model: type[models.Model], pk: int | None, *, lock: bool = False
) -> Snapshot | None:
    if pk is None:
        return None
    qs = model._default_manager.filter(pk=pk)
    if lock:
        qs = qs.select_for_update()
    return snapshot(qs.first())


def merged(live: Snapshot | None, values: dict[str, Any], related: dict[str, Any]) -> Snapshot:
    """A proposed state: the live one with the proposed values and child sets laid over it."""
    base = live or {"values": {}, "related": {}}
    return {
        "values": {**base["values"], **jsonable(values)},
        "related": {
            **base["related"],
            **{k: _sorted_children(jsonable(v)) for k, v in related.items()},
        },
    }


def fingerprint(snap: Snapshot | None) -> str:
    if snap is None:
        return ""
    normal = {
        "values": snap["values"],
        "related": {k: _sorted_children(v) for k, v in snap["related"].items()},
    }
    return hashlib.sha256(json.dumps(normal, sort_keys=True).encode()).hexdigest()


def typed(
    model: type[models.Model], values: dict[str, Any], parent: type[models.Model] | None = None
) -> dict[str, Any]:
    """JSON values back to Python ones, by attname (as a model constructor takes them)."""
    fields = {f.attname: f for f in governed_fields(model, parent)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        f = fields.get(name)
        if f is None:
            continue
        out[name] = value if value is None else f.to_python(value)
    return out


# --- what a person reads ---------------------------------------------------------------------

LIST_CHOICES: dict[str, str] = {
    "channels": "handoffs.choices.Channel",
    "weekdays": "portal.choices.Weekday",
    "promise_kinds": "governance.policies.choices.PromiseKind",
}


def _choices_for_list(name: str) -> dict[Any, str]:
    from django.utils.module_loading import import_string

    path = LIST_CHOICES.get(name)
    return dict(import_string(path).choices) if path else {}


def display(f: models.Field, value: Any, names: dict[tuple[type, Any], str]) -> str:
    if value is None or value == "" or value == []:
        if f.name == "team":
            return "Organisation-wide"
        return NONE
    if f.is_relation:
        return names.get((f.related_model, value), f"#{value}")
    if f.choices:
        return str(dict(f.flatchoices).get(f.to_python(value), value))
    if isinstance(f, models.BooleanField):
        return "yes" if value else "no"
    if isinstance(value, list) and (labels := _choices_for_list(f.name)):
        return ", ".join(str(labels.get(v, v)) for v in value)
    if isinstance(f, models.TimeField):
        return f"{f.to_python(value):%H:%M}"
    if isinstance(f, models.DateField):
        parsed: date = f.to_python(value)
        return f"{parsed:%d %b %Y}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _label(f: models.Field) -> str:
    name = str(f.verbose_name)
    return name[:1].upper() + name[1:]


def _related_names(
    model: type[models.Model], snaps: list[Snapshot | None]
) -> dict[tuple[type, Any], str]:
    """Names of the rows foreign keys point at (a team, a calendar, a rule), one query a model."""
    wanted: dict[type, set[Any]] = {}
    for f in governed_fields(model):
        if not f.is_relation:
            continue
        for snap in snaps:
            if snap and snap["values"].get(f.attname) is not None:
                wanted.setdefault(f.related_model, set()).add(snap["values"][f.attname])
    names: dict[tuple[type, Any], str] = {}
    for related, ids in wanted.items():
        for row in related._default_manager.filter(pk__in=ids):
            names[(related, row.pk)] = str(row)
    return names


def _children(
    child_model: type[models.Model], parent: type[models.Model], values: list[dict[str, Any]]
) -> list[models.Model]:
    """Unsaved child rows in their model's own order (a calendar's periods by day and time)."""
    order = [name.lstrip("-") for name in child_model._meta.ordering]
    rows = [child_model(**typed(child_model, v, parent)) for v in values]
    return sorted(rows, key=lambda row: tuple(getattr(row, name) for name in order))


def _summary(model: type[models.Model], name: str, rows: list[models.Model]) -> str:
    if model._meta.label_lower == "governance.businesscalendar" and name == "periods":
        from governance.sla_admin import hours_summary  # as the calendar list shows them

        return hours_summary(rows)  # type: ignore[arg-type]
    return "; ".join(str(row) for row in rows)


def diff(
    model: type[models.Model], before: Snapshot | None, after: Snapshot | None
) -> list[dict[str, str]]:
    """[{field, old, new}] for every field that differs, labels and names rather than codes."""
    names = _related_names(model, [before, after])
    rows: list[dict[str, str]] = []
    old_values = (before or {}).get("values", {})
    new_values = (after or {}).get("values", {})
    for f in governed_fields(model):
        old, new = old_values.get(f.attname), new_values.get(f.attname)
        if before is not None and after is not None and old == new:
            continue
        if before is None and after is not None and new in (None, "", [], {}):
            continue
        if after is None and before is not None and old in (None, "", [], {}):
            continue
        rows.append(
            {
                "field": _label(f),
                "old": display(f, old, names) if before is not None else NONE,
                "new": display(f, new, names) if after is not None else NONE,
            }
        )
    for name, child_model in spec_for(model).children.items():
        old_set = (before or {}).get("related", {}).get(name, [])
        new_set = (after or {}).get("related", {}).get(name, [])
        if _sorted_children(old_set) == _sorted_children(new_set):
            continue
        old_objs = _children(child_model, model, old_set)
        new_objs = _children(child_model, model, new_set)
        old_labels, new_labels = [str(o) for o in old_objs], [str(o) for o in new_objs]
        kept = set(old_labels) & set(new_labels)
        label = str(child_model._meta.verbose_name_plural)
        rows.append(
            {
                "field": label[:1].upper() + label[1:],
                "old": _summary(model, name, old_objs) if old_objs else NONE,
                "new": _summary(model, name, new_objs) if new_objs else NONE,
                # Which ones, when only some changed (a whole new set reads best as old → new).
                "removed": "; ".join(x for x in old_labels if x not in kept) if kept else "",
                "added": "; ".join(x for x in new_labels if x not in kept) if kept else "",
            }
        )
    return rows


def describe(model: type[models.Model], snap: Snapshot) -> str:
    """The object's name as its own __str__ gives it, for a row that may not exist (any more)."""
    try:
        return str(model(**typed(model, snap["values"])))[:200]
    except Exception:
        return str(snap["values"].get("name") or model._meta.verbose_name)[:200]


__all__ = [
    "Snapshot",
    "describe",
    "diff",
    "fingerprint",
    "governed_fields",
    "jsonable",
    "live_snapshot",
    "merged",
    "snapshot",
    "typed",
    "values_of",
]
