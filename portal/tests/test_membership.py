"""Membership is the source of truth: services keep per-team guardian permissions in step, and
visibility reads those permissions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from guardian.shortcuts import assign_perm, get_perms

from portal.choices import Role
from portal.models import Team
from portal.roles import (
    EDIT_RULES,
    MANAGE_HANDOFFS,
    ROLE_PERMISSIONS,
    VIEW_DASHBOARD,
    VIEW_INBOX,
    VIEW_RULES,
    WORK_HANDOFFS,
)
from portal.selectors import teams_visible_to, user_can_manage, user_can_work
from portal.services import api_key_create, membership_remove, membership_set

ALL_TEAMS = {"sales", "success", "support", "marketing"}


@pytest.fixture
def newcomer(org) -> Any:
    return get_user_model().objects.create_user(username="nia", first_name="Nia")


def perms(user: Any, team: Team) -> set[str]:
    return set(get_perms(user, team))


def visible(principal: Any) -> set[str]:
    return set(teams_visible_to(principal=principal).values_list("slug", flat=True))


@pytest.mark.parametrize("role", list(Role))
def test_a_membership_grants_exactly_its_roles_permissions_on_that_team_only(org, newcomer, role):
    membership_set(user=newcomer, team=org.teams["support"], role=role)
    assert perms(newcomer, org.teams["support"]) == set(ROLE_PERMISSIONS[role])
    for slug in ALL_TEAMS - {"support"}:
        assert perms(newcomer, org.teams[slug]) == set()


def test_promoting_a_rep_to_lead_adds_manage(org, newcomer):
    support = org.teams["support"]
    membership_set(user=newcomer, team=support, role=Role.REP)
    assert not user_can_manage(user=newcomer, team_id=support.pk)
    membership_set(user=newcomer, team=support, role=Role.LEAD)
    assert perms(newcomer, support) == {
        VIEW_INBOX,
        WORK_HANDOFFS,
        MANAGE_HANDOFFS,
        VIEW_DASHBOARD,
        VIEW_RULES,
    }
    assert user_can_manage(user=newcomer, team_id=support.pk)


def test_moving_from_ops_to_rep_drops_rule_editing(org, newcomer):
    support = org.teams["support"]
    membership_set(user=newcomer, team=support, role=Role.OPS)
    membership_set(user=newcomer, team=support, role=Role.REP)
    assert perms(newcomer, support) == set(ROLE_PERMISSIONS[Role.REP])


def test_removing_a_membership_revokes_its_permissions(org, newcomer):
    support = org.teams["support"]
    membership_set(user=newcomer, team=support, role=Role.LEAD)
    membership_remove(user=newcomer, team=support)
    assert perms(newcomer, support) == set()
    assert visible(newcomer) == set()
    assert not user_can_work(user=newcomer, team_id=support.pk)


def test_removing_one_membership_leaves_the_others(org):
    lee = org.users["lee"]
    membership_remove(user=lee, team=org.teams["marketing"])
    assert visible(lee) == ALL_TEAMS - {"marketing"}
    assert perms(lee, org.teams["sales"]) == set(ROLE_PERMISSIONS[Role.LEADER])


def test_a_permission_granted_by_hand_survives_a_role_change(org, newcomer):
    support = org.teams["support"]
    membership_set(user=newcomer, team=support, role=Role.REP)
    assign_perm(f"portal.{EDIT_RULES}", newcomer, support)
    membership_set(user=newcomer, team=support, role=Role.LEAD)
    assert EDIT_RULES in perms(newcomer, support)


def test_a_team_watched_by_hand_stays_visible_when_the_home_team_changes(org, newcomer):
    assign_perm(f"portal.{VIEW_INBOX}", newcomer, org.teams["marketing"])
    membership_set(user=newcomer, team=org.teams["support"], role=Role.LEADER)
    membership_set(user=newcomer, team=org.teams["support"], role=Role.OPS)
    assert visible(newcomer) == {"support", "marketing"}


@pytest.mark.parametrize(
    ("username", "teams"),
    [
        ("riley", {"sales"}),
        ("rob", {"sales"}),
        ("sam", {"sales"}),
        ("casey", {"success"}),
        ("morgan", {"success"}),
        ("lee", ALL_TEAMS),
        ("olive", ALL_TEAMS),
    ],
)
def test_each_role_sees_its_teams(org, username, teams):
    assert visible(org.users[username]) == teams


@pytest.mark.parametrize(
    ("username", "works", "manages"),
    [
        ("riley", True, False),
        ("sam", True, True),
        ("casey", False, False),
        ("lee", False, False),
        ("olive", False, False),
    ],
)
def test_who_may_work_and_manage_the_sales_inbox(org, username, works, manages):
    sales = org.teams["sales"].pk
    user = org.users[username]
    assert (user_can_work(user=user, team_id=sales), user_can_manage(user=user, team_id=sales)) == (
        works,
        manages,
    )


def test_a_superuser_without_memberships_sees_no_team(org):
    boss = get_user_model().objects.create_superuser(username="root", password="x")
    assert visible(boss) == set()


@pytest.mark.parametrize("username", ["riley", "lee", "olive"])
def test_an_inactive_user_sees_nothing(org, username):
    user = org.users[username]
    user.is_active = False
    user.save()
    assert visible(user) == set()
    assert not user_can_work(user=user, team_id=org.teams["sales"].pk)


def test_an_integration_key_sees_teams_only_when_it_may_read(org):
    reader, _ = api_key_create(name="reader", can_read_handoffs=True)
    ingest_only, _ = api_key_create(name="ingest")
    assert (visible(reader), visible(ingest_only)) == (ALL_TEAMS, set())
    reader.teams.add(org.teams["success"])
    assert visible(reader) == {"success"}


def test_a_revoked_key_sees_nothing(org):
    reader, _ = api_key_create(name="reader", can_read_handoffs=True)
    reader.revoked_at = reader.created_at
    assert visible(reader) == set()
