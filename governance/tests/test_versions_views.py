"""The rule audit and drafts in the portal: who sees which entries (own teams and
organisation-wide; other teams 404; reps 403 with the reason), who may publish and roll back,
filters that refuse bad input, and a page that stays a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from conftest import Org
from governance.models import FrequencyCap
from governance.versions.choices import ChangeKind, EntryAction
from governance.versions.models import RuleChange, RuleRevision
from governance.versions.services import draft_change_save, draft_publish
from journeys.models import HandoffRule

pytestmark = pytest.mark.django_db

AUDIT = "/governance/audit/"


def as_(org: Org, who: str) -> Client:
    client = Client()
    client.force_login(org.users[who])
    return client


def root() -> Any:
    return get_user_model().objects.create_superuser("root", password="x", first_name="Root")


def published_cap_change(org: Org, team: str | None, *, name: str, limit: int = 5) -> RuleRevision:
    """A cap changed through a published draft: sales/success by olive, org-wide by root."""
    row = FrequencyCap.objects.create(
        name=name,
        team=org.teams[team] if team else None,
        limit=3,
        window_amount=7,
        window_unit="days",
    )
    user = org.users["olive"] if team else root()
    change = draft_change_save(user=user, model=FrequencyCap, pk=row.pk, values={"limit": limit})
    return draft_publish(draft_id=change.draft_id, user=user)


@pytest.fixture
def entries(org: Org) -> dict[str, RuleRevision]:
    return {
        "sales": published_cap_change(org, "sales", name="Sales cap"),
        "success": published_cap_change(org, "success", name="Success cap"),
        "org": published_cap_change(org, None, name="Org cap"),
    }


# --- who sees what ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees", "hidden"),
    [
        ("olive", {"Sales cap", "Success cap", "Org cap"}, set()),  # ops of every team
        ("lee", {"Sales cap", "Success cap", "Org cap"}, set()),  # a leader of every team
        ("sam", {"Sales cap", "Org cap"}, {"Success cap"}),  # Sales director
        ("morgan", {"Success cap", "Org cap"}, {"Sales cap"}),  # Success lead
    ],
)
def test_the_audit_lists_own_teams_and_organisation_wide_entries(
    org: Org, entries: dict[str, RuleRevision], who: str, sees: set[str], hidden: set[str]
) -> None:
    page = as_(org, who).get(AUDIT)

    assert page.status_code == 200
    body = page.content.decode()
    assert all(f"“{name}”" in body for name in sees)
    assert not any(f"“{name}”" in body for name in hidden)


@pytest.mark.parametrize(
    ("who", "entry", "status"),
    [
        ("sam", "sales", 200),
        ("sam", "org", 200),
        ("sam", "success", 404),
        ("morgan", "sales", 404),
        ("morgan", "success", 200),
        ("lee", "success", 200),
    ],
)
def test_an_entry_page_answers_404_for_other_teams(
    org: Org, entries: dict[str, RuleRevision], who: str, entry: str, status: int
) -> None:
    client = as_(org, who)
    pk = entries[entry].pk

    assert client.get(f"{AUDIT}{pk}/").status_code == status
    assert client.get(f"{AUDIT}{pk}/rollback/").status_code in {status, 403}
    if status == 404:
        assert client.post(f"{AUDIT}{pk}/rollback/").status_code == 404


@pytest.mark.parametrize("who", ["riley", "casey"])
def test_reps_and_csms_get_403_with_the_reason(org: Org, entries: Any, who: str) -> None:
    client = as_(org, who)

    for url in [AUDIT, "/governance/drafts/"]:
        response = client.get(url)
        assert response.status_code == 403
        assert "your role does not read rules and policies" in response.content.decode()
    # An entry, even an organisation-wide one, answers as a missing one does.
    for entry in entries.values():
        assert client.get(f"{AUDIT}{entry.pk}/").status_code == 404
        assert client.post(f"{AUDIT}{entry.pk}/rollback/").status_code == 404
    assert FrequencyCap.objects.get(name="Org cap").limit == 5


def test_the_audit_asks_an_anonymous_visitor_to_log_in(client: Client) -> None:
    response = client.get(AUDIT)

    assert response.status_code == 302 and "login" in response["Location"]


def test_ops_see_roll_back_and_leaders_read_only(
    org: Org, entries: dict[str, RuleRevision]
) -> None:
    sales = entries["sales"].pk
    rollback = f'href="/governance/audit/{sales}/rollback/"'

    ops_page = as_(org, "olive").get(AUDIT).content.decode()
    leader_page = as_(org, "lee").get(AUDIT).content.decode()
    leader_post = as_(org, "lee").post(f"{AUDIT}{sales}/rollback/")

    assert rollback in ops_page
    assert "Roll back…" not in leader_page
    assert leader_post.status_code == 403
    assert FrequencyCap.objects.get(name="Sales cap").limit == 5
    # Ops may not roll back an organisation-wide entry; a superuser may.
    assert f'href="/governance/audit/{entries["org"].pk}/rollback/"' not in ops_page


def test_leaders_read_drafts_without_publish_or_discard(org: Org) -> None:
    row = FrequencyCap.objects.create(
        name="Cap", team=org.teams["sales"], limit=3, window_amount=7, window_unit="days"
    )
    change = draft_change_save(
        user=org.users["olive"], model=FrequencyCap, pk=row.pk, values={"limit": 1}
    )
    url = f"/governance/drafts/{change.draft_id}/"

    leader = as_(org, "lee").get(url).content.decode()
    ops = as_(org, "olive").get(url).content.decode()
    refused = as_(org, "lee").post(f"{url}publish/")

    assert "Publish 1 change" in ops and "Discard" in ops
    assert "Publish" not in leader and "Discard" not in leader
    assert refused.status_code == 403
    assert as_(org, "morgan").get(url).status_code == 404  # Success lead: another team's draft
    assert FrequencyCap.objects.get().limit == 3


def test_the_drafts_list_shows_only_visible_drafts(org: Org) -> None:
    for team in ["sales", "success"]:
        row = FrequencyCap.objects.create(
            name=f"{team} cap", team=org.teams[team], limit=3, window_amount=7, window_unit="days"
        )
        draft_change_save(
            user=org.users["olive"], model=FrequencyCap, pk=row.pk, values={"limit": 1}
        )

    page = as_(org, "sam").get("/governance/drafts/").content.decode()

    assert "Sales" in page and "Success" not in page


# --- filters -------------------------------------------------------------------------------------


def test_filters_by_team_kind_person_and_period(org: Org, entries: dict[str, RuleRevision]) -> None:
    client = as_(org, "olive")

    def names(**query: str) -> set[str]:
        body = client.get(AUDIT, query).content.decode()
        return {n for n in ["Sales cap", "Success cap", "Org cap"] if f"“{n}”" in body}

    assert names(team=str(org.teams["sales"].pk)) == {"Sales cap"}
    assert names(team="org") == {"Org cap"}
    assert names(kind="governance.frequencycap") == {"Sales cap", "Success cap", "Org cap"}
    assert names(kind="journeys.handoffrule") == set()
    assert names(person=str(org.users["olive"].pk)) == {"Sales cap", "Success cap"}
    assert names(period="7") == {"Sales cap", "Success cap", "Org cap"}
    assert names(since="2020-01-01", until="2020-01-31") == set()
    sales_cap = FrequencyCap.objects.get(name="Sales cap")
    assert names(kind="governance.frequencycap", object=str(sales_cap.pk)) == {"Sales cap"}


@pytest.mark.parametrize(
    "query",
    [
        {"team": "99999"},
        {"kind": "portal.team"},
        {"person": "abc"},
        {"since": "yesterday"},
        {"since": "2026-02-01", "until": "2026-01-01"},
        {"object": "5"},
        {"period": "365"},
    ],
)
def test_a_bad_filter_is_named_not_a_500(org: Org, entries: Any, query: dict[str, str]) -> None:
    response = as_(org, "olive").get(AUDIT, query)

    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()


def test_a_person_filter_offers_only_people_with_visible_entries(
    org: Org, entries: dict[str, RuleRevision]
) -> None:
    page = as_(org, "sam").get(AUDIT).content.decode()

    assert "Olive Ortiz" in page and ">Root<" in page


# --- the page stays fast ---------------------------------------------------------------------


def bulk_entries(org: Org, count: int) -> None:
    """`count` audit entries of Sales rule changes, written directly (the page only reads)."""
    kind = ContentType.objects.get_for_model(HandoffRule)
    made = RuleRevision.objects.bulk_create(
        RuleRevision(
            action=EntryAction.SAVED,
            user=org.users["olive"],
            team=org.teams["sales"],
            comment=f"Change {i}",
        )
        for i in range(count)
    )
    RuleChange.objects.bulk_create(
        RuleChange(
            entry=entry,
            content_type=kind,
            object_id=org.rule.pk,
            object_repr="High value",
            kind=ChangeKind.CHANGED,
            before={"values": {}, "related": {}},
            after={"values": {}, "related": {}},
            diff=[{"field": "Priority", "old": "Urgent", "new": "High"}],
        )
        for entry in made
    )


@pytest.mark.parametrize("count", [10, 500])
def test_the_audit_page_is_a_fixed_number_of_queries(
    org: Org, django_assert_num_queries: Any, count: int
) -> None:
    bulk_entries(org, count)
    client = as_(org, "sam")
    client.get(AUDIT)  # warm the session and content types

    # session + user, readable teams (x2: entries and people), editable teams, the filter's
    # teams and people, the count, the page of entries with their changes.
    with django_assert_num_queries(9):
        response = client.get(AUDIT, {"team": str(org.teams["sales"].pk)})

    assert response.status_code == 200
    assert response.content.decode().count('class="card audit-entry"') == min(count, 25)
