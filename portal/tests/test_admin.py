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
