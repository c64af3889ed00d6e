"""Caps, quiet hours and tone rules in Django admin: clear validation, team scoping (ops edit
their teams' rules; organisation-wide rules are a superuser's), the tone preview (which changes
nothing), and the decision and approval logs read-only."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from governance.policies.models import FrequencyCap, QuietHours, ToneRule, TouchDecision
from governance.tests.test_policies_support import cap, quiet, tone_rule
from handoffs.models import Handoff, Message
from portal.choices import Role
from portal.services import membership_set

pytestmark = pytest.mark.django_db

MODELS = ["frequencycap", "quiethours", "tonerule"]


def grant(user: Any) -> None:
    for model in MODELS:
        for action in ("view", "add", "change", "delete"):
            user.user_permissions.add(Permission.objects.get(codename=f"{action}_{model}"))
    for model in ("touchdecision", "approval"):
        user.user_permissions.add(Permission.objects.get(codename=f"view_{model}"))


@pytest.fixture
def olive(org: Any) -> Client:
    grant(org.users["olive"])
    client = Client()
    client.force_login(org.users["olive"])
    return client


@pytest.fixture
def root(db: Any) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="x"))
    return client


def cap_form(org: Any, **fields: Any) -> dict[str, Any]:
    data = {
        "name": "Email: 3 a week",
        "team": org.teams["sales"].pk,
        "active": "on",
        "limit": "3",
        "window_amount": "7",
        "window_unit": "days",
        "channels": ["email"],
        "action": "defer",
        "_save": "Save",
    }
    return {**data, **fields}


def test_a_cap_needs_a_window_of_at_least_one_and_a_limit_of_zero_or_more(org, olive):
    url = "/admin/governance/frequencycap/add/"

    no_window = olive.post(url, cap_form(org, window_amount="0"))
    negative = olive.post(url, cap_form(org, limit="-1"))

    assert "greater than or equal to 1" in no_window.content.decode()
    assert "greater than or equal to 0" in negative.content.decode()
    assert not FrequencyCap.objects.exists()
    assert olive.post(url, cap_form(org, limit="0")).status_code == 302  # 0: never send
    saved = FrequencyCap.objects.get()
    assert (saved.limit, saved.channels, saved.team) == (0, ["email"], org.teams["sales"])


def test_ops_must_pick_one_of_their_teams_only_superusers_write_organisation_wide_rules(
    org, olive, root
):
    url = "/admin/governance/frequencycap/add/"

    refused = olive.post(url, cap_form(org, team=""))

    assert "This field is required" in refused.content.decode()
    assert not FrequencyCap.objects.exists()
    assert root.post(url, cap_form(org, team="")).status_code == 302
    assert FrequencyCap.objects.get().team is None


def test_ops_read_but_cannot_change_an_organisation_wide_rule(org, olive):
    rule = cap(name="Org: 3 a week")

    page = olive.get(f"/admin/governance/frequencycap/{rule.pk}/change/")
    post = olive.post(f"/admin/governance/frequencycap/{rule.pk}/change/", cap_form(org))

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    rule.refresh_from_db()
    assert rule.name == "Org: 3 a week" and rule.team is None


def test_ops_of_one_team_see_its_rules_and_the_organisation_wide_ones_only(org):
    ops = get_user_model().objects.create_user("otto", password="x", is_staff=True)
    membership_set(user=ops, team=org.teams["sales"], role=Role.OPS)
    grant(ops)
    cap(name="Sales cap", team=org.teams["sales"])
    cap(name="Success cap", team=org.teams["success"])
    cap(name="Org cap")
    client = Client()
    client.force_login(ops)

    page = client.get("/admin/governance/frequencycap/").content.decode()

    assert "Sales cap" in page and "Org cap" in page and "Success cap" not in page
    success = FrequencyCap.objects.get(name="Success cap")
    assert client.get(f"/admin/governance/frequencycap/{success.pk}/change/").status_code == 302


def test_quiet_hours_need_two_different_times_and_may_overlap(org, olive):
    url = "/admin/governance/quiethours/add/"
    form = {
        "name": "Nights",
        "team": org.teams["sales"].pk,
        "active": "on",
        "starts": "21:00",
        "ends": "21:00",
        "action": "defer",
        "_save": "Save",
    }

    same = olive.post(url, form)
    assert "needs two different times" in same.content.decode()
    assert olive.post(url, {**form, "ends": "08:00", "weekdays": ["0", "4"]}).status_code == 302
    overlapping = {**form, "name": "Late evenings", "starts": "20:00", "ends": "23:00"}
    assert olive.post(url, overlapping).status_code == 302
    nights = QuietHours.objects.get(name="Nights")
    assert nights.weekdays == [0, 4] and QuietHours.objects.count() == 2


def test_a_disclosure_rule_needs_a_wording_and_a_banned_rule_a_phrase(org, olive):
    url = "/admin/governance/tonerule/add/"
    form = {"name": "Say it", "team": org.teams["sales"].pk, "active": "on", "_save": "Save"}

    disclosure = olive.post(url, {**form, "kind": "disclosure", "phrases": "  \n "})
    banned = olive.post(url, {**form, "kind": "banned", "phrases": ""})

    assert "A disclosure rule needs a wording" in disclosure.content.decode()
    assert "List at least one banned word" in banned.content.decode()
    assert not ToneRule.objects.exists()
    promise = {**form, "kind": "promise", "promise_kinds": ["price", "date"]}
    assert olive.post(url, {**promise, "expiry_action": "send"}).status_code == 302
    assert ToneRule.objects.get().promise_kinds == ["price", "date"]


def test_the_preview_shows_findings_and_the_text_as_sent_and_changes_nothing(org, olive):
    banned = tone_rule(name="No pressure", kind="banned", phrases="act now")
    tone_rule(name="No promises", kind="promise")
    tone_rule(name="Disclosure", kind="disclosure", phrases="— Baton assistant (automated)")
    before = banned.updated_at
    counts = [m.objects.count() for m in (ToneRule, TouchDecision, Handoff, Message)]

    page = olive.post(
        "/admin/governance/tonerule/preview/",
        {"text": "Act now: 20% off until Friday!", "channel": "email"},
    ).content.decode()

    assert "Blocked: automation would not send this" in page
    assert 'data-kind="banned"' in page and "discount promise" in page
    assert "20% off until Friday!<br><br>— Baton assistant (automated)" in page
    assert [m.objects.count() for m in (ToneRule, TouchDecision, Handoff, Message)] == counts
    banned.refresh_from_db()
    assert banned.updated_at == before


def test_the_preview_action_checks_only_the_rules_selected(org, olive):
    promise = tone_rule(name="No promises", kind="promise")
    tone_rule(name="No pressure", kind="banned", phrases="act now")

    chosen = olive.post(
        "/admin/governance/tonerule/",
        {"action": "preview_selected", "_selected_action": [promise.pk]},
    )
    assert chosen.status_code == 302
    page = olive.post(chosen.url, {"text": "Act now for £10", "channel": "sms"}).content.decode()

    assert "Held: a person would approve" in page and "price promise" in page
    assert 'data-kind="banned"' not in page


def test_the_tone_rule_list_links_to_the_preview(org, olive):
    page = olive.get("/admin/governance/tonerule/").content.decode()
    assert "/admin/governance/tonerule/preview/" in page


def test_touch_decisions_and_approvals_are_read_only(org, olive):
    assert olive.get("/admin/governance/touchdecision/").status_code == 200
    assert olive.get("/admin/governance/touchdecision/add/").status_code == 403
    assert olive.get("/admin/governance/approval/").status_code == 200
    assert olive.get("/admin/governance/approval/add/").status_code == 403


def test_the_tone_rule_list_and_quiet_hours_list_render(org, olive):
    quiet(team=org.teams["sales"], weekdays=[0, 1])
    tone_rule(name="No promises", kind="promise", team=org.teams["sales"])
    assert "Mon, Tue" in olive.get("/admin/governance/quiethours/").content.decode()
    assert "prices, discounts" in olive.get("/admin/governance/tonerule/").content.decode()
