"""Handoff rules edited in Django admin: validated as data, scoped to teams, versioned."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from journeys.models import HandoffRule
from portal.services import membership_remove

ADD = "/admin/journeys/handoffrule/add/"
BUDGET = {"path": "properties.budget", "op": ">=", "value": 100000}


def change_url(rule: HandoffRule) -> str:
    return f"/admin/journeys/handoffrule/{rule.pk}/change/"


def rule_form(rule: HandoffRule | None = None, **overrides: Any) -> dict[str, str]:
    values: dict[str, Any] = {
        "name": rule.name if rule else "Big budget",
        "enabled": rule.enabled if rule else True,
        "signal_type": rule.signal_type if rule else "form_submitted",
        "condition": rule.condition if rule else BUDGET,
        "trigger": rule.trigger if rule else "high_value",
        "team": rule.team_id if rule else None,
        "offer_to_role": rule.offer_to_role if rule else "director",
        "priority": rule.priority if rule else "urgent",
        "reason_template": rule.reason_template if rule else "Budget {properties.budget}",
        **overrides,
    }
    condition = values["condition"]
    values["condition"] = condition if isinstance(condition, str) else json.dumps(condition)
    values["initial-condition"] = json.dumps(rule.condition if rule else {})
    enabled = values.pop("enabled")
    return {k: str(v) for k, v in values.items()} | ({"enabled": "on"} if enabled else {})


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client(org) -> Client:
    root = get_user_model().objects.create_superuser(username="root", password="x")
    return logged_in(root)


@pytest.fixture
def olive_client(org) -> Client:
    olive = org.users["olive"]
    olive.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="journeys",
            codename__in=["add_handoffrule", "change_handoffrule", "view_handoffrule"],
        )
    )
    return logged_in(olive)


def test_a_superuser_adds_a_valid_rule(org, superuser_client):
    response = superuser_client.post(ADD, rule_form(team=org.teams["sales"].pk))
    assert response.status_code == 302
    rule = HandoffRule.objects.get(name="Big budget")
    assert (rule.condition, rule.team, rule.priority, rule.version) == (
        BUDGET,
        org.teams["sales"],
        "urgent",
        1,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        pytest.param(
            {"condition": {"path": "contact.age", "op": ">=", "value": 18}},
            "condition",
            "condition.path: unknown path 'contact.age'",
            id="unknown path",
        ),
        pytest.param(
            {"condition": {"path": "properties.budget", "op": "~=", "value": 1}},
            "condition",
            "condition.op: unknown operator '~='",
            id="unknown operator",
        ),
        pytest.param(
            {"condition": '{"path": "properties.budget", "op": ">="'},
            "condition",
            "Enter a valid JSON.",
            id="invalid JSON",
        ),
        pytest.param(
            {"reason_template": "Budget {properties.budget} from {contact.age}"},
            "reason_template",
            "unknown path 'contact.age'",
            id="unknown template field",
        ),
    ],
)
def test_an_invalid_rule_is_refused_naming_the_problem(
    org, superuser_client, overrides, field, problem
):
    response = superuser_client.post(ADD, rule_form(team=org.teams["sales"].pk, **overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert problem in " ".join(errors[field])
    assert html.escape(problem) in response.content.decode()
    assert not HandoffRule.objects.filter(name="Big budget").exists()


def test_ops_may_add_a_rule_for_a_team_whose_rules_they_edit(org, olive_client):
    response = olive_client.post(ADD, rule_form(team=org.teams["sales"].pk))
    assert response.status_code == 302
    assert HandoffRule.objects.get(name="Big budget").team == org.teams["sales"]


def test_ops_may_not_add_a_rule_for_a_team_they_do_not_edit(org, olive_client):
    membership_remove(user=org.users["olive"], team=org.teams["marketing"])
    response = olive_client.post(ADD, rule_form(team=org.teams["marketing"].pk))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["team"]
    assert not HandoffRule.objects.filter(name="Big budget").exists()


def test_editing_a_rules_condition_bumps_its_version(org, superuser_client):
    response = superuser_client.post(
        change_url(org.rule), rule_form(org.rule, condition={**org.rule.condition, "value": 60000})
    )
    assert response.status_code == 302
    org.rule.refresh_from_db()
    assert (org.rule.condition["value"], org.rule.version, str(org.rule)) == (
        60000,
        2,
        "High value v2",
    )


def test_renaming_a_rule_keeps_its_version(org, superuser_client):
    response = superuser_client.post(change_url(org.rule), rule_form(org.rule, name="Big deal"))
    assert response.status_code == 302
    org.rule.refresh_from_db()
    assert (org.rule.name, org.rule.version) == ("Big deal", 1)


def test_ops_editing_a_condition_bumps_the_version_too(org, olive_client):
    form = rule_form(org.rule, priority="high", condition={**org.rule.condition, "value": 1})
    assert olive_client.post(change_url(org.rule), form).status_code == 302
    org.rule.refresh_from_db()
    assert (org.rule.priority, org.rule.version) == ("high", 2)
