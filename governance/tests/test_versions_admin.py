"""The governed admins, versioned (governance/versions/admin.py): a save, an add and a delete
are audit entries; "Save as draft" and "Delete in a draft" leave the live rows alone; a draft
publishes from its page and rolls back from the audit, through the Django test client."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from conftest import Org
from governance.models import BusinessCalendar, FrequencyCap, OpeningPeriod
from governance.tests.test_sla_admin import calendar_form
from governance.versions.choices import ChangeKind, DraftStatus, EntryAction
from governance.versions.models import DraftChange, RuleDraft, RuleRevision
from journeys.models import HandoffRule
from journeys.tests.test_admin import rule_form

pytestmark = pytest.mark.django_db

CAPS = "/admin/governance/frequencycap/"
RULES = "/admin/journeys/handoffrule/"
CALENDARS = "/admin/governance/businesscalendar/"


@pytest.fixture
def olive(org: Org) -> Client:
    """Ops on every team, with the admin permissions on the governed models."""
    user = org.users["olive"]
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["governance", "journeys"],
            content_type__model__in=[
                "handoffrule",
                "frequencycap",
                "businesscalendar",
                "openingperiod",
                "holiday",
            ],
        )
    )
    client = Client()
    client.force_login(user)
    return client


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


def cap_form(row: FrequencyCap | None, org: Org, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": row.name if row else "Two a day",
        "team": str(row.team_id if row else org.teams["sales"].pk),
        "active": "on",
        "limit": str(row.limit if row else 2),
        "window_amount": str(row.window_amount if row else 1),
        "window_unit": row.window_unit if row else "days",
        "action": "defer",
        **overrides,
    }
    return {k: v for k, v in data.items() if v is not None}


# --- live saves are recorded ---------------------------------------------------------------------


def test_a_save_in_admin_is_an_entry_with_the_diff_and_the_change_note(
    org: Org, olive: Client
) -> None:
    form = rule_form(org.rule, priority="high", _version_comment="Urgent was too loud")

    response = olive.post(f"{RULES}{org.rule.pk}/change/", form)

    assert response.status_code == 302
    entry = RuleRevision.objects.get()
    assert entry.action == EntryAction.SAVED
    assert entry.comment == "Changed in admin: Urgent was too loud"
    assert (entry.user, entry.team) == (org.users["olive"], org.teams["sales"])
    (change,) = entry.changes.all()
    assert change.kind == ChangeKind.CHANGED
    assert {"field": "Priority", "old": "Urgent", "new": "High"} in change.diff
    assert {"field": "Version", "old": "1", "new": "2"} in change.diff


def test_a_save_that_changes_nothing_records_nothing(org: Org, olive: Client) -> None:
    olive.post(f"{RULES}{org.rule.pk}/change/", rule_form(org.rule))

    assert RuleRevision.objects.count() == 0


def test_an_invalid_save_records_nothing(org: Org, olive: Client) -> None:
    response = olive.post(f"{RULES}{org.rule.pk}/change/", rule_form(org.rule, condition="{"))

    assert response.status_code == 200
    assert RuleRevision.objects.count() == 0


def test_adding_and_deleting_in_admin_are_entries(org: Org, olive: Client) -> None:
    assert olive.post(f"{CAPS}add/", cap_form(None, org)).status_code == 302
    added = FrequencyCap.objects.get()

    olive.post(f"{CAPS}{added.pk}/delete/", {"post": "yes"})

    created, deleted = RuleRevision.objects.order_by("id")
    assert created.changes.get().kind == ChangeKind.CREATED
    assert {"field": "Limit", "old": "—", "new": "2"} in created.changes.get().diff
    assert deleted.action == EntryAction.DELETED
    assert deleted.changes.get().kind == ChangeKind.DELETED
    assert not FrequencyCap.objects.exists()


def test_a_bulk_delete_from_the_list_is_one_entry(org: Org, olive: Client) -> None:
    rows = [cap(org, name=f"Cap {i}") for i in range(3)]

    olive.post(
        CAPS,
        {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"},
    )

    entry = RuleRevision.objects.get()
    assert entry.changes.count() == 3
    assert not FrequencyCap.objects.exists()


def test_the_admin_history_button_opens_the_audit_for_that_row(org: Org, olive: Client) -> None:
    response = olive.get(f"{RULES}{org.rule.pk}/history/")

    assert response.status_code == 302
    assert response["Location"] == (
        f"/governance/audit/?kind=journeys.handoffrule&object={org.rule.pk}"
    )


# --- save as draft -------------------------------------------------------------------------------


def test_the_change_form_offers_save_as_draft_and_the_audit(org: Org, olive: Client) -> None:
    page = olive.get(f"{RULES}{org.rule.pk}/change/").content.decode()

    assert 'name="_save_draft"' in page and 'name="_draft_delete"' in page
    assert "History / audit" in page


def test_save_as_draft_leaves_the_live_rule_and_opens_the_draft(org: Org, olive: Client) -> None:
    response = olive.post(
        f"{RULES}{org.rule.pk}/change/",
        rule_form(
            org.rule,
            priority="low",
            _save_draft="Save as draft",
            _version_comment="Too loud at night",
        ),
    )

    draft = RuleDraft.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/governance/drafts/{draft.pk}/"
    org.rule.refresh_from_db()
    assert (org.rule.priority, org.rule.version) == ("urgent", 1)
    assert RuleRevision.objects.count() == 0
    change = draft.changes.get()
    assert (change.object_id, change.values["priority"]) == (org.rule.pk, "low")
    assert change.note == "Too loud at night"
    page = olive.get(response["Location"]).content.decode()
    assert "Not live." in page and "Urgent" in page and "Low" in page
    assert "Too loud at night" in page
    assert f'href="/governance/replay/new/?draft={draft.pk}"' in page


def test_a_new_row_saved_as_draft_is_not_created(org: Org, olive: Client) -> None:
    olive.post(f"{CAPS}add/", cap_form(None, org, _save_draft="Save as draft"))

    assert not FrequencyCap.objects.exists()
    change = DraftChange.objects.get()
    assert change.object_id is None and change.values["limit"] == 2


def test_delete_in_a_draft_keeps_the_row_live(org: Org, olive: Client) -> None:
    row = cap(org)

    olive.post(f"{CAPS}{row.pk}/change/", cap_form(row, org, _draft_delete="Delete in a draft"))

    assert FrequencyCap.objects.filter(pk=row.pk).exists()
    assert DraftChange.objects.get().deletes is True


def test_an_invalid_form_saved_as_draft_shows_its_errors_and_drafts_nothing(
    org: Org, olive: Client
) -> None:
    row = cap(org)

    response = olive.post(
        f"{CAPS}{row.pk}/change/", cap_form(row, org, limit="-1", _save_draft="Save as draft")
    )

    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert not RuleDraft.objects.exists()
    row.refresh_from_db()
    assert row.limit == 3


def test_ops_cannot_draft_an_organisation_wide_rule(org: Org, olive: Client) -> None:
    row = cap(org, team=None)

    page = olive.get(f"{CAPS}{row.pk}/change/").content.decode()
    refused = olive.post(
        f"{CAPS}{row.pk}/change/",
        cap_form(row, org, team=str(org.teams["sales"].pk), _save_draft="Save as draft"),
    )

    assert 'name="_save_draft"' not in page
    assert refused.status_code == 403
    assert not RuleDraft.objects.exists()


def test_changes_can_go_into_a_new_named_draft_or_a_chosen_one(org: Org, olive: Client) -> None:
    first, second = cap(org, name="First"), cap(org, name="Second")
    olive.post(
        f"{CAPS}{first.pk}/change/",
        cap_form(first, org, limit="4", _save_draft="1", _draft="new", _draft_title="Caps review"),
    )
    draft = RuleDraft.objects.get()
    olive.post(
        f"{CAPS}{second.pk}/change/",
        cap_form(second, org, limit="5", _save_draft="1", _draft=str(draft.pk)),
    )

    assert draft.title == "Caps review"
    assert sorted(draft.changes.values_list("object_repr", flat=True)) == ["First", "Second"]


def test_a_calendar_saved_as_draft_keeps_its_periods_until_published(
    org: Org, olive: Client
) -> None:
    office = BusinessCalendar.objects.create(name="Sales office", team=org.teams["sales"])
    OpeningPeriod.objects.create(calendar=office, weekday=0, starts=time(9), ends=time(17))
    form = calendar_form(org, [(0, "08:00", "12:00", False), (0, "13:00", "18:00", False)])
    form |= {"holiday_country": "", "holiday_subdivision": "", "_save_draft": "Save as draft"}

    response = olive.post(f"{CALENDARS}{office.pk}/change/", form)

    assert response.status_code == 302
    assert list(office.periods.values_list("starts", "ends")) == [(time(9), time(17))]
    draft = RuleDraft.objects.get()
    page = olive.get(f"/governance/drafts/{draft.pk}/").content.decode()
    assert "Mon 09:00–17:00" in page and "Mon 08:00–12:00, 13:00–18:00" in page

    published = olive.post(f"/governance/drafts/{draft.pk}/publish/")

    assert published.status_code == 302
    assert sorted(office.periods.values_list("starts", "ends")) == [
        (time(8), time(12)),
        (time(13), time(18)),
    ]
    office.refresh_from_db()
    assert office.holiday_country == ""


# --- publish and roll back through the pages ---------------------------------------------------


def test_publish_then_roll_back_through_the_pages(org: Org, olive: Client) -> None:
    olive.post(
        f"{RULES}{org.rule.pk}/change/",
        rule_form(org.rule, priority="low", _save_draft="Save as draft"),
    )
    draft = RuleDraft.objects.get()

    published = olive.post(f"/governance/drafts/{draft.pk}/publish/")

    entry = RuleRevision.objects.get()
    assert published["Location"] == f"/governance/audit/#entry-{entry.pk}"
    org.rule.refresh_from_db()
    assert (org.rule.priority, org.rule.version) == ("low", 2)
    draft.refresh_from_db()
    assert draft.status == DraftStatus.PUBLISHED
    audit = olive.get("/governance/audit/").content.decode()
    assert f"Published draft #{draft.pk} by Olive Ortiz" in audit
    assert f'href="/governance/audit/{entry.pk}/rollback/"' in audit

    confirm = olive.get(f"/governance/audit/{entry.pk}/rollback/")
    assert confirm.status_code == 200 and "Roll back entry" in confirm.content.decode()
    rolled = olive.post(f"/governance/audit/{entry.pk}/rollback/", {"comment": "too quiet"})

    assert rolled.status_code == 302
    org.rule.refresh_from_db()
    assert (org.rule.priority, org.rule.version) == ("urgent", 3)
    undo = RuleRevision.objects.get(rollback_of=entry)
    assert undo.comment.endswith("too quiet")
    again = olive.post(f"/governance/audit/{entry.pk}/rollback/")
    assert again.status_code == 409
    assert "already rolled back by Olive Ortiz" in again.content.decode()


def test_a_stale_draft_is_refused_on_its_page_with_the_reason(org: Org, olive: Client) -> None:
    olive.post(
        f"{RULES}{org.rule.pk}/change/",
        rule_form(org.rule, priority="low", _save_draft="Save as draft"),
    )
    olive.post(f"{RULES}{org.rule.pk}/change/", rule_form(org.rule, priority="high"))
    draft = RuleDraft.objects.get()

    page = olive.get(f"/governance/drafts/{draft.pk}/").content.decode()
    refused = olive.post(f"/governance/drafts/{draft.pk}/publish/")

    assert "changed after this was drafted (by Olive Ortiz" in page
    assert refused.status_code == 409
    assert "Nothing was published" in refused.content.decode()
    org.rule.refresh_from_db()
    assert org.rule.priority == "high"


def test_discarding_a_draft_applies_nothing(org: Org, olive: Client) -> None:
    olive.post(
        f"{RULES}{org.rule.pk}/change/",
        rule_form(org.rule, priority="low", _save_draft="Save as draft"),
    )
    draft = RuleDraft.objects.get()

    assert olive.post(f"/governance/drafts/{draft.pk}/discard/").status_code == 302

    draft.refresh_from_db()
    assert draft.status == DraftStatus.DISCARDED
    assert HandoffRule.objects.get().priority == "urgent"
    assert olive.post(f"/governance/drafts/{draft.pk}/publish/").status_code == 409


def test_a_change_can_be_removed_from_a_draft(org: Org, olive: Client) -> None:
    olive.post(
        f"{RULES}{org.rule.pk}/change/",
        rule_form(org.rule, priority="low", _save_draft="Save as draft"),
    )
    draft = RuleDraft.objects.get()
    change = draft.changes.get()

    olive.post(f"/governance/drafts/{draft.pk}/changes/{change.pk}/remove/")

    assert not draft.changes.exists()


def test_a_superuser_drafts_organisation_wide_rules(org: Org) -> None:
    root = get_user_model().objects.create_superuser("root", password="x")
    client = Client()
    client.force_login(root)
    row = cap(org, team=None)

    client.post(f"{CAPS}{row.pk}/change/", cap_form(row, org, team="", limit="9", _save_draft="1"))

    draft = RuleDraft.objects.get()
    assert draft.team is None
    client.post(f"/governance/drafts/{draft.pk}/publish/")
    row.refresh_from_db()
    assert row.limit == 9
    assert RuleRevision.objects.get().team is None
