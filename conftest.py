"""Shared fixtures: a small organisation (teams, people with roles, the high-value rule), API
clients for integrations and people, and a helper to send signals the way integrations do."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from handoffs.choices import Priority, Trigger
from journeys.choices import LoopStage
from journeys.models import HandoffRule, Journey, Stage
from portal.choices import Role
from portal.models import Team
from portal.services import api_key_create, membership_set

# The browser tests' `browser` and `server` fixtures.
pytest_plugins = ["handoffs.tests.e2e_support"]

PASSWORD = "test-pass-123"  # noqa: S105


# e2e tests leave an event loop in the main thread (STACK-NOTES): run them last.
def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """pytest-django runs tests in per-test transactions first, then transactional ones (which
    flush the rows data migrations made); a module that commits its own data and flushes it
    (`commits_data`) goes after both, and browser tests last."""

    def order(item: Any) -> int:
        if item.get_closest_marker("e2e"):
            return 2
        return 1 if item.get_closest_marker("commits_data") else 0

    items.sort(key=order)


@dataclass
class Org:
    teams: dict[str, Team]
    users: dict[str, Any]
    rule: HandoffRule
    journey: Journey


def build_org() -> Org:
    teams = {
        slug: Team.objects.create(slug=slug, name=slug.title(), first_response_minutes=minutes)
        for slug, minutes in [("sales", 15), ("success", 60), ("support", 30), ("marketing", 240)]
    }
    user_model = get_user_model()
    people = {
        "riley": ("Riley", "Reed", {"sales": Role.REP}),
        "sam": ("Sam", "Shah", {"sales": Role.DIRECTOR}),
        "rob": ("Rob", "Rowe", {"sales": Role.REP}),
        "casey": ("Casey", "Chen", {"success": Role.CSM}),
        "morgan": ("Morgan", "Moss", {"success": Role.LEAD}),
        "lee": ("Lee", "Lang", dict.fromkeys(teams, Role.LEADER)),
        "olive": ("Olive", "Ortiz", dict.fromkeys(teams, Role.OPS)),
    }
    users = {}
    for username, (first, last, roles) in people.items():
        user = user_model.objects.create_user(
            username=username,
            password=PASSWORD,
            first_name=first,
            last_name=last,
            is_staff=username == "olive",
        )
        for slug, role in roles.items():
            membership_set(user=user, team=teams[slug], role=role)
        users[username] = user
    rule = HandoffRule.objects.create(
        name="High value",
        signal_type="form_submitted",
        condition={"path": "properties.budget", "op": ">=", "value": 50000},
        trigger=Trigger.HIGH_VALUE,
        team=teams["sales"],
        offer_to_role=Role.DIRECTOR,
        priority=Priority.URGENT,
        reason_template="Budget {properties.budget} {properties.currency} ≥ 50,000",
    )
    journey = Journey.objects.create(
        name="Lead nurture", slug="lead-nurture", enroll_on_signal_type="form_submitted"
    )
    Stage.objects.create(journey=journey, name="Nurture", loop_stage=LoopStage.ACQUIRE)
    return Org(teams=teams, users=users, rule=rule, journey=journey)


@pytest.fixture
def org(db: Any) -> Org:
    return build_org()


@pytest.fixture
def api_key(db: Any) -> str:
    """An integration key that may ingest (not read handoffs)."""
    return api_key_create(name="test ingest")[1]


@pytest.fixture
def reader_key(db: Any) -> str:
    """An integration key that may also read handoffs and the event stream (every team)."""
    return api_key_create(name="test reader", can_read_handoffs=True)[1]


@pytest.fixture
def integration(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def as_user(org: Org) -> Callable[[str], APIClient]:
    """`as_user("riley")` → an API client logged in as riley (session auth)."""

    def make(username: str) -> APIClient:
        client = APIClient()
        client.force_login(org.users[username])
        return client

    return make


def signal_body(
    *, external_id: str = "c-1001", budget: int | None = 50000, key: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "form_submitted",
        "occurred_at": "2026-11-21T10:00:00Z",
        "contact": {
            "external_id": external_id,
            "email": f"{external_id}@example.com",
            "phone": "+447700900123",
            "name": "Ada Lovelace",
            "timezone": "Europe/London",
        },
        "account": {"external_id": "acme", "name": "Acme Ltd"},
        "properties": {"currency": "GBP"}
        if budget is None
        else {"budget": budget, "currency": "GBP"},
    }
    if key is not None:
        body["idempotency_key"] = key
    body.update(extra)
    return body


@pytest.fixture
def send_signal(integration: APIClient) -> Callable[..., Any]:
    """POST one signal as an integration; returns the response."""

    def send(**kwargs: Any) -> Any:
        return integration.post("/api/v1/signals/", signal_body(**kwargs), format="json")

    return send


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment, each on its own thread and DB connection."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait()
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))
