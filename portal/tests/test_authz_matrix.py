"""The authorization matrix, generated from the URL conf (issue 8): every page and API endpoint ×
GET and POST × every role × an own-team and an other-team object.

- An object of a team the person is not in answers exactly what an id that does not exist
  answers — 404 (403 where the route is refused to the role whatever the object, 405 for a
  method the route never takes): never a hint — changes nothing, and the denial is logged on
  `baton.security`.
- Pages and lists never show another team's contact or handoff, even when asked for that team.
- Signed-out visitors are sent to log in (pages) or refused (API), and change nothing.
- Nothing answers 5xx.

A route this file does not classify fails `test_every_route_is_in_the_matrix`, so a new page
cannot ship outside the matrix."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from governance.policies.models import Approval
from governance.replay.choices import RunStatus
from governance.replay.models import ReplayRun
from governance.versions.choices import EntryAction
from governance.versions.models import DraftChange, RuleDraft, RuleRevision
from handoffs.choices import Channel
from handoffs.models import Handoff
from handoffs.tests import test_consumers as consumers
from journeys.models import Contact, HandoffRule, Journey
from portal.choices import Role
from portal.models import Team
from portal.services import membership_set

pytestmark = pytest.mark.django_db

ws = consumers.ws  # the sockets fixture

FOREIGN_NAME = "Zebulon Foreignperson"
FOREIGN_REASON = "FOREIGN-REASON-7731"
MISSING = 987654321

# Reached without a person: health, login, the API schema and docs, and integrations that
# authenticate by key, signature or chat token (each has its own signature/key tests).
NOT_PERSONAL = {
    "healthz",
    "login",
    "logout",
    "api-schema",
    "api-docs",
    "api-signals",
    "api-signals-batch",
    "api-messages-in",
    "api-webhook",
    "api-chat-session",
    "chat",
    "chat-messages",
    "chat-send",
    "twilio-messages",
    "email-mailgun",
    "email-sendgrid",
    "email-postmark",
}
# Org-wide things every member may read (journeys are not a team's).
ORG_WIDE = {"journey-list", "journey-detail"}


@dataclass
class World:
    users: dict[str, Any]
    own: dict[str, Any]
    foreign: dict[str, Any]


def _handoff(team: Team, contact: Contact, reason: str) -> Handoff:
    now = timezone.now()
    return Handoff.objects.create(
        team=team,
        contact=contact,
        trigger="high_value",
        reason=reason,
        created_at=now,
        first_response_due_at=now + timedelta(minutes=15),
    )


def _approval(handoff: Handoff) -> Approval:
    now = timezone.now()
    return Approval.objects.create(
        handoff=handoff,
        contact=handoff.contact,
        channel=Channel.EMAIL,
        to_address="someone@example.com",
        original_text="We can do 30% off if you sign today.",
        expires_at=now + timedelta(hours=4),
        expiry_action="reject",
        created_at=now,
    )


def _governance(team: Team, reason: str) -> dict[str, Any]:
    """A draft with a change, an audit entry and a replay run of the team's rules."""
    author = get_user_model().objects.create_user(username=f"author-{team.slug}", password="x")
    membership_set(user=author, team=team, role=Role.OPS)
    draft = RuleDraft.objects.create(team=team, title=f"Draft: {reason}", author=author)
    change = DraftChange.objects.create(
        draft=draft,
        content_type=ContentType.objects.get_for_model(HandoffRule),
        object_id=None,
        object_repr=f"Rule: {reason}",
        values={"name": reason, "team_id": team.pk},
    )
    entry = RuleRevision.objects.create(
        action=EntryAction.SAVED, user=author, team=team, comment=f"Saved: {reason}"
    )
    now = timezone.now()
    run = ReplayRun.objects.create(
        created_by=author,
        team=team,
        draft_id=draft.pk,
        draft_title=f"Draft: {reason}",
        days=7,
        window_start=now - timedelta(days=7),
        window_end=now,
        status=RunStatus.DONE,
    )
    return {"draft_id": draft.pk, "change_id": change.pk, "entry_id": entry.pk, "run_id": run.pk}


