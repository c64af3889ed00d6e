from typing import Any

from guardian.shortcuts import get_perms

from portal.models import Membership
from portal.roles import ROLE_PERMISSIONS


def _team_form(team: Any, extra: list[tuple[Any, str]], delete: set[int] = frozenset()) -> dict:
    members = list(Membership.objects.filter(team=team).order_by("id"))
    data = {
        "slug": team.slug,
        "name": team.name,
        "first_response_minutes": str(team.first_response_minutes),
        "reopen_window_minutes": str(team.reopen_window_minutes),
        "memberships-TOTAL_FORMS": str(len(members) + len(extra)),
        "memberships-INITIAL_FORMS": str(len(members)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, m in enumerate(members):
        data |= {
            f"memberships-{i}-id": str(m.pk),
            f"memberships-{i}-team": str(team.pk),
            f"memberships-{i}-user": str(m.user_id),
            f"memberships-{i}-role": m.role,
        }
        if m.user_id in delete:
            data[f"memberships-{i}-DELETE"] = "on"
    for j, (user, role) in enumerate(extra, start=len(members)):
        data |= {
            f"memberships-{j}-team": str(team.pk),
            f"memberships-{j}-user": str(user.pk),
            f"memberships-{j}-role": role,
        }
    return data


def test_adding_a_member_in_the_team_admin_grants_the_roles_permissions(org, client):
    admin = org.users["olive"]
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    sales, casey = org.teams["sales"], org.users["casey"]

    response = client.post(
        f"/admin/portal/team/{sales.pk}/change/", _team_form(sales, [(casey, "rep")])
    )

    assert response.status_code == 302
    assert Membership.objects.get(user=casey, team=sales).role == "rep"
    assert set(get_perms(casey, sales)) == set(ROLE_PERMISSIONS["rep"])


def test_removing_a_member_in_the_team_admin_revokes_their_permissions(org, client):
    admin = org.users["olive"]
    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    sales, riley = org.teams["sales"], org.users["riley"]
    assert "work_team_handoffs" in get_perms(riley, sales)

    response = client.post(
        f"/admin/portal/team/{sales.pk}/change/", _team_form(sales, [], delete={riley.pk})
    )

    assert response.status_code == 302
    assert not Membership.objects.filter(user=riley, team=sales).exists()
    assert get_perms(riley, sales) == []


def _ops_of(org: Any, team_slug: str) -> Any:
    """An ops person granted one team, with the demo's Ops group permissions."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from portal.management.commands.seed_demo import OPS_PERMISSIONS
    from portal.services import membership_set

    group = Group.objects.create(name="Ops test")
    for app_label, model, actions in OPS_PERMISSIONS:
        for action in actions:
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=f"{action}_{model}"
                )
            )
    user = get_user_model().objects.create_user("opal", password="x", is_staff=True)
    user.groups.add(group)
    membership_set(user=user, team=org.teams[team_slug], role="ops")
    return user


def test_ops_cannot_make_anyone_a_superuser(org, client):
    opal = _ops_of(org, "sales")
    client.force_login(opal)
    riley = org.users["riley"]

    response = client.post(
        f"/admin/auth/user/{riley.pk}/change/",
        {"username": "riley", "is_superuser": "on", "is_staff": "on"},
    )

    riley.refresh_from_db()
    assert response.status_code == 403
    assert not riley.is_superuser
    opal.refresh_from_db()
    assert not opal.is_superuser


def test_ops_granted_one_team_see_only_that_teams_records_in_admin(org, client, send_signal):
    from handoffs.models import Handoff
    from journeys.models import HandoffRule

    HandoffRule.objects.create(
        name="Risk",
        signal_type="support_risk",
        condition={"all": []},
        trigger="stage",
        team=org.teams["success"],
        priority="high",
        reason_template="Risk",
    )
    send_signal(budget=90000, external_id="c-sales")
    send_signal(type="support_risk", external_id="c-success")
    sales = Handoff.objects.get(team__slug="sales")
    success = Handoff.objects.get(team__slug="success")
    client.force_login(_ops_of(org, "sales"))

    handoffs = client.get("/admin/handoffs/handoff/").content.decode()
    teams = client.get("/admin/portal/team/").content.decode()

    assert f"/admin/handoffs/handoff/{sales.pk}/change/" in handoffs
    assert f"/admin/handoffs/handoff/{success.pk}/change/" not in handoffs
    assert client.get(f"/admin/handoffs/handoff/{success.pk}/change/").status_code in (302, 404)
    assert "c-success" not in client.get("/admin/journeys/contact/").content.decode()
    assert f"/admin/portal/team/{org.teams['sales'].pk}/change/" in teams
    assert f"/admin/portal/team/{org.teams['success'].pk}/change/" not in teams
