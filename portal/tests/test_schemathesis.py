"""Schemathesis over the served OpenAPI schema (`/api/schema/`), as every kind of caller (issue 8).

Each role below runs every operation of the schema with Schemathesis' generated requests — valid
and invalid bodies, query strings, headers and path ids — through Django's own WSGI handler
(middleware, CSRF, rate limits and error handlers included), and every response must pass all of
Schemathesis' response checks: no 5xx, a documented status code, the documented content type,
a body that matches the documented schema, invalid data refused and valid data accepted.

Callers: integration keys (ingest only; reading one team; reading one team and managing contact
data) and signed-in people of each role (rep, lead, director, leader, ops with the contact-data
permissions, a person in no team), and nobody at all. Each sees objects of their own team and
another team's: a generated path id is swapped for a real one of those (deterministically, from
the generated value), so object endpoints are exercised with ids that exist.

Sized for CI (a few examples per operation and role); `BATON_SOAK=1` runs many more."""

from __future__ import annotations

import copy
import json
import os
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from conftest import build_org
from handoffs.choices import HandoffStatus
from handoffs.models import Handoff
from handoffs.services import InboundMessage, message_receive
from journeys.models import Contact
from portal.integrations.models import InboundWebhook
from portal.models import Team
from portal.services import api_key_create

# Its world is committed once and flushed at the end, so it runs after the tests that need the
# rows data migrations made (conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.commits_data]

SOAK = os.environ.get("BATON_SOAK") == "1"
MAX_EXAMPLES = 100 if SOAK else 10
APP = WSGIHandler()
SCHEMA_URL = "/api/schema/?format=json"

KEY_ROLES = ("key-ingest", "key-reader", "key-contact-data")
PERSON_ROLES = ("rep", "lead", "director", "leader", "ops", "no-team")
ROLES = (*KEY_ROLES, *PERSON_ROLES, "anonymous")
# Endpoints for integrations refuse every person alike (before reading anything), so people are
# represented there by one rep (and the soak runs them all); what people work on — handoffs and
# contacts — runs as every role.
PERSON_FACING = ("/api/v1/handoffs/", "/api/v1/contacts/")
INTEGRATION_ROLES = (*KEY_ROLES, "rep", "anonymous")
PEOPLE = {
    "rep": "riley",  # sales rep
    "lead": "morgan",  # success lead
    "director": "sam",  # sales director
    "leader": "lee",  # leader of every team
    "ops": "olive",  # ops of every team, granted contact export and erase
    "no-team": "nadia",  # signed in, in no team
}
# A batch answers 202 with per-signal errors for the signals its schema calls invalid (the good
# ones are kept), so the data checks do not apply to it; every other check runs.
SIGNAL_INGEST = {
    "POST /api/v1/signals/batch/": [negative_data_rejection, positive_data_acceptance],
}
CASE_PARTS = ("path_parameters", "headers", "cookies", "body", "_has_explicit_auth")
# One per (role, operation): how many requests Schemathesis made (reported in docs/reliability.md).
RUNS: Counter[tuple[str, str]] = Counter()


@cache
def _raw_schema() -> dict[str, Any]:
    """The schema exactly as served (fetched once)."""
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content)


@dataclass
class World:
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    # Ids an object endpoint is given, by path parameter name: own team's and another team's.
    ids: dict[str, list[Any]] = field(default_factory=dict)


def _handoff(team: Team, label: str, **fields: Any) -> Handoff:
    received = message_receive(
        message=InboundMessage(
            contact={"external_id": label, "email": f"{label}@example.com", "name": label.title()},
            account=None,
            channel="email",
            body=f"Hello from {label}",
            external_id=f"msg-{label}",
        )
    )
    assert received.id
    contact = Contact.objects.get(external_id=label)
    now = timezone.now()
    return Handoff.objects.create(
        team=team,
        contact=contact,
        trigger="high_value",
        reason=f"Because {label}",
        created_at=now,
        first_response_due_at=now + timedelta(minutes=15),
        **fields,
    )