def _things(team: Team, name: str, reason: str) -> dict[str, Any]:
    contact = Contact.objects.create(external_id=f"x-{team.slug}", name=name)
    handoff = _handoff(team, contact, reason)
    return {
        "handoff_id": handoff.pk,
        "contact_id": contact.pk,
        "approval_id": _approval(handoff).pk,
        "slug": team.slug,
        **_governance(team, reason),
    }


@pytest.fixture
def world(db: Any) -> World:
    sales = Team.objects.create(slug="sales", name="Sales")
    support = Team.objects.create(slug="support", name="Support")
    user_model = get_user_model()
    users: dict[str, Any] = {}
    for role in (Role.REP, Role.CSM, Role.LEAD, Role.DIRECTOR, Role.LEADER, Role.OPS):
        user = user_model.objects.create_user(
            username=f"sales-{role}", password="x", is_staff=role == Role.OPS
        )
        membership_set(user=user, team=sales, role=role)
        users[str(role)] = user
    users["no team"] = user_model.objects.create_user(username="loner", password="x")
    Journey.objects.create(name="Lead nurture", slug="lead-nurture", enroll_on_signal_type="x")
    return World(
        users=users,
        own=_things(sales, "Olivia Ownteam", "Own reason"),
        foreign=_things(support, FOREIGN_NAME, FOREIGN_REASON),
    )


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def routes() -> list[tuple[str, URLPattern]]:
    """Every named route outside admin (admin has its own team-scoping tests)."""
    return [
        (route, pattern)
        for route, pattern in _walk(get_resolver().url_patterns)
        if pattern.name and not route.startswith("admin/")
    ]


ACTION = {"action": "approve"}  # approval-decide's second parameter
FILLABLE = {
    "handoff_id",
    "contact_id",
    "approval_id",
    "slug",
    "draft_id",
    "change_id",
    "entry_id",
    "run_id",
    *ACTION,
}


def object_routes(*, every: bool = False) -> list[tuple[str, tuple[str, ...]]]:
    """(url name, its parameters) for the routes that name a team's object: those the matrix
    can fill, or `every` one."""
    out = []
    for _, pattern in routes():
        params = tuple(pattern.pattern.converters)
        personal = params and pattern.name not in NOT_PERSONAL | ORG_WIDE
        if personal and (every or set(params) <= FILLABLE):
            out.append((pattern.name, params))
    return sorted(out)


def plain_routes() -> list[str]:
    return sorted(
        pattern.name
        for _, pattern in routes()
        if not pattern.pattern.converters
        and pattern.name not in NOT_PERSONAL
        and not str(pattern.pattern).startswith("^")
    )


