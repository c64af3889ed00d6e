"""Replay pages and runs on PostgreSQL: starting one from a draft, the progress fragment, the
side-by-side table, refusals of bad input (no run made), who may see what (others get 404), a
failure that says why, and — the promise of a replay — no trace: no row of any table changed,
nothing queued, sent or pushed."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from conftest import key_client
from governance.changes import ProposedChange
from governance.policies.models import FrequencyCap
from governance.replay.models import ReplayRun
from governance.replay.services import replay_execute
from governance.replay.tasks import replay_wait
from governance.tests.test_policies_support import arrive, cap, day_zone, nurture, three_days_pass
from governance.tests.test_replay_support import StandInDrafts, use_stand_in
from journeys.models import HandoffRule
from portal.choices import Role
from portal.models import Team
from portal.realtime import team_group
from portal.services import membership_set

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def drafts(monkeypatch: Any) -> StandInDrafts:
    return use_stand_in(monkeypatch)


@pytest.fixture
def otto(org: Any) -> Any:
    """Ops of Sales only."""
    user = get_user_model().objects.create_user(username="otto", password="x", is_staff=True)
    membership_set(user=user, team=org.teams["sales"], role=Role.OPS)
    return user


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def lower_threshold(org: Any) -> ProposedChange:
    condition = {"path": "properties.budget", "op": ">=", "value": 40000}
    return ProposedChange(model=HandoffRule, pk=org.rule.pk, values={"condition": condition})


def history(org: Any, api_key: str) -> None:
    """A little of everything the replay reads: rule handoffs, journey touches under a cap."""
    client = key_client(api_key)
    for external_id, budget in [("c-1", 60000), ("c-2", 45000)]:
        body = {
            "type": "form_submitted",
            "contact": {"external_id": external_id, "email": f"{external_id}@example.com"},
            "properties": {"budget": budget, "currency": "GBP"},
        }
        assert client.post("/api/v1/signals/", body, format="json").status_code == 202
    nurture()
    cap(limit=1)
    arrive(api_key, external_id="t-1", zone=day_zone())
    three_days_pass()


def start(client: Client, draft_id: Any, **fields: Any) -> Any:
    return client.post("/governance/replay/new/", {"draft": draft_id, **fields})


# --- starting, progress, the result -----------------------------------------------------------


def test_the_start_page_lists_the_drafts_changes_and_defaults_to_seven_days(org, drafts):
    draft = drafts.add("Lower the bar", org.teams["sales"], [lower_threshold(org)])

    page = browser(org.users["olive"]).get(f"/governance/replay/new/?draft={draft.pk}")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Lower the bar" in html
    assert f"Handoff rule “High value v1” (#{org.rule.pk}): condition" in html
    assert 'name="days" value="7"' in html
    assert f'<option value="{org.teams["sales"].pk}" selected>Sales</option>' in html


def test_a_replay_started_from_the_page_runs_both_columns_and_shows_them(org, api_key, drafts):
    history(org, api_key)
    draft = drafts.add("Lower the bar", org.teams["sales"], [lower_threshold(org)])
    client = browser(org.users["olive"])

    answer = start(client, draft.pk, days="3", team=str(org.teams["sales"].pk))
    replay_wait()

    run = ReplayRun.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/governance/replay/{run.pk}/"
    assert (run.status, run.days, run.team, run.draft_id) == ("done", 3, org.teams["sales"], 1)
    assert run.window_end - run.window_start == timedelta(days=3)
    assert run.done == run.total > 0
    assert run.result["live"]["handoffs"]["by_trigger_team"] == {"high_value|sales": 1}
    assert run.result["draft"]["handoffs"]["by_trigger_team"] == {"high_value|sales": 2}
    html = client.get(answer["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    assert '<th scope="row">High value</th>' in html
    assert '<td class="num delta delta-up">+1</td>' in html
    assert "Lower the bar" in client.get("/governance/replay/").content.decode()


def test_a_running_replay_polls_its_progress_every_second(org, drafts):
    run = ReplayRun.objects.create(
        created_by=org.users["olive"],
        days=7,
        window_start=timezone.now() - timedelta(days=7),
        window_end=timezone.now(),
        status="running",
        done=250,
        total=1000,
    )

    fragment = browser(org.users["olive"]).get(
        f"/governance/replay/{run.pk}/", headers={"HX-Request": "true"}
    )

    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="replay-status"')
    assert 'hx-trigger="every 1s"' in html
    assert '<progress id="replay-progress" max="1000" value="250">25%</progress>' in html
    assert "<html" not in html


def test_a_failed_replay_says_why_on_the_page(org):
    run = ReplayRun.objects.create(
        created_by=org.users["olive"],
        days=7,
        window_start=timezone.now() - timedelta(days=7),
        window_end=timezone.now(),
    )
    gone = ProposedChange(model=FrequencyCap, pk=424242, values={"limit": 1})

    replay_execute(run_id=run.pk, changes=[gone])

    run.refresh_from_db()
    assert run.status == "failed"
    assert "#424242 no longer exists" in run.error
    html = browser(org.users["olive"]).get(f"/governance/replay/{run.pk}/").content.decode()
    assert "The replay failed: The draft cannot be replayed: change 1" in html
    assert 'hx-trigger="every 1s"' not in html


def test_a_run_runs_once_however_many_workers_pick_it_up(org):
    run = ReplayRun.objects.create(
        days=1, window_start=timezone.now() - timedelta(days=1), window_end=timezone.now()
    )

    assert replay_execute(run_id=run.pk, changes=[]) is not None
    assert replay_execute(run_id=run.pk, changes=[]) is None


def test_the_result_page_costs_the_same_whatever_the_result_holds(
    org, drafts, django_assert_num_queries
):
    def run_with(n: int) -> ReplayRun:
        column = {
            "handoffs": {"total": n, "by_team": {f"team-{i}": 1 for i in range(n)}},
            "touches": {"by_rule": {f"deferred|cap|Cap {i}": i for i in range(n)}},
            "breaches": {
                "total": n,
                "by_team_target": {f"t{i}|first_response": 1 for i in range(n)},
            },
        }
        return ReplayRun.objects.create(
            created_by=org.users["olive"],
            days=7,
            window_start=timezone.now() - timedelta(days=7),
            window_end=timezone.now(),
            status="done",
            result={"live": column, "draft": column},
            changes=[f"change {i}" for i in range(n)],
        )

    client = browser(org.users["olive"])
    small, large = run_with(10), run_with(500)
    client.get(f"/governance/replay/{small.pk}/")  # warm the session
    with django_assert_num_queries(6):
        assert client.get(f"/governance/replay/{small.pk}/").status_code == 200
    with django_assert_num_queries(6):
        page = client.get(f"/governance/replay/{large.pk}/")
    assert page.content.decode().count("<tr>") > 1000


# --- bad input: a clear error and no run ----------------------------------------------------


@pytest.mark.parametrize("days", ["0", "91", "-3", "7.5", "seven", ""])
def test_days_out_of_range_are_refused_with_a_clear_error_and_no_run(org, drafts, days):
    draft = drafts.add("Lower the bar", org.teams["sales"], [lower_threshold(org)])

    answer = start(browser(org.users["olive"]), draft.pk, days=days or " ")

    assert answer.status_code == 400
    assert "A whole number of days from 1 to 90." in answer.content.decode()
    assert not ReplayRun.objects.exists()


def test_an_unknown_draft_is_404_and_no_run(org, drafts):
    client = browser(org.users["olive"])

    assert start(client, 999, days="7").status_code == 404
    assert client.get("/governance/replay/new/?draft=999").status_code == 404
    assert client.get("/governance/replay/new/?draft=abc").status_code == 404
    assert not ReplayRun.objects.exists()


def test_another_teams_draft_is_404_and_no_run(org, drafts, otto):
    success = drafts.add("Success's", org.teams["success"], [lower_threshold(org)])
    everyone = drafts.add("Org-wide", None, [lower_threshold(org)])
    client = browser(otto)

    assert start(client, success.pk, days="7").status_code == 404
    assert start(client, everyone.pk, days="7").status_code == 404
    assert client.get(f"/governance/replay/new/?draft={success.pk}").status_code == 404
    assert not ReplayRun.objects.exists()


def test_a_scope_wider_than_the_person_may_edit_is_refused(org, drafts, otto):
    draft = drafts.add("Sales'", org.teams["sales"], [lower_threshold(org)])

    answer = start(browser(otto), draft.pk, days="7", team="all")
    other = start(browser(otto), draft.pk, days="7", team=str(org.teams["success"].pk))

    assert answer.status_code == other.status_code == 400
    assert "You may not replay rules over every team." in answer.content.decode()
    assert not ReplayRun.objects.exists()


def test_a_draft_with_no_changes_or_one_that_cannot_apply_is_refused(org, drafts):
    empty = drafts.add("Empty", org.teams["sales"], [])
    broken = drafts.add(
        "Broken", org.teams["sales"], [ProposedChange(model=FrequencyCap, pk=777, values={})]
    )
    client = browser(org.users["olive"])

    assert "changes nothing yet" in start(client, empty.pk, days="7").content.decode()
    refused = start(client, broken.pk, days="7")
    assert refused.status_code == 400
    assert "The draft cannot be replayed: change 1 (frequency cap): #777 no longer exists" in (
        refused.content.decode()
    )
    assert not ReplayRun.objects.exists()


# --- who may see what -----------------------------------------------------------------------


def test_who_may_start_and_see_replays(org, drafts, otto):
    sales, success = org.teams["sales"], org.teams["success"]
    window = {"window_start": timezone.now() - timedelta(days=7), "window_end": timezone.now()}
    of_sales = ReplayRun.objects.create(team=sales, days=7, **window)
    of_success = ReplayRun.objects.create(team=success, days=7, **window)
    org_wide = ReplayRun.objects.create(team=None, days=7, **window)
    draft = drafts.add("Sales'", sales, [lower_threshold(org)])
    users = {**org.users, "otto": otto}
    # user → (start page, sales run, success run, org-wide run, the list)
    expected = {
        "olive": (200, 200, 200, 200, 200),  # ops of every team
        "otto": (200, 200, 404, 404, 200),  # ops of Sales
        "sam": (404, 200, 404, 404, 200),  # Sales director: reads Sales' rules
        "morgan": (404, 404, 200, 404, 200),  # Success lead
        "lee": (404, 200, 200, 200, 200),  # leader of every team
        "riley": (404, 404, 404, 404, 404),  # a rep
        "casey": (404, 404, 404, 404, 404),  # a CSM
    }
    for username, codes in expected.items():
        client = browser(users[username])
        seen = (
            client.get(f"/governance/replay/new/?draft={draft.pk}").status_code,
            client.get(f"/governance/replay/{of_sales.pk}/").status_code,
            client.get(f"/governance/replay/{of_success.pk}/").status_code,
            client.get(f"/governance/replay/{org_wide.pk}/").status_code,
            client.get("/governance/replay/").status_code,
        )
        assert seen == codes, username
    listed = browser(otto).get("/governance/replay/").content.decode()
    assert f"/governance/replay/{of_sales.pk}/" in listed
    assert f"/governance/replay/{of_success.pk}/" not in listed
    assert Client().get(f"/governance/replay/{of_sales.pk}/").status_code == 302  # log in first


def test_a_superuser_may_replay_an_organisation_wide_draft(org, drafts):
    admin = get_user_model().objects.create_superuser(username="root", password="x")
    draft = drafts.add("Org-wide", None, [lower_threshold(org)])

    answer = start(browser(admin), draft.pk, days="1", team="all")
    replay_wait()

    assert answer.status_code == 302
    run = ReplayRun.objects.get()
    assert (run.team, run.status) == (None, "done")


# --- no trace ---------------------------------------------------------------------------------


def table_state() -> dict[str, str]:
    """Per table (every model Django knows, ReplayRun aside): a digest of every row's every
    column, so an insert, a delete or an update anywhere shows."""
    state = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if model is ReplayRun or not meta.managed or meta.proxy:
            continue
        rows = model._base_manager.order_by(meta.pk.name).values_list()
        state[meta.label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return state


def test_a_replay_leaves_no_trace(org, api_key, drafts):
    history(org, api_key)
    draft = drafts.add("Lower the bar", org.teams["sales"], [lower_threshold(org)])
    layer = get_channel_layer()
    listener = async_to_sync(layer.new_channel)()
    for team in Team.objects.all():
        async_to_sync(layer.group_add)(team_group(team.pk), listener)
    client = browser(org.users["olive"])  # the session row is the login's, not the replay's
    before, mails = table_state(), len(mail.outbox)

    answer = start(client, draft.pk, days="7", team="all")
    replay_wait()

    assert answer.status_code == 302
    assert ReplayRun.objects.get().status == "done"
    assert ReplayRun.objects.get().result["draft"]["handoffs"]["total"] == 2  # it did work
    assert table_state() == before
    assert len(mail.outbox) == mails

    async def nothing_pushed() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(listener), timeout=0.5)

    async_to_sync(nothing_pushed)()


def test_a_draft_saved_as_ops_do_replays_through_governance_versions(org, api_key):
    from governance.versions.services import draft_change_save

    history(org, api_key)
    olive = org.users["olive"]
    lower = {"condition": {"path": "properties.budget", "op": ">=", "value": 40000}}
    change = draft_change_save(
        user=olive, model=HandoffRule, pk=org.rule.pk, values=lower, title="Lower the bar"
    )
    client = browser(olive)

    page = client.get(f"/governance/replay/new/?draft={change.draft_id}")
    answer = start(client, change.draft_id, days="7", team=str(org.teams["sales"].pk))
    replay_wait()

    assert "Lower the bar" in page.content.decode()
    assert answer.status_code == 302
    run = ReplayRun.objects.get()
    assert run.status == "done", run.error
    [line] = run.changes
    assert line == (
        f"Handoff rule “High value v1” (#{org.rule.pk}): "
        "condition properties.budget ≥ 50000 → properties.budget ≥ 40000"
    )
    assert run.result["draft"]["handoffs"]["total"] == run.result["live"]["handoffs"]["total"] + 1
    assert browser(org.users["riley"]).get(f"/governance/replay/{run.pk}/").status_code == 404


def test_a_run_with_no_sign_of_life_for_five_minutes_says_so_and_stops_polling(org):
    long_ago = timezone.now() - timedelta(minutes=6)
    window = {"window_start": long_ago - timedelta(days=7), "window_end": long_ago}
    lost = ReplayRun.objects.create(days=7, status="running", heartbeat_at=long_ago, **window)
    unpicked = ReplayRun.objects.create(days=7, **window)
    ReplayRun.objects.filter(pk=unpicked.pk).update(created_at=long_ago)
    alive = ReplayRun.objects.create(
        days=7, status="running", heartbeat_at=timezone.now(), **window
    )
    client = browser(org.users["olive"])

    lost_page = client.get(f"/governance/replay/{lost.pk}/").content.decode()
    unpicked_page = client.get(f"/governance/replay/{unpicked.pk}/").content.decode()
    alive_page = client.get(f"/governance/replay/{alive.pk}/").content.decode()

    assert "the worker running it stopped" in lost_page
    assert "no worker picked it up" in unpicked_page
    assert 'hx-trigger="every 1s"' not in lost_page + unpicked_page
    assert 'hx-trigger="every 1s"' in alive_page
    assert client.post(f"/governance/replay/{alive.pk}/").status_code == 405
