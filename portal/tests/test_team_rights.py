"""`team_rights`: the flat read of a person's rights that the handoff actions check. It must give
the same answer as guardian's `teams_with_perm`, for rights held directly or through a group."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from handoffs.selectors import handoff_get_for_work
from handoffs.tests.test_api import make_handoff
from portal.models import ApiKey, TeamGroupObjectPermission, TeamUserObjectPermission
from portal.roles import TEAM_PERMISSIONS, VIEW_INBOX, WORK_HANDOFFS
from portal.selectors import TEAM_RIGHTS_SQL, team_rights, teams_with_perm, user_can
from portal.services import api_key_create

CODENAMES = [codename for codename, _ in TEAM_PERMISSIONS]


def as_guardian_says(user: Any) -> dict[int, frozenset[str]]:
    held: dict[int, set[str]] = {}
    for codename in CODENAMES:
        for team_id in teams_with_perm(principal=user, codename=codename).values_list(
            "id", flat=True
        ):
            held.setdefault(team_id, set()).add(codename)
    return {team_id: frozenset(codenames) for team_id, codenames in held.items()}


def test_the_statement_names_the_models_tables():
    tables = [
        TeamUserObjectPermission._meta.db_table,
        TeamGroupObjectPermission._meta.db_table,
        Permission._meta.db_table,
        get_user_model().groups.through._meta.db_table,
    ]
    for table in tables:
        assert f" {table} " in TEAM_RIGHTS_SQL


@pytest.mark.parametrize("username", ["riley", "sam", "casey", "morgan", "lee", "olive"])
def test_each_demo_role_holds_what_guardian_says(org, username):
    user = org.users[username]
    rights = team_rights(user=user)
    assert rights  # every one of them holds something somewhere
    assert rights == as_guardian_says(user)


def test_rights_held_through_a_group_count(org):
    newcomer = get_user_model().objects.create_user(username="nia")
    watchers = Group.objects.create(name="Support watchers")
    assign_perm(f"portal.{VIEW_INBOX}", watchers, org.teams["support"])
    assign_perm(f"portal.{WORK_HANDOFFS}", newcomer, org.teams["marketing"])
    assert team_rights(user=newcomer) == {org.teams["marketing"].pk: frozenset({WORK_HANDOFFS})}
    newcomer.groups.add(watchers)
    expected = {
        org.teams["marketing"].pk: frozenset({WORK_HANDOFFS}),
        org.teams["support"].pk: frozenset({VIEW_INBOX}),
    }
    assert team_rights(user=newcomer) == expected == as_guardian_says(newcomer)
    assert user_can(user=newcomer, codename=VIEW_INBOX, team_id=org.teams["support"].pk)


def test_the_same_right_from_a_group_and_directly_is_held_once(org):
    riley = org.users["riley"]
    sales = Group.objects.create(name="Sales floor")
    assign_perm(f"portal.{VIEW_INBOX}", sales, org.teams["sales"])
    riley.groups.add(sales)
    assert team_rights(user=riley) == as_guardian_says(riley)


def test_nobody_else_holds_anything(org):
    riley = org.users["riley"]
    riley.is_active = False
    riley.save()
    _, raw = api_key_create(name="reader", can_read_handoffs=True)
    key = ApiKey.objects.get()
    assert raw
    assert team_rights(user=riley) == {}
    assert team_rights(user=AnonymousUser()) == {}
    assert team_rights(user=key) == {}
    assert not user_can(user=key, codename=VIEW_INBOX, team_id=org.teams["sales"].pk)


def test_an_action_reads_rights_and_handoff_in_two_queries(org):
    handoff = make_handoff(org, "two-reads")
    with CaptureQueriesContext(connection) as queries:
        seen, may_work = handoff_get_for_work(user=org.users["riley"], handoff_id=handoff.pk)
    assert (seen.pk, may_work) == (handoff.pk, True)
    assert len(queries) == 2


def test_an_action_on_another_teams_handoff_is_not_found(org):
    handoff = make_handoff(org, "success-only", team="success")
    with pytest.raises(Http404):
        handoff_get_for_work(user=org.users["riley"], handoff_id=handoff.pk)
    with pytest.raises(Http404):
        handoff_get_for_work(user=org.users["riley"], handoff_id=handoff.pk + 1000)


def test_a_leader_may_read_but_not_work(org):
    handoff = make_handoff(org, "leader-reads")
    seen, may_work = handoff_get_for_work(user=org.users["lee"], handoff_id=handoff.pk)
    assert seen.pk == handoff.pk and may_work is False