def _url(name: str, params: tuple[str, ...], objects: dict[str, Any]) -> str:
    from django.urls import reverse

    return reverse(name, kwargs={p: ACTION[p] if p in ACTION else objects[p] for p in params})


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but sessions, as tuples: the proof that nothing changed."""
    out = {}
    for model in apps.get_models():
        if model._meta.label in {"sessions.Session"}:
            continue
        out[model._meta.label] = sorted(map(repr, model.objects.values_list()))
    return out


def _text(response: Any) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


def _client(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_every_route_is_in_the_matrix() -> None:
    """Each route naming an object uses parameters this matrix can fill."""
    unknown = {
        name: params for name, params in object_routes(every=True) if not set(params) <= FILLABLE
    }
    assert unknown == {}, f"add these routes' objects to the matrix: {unknown}"
    assert len(object_routes()) >= 12
    assert len(plain_routes()) >= 5


@pytest.mark.parametrize("role", ["rep", "csm", "lead", "director", "leader", "ops", "no team"])
def test_another_teams_object_answers_like_a_missing_one_and_changes_nothing(
    world: World, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(world.users[role])
    missing = dict.fromkeys(world.foreign, MISSING) | {"slug": "no-such-team"}
    before = _snapshot()
    failures = []
    for name, params in object_routes():
        for method in ("get", "post"):
            call: Callable[..., Any] = getattr(client, method)
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="baton.security"):
                foreign = call(_url(name, params, world.foreign))
            logged = [r for r in caplog.records if r.name == "baton.security"]
            absent = call(_url(name, params, missing))
            refused = foreign.status_code in (403, 404, 405)
            if foreign.status_code != absent.status_code or not refused:
                failures.append(
                    f"{method.upper()} {name}: {foreign.status_code}/{absent.status_code}"
                )
            elif foreign.status_code in (403, 404) and not logged:
                failures.append(f"{method.upper()} {name}: denied without a log line")
            body = _text(foreign)
            if FOREIGN_NAME in body or FOREIGN_REASON in body:
                failures.append(f"{method.upper()} {name}: shows the other team's data")
    assert failures == []
    assert _snapshot() == before


@pytest.mark.parametrize("role", ["rep", "csm", "lead", "director", "leader", "ops", "no team"])
def test_no_page_or_list_shows_another_teams_data(world: World, role: str) -> None:
    client = _client(world.users[role])
    leaks = []
    for name in plain_routes() + sorted(ORG_WIDE - {"journey-detail"}):
        from django.urls import reverse

        for query in ("", "?team=support", "?q=Zebulon", "?search=Zebulon"):
            response = client.get(reverse(name) + query)
            assert response.status_code < 500, f"{name}{query}: {response.status_code}"
            if response.status_code in (301, 302):
                continue
            body = _text(response)
            if FOREIGN_NAME in body or FOREIGN_REASON in body:
                leaks.append(f"{name}{query}")
    assert leaks == []


def test_own_team_objects_never_answer_5xx_for_any_role(world: World) -> None:
    errors = []
    for role, user in world.users.items():
        client = _client(user)
        for name, params in object_routes():
            for method in ("get", "post"):
                response = getattr(client, method)(_url(name, params, world.own))
                if response.status_code >= 500:
                    errors.append(f"{role} {method.upper()} {name}: {response.status_code}")
    assert errors == []


def test_signed_out_visitors_are_sent_to_log_in_and_change_nothing(world: World) -> None:
    from django.urls import reverse

    client = _client(None)
    before = _snapshot()
    wrong = []
    for name, params in object_routes():
        for method in ("get", "post"):
            url = _url(name, params, world.own)
            response = getattr(client, method)(url)
            ok = response.status_code in (
                (401, 403, 405) if url.startswith("/api/") else (302, 405)
            )
            if response.status_code == 302:
                ok = "/accounts/login/" in response["Location"]
            if not ok:
                wrong.append(f"{method.upper()} {name}: {response.status_code}")
    for name in plain_routes():
        response = client.get(reverse(name))
        if response.status_code == 200 and name not in {"home"}:
            wrong.append(f"GET {name}: 200 for a visitor")
    assert wrong == []
    assert _snapshot() == before


# --- websocket subscriptions × roles ---


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["rep", "csm", "lead", "director", "leader", "ops", "no team"])
async def test_no_role_receives_another_teams_handoff_over_any_socket(
    role: str, ws: Any, send_signal: Any, org: Any
) -> None:
    """Each role of the sales team opens the event stream, the inbox stream and the handoff
    page stream of a support handoff; that handoff is claimed and answered; nothing arrives."""
    from asgiref.sync import sync_to_async

    user = await sync_to_async(_member)(org, role)
    handoff_id = await sync_to_async(_support_handoff)(org)
    headers = await consumers.cookie_headers(user)
    sockets = [
        await ws.open("/ws/v1/events/", headers=headers),
        await ws.open("/ws/ui/?page=inbox", headers=headers),
        await ws.open(f"/ws/ui/?page=handoff&handoff={handoff_id}", headers=headers),
    ]
    agent = org.users["support-agent"]
    await consumers.claim(handoff_id, agent)
    await consumers.reply(handoff_id, agent, "Happy to help")
    for socket in sockets:
        assert await socket.receive_nothing(timeout=consumers.QUIET)


def _member(org: Any, role: str) -> Any:
    user = get_user_model().objects.create_user(username=f"ws-{role}", password="x")
    if role != "no team":
        membership_set(user=user, team=org.teams["sales"], role=role)
    agent = get_user_model().objects.create_user(username="support-agent", password="x")
    membership_set(user=agent, team=org.teams["support"], role=Role.REP)
    org.users["support-agent"] = agent
    return user


def _support_handoff(org: Any) -> int:
    contact = Contact.objects.create(
        external_id="ws-foreign", name=FOREIGN_NAME, email="zeb@example.com"
    )
    return _handoff(org.teams["support"], contact, FOREIGN_REASON).pk
