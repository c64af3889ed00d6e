"""Versions, drafts and roll back as services (governance/versions/services.py), on PostgreSQL:
every change is an entry with a readable diff; drafts are not live; publish is all or nothing,
once, and refuses a stale draft; roll back restores what was there and is itself recorded."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from django.db import connection
from reversion.models import Version

from conftest import Org, run_concurrently
from governance.changes import ProposedChange
from governance.models import (
    BusinessCalendar,
    FrequencyCap,
    HandoffRuleSla,
    OpeningPeriod,
    QuietHours,
    SlaPolicy,
    ToneRule,
)
from governance.policies.rules import ruleset_for
from governance.versions.choices import ChangeKind, DraftStatus, EntryAction
from governance.versions.models import RuleDraft, RuleRevision
from governance.versions.selectors import draft_changes, draft_proposed_changes
from governance.versions.services import (
    draft_change_save,
    draft_discard,
    draft_publish,
    recording,
    version_rollback,
)
from governance.versions.snapshot import snapshot, values_of
from handoffs.models import Handoff
from journeys.models import HandoffRule
from portal.errors import Conflict, Forbidden, InvalidInput

pytestmark = pytest.mark.django_db


def rule_values(rule: HandoffRule, **changes: Any) -> dict[str, Any]:
    return {**values_of(rule), **changes}


def cap(org: Org, **fields: Any) -> FrequencyCap:
    return FrequencyCap.objects.create(
        **{
            "name": "Three a week",
            "team": org.teams["sales"],
            "limit": 3,
            "window_amount": 7,
            "window_unit": "days",
            **fields,
        }
    )


def draft_rule_change(org: Org, **changes: Any) -> Any:
    return draft_change_save(
        user=org.users["olive"],
        model=HandoffRule,
        pk=org.rule.pk,
        values=rule_values(org.rule, **changes),
    )


# --- drafts are not live ---------------------------------------------------------------------


def test_a_drafted_change_leaves_the_live_rule_untouched(org: Org) -> None:
    change = draft_rule_change(
        org, priority="low", condition={"path": "properties.budget", "op": ">=", "value": 1}
    )

    org.rule.refresh_from_db()
    assert (org.rule.priority, org.rule.version) == ("urgent", 1)
    assert change.draft.status == DraftStatus.OPEN
    assert change.draft.team == org.teams["sales"]
    assert RuleRevision.objects.count() == 0


def test_ingestion_raises_handoffs_from_the_live_rule_while_a_draft_would_not(
    org: Org, send_signal: Any
) -> None:
    draft_rule_change(org, condition={"path": "properties.budget", "op": ">=", "value": 100000})
    draft_change_save(user=org.users["olive"], model=HandoffRule, pk=org.rule.pk, delete=True)

    assert send_signal(budget=60000).status_code == 202

    handoff = Handoff.objects.get()
    assert handoff.priority == "urgent"


def test_the_sla_due_time_comes_from_the_live_rule_sla_not_the_draft(
    org: Org, send_signal: Any
) -> None:
    sla = HandoffRuleSla.objects.create(rule=org.rule, first_response_minutes=10)
    draft_change_save(
        user=org.users["olive"],
        model=HandoffRuleSla,
        pk=sla.pk,
        values={"first_response_minutes": 600},
    )

    send_signal(budget=60000)

    handoff = Handoff.objects.get()
    assert handoff.first_response_due_at - handoff.created_at <= timedelta(minutes=11)


def test_governed_sends_read_only_live_caps_and_quiet_hours(org: Org) -> None:
    sales = org.teams["sales"]
    draft_change_save(
        user=org.users["olive"],
        model=FrequencyCap,
        pk=None,
        values={
            "name": "Never",
            "team_id": sales.pk,
            "limit": 0,
            "window_amount": 1,
            "window_unit": "days",
            "channels": [],
            "action": "suppress",
            "active": True,
        },
    )
    draft_change_save(
        user=org.users["olive"],
        model=QuietHours,
        pk=None,
        values={
            "name": "All day",
            "team_id": sales.pk,
            "starts": "00:00:00",
            "ends": "23:59:00",
            "weekdays": [],
            "channels": [],
            "action": "defer",
            "active": True,
        },
    )

    assert ruleset_for(team=sales).caps == ()
    assert ruleset_for(team=sales).quiet == ()

    draft_publish(draft_id=RuleDraft.objects.get().pk, user=org.users["olive"])

    ruleset = ruleset_for(team=sales)
    assert [c.name for c in ruleset.caps] == ["Never"]
    assert [q.name for q in ruleset.quiet] == ["All day"]


# --- publish -------------------------------------------------------------------------------------


def test_publishing_applies_every_change_as_one_entry_and_bumps_the_rule_version(org: Org) -> None:
    olive = org.users["olive"]
    change = draft_rule_change(org, priority="high")
    existing = cap(org)
    draft_change_save(
        user=olive,
        model=FrequencyCap,
        pk=existing.pk,
        values={"limit": 5},
        draft_id=change.draft_id,
        note="renewals need room",
    )

    entry = draft_publish(draft_id=change.draft_id, user=olive)

    org.rule.refresh_from_db()
    existing.refresh_from_db()
    assert (org.rule.priority, org.rule.version, existing.limit) == ("high", 2, 5)
    assert entry.action == EntryAction.PUBLISHED
    assert entry.comment.startswith(f"Published draft #{change.draft_id} by Olive Ortiz")
    assert entry.comment.endswith("— Three a week: renewals need room")
    assert entry.user == olive and entry.team == org.teams["sales"]
    diffs = {c.object_repr: c.diff for c in entry.changes.all()}
    assert {"field": "Priority", "old": "Urgent", "new": "High"} in diffs["High value v2"]
    assert {"field": "Version", "old": "1", "new": "2"} in diffs["High value v2"]
    assert diffs["Three a week"] == [{"field": "Limit", "old": "3", "new": "5"}]
    draft = RuleDraft.objects.get(pk=change.draft_id)
    assert (draft.status, draft.entry, draft.closed_by) == ("published", entry, olive)
    # django-reversion keeps the library's history: one revision holding both objects.
    assert entry.revision is not None
    assert entry.revision.version_set.count() == 2
    assert Version.objects.get_for_object(org.rule).first().revision == entry.revision


def test_a_publish_with_one_invalid_change_applies_nothing(org: Org) -> None:
    olive = org.users["olive"]
    existing = cap(org)
    change = draft_change_save(user=olive, model=FrequencyCap, pk=existing.pk, values={"limit": 9})
    # The live rule is fine, but by publish time the drafted condition is refused (a check the
    # draft passed is bypassed here to stand for a rule whose meaning changed since).
    bad = draft_rule_change(org, priority="high")
    type(bad).objects.filter(pk=bad.pk).update(values=rule_values(org.rule, condition={"op": "?"}))

    with pytest.raises(InvalidInput) as refused:
        draft_publish(draft_id=change.draft_id, user=olive)

    assert "does not validate" in refused.value.detail
    existing.refresh_from_db()
    org.rule.refresh_from_db()
    assert (existing.limit, org.rule.priority) == (3, "urgent")
    assert RuleRevision.objects.count() == 0
    assert RuleDraft.objects.get(pk=change.draft_id).status == DraftStatus.OPEN


def test_a_draft_whose_live_rule_changed_since_refuses_to_publish_and_says_who(org: Org) -> None:
    olive = org.users["olive"]
    change = draft_rule_change(org, priority="high")
    with recording(user=olive, action=EntryAction.SAVED, comment="hotfix") as recorder:
        recorder.track(HandoffRule, org.rule.pk)
        HandoffRule.objects.filter(pk=org.rule.pk).update(reason_template="Big budget")

    with pytest.raises(Conflict) as refused:
        draft_publish(draft_id=change.draft_id, user=olive)

    assert "changed after this was drafted (by Olive Ortiz" in refused.value.detail
    org.rule.refresh_from_db()
    assert org.rule.priority == "urgent"
    assert draft_changes(change.draft)[0].problems


def test_a_drafted_change_to_a_row_deleted_since_refuses(org: Org) -> None:
    existing = cap(org)
    change = draft_change_save(
        user=org.users["olive"], model=FrequencyCap, pk=existing.pk, values={"limit": 1}
    )
    existing.delete()

    with pytest.raises(Conflict, match="was deleted after this was drafted"):
        draft_publish(draft_id=change.draft_id, user=org.users["olive"])


@pytest.mark.django_db(transaction=True)
def test_two_people_publishing_the_same_draft_at_once_publish_it_once(org: Org) -> None:
    change = draft_rule_change(org, priority="high")
    olive = org.users["olive"]

    def publish() -> Any:
        try:
            return draft_publish(draft_id=change.draft_id, user=olive)
        except Conflict as lost:
            return lost

    results = run_concurrently([publish, publish])

    assert sum(isinstance(r, RuleRevision) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert "already published" in next(r for r in results if isinstance(r, Conflict)).detail
    assert RuleRevision.objects.count() == 1
    assert HandoffRule.objects.get().version == 2


def test_a_discarded_draft_cannot_be_published(org: Org) -> None:
    change = draft_rule_change(org, priority="high")
    draft_discard(draft_id=change.draft_id, user=org.users["olive"])

    with pytest.raises(Conflict, match="discarded"):
        draft_publish(draft_id=change.draft_id, user=org.users["olive"])
    assert HandoffRule.objects.get().priority == "urgent"


@pytest.mark.parametrize(
    ("who", "team", "allowed"),
    [
        ("olive", "sales", True),  # ops of the team
        ("lee", "sales", False),  # a leader reads, never edits
        ("sam", "sales", False),  # a director reads
        ("riley", "sales", False),  # a rep
        ("olive", None, False),  # organisation-wide: superusers only
    ],
)
def test_who_may_draft_a_change(org: Org, who: str, team: str | None, allowed: bool) -> None:
    row = FrequencyCap.objects.create(
        name="Cap",
        team=org.teams[team] if team else None,
        limit=3,
        window_amount=7,
        window_unit="days",
    )

    def attempt() -> Any:
        return draft_change_save(
            user=org.users[who], model=FrequencyCap, pk=row.pk, values={"limit": 2}
        )

    if allowed:
        assert attempt().draft.team_id == row.team_id
    else:
        with pytest.raises(Forbidden):
            attempt()


def test_a_draft_that_fails_validation_is_refused_at_once(org: Org) -> None:
    with pytest.raises(InvalidInput, match="Rule condition"):
        draft_rule_change(org, condition={"path": "properties.budget", "op": "≈", "value": 1})
    assert RuleDraft.objects.count() == 0


def test_a_second_change_to_the_same_row_replaces_the_first_in_the_draft(org: Org) -> None:
    first = draft_rule_change(org, priority="high")
    second = draft_rule_change(org, priority="low")

    assert first.pk == second.pk
    assert second.values["priority"] == "low"
    assert second.draft.changes.count() == 1


# --- calendars with their inline children ------------------------------------------------------


def calendar(org: Org) -> BusinessCalendar:
    row = BusinessCalendar.objects.create(name="Sales office", team=org.teams["sales"])
    for day in range(5):
        OpeningPeriod.objects.create(calendar=row, weekday=day, starts=time(9), ends=time(17))
    return row


def test_a_calendar_draft_replaces_its_periods_and_the_diff_names_them(org: Org) -> None:
    row = calendar(org)
    periods = [
        {"weekday": d, "starts": "09:00:00", "ends": "17:30:00", "overnight": False}
        for d in range(5)
    ]
    change = draft_change_save(
        user=org.users["olive"],
        model=BusinessCalendar,
        pk=row.pk,
        values={"time_zone": "Europe/Paris"},
        related={"periods": periods},
    )
    view = draft_changes(change.draft)[0]
    assert {"field": "Time zone", "old": "Europe/London", "new": "Europe/Paris"} in view.rows
    period_row = next(r for r in view.rows if r["field"] == "Opening periods")
    assert (period_row["old"], period_row["new"]) == ("Mon–Fri 09:00–17:00", "Mon–Fri 09:00–17:30")
    assert period_row["added"] == ""  # the whole set changed: old → new says it
    assert set(row.periods.values_list("ends", flat=True)) == {time(17)}

    entry = draft_publish(draft_id=change.draft_id, user=org.users["olive"])

    assert sorted(set(row.periods.values_list("ends", flat=True))) == [time(17, 30)]
    assert row.periods.count() == 5
    version_rollback(entry_id=entry.pk, user=org.users["olive"])
    row.refresh_from_db()
    assert row.time_zone == "Europe/London"
    assert sorted(set(row.periods.values_list("ends", flat=True))) == [time(17)]


def test_a_calendar_diff_names_the_periods_added_and_removed_when_some_stay(org: Org) -> None:
    row = calendar(org)
    periods = [
        {"weekday": d, "starts": "09:00:00", "ends": "17:00:00", "overnight": False}
        for d in range(4)
    ] + [{"weekday": 5, "starts": "10:00:00", "ends": "14:00:00", "overnight": False}]
    change = draft_change_save(
        user=org.users["olive"],
        model=BusinessCalendar,
        pk=row.pk,
        values={},
        related={"periods": periods},
    )

    (period_row,) = draft_changes(change.draft)[0].rows

    assert period_row["new"] == "Mon–Thu 09:00–17:00; Sat 10:00–14:00"
    assert (period_row["removed"], period_row["added"]) == (
        "Friday 09:00–17:00",
        "Saturday 10:00–14:00",
    )


def test_overlapping_periods_in_a_draft_are_refused(org: Org) -> None:
    row = calendar(org)
    periods = [
        {"weekday": 0, "starts": "09:00:00", "ends": "13:00:00", "overnight": False},
        {"weekday": 0, "starts": "12:00:00", "ends": "17:00:00", "overnight": False},
    ]
    with pytest.raises(InvalidInput, match="Monday 09:00–13:00 overlaps Monday 12:00–17:00"):
        draft_change_save(
            user=org.users["olive"],
            model=BusinessCalendar,
            pk=row.pk,
            values={},
            related={"periods": periods},
        )


# --- roll back -----------------------------------------------------------------------------------


def test_rolling_back_a_publish_restores_changed_deletes_created_and_restores_deleted(
    org: Org,
) -> None:
    olive = org.users["olive"]
    kept = cap(org, name="Kept")
    gone = cap(org, name="Gone", limit=1)
    gone_pk = gone.pk
    change = draft_change_save(user=olive, model=FrequencyCap, pk=kept.pk, values={"limit": 8})
    draft_change_save(user=olive, model=FrequencyCap, pk=gone.pk, delete=True)
    draft_change_save(
        user=olive,
        model=ToneRule,
        pk=None,
        values={"name": "No slang", "team_id": org.teams["sales"].pk, "kind": "banned"}
        | {"phrases": "gonna", "channels": [], "promise_kinds": [], "active": True},
    )
    entry = draft_publish(draft_id=change.draft_id, user=olive)
    assert sorted(entry.changes.values_list("kind", flat=True)) == ["changed", "created", "deleted"]

    undo = version_rollback(entry_id=entry.pk, user=olive, comment="too strict")

    kept.refresh_from_db()
    assert kept.limit == 3
    restored = FrequencyCap.objects.get(pk=gone_pk)
    assert (restored.name, restored.limit) == ("Gone", 1)
    assert not ToneRule.objects.filter(name="No slang").exists()
    assert undo.action == EntryAction.ROLLED_BACK and undo.rollback_of == entry
    assert undo.comment == f"Rolled back entry #{entry.pk} by Olive Ortiz: too strict"
    kinds = dict(undo.changes.values_list("object_repr", "kind"))
    assert kinds == {
        "Kept": ChangeKind.CHANGED,
        "Gone": ChangeKind.CREATED,
        "No slang (banned phrases)": "deleted",
    }


def test_rolling_back_a_rule_change_bumps_its_version_again(org: Org) -> None:
    entry = draft_publish(
        draft_id=draft_rule_change(org, priority="high").draft_id, user=org.users["olive"]
    )
    version_rollback(entry_id=entry.pk, user=org.users["olive"])

    org.rule.refresh_from_db()
    assert (org.rule.priority, org.rule.version) == ("urgent", 3)


def test_an_entry_rolls_back_once(org: Org) -> None:
    entry = draft_publish(
        draft_id=draft_rule_change(org, priority="high").draft_id, user=org.users["olive"]
    )
    version_rollback(entry_id=entry.pk, user=org.users["olive"])

    with pytest.raises(Conflict, match="already rolled back by Olive Ortiz"):
        version_rollback(entry_id=entry.pk, user=org.users["olive"])


def test_a_roll_back_refuses_when_a_later_change_would_be_undone(org: Org) -> None:
    olive = org.users["olive"]
    first = draft_publish(draft_id=draft_rule_change(org, priority="high").draft_id, user=olive)
    org.rule.refresh_from_db()
    second = draft_publish(draft_id=draft_rule_change(org, priority="low").draft_id, user=olive)

    with pytest.raises(Conflict, match=f"roll back entry #{second.pk} first"):
        version_rollback(entry_id=first.pk, user=olive)
    org.rule.refresh_from_db()
    assert org.rule.priority == "low"


def test_a_roll_back_that_would_delete_a_row_in_use_is_refused(org: Org) -> None:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    change = draft_change_save(
        user=olive,
        model=BusinessCalendar,
        pk=None,
        values={"name": "New office", "team_id": org.teams["sales"].pk, "always_open": True},
    )
    entry = draft_publish(draft_id=change.draft_id, user=olive)
    from governance.models import TeamHours

    TeamHours.objects.create(
        team=org.teams["sales"], calendar=BusinessCalendar.objects.get(name="New office")
    )

    with pytest.raises(InvalidInput, match="cannot be deleted: it is still used by Sales hours"):
        version_rollback(entry_id=entry.pk, user=olive)
    assert BusinessCalendar.objects.filter(name="New office").exists()


@pytest.mark.django_db(transaction=True)
def test_two_people_rolling_back_the_same_entry_at_once_roll_it_back_once(org: Org) -> None:
    olive = org.users["olive"]
    entry = draft_publish(draft_id=draft_rule_change(org, priority="high").draft_id, user=olive)

    def roll_back() -> Any:
        try:
            return version_rollback(entry_id=entry.pk, user=olive)
        except Conflict as lost:
            return lost

    results = run_concurrently([roll_back, roll_back])

    assert sum(isinstance(r, RuleRevision) for r in results) == 1
    assert "already rolled back" in next(r for r in results if isinstance(r, Conflict)).detail
    assert RuleRevision.objects.filter(rollback_of=entry).count() == 1
    assert HandoffRule.objects.get().version == 3


@pytest.mark.parametrize(("who", "allowed"), [("olive", True), ("lee", False), ("morgan", False)])
def test_only_ops_of_the_team_roll_back(org: Org, who: str, allowed: bool) -> None:
    entry = draft_publish(
        draft_id=draft_rule_change(org, priority="high").draft_id, user=org.users["olive"]
    )
    if allowed:
        version_rollback(entry_id=entry.pk, user=org.users[who])
    else:
        with pytest.raises(Forbidden):
            version_rollback(entry_id=entry.pk, user=org.users[who])


# --- the replay hook ---------------------------------------------------------------------------


def test_draft_proposed_changes_gives_typed_values_over_the_live_row(org: Org) -> None:
    row = calendar(org)
    olive = org.users["olive"]
    change = draft_rule_change(org, priority="high")
    draft_change_save(
        user=olive,
        model=BusinessCalendar,
        pk=row.pk,
        values={"always_open": True},
        related={"periods": []},
        draft_id=change.draft_id,
    )
    draft_change_save(
        user=olive,
        model=SlaPolicy,
        pk=None,
        values={"team_id": org.teams["sales"].pk, "priority": "urgent"}
        | {"first_response_minutes": 5, "on_breach": "notify_lead"},
        draft_id=change.draft_id,
    )
    spent = cap(org)
    draft_change_save(
        user=olive, model=FrequencyCap, pk=spent.pk, delete=True, draft_id=change.draft_id
    )

    proposed = draft_proposed_changes(change.draft)

    assert all(isinstance(p, ProposedChange) for p in proposed)
    rule, office, policy, deletion = proposed
    assert (rule.model, rule.pk, rule.values["priority"]) == (HandoffRule, org.rule.pk, "high")
    assert rule.values["team_id"] == org.teams["sales"].pk
    assert rule.values["condition"] == org.rule.condition
    assert office.values["always_open"] is True and office.related == {"periods": []}
    assert office.values["time_zone"] == "Europe/London"
    assert (policy.pk, policy.values["first_response_minutes"]) == (None, 5)
    assert (deletion.model, deletion.pk, deletion.delete) == (FrequencyCap, spent.pk, True)


def test_the_replay_hook_types_times_and_children(org: Org) -> None:
    row = calendar(org)
    change = draft_change_save(
        user=org.users["olive"],
        model=BusinessCalendar,
        pk=row.pk,
        values={},
        related={
            "periods": [
                {"weekday": 5, "starts": "10:00:00", "ends": "14:00:00", "overnight": False}
            ]
        },
    )

    (office,) = draft_proposed_changes(change.draft)

    assert office.related["periods"] == [
        {"weekday": 5, "starts": time(10), "ends": time(14), "overnight": False}
    ]


# --- the initial versions migration ------------------------------------------------------------


def test_the_migration_gives_existing_rows_an_initial_version_once(org: Org) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("governance.migrations.0004_initial_rule_versions")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection  # type: ignore[attr-defined]
    migration.record_initial_versions(apps, editor)
    migration.record_initial_versions(apps, editor)

    versions = Version.objects.get_for_object(org.rule)
    assert versions.count() == 1
    assert versions.get().revision.comment == migration.COMMENT
    assert versions.get().field_dict["priority"] == "urgent"


def test_snapshots_of_the_same_state_are_equal(org: Org) -> None:
    assert snapshot(org.rule) == snapshot(HandoffRule.objects.get(pk=org.rule.pk))


def test_the_demo_publishes_one_change_and_leaves_one_draft_open_once(org: Org) -> None:
    from governance.demo import seed_governance
    from governance.versions.demo import seed_versions

    seed_governance()

    seed_versions()
    seed_versions()

    entry = RuleRevision.objects.get()
    (row,) = entry.changes.get().diff
    assert (row["field"], row["new"]) == ("First response minutes", "5")
    (published, open_draft) = RuleDraft.objects.order_by("id")
    assert published.status == DraftStatus.PUBLISHED
    assert open_draft.status == DraftStatus.OPEN
    assert draft_proposed_changes(open_draft)[0].values["condition"]["value"] == 40000
    org.rule.refresh_from_db()
    assert org.rule.condition["value"] == 50000