def _session(user: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and cookies of a signed-in browser: the session, and a CSRF secret sent as both
    cookie and header (unsafe methods need it, as they do from the portal's pages)."""
    client = Client()
    client.force_login(user)
    csrf = secrets.token_hex(16)  # a 32-character secret
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}
    return {"X-CSRFToken": csrf}, cookies


def _seed() -> World:
    org = build_org()
    users = dict(org.users)
    users["nadia"] = get_user_model().objects.create_user(username="nadia", password="x-pass-123")
    users["olive"].user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="journeys",
            codename__in=["export_contact_data", "erase_contact_data"],
        )
    )
    sales, success = org.teams["sales"], org.teams["success"]
    handoffs = [
        _handoff(sales, "sales-open"),
        _handoff(sales, "sales-claimed", status=HandoffStatus.CLAIMED, assignee=users["riley"]),
        _handoff(success, "success-open"),
        _handoff(success, "success-claimed", status=HandoffStatus.CLAIMED, assignee=users["casey"]),
    ]
    InboundWebhook.objects.create(name="Deals", slug="deals", type_value="deal_won")

    world = World()
    world.ids = {
        "handoff_id": [h.pk for h in handoffs],
        "contact_id": [h.contact_id for h in handoffs],
        "slug": ["deals"],
        "username": ["riley", "rob", "sam", "casey", "morgan", "lee"],
    }
    keys = {
        "key-ingest": api_key_create(name="ingest")[1],
        "key-reader": api_key_create(name="reader", can_read_handoffs=True),
        "key-contact-data": api_key_create(
            name="dpo", can_read_handoffs=True, can_manage_contact_data=True
        ),
    }
    for role, made in keys.items():
        if isinstance(made, tuple):
            key, raw = made
            key.teams.add(sales)  # reads one team: the success team's objects are foreign
        else:
            raw = made
        world.headers[role] = {"Authorization": f"Bearer {raw}"}
    for role, username in PEOPLE.items():
        world.headers[role], world.cookies[role] = _session(users[username])
    world.headers["anonymous"] = {}
    return world


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """Seeded once for the module and committed, so that each test (one role × one operation)
    starts from the same data: a test's own writes roll back with its transaction. Flushed at
    the end, as the suite's transactional tests leave the database."""
    with django_db_blocker.unblock():
        seeded = _seed()
    try:
        yield seeded
    finally:
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _relevant_roles_only(request: pytest.FixtureRequest) -> None:
    label = getattr(request.node, "operation_label", "") or ""
    role = request.node.callspec.params.get("role")
    path = label.partition(" ")[2]
    if not SOAK and not path.startswith(PERSON_FACING) and role not in INTEGRATION_ROLES:
        pytest.skip("an integration endpoint: people are represented by a rep (BATON_SOAK=1: all)")


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    """Rate limits have their own tests (test_ratelimit*); here they would only cut runs short."""
    settings.BATON_RATE_LIMIT_KEY_PER_MINUTE = 0
    settings.BATON_RATE_LIMIT_USER_API_PER_MINUTE = 0
    settings.BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE = 0


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Django closes the DB connection around each request; inside the test's transaction that
    would throw the test's data away (Django's test client disconnects these the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _use_real_ids(case: schemathesis.Case, world: World) -> None:
    """Swap most generated path ids (positive cases only) for ids of seeded objects: own team's
    and another team's. The choice follows the generated value, so Hypothesis can replay it."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    for name, value in list((case.path_parameters or {}).items()):
        known = world.ids.get(name)
        if not known:
            continue
        pick = value if isinstance(value, int) else len(str(value))
        if pick % 5 != 4:  # every fifth stays as generated: ids that do not exist
            case.path_parameters[name] = known[abs(pick) % len(known)]
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("assignee"), str):
        # Reassign to real people (of the handoff's team or not) as often as not.
        names = world.ids["username"]
        pick = len(body["assignee"])
        if pick % 2 == 0:
            case.body = {**body, "assignee": names[pick // 2 % len(names)]}


schema = schemathesis.openapi.from_dict(_raw_schema())
schema.app = APP
# Each role brings its own credentials; generated ones would only ever be refused.
schema.config.generation.update(with_security_parameters=False)
# NUL characters are refused everywhere (400: PostgreSQL cannot store them; docs/api.md), which
# test_bad_input* covers; here they would only make valid-looking input invalid.
schema.config.generation.update(allow_x00=False)
if not SOAK:
    # Sized for CI: generated examples only (positive and negative); the soak adds the coverage
    # phase's boundary values for every parameter.
    schema.config.phases.coverage.enabled = False


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_api_answers_as_documented(case: schemathesis.Case, role: str, world: World) -> None:
    # Explicit and coverage cases are shared by every role's test: put them back as they were.
    originals = {name: copy.deepcopy(getattr(case, name)) for name in CASE_PARTS}
    try:
        _use_real_ids(case, world)
        _sign_in(case, world, role)
        RUNS[(role, case.operation.label)] += 1
        case.call_and_validate(excluded_checks=_not_checked(case.operation.label))
    finally:
        for name, value in originals.items():
            setattr(case, name, value)


def _sign_in(case: schemathesis.Case, world: World, role: str) -> None:
    """The role's credentials go on the case itself, so that Schemathesis' auth checks can take
    them off again (a request without them must be refused)."""
    case.headers = {**(case.headers or {}), **world.headers[role]}
    if role in world.cookies:
        case.cookies = {**(case.cookies or {}), **world.cookies[role]}
    # What an auth provider marks (schemathesis.auths): these credentials are meant to be valid,
    # so `ignored_auth` sends the request again without them and expects a 401/403.
    case._has_explicit_auth = role != "anonymous"


def _not_checked(label: str) -> list[Any]:
    if label.startswith("POST /v1/"):
        # Segment's format is lenient by design (SDK compatibility): Baton checks traits' email,
        # phone and time zone and the event name's shape, which its schema cannot say (a
        # schema-valid event may get a 400 naming the field), and it ignores what it does not
        # use (an empty timestamp, a batch's non-object context). No 5xx, documented codes,
        # content types and bodies, and auth are still checked.
        return [positive_data_acceptance, negative_data_rejection]
    if label == "POST /api/v1/handoffs/{handoff_id}/reassign/":
        # The assignee must be someone who works the handoff's team: a 400 naming the field
        # for anyone else, which the schema cannot say.
        return [positive_data_acceptance]
    return SIGNAL_INGEST.get(label, [])


@pytest.fixture(scope="module", autouse=True)
def _report_runs() -> Iterator[None]:
    yield
    if RUNS:
        out = Path("test-artifacts")
        out.mkdir(exist_ok=True)
        by_role = Counter()
        for (role, _), n in RUNS.items():
            by_role[role] += n
        summary = {
            "operations": len({op for _, op in RUNS}),
            "roles": sorted(by_role),
            "requests": sum(RUNS.values()),
            "requests_by_role": dict(sorted(by_role.items())),
        }
        (out / "schemathesis-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
