"""The handoffs and contacts API: shapes, filters, actions, races and who may see what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import key_client, run_concurrently
from handoffs.models import Handoff, HandoffEvent, Message, OutboxEntry
from journeys.models import Contact, Enrollment
from portal.choices import Role
from portal.models import Event
from portal.services import membership_set

HANDOFFS = "/api/v1/handoffs/"
CONTACTS = "/api/v1/contacts/"
H_FIELDS = {
    "id",
    "team",
    "trigger",
    "reason",
    "priority",
    "status",
    "assignee",
    "contact",
    "created_at",
    "first_response_due_at",
    "breached",
}
LIST_QUERIES = 4


def url(handoff: Handoff, action: str = "") -> str:
    return f"{HANDOFFS}{handoff.pk}/" + (f"{action}/" if action else "")


def act(client: APIClient, handoff: Handoff, action: str, body: Any = None) -> Any:
    return client.post(url(handoff, action), body or {}, format="json")


def make_handoff(org: Any, label: str, team: str = "sales", **fields: Any) -> Handoff:
    contact = Contact.objects.create(external_id=label, name=f"Contact {label}")
    now = timezone.now()
    return Handoff.objects.create(
        team=org.teams[team],
        contact=contact,
        trigger=fields.pop("trigger", "high_value"),
        reason=f"Because {label}",
        created_at=now,
        first_response_due_at=now + timedelta(minutes=15),
        **fields,
    )


def labels(page: dict[str, Any]) -> set[str]:
    return {h["contact"]["external_id"] for h in page["results"]}


@pytest.fixture
def handoff(org, send_signal) -> Handoff:
    yesterday = timezone.now() - timedelta(days=1)
    send_signal(key="form-1", occurred_at=yesterday.isoformat())
    return Handoff.objects.get()


def test_the_list_is_a_page_of_handoffs_in_the_documented_shape(handoff, as_user):
    body = as_user("riley").get(HANDOFFS).json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    item = body["results"][0]
    assert set(item) >= H_FIELDS
    assert {k: item[k] for k in H_FIELDS - {"created_at", "first_response_due_at"}} == {
        "id": handoff.pk,
        "team": "sales",
        "trigger": "high_value",
        "reason": "Budget 50,000 GBP ≥ 50,000 (rule: High value v1)",
        "priority": "urgent",
        "status": "open",
        "assignee": None,
        "contact": {"id": handoff.contact_id, "external_id": "c-1001", "name": "Ada Lovelace"},
        "breached": False,
    }
    assert datetime.fromisoformat(item["created_at"]) == handoff.created_at
    assert datetime.fromisoformat(item["first_response_due_at"]) == handoff.first_response_due_at


def test_the_list_pages_with_next_and_previous_links(org, as_user):
    for i in range(3):
        make_handoff(org, f"p-{i}")
    first = as_user("riley").get(HANDOFFS, {"page_size": 2}).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    second = as_user("riley").get(first["next"]).json()
    assert (len(second["results"]), second["next"]) == (1, None)
    assert labels(first) | labels(second) == {"p-0", "p-1", "p-2"}


@pytest.fixture
def mixed(org) -> None:
    riley, casey = org.users["riley"], org.users["casey"]
    make_handoff(org, "a", priority="urgent")
    make_handoff(org, "b", trigger="sentiment", status="claimed", assignee=riley)
    make_handoff(org, "c", trigger="complexity", priority="high", status="resolved", assignee=riley)
    make_handoff(org, "d", "success", priority="low", status="waiting_on_contact", assignee=casey)


@pytest.mark.parametrize(
    ("who", "query", "expected"),
    [
        ("riley", "", {"a", "b", "c"}),
        ("riley", "status=open", {"a"}),
        ("riley", "status=open,claimed", {"a", "b"}),
        ("riley", "status=open&status=resolved", {"a", "c"}),
        ("riley", "status=active", {"a", "b"}),
        ("riley", "team=sales", {"a", "b", "c"}),
        ("riley", "team=success", set()),
        ("lee", "team=success", {"d"}),
        ("riley", "trigger=sentiment", {"b"}),
        ("riley", "priority=high", {"c"}),
        ("riley", "assignee=me", {"b", "c"}),
        ("riley", "assignee=none", {"a"}),
        ("lee", "assignee=me", set()),
        ("lee", "assignee=casey", {"d"}),
        ("lee", "status=active&priority=low", {"d"}),
    ],
)
def test_the_list_filters(mixed, as_user, who, query, expected):
    response = as_user(who).get(f"{HANDOFFS}?{query}")
    assert response.status_code == 200
    assert labels(response.json()) == expected


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=bogus", {"status"}),
        ("status=open,bogus", {"status"}),
        ("trigger=bogus", {"trigger"}),
        ("priority=sky-high", {"priority"}),
        ("contact=abc", {"contact"}),
        ("breached=maybe", {"breached"}),
        ("status=nope&priority=nope", {"status", "priority"}),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_it(org, as_user, query, named):
    response = as_user("riley").get(f"{HANDOFFS}?{query}")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == named


def test_the_detail_is_the_same_handoff_as_in_the_list(handoff, as_user):
    riley = as_user("riley")
    detail = riley.get(url(handoff))
    assert detail.status_code == 200
    assert detail.json() == riley.get(HANDOFFS).json()["results"][0]
    assert detail.json()["evidence"][0]["signal_id"] == handoff.signal_id


def test_claiming_gives_the_handoff_to_the_caller(handoff, as_user, org):
    response = act(as_user("riley"), handoff, "claim")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["assignee"]) == (
        "claimed",
        {"id": org.users["riley"].pk, "username": "riley", "name": "Riley Reed"},
    )
    handoff.refresh_from_db()
    assert (handoff.assignee, handoff.status) == (org.users["riley"], "claimed")


def test_a_second_claim_by_someone_else_gets_409(handoff, as_user, org):
    act(as_user("riley"), handoff, "claim")
    response = act(as_user("rob"), handoff, "claim")
    assert response.status_code == 409
    assert response.json() == {"detail": "Already claimed by Riley Reed"}
    handoff.refresh_from_db()
    assert handoff.assignee == org.users["riley"]


@pytest.mark.django_db(transaction=True)
def test_ten_people_claiming_at_once_leaves_exactly_one_winner(org):
    sales = org.teams["sales"]
    people = [org.users[name] for name in ("riley", "rob", "sam")]
    for i in range(7):
        rep = get_user_model().objects.create_user(
            username=f"rep{i}", first_name="Rep", last_name=f"Number{i}"
        )
        membership_set(user=rep, team=sales, role=Role.REP)
        people.append(rep)
    handoff = make_handoff(org, "race")
    clients = []
    for user in people:
        client = APIClient()
        client.force_login(user)
        clients.append(client)

    def claim(client: APIClient) -> Callable[[], tuple[int, dict[str, Any]]]:
        def send() -> tuple[int, dict[str, Any]]:
            response = act(client, handoff, "claim")
            return response.status_code, response.json()

        return send

    answers = run_concurrently([claim(client) for client in clients])
    statuses = [status for status, _ in answers]
    assert sorted(statuses) == [200] + [409] * 9
    winner = people[statuses.index(200)]
    handoff.refresh_from_db()
    assert (handoff.assignee, handoff.status) == (winner, "claimed")
    lost = {body["detail"] for status, body in answers if status == 409}
    assert lost == {f"Already claimed by {winner.get_full_name()}"}
    assert HandoffEvent.objects.filter(handoff=handoff, kind="claimed").count() == 1
    assert Event.objects.filter(handoff_id=handoff.pk).count() == 1


def test_a_reply_is_signed_the_first_time_and_sent_through_the_outbox(
    handoff, as_user, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = act(as_user("riley"), handoff, "reply", {"body": "Hi Ada, happy to help."})
    assert response.status_code == 201
    message = response.json()
    assert message["body"] == "Hi Ada, happy to help.\n\n— Riley Reed, Sales team"
    assert (message["handoff"], message["direction"], message["channel"]) == (
        handoff.pk,
        "out",
        "email",
    )
    assert (message["automated"], message["author"]["username"]) == (False, "riley")
    handoff.refresh_from_db()
    assert (handoff.status, handoff.assignee) == ("waiting_on_contact", org.users["riley"])
    assert handoff.first_responded_at is not None
    entry = OutboxEntry.objects.get(message_id=message["id"])
    assert (entry.status, entry.backend, entry.attempts, entry.to_address) == (
        "sent",
        "email",
        1,
        "c-1001@example.com",
    )


def test_a_second_reply_is_not_signed_again(handoff, as_user):
    riley = as_user("riley")
    act(riley, handoff, "reply", {"body": "Hi Ada."})
    first_responded_at = Handoff.objects.get().first_responded_at
    response = act(riley, handoff, "reply", {"body": "One more thing."})
    assert response.status_code == 201
    assert response.json()["body"] == "One more thing."
    assert Handoff.objects.get().first_responded_at == first_responded_at
    assert Message.objects.count() == OutboxEntry.objects.count() == 2


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {}])
def test_a_reply_without_a_body_is_a_400(handoff, as_user, body):
    response = act(as_user("riley"), handoff, "reply", body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]
    assert not Message.objects.exists()
    assert Handoff.objects.get().status == "open"


def test_replying_to_a_handoff_someone_else_claimed_is_a_409(handoff, as_user):
    act(as_user("riley"), handoff, "claim")
    response = act(as_user("rob"), handoff, "reply", {"body": "Me too"})
    assert response.status_code == 409
    assert response.json() == {"detail": "Already claimed by Riley Reed"}
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("resume", "enrollment_status"), [(True, "active"), (False, "paused_for_human")]
)
def test_resolving_resumes_automation_only_when_asked(handoff, as_user, resume, enrollment_status):
    riley = as_user("riley")
    act(riley, handoff, "claim")
    response = act(riley, handoff, "resolve", {"resolution": "Booked", "resume_automation": resume})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["resume_automation"]) == ("resolved", resume)
    assert response.json()["resolution"] == "Booked"
    assert Enrollment.objects.get().status == enrollment_status


def test_resolving_twice_is_a_409(handoff, as_user):
    riley = as_user("riley")
    act(riley, handoff, "resolve", {"resolution": "Done"})
    response = act(riley, handoff, "resolve", {"resolution": "Again"})
    assert response.status_code == 409
    assert response.json() == {"detail": "This handoff is already resolved"}
    assert Handoff.objects.get().resolution == "Done"


def test_another_rep_may_not_resolve_someone_elses_handoff(handoff, as_user):
    act(as_user("riley"), handoff, "claim")
    assert act(as_user("rob"), handoff, "resolve", {"resolution": "Mine now"}).status_code == 403
    assert Handoff.objects.get().status == "claimed"


def test_replying_to_a_resolved_handoff_is_a_409(handoff, as_user):
    riley = as_user("riley")
    act(riley, handoff, "resolve", {"resolution": "Done"})
    response = act(riley, handoff, "reply", {"body": "Anything else?"})
    assert response.status_code == 409
    assert response.json() == {"detail": "This handoff is resolved"}
    assert not Message.objects.exists()


def test_releasing_an_unclaimed_handoff_is_a_409(handoff, as_user):
    response = act(as_user("sam"), handoff, "release")
    assert response.status_code == 409
    assert response.json() == {"detail": "Only a claimed handoff can be released"}


def test_the_owner_may_release_a_handoff_back_to_the_pool(handoff, as_user):
    riley = as_user("riley")
    act(riley, handoff, "claim")
    response = act(riley, handoff, "release")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["assignee"]) == ("open", None)
    assert Handoff.objects.get().assignee is None


def test_another_rep_may_not_release_someone_elses_handoff(handoff, as_user, org):
    act(as_user("riley"), handoff, "claim")
    assert act(as_user("rob"), handoff, "release").status_code == 403
    assert Handoff.objects.get().assignee == org.users["riley"]


def test_the_director_may_reassign_to_another_rep(handoff, as_user, org):
    act(as_user("riley"), handoff, "claim")
    response = act(as_user("sam"), handoff, "reassign", {"assignee": "rob"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["assignee"]["username"]) == (
        "claimed",
        "rob",
    )
    assert Handoff.objects.get().assignee == org.users["rob"]


def test_a_rep_may_not_reassign(handoff, as_user):
    response = act(as_user("riley"), handoff, "reassign", {"assignee": "rob"})
    assert response.status_code == 403
    assert Handoff.objects.get().assignee is None


def test_reassigning_to_someone_outside_the_team_is_a_400(handoff, as_user):
    response = act(as_user("sam"), handoff, "reassign", {"assignee": "casey"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["assignee"]


@pytest.mark.parametrize("action", ["claim", "resolve", "release"])
def test_a_leader_may_read_but_not_work_a_handoff(handoff, as_user, action):
    lee = as_user("lee")
    assert lee.get(url(handoff)).status_code == 200
    response = act(lee, handoff, action)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Your role may read this team's handoffs but not work them."
    }
    assert Handoff.objects.get().status == "open"


def test_an_integration_key_without_read_permission_sees_no_handoffs(handoff, integration):
    assert integration.get(HANDOFFS).json()["count"] == 0
    assert integration.get(url(handoff)).status_code == 404


def test_a_reader_key_sees_every_team(org, reader_key):
    make_handoff(org, "s-1")
    make_handoff(org, "u-1", "success")
    make_handoff(org, "m-1", "marketing")
    assert labels(key_client(reader_key).get(HANDOFFS).json()) == {"s-1", "u-1", "m-1"}


def test_assignee_me_means_nobody_for_an_integration_key(mixed, reader_key):
    response = key_client(reader_key).get(HANDOFFS, {"assignee": "me"})
    assert response.status_code == 200
    assert labels(response.json()) == set()


def test_a_reader_key_may_not_claim(handoff, reader_key):
    response = act(key_client(reader_key), handoff, "claim")
    assert response.status_code == 403
    assert Handoff.objects.get().status == "open"


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("get", "", None),
        ("post", "claim", None),
        ("post", "reply", {"body": "Hello"}),
        ("post", "resolve", {"resolution": "x"}),
        ("post", "release", None),
        ("post", "reassign", {"assignee": "casey"}),
    ],
)
def test_another_teams_handoff_is_a_404_like_a_missing_one(handoff, as_user, method, action, body):
    casey = as_user("casey")
    response = getattr(casey, method)(url(handoff, action), body or {}, format="json")
    missing = Handoff(pk=handoff.pk + 1000)
    nowhere = getattr(casey, method)(url(missing, action), body or {}, format="json")
    assert (response.status_code, response.json()) == (404, nowhere.json())
    assert nowhere.status_code == 404
    handoff.refresh_from_db()
    assert (handoff.status, handoff.assignee) == ("open", None)
    assert not Message.objects.exists()


def test_another_teams_handoff_never_appears_in_the_list(handoff, as_user, org):
    make_handoff(org, "mine", "success")
    for query in ("", "?team=sales", "?status=open", f"?contact={handoff.contact_id}"):
        assert "c-1001" not in labels(as_user("casey").get(f"{HANDOFFS}{query}").json())
    assert labels(as_user("casey").get(HANDOFFS).json()) == {"mine"}


def test_a_team_member_finds_the_contact_by_external_id_with_its_account(handoff, as_user):
    body = as_user("riley").get(CONTACTS, {"external_id": "c-1001"}).json()
    assert body["count"] == 1
    contact = body["results"][0]
    account = Contact.objects.get().account
    assert {k: contact[k] for k in ("id", "external_id", "name", "email", "phone", "account")} == {
        "id": handoff.contact_id,
        "external_id": "c-1001",
        "name": "Ada Lovelace",
        "email": "c-1001@example.com",
        "phone": "+447700900123",
        "account": {"id": account.pk, "external_id": "acme", "name": "Acme Ltd"},
    }


def test_a_contact_no_handoff_brought_to_the_team_is_not_listed(org, send_signal, as_user):
    send_signal(budget=500)
    assert as_user("riley").get(CONTACTS, {"external_id": "c-1001"}).json()["count"] == 0


def test_another_team_cannot_find_or_open_the_contact(handoff, as_user):
    casey = as_user("casey")
    assert casey.get(CONTACTS, {"external_id": "c-1001"}).json()["count"] == 0
    assert casey.get(f"{CONTACTS}{handoff.contact_id}/").status_code == 404
    assert casey.get(f"{CONTACTS}{handoff.contact_id}/timeline/").status_code == 404
    assert as_user("riley").get(f"{CONTACTS}{handoff.contact_id}/").status_code == 200


def timeline(client: APIClient, contact_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"{CONTACTS}{contact_id}/timeline/", params)
    assert response.status_code == 200
    return response.json()


def test_the_timeline_lists_signals_handoffs_and_messages_newest_first(handoff, as_user):
    riley = as_user("riley")
    act(riley, handoff, "reply", {"body": "Hi Ada."})
    body = timeline(riley, handoff.contact_id)
    items = body["results"]
    assert body["count"] == len(items) == 6
    stamps = [datetime.fromisoformat(item["at"]) for item in items]
    assert stamps == sorted(stamps, reverse=True)
    assert {"signal", "handoff", "message"} <= {item["kind"] for item in items}
    assert all(item["summary"] for item in items)
    assert items[-1]["kind"] == "signal"
    assert items[-1]["type"] == "form_submitted"
    assert [i["event"] for i in items if i["kind"] == "handoff"] == ["claimed", "created"]
    (message,) = [item for item in items if item["kind"] == "message"]
    assert {k: message[k] for k in ("direction", "channel", "body", "automated")} == {
        "direction": "out",
        "channel": "email",
        "body": "Hi Ada.\n\n— Riley Reed, Sales team",
        "automated": False,
    }


def test_the_timeline_pages_with_page_size(handoff, as_user):
    riley = as_user("riley")
    act(riley, handoff, "reply", {"body": "Hi Ada."})
    everything = timeline(riley, handoff.contact_id)["results"]
    pages = [timeline(riley, handoff.contact_id, page=n, page_size=2) for n in (1, 2, 3)]
    assert [page["count"] for page in pages] == [6, 6, 6]
    assert [item for page in pages for item in page["results"]] == everything
    assert pages[0]["previous"] is None
    assert pages[0]["next"].endswith("?page=2&page_size=2")
    assert pages[2]["previous"].endswith("?page=2&page_size=2")
    assert pages[2]["next"] is None


def bulk_handoffs(org: Any, start: int, count: int) -> None:
    contacts = Contact.objects.bulk_create(
        Contact(external_id=f"bulk-{i}", name=f"Bulk {i}") for i in range(start, start + count)
    )
    assignees = [None, org.users["riley"], org.users["rob"]]
    now = timezone.now()
    Handoff.objects.bulk_create(
        Handoff(
            team=org.teams["sales"],
            contact=contact,
            trigger="high_value",
            reason="Bulk",
            status="open" if i % 3 == 0 else "claimed",
            assignee=assignees[i % 3],
            created_at=now,
            first_response_due_at=now + timedelta(minutes=i),
        )
        for i, contact in enumerate(contacts)
    )


def list_queries(client: APIClient) -> tuple[int, int]:
    client.get(HANDOFFS, {"page_size": 500})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(HANDOFFS, {"page_size": 500})
    return len(queries), len(response.json()["results"])


def test_the_list_costs_the_same_queries_for_10_and_500_handoffs(org, as_user):
    riley = as_user("riley")
    bulk_handoffs(org, 0, 10)
    assert list_queries(riley) == (LIST_QUERIES, 10)
    bulk_handoffs(org, 10, 490)
    assert list_queries(riley) == (LIST_QUERIES, 500)
