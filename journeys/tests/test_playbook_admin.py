"""The playbook in Django admin: ops of one team read that team's rows and the shared ones,
change only their team's, never another team's; conditions and reply templates are checked on
save; a deactivated rule leaves the contact page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from conftest import Org
from journeys.models import Contact
from journeys.playbook.models import ContentItem, NextStepRule, ReplyTemplate
from portal.choices import Role
from portal.services import membership_set

pytestmark = pytest.mark.django_db

RULES = "/admin/journeys/nextsteprule/"
TEMPLATES = "/admin/journeys/replytemplate/"
CONTENT = "/admin/journeys/contentitem/"
PLAYBOOK_MODELS = ("nextsteprule", "contentitem", "replytemplate")


def with_playbook_permissions(user: Any) -> Client:
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="journeys",
            codename__in=[
                f"{action}_{model}"
                for model in PLAYBOOK_MODELS
                for action in ("view", "add", "change", "delete")
            ],
        )
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def olive(org: Org) -> Client:
    """Ops on every team."""
    return with_playbook_permissions(org.users["olive"])


@pytest.fixture
def otto(org: Org) -> Client:
    """Ops on Success only."""
    user = get_user_model().objects.create_user(username="otto", password="x", is_staff=True)
    membership_set(user=user, team=org.teams["success"], role=Role.OPS)
    return with_playbook_permissions(user)


def rule_form(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Call within the hour",
        "detail": "Say sorry first.",
        "loop_stages": ["renew"],
        "triggers": ["sentiment"],
        "condition": "{}",
        "team": "",
        "weight": "0",
        "active": "on",
        **overrides,
    }
    return {k: v for k, v in values.items() if v is not None}


@pytest.fixture
def rows(org: Org) -> dict[str, NextStepRule]:
    return {
        "shared": NextStepRule.objects.create(title="Shared step"),
        "sales": NextStepRule.objects.create(title="Sales step", team=org.teams["sales"]),
        "success": NextStepRule.objects.create(title="Success step", team=org.teams["success"]),
    }


def test_ops_of_one_team_see_their_teams_rows_and_the_shared_ones(
    otto: Client, rows: dict[str, NextStepRule]
) -> None:
    listing = otto.get(RULES).content.decode()
    assert "Success step" in listing and "Shared step" in listing
    assert "Sales step" not in listing
    assert otto.get(f"{RULES}{rows['sales'].pk}/change/").status_code == 302  # not found: back
    assert not NextStepRule.objects.filter(title="Sales step", active=False).exists()


def test_ops_of_one_team_change_their_teams_rows_but_not_shared_or_other_teams(
    org: Org, otto: Client, rows: dict[str, NextStepRule]
) -> None:
    success = rows["success"]
    answer = otto.post(
        f"{RULES}{success.pk}/change/",
        rule_form(title="Success step, sharper", team=org.teams["success"].pk),
    )
    assert answer.status_code == 302
    success.refresh_from_db()
    assert (success.title, success.loop_stages, success.triggers) == (
        "Success step, sharper",
        ["renew"],
        ["sentiment"],
    )

    shared = rows["shared"]
    refused = otto.post(f"{RULES}{shared.pk}/change/", rule_form(title="Hijacked"))
    assert refused.status_code == 403
    shared.refresh_from_db()
    assert shared.title == "Shared step"

    # They can neither move a row to Sales nor make a new shared one.
    moved = otto.post(
        f"{RULES}{success.pk}/change/", rule_form(title="Moved", team=org.teams["sales"].pk)
    )
    assert moved.status_code == 200 and "Select a valid choice" in moved.content.decode()
    unshared = otto.post(f"{RULES}add/", rule_form(title="New shared"))
    assert unshared.status_code == 200 and "This field is required" in unshared.content.decode()
    assert not NextStepRule.objects.filter(title__in=["Moved", "New shared"]).exists()


def test_ops_of_every_team_may_keep_shared_rows(
    olive: Client, rows: dict[str, NextStepRule]
) -> None:
    answer = olive.post(f"{RULES}{rows['shared'].pk}/change/", rule_form(title="Shared, edited"))
    assert answer.status_code == 302
    rows["shared"].refresh_from_db()
    assert rows["shared"].title == "Shared, edited"
    assert olive.post(f"{RULES}add/", rule_form(title="Another shared")).status_code == 302
    assert NextStepRule.objects.get(title="Another shared").team is None


def test_a_bad_condition_or_an_unknown_tag_is_refused_and_nothing_changes(olive: Client) -> None:
    bad = {"path": "budget", "op": ">=", "value": 5}
    answer = olive.post(f"{RULES}add/", rule_form(condition=json.dumps(bad)))
    assert answer.status_code == 200
    assert "unknown path" in answer.content.decode()
    answer = olive.post(f"{RULES}add/", rule_form(triggers=["bored"]))
    assert "Select a valid choice. bored is not one of the available choices." in (
        answer.content.decode()
    )
    assert not NextStepRule.objects.exists()


def test_a_rule_condition_in_the_rules_language_is_stored(olive: Client) -> None:
    condition = {"path": "properties.arr", "op": ">=", "value": 100000}
    assert olive.post(f"{RULES}add/", rule_form(condition=json.dumps(condition))).status_code == 302
    assert NextStepRule.objects.get().condition == condition


def test_a_reply_template_with_a_bad_placeholder_is_refused(olive: Client) -> None:
    form = {"name": "Hello", "body": "Hi {contact.first_name},\nyour {budget} is", "active": "on"}
    answer = olive.post(f"{TEMPLATES}add/", form)
    assert answer.status_code == 200
    assert "line 2: template (position 5): unknown path &#x27;budget&#x27;" in (
        answer.content.decode()
    )
    assert not ReplyTemplate.objects.exists()

    form["body"] = "Hi {contact.first_name}, I'm {rep.first_name} at {team.name}.\n{{literal}}"
    assert olive.post(f"{TEMPLATES}add/", form).status_code == 302
    assert ReplyTemplate.objects.get().triggers == []


def test_content_is_tagged_by_persona_in_admin(olive: Client) -> None:
    form = {
        "title": "ROI calculator",
        "url": "https://baton.example/roi",
        "summary": "For the budget holder",
        "loop_stages": ["acquire", "expand"],
        "personas": ["economic_buyer"],
        "active": "on",
    }
    assert olive.post(f"{CONTENT}add/", form).status_code == 302
    item = ContentItem.objects.get()
    assert (item.loop_stages, item.personas, item.triggers) == (
        ["acquire", "expand"],
        ["economic_buyer"],
        [],
    )
    listing = olive.get(CONTENT).content.decode()
    assert "Acquire, Expand" in listing and "Economic buyer" in listing


def test_deactivating_a_rule_in_admin_takes_it_off_the_contact_page(
    org: Org, olive: Client, send_signal: Any
) -> None:
    assert send_signal(budget=50000, key="form-1").status_code == 202
    ada = Contact.objects.get(external_id="c-1001")
    step = NextStepRule.objects.create(
        title="Call within 15 minutes", triggers=["high_value"], team=org.teams["sales"]
    )
    riley = Client()
    riley.force_login(org.users["riley"])
    assert "Call within 15 minutes" in riley.get(f"/contacts/{ada.pk}/").content.decode()

    form = rule_form(
        title=step.title, loop_stages=[], triggers=["high_value"], team=org.teams["sales"].pk
    )
    form.pop("active")
    assert olive.post(f"{RULES}{step.pk}/change/", form).status_code == 302

    assert "Call within 15 minutes" not in riley.get(f"/contacts/{ada.pk}/").content.decode()


def test_a_rep_has_no_playbook_admin(org: Org) -> None:
    riley = Client()
    riley.force_login(org.users["riley"])
    assert riley.get(RULES).status_code == 302  # admin sends non-staff to its login
