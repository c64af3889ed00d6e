"""The demo organisation. Running it again changes nothing but prints a fresh integration key."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from handoffs.choices import Priority, Trigger
from handoffs.models import Handoff
from handoffs.services import InboundMessage, handoff_claim, handoff_reply, message_receive
from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.ingestion import body_hash, signal_ingest_batch
from journeys.models import Contact, HandoffRule, Journey, Stage, Step
from portal.choices import Role
from portal.models import Team
from portal.services import api_key_create, membership_set

TEAMS = [
    ("marketing", "Marketing", 240),
    ("sales", "Sales", 15),
    ("success", "Success", 60),
    ("support", "Support", 30),
]
ALL = [slug for slug, _, _ in TEAMS]
PEOPLE = [
    # username, first, last, {team: role}, staff, what they do
    ("riley", "Riley", "Reed", {"sales": Role.REP}, False, "Sales rep"),
    ("sam", "Sam", "Shah", {"sales": Role.DIRECTOR}, False, "Sales Director (Sales lead)"),
    ("casey", "Casey", "Chen", {"success": Role.CSM}, False, "CSM, Success"),
    ("morgan", "Morgan", "Moss", {"success": Role.LEAD}, False, "Success lead"),
    ("lee", "Lee", "Lang", dict.fromkeys(ALL, Role.LEADER), False, "Revenue leader, every team"),
    ("olive", "Olive", "Ortiz", dict.fromkeys(ALL, Role.OPS), True, "Ops: rules in admin"),
]
OPS_PERMISSIONS = [
    ("auth", "user", ["view"]),  # people and their flags are a superuser's job
    ("portal", "team", ["view", "add", "change"]),
    ("portal", "membership", ["view", "add", "change", "delete"]),
    ("portal", "apikey", ["view"]),
    ("journeys", "handoffrule", ["view", "add", "change", "delete"]),
    ("journeys", "journey", ["view", "add", "change"]),
    ("journeys", "stage", ["view", "add", "change", "delete"]),
    ("journeys", "step", ["view", "add", "change", "delete"]),
    ("journeys", "journeyversion", ["view"]),
    ("journeys", "contact", ["view"]),
    ("journeys", "account", ["view"]),
    ("journeys", "signal", ["view"]),
    ("journeys", "enrollment", ["view"]),
    ("handoffs", "handoff", ["view"]),
    ("handoffs", "message", ["view"]),
    ("handoffs", "outboxentry", ["view", "change"]),
]
RULES = [
    {
        "name": "High value",
        "signal_type": "form_submitted",
        "condition": {"path": "properties.budget", "op": ">=", "value": 50000},
        "trigger": Trigger.HIGH_VALUE,
        "team": "sales",
        "offer_to_role": Role.DIRECTOR,
        "priority": Priority.URGENT,
        "reason_template": "Budget {properties.budget} {properties.currency} ≥ 50,000",
    },
    {
        "name": "Support risk on a key account",
        "signal_type": "support_risk",
        "condition": {"all": []},
        "trigger": Trigger.STAGE,
        "team": "success",
        "offer_to_role": Role.LEAD,
        "priority": Priority.HIGH,
        "reason_template": "Support risk at {account.name}: {properties.reason}",
    },
    {
        "name": "Renewal review",
        "signal_type": "renewal_due",
        "condition": {"path": "properties.days_to_renewal", "op": "<=", "value": 90},
        "trigger": Trigger.STAGE,
        "team": "success",
        "offer_to_role": "",
        "priority": Priority.NORMAL,
        "reason_template": "Renewal in {properties.days_to_renewal} days: review with the customer",
    },
    {
        "name": "Usage drop",
        "signal_type": "usage_drop",
        "condition": {"path": "properties.drop_pct", "op": ">=", "value": 30},
        "trigger": Trigger.STAGE,
        "team": "success",
        "offer_to_role": "",
        "priority": Priority.NORMAL,
        "reason_template": "Product usage down {properties.drop_pct}% in {properties.period}",
    },
]
ASK = {"channel": "auto", "on_fail": "reject"}
STEPS = {
    "lead-nurture": [
        (
            "intro",
            "send_message",
            {
                "channel": "auto",
                "template": "Hi {contact.first_name}, "
                "thanks for your interest! I'm the Baton assistant; a short guide is on its way.",
            },
        ),
        (
            "wait_reply",
            "wait",
            {"until": "reply", "minutes": 3 * 24 * 60, "on_event": "done", "on_timeout": "nudge"},
        ),
        (
            "nudge",
            "send_message",
            {
                "channel": "auto",
                "template": "Hi {contact.first_name}, "
                "just checking in: any questions I can pass to the team?",
            },
        ),
        ("done", "end", {"outcome": "completed"}),
    ],
    "recruitment": [
        (
            "visa",
            "ask",
            {
                **ASK,
                "expect": "yes_no",
                "field": "visa",
                "pass": {"op": "==", "value": True},
                "question": "Hi "
                "{contact.first_name}, thanks for applying! Do you have the right to "
                "work in the UK?",
            },
        ),
        (
            "experience",
            "ask",
            {
                **ASK,
                "expect": "years",
                "field": "experience",
                "pass": {"op": ">=", "value": 1},
                "question": "How many years of experience do you have?",
            },
        ),
        (
            "notice",
            "ask",
            {
                **ASK,
                "expect": "weeks",
                "field": "notice",
                "pass": {"op": "<=", "value": 8},
                "question": "And what is your notice period?",
            },
        ),
        (
            "book",
            "send_message",
            {
                "channel": "auto",
                "template": "Great news, "
                "{contact.first_name}: you're through to an interview. Pick a time here: "
                "https://baton.example/book/interview",
            },
        ),
        (
            "interview",
            "handoff",
            {
                "team": "sales",
                "priority": "normal",
                "trigger": "qualification",
                "reason": "Screened applicant: "
                "visa {answers.visa}, {answers.experience} years' experience, "
                "{answers.notice} weeks' notice",
            },
        ),
        ("done", "end", {"outcome": "completed"}),
        (
            "reject",
            "send_message",
            {
                "channel": "auto",
                "template": "Thank you for applying, "
                "{contact.first_name}. We can't take your application further right now, "
                "but we wish you the very best.",
            },
        ),
        ("rejected", "end", {"outcome": "dropped"}),
    ],
}
JOURNEYS = [
    ("Lead nurture", "lead-nurture", "form_submitted", [("Nurture", LoopStage.ACQUIRE)]),
    ("Recruitment", "recruitment", "application_submitted", [("Screening", LoopStage.ACQUIRE)]),
    (
        "Trial onboarding",
        "trial-onboarding",
        "trial_started",
        [("Kick-off", LoopStage.ONBOARD), ("Activation", LoopStage.ADOPT)],
    ),
]


def _signal(key: str, type_: str, contact: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": type_, "idempotency_key": key, "contact": contact, **extra}


SAMPLES = [
    _signal(
        "demo-grace-form",
        "form_submitted",
        {
            "external_id": "c-demo-grace",
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "+447700900101",
            "timezone": "Europe/London",
        },
        account={"external_id": "harbour", "name": "Harbour Systems"},
        properties={"budget": 75000, "currency": "GBP", "form": "pricing"},
    ),
    _signal(
        "demo-alan-form",
        "form_submitted",
        {"external_id": "c-demo-alan", "name": "Alan Turing", "email": "alan@example.com"},
        properties={"budget": 500, "currency": "GBP", "form": "newsletter"},
    ),
    _signal(
        "demo-katherine-risk",
        "support_risk",
        {
            "external_id": "c-demo-katherine",
            "name": "Katherine Johnson",
            "email": "katherine@example.com",
            "timezone": "America/New_York",
        },
        account={"external_id": "orbital", "name": "Orbital Labs"},
        properties={"reason": "3 P1 tickets this week", "arr": 120000},
    ),
    _signal(
        "demo-margaret-renewal",
        "renewal_due",
        {
            "external_id": "c-demo-margaret",
            "name": "Margaret Hamilton",
            "email": "margaret@example.com",
            "phone": "+447700900104",
        },
        account={"external_id": "apollo", "name": "Apollo Guidance"},
        properties={"days_to_renewal": 60, "arr": 48000},
    ),
]


class Command(BaseCommand):
    help = "Create the demo organisation, people, rules, journeys and sample contacts."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            teams = self._teams()
            self._people(teams)
            self._rules(teams)
            self._journeys()
            self._samples()
        _, raw_key = api_key_create(name="demo integration", can_read_handoffs=True)
        password = settings.BATON_DEMO_PASSWORD
        self.stdout.write("Baton demo is ready. Log in at /accounts/login/ with:")
        for username, first, _last, _teams, _staff, what in PEOPLE:
            self.stdout.write(f"  {username:<8} {password:<12} {first}: {what}")
        self.stdout.write("Integration API key (Authorization: Bearer …):")
        self.stdout.write(raw_key)

    def _teams(self) -> dict[str, Team]:
        teams = {}
        for slug, name, minutes in TEAMS:
            teams[slug], _ = Team.objects.get_or_create(
                slug=slug, defaults={"name": name, "first_response_minutes": minutes}
            )
        return teams

    def _people(self, teams: dict[str, Team]) -> None:
        user_model = get_user_model()
        ops_group, _ = Group.objects.get_or_create(name="Ops")
        for app_label, model, actions in OPS_PERMISSIONS:
            for action in actions:
                ops_group.permissions.add(
                    Permission.objects.get(
                        content_type__app_label=app_label, codename=f"{action}_{model}"
                    )
                )
        for username, first, last, roles, staff, _what in PEOPLE:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model.objects.create_user(
                    username=username,
                    password=settings.BATON_DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@baton.example",
                    is_staff=staff,
                )
                if staff:
                    user.groups.add(ops_group)
            for slug, role in roles.items():
                membership_set(user=user, team=teams[slug], role=role)

    def _rules(self, teams: dict[str, Team]) -> None:
        for spec in RULES:
            if HandoffRule.objects.filter(name=spec["name"]).exists():
                continue
            HandoffRule.objects.create(**{**spec, "team": teams[spec["team"]]})

    def _journeys(self) -> None:
        for name, slug, signal_type, stages in JOURNEYS:
            journey, created = Journey.objects.get_or_create(
                slug=slug, defaults={"name": name, "enroll_on_signal_type": signal_type}
            )
            if created:
                for order, (stage_name, loop) in enumerate(stages):
                    Stage.objects.create(
                        journey=journey, name=stage_name, loop_stage=loop, order=order
                    )
                first_stage = journey.stages.order_by("order").first()
                sales = Team.objects.get(slug="sales")
                for order, (key, kind, config) in enumerate(STEPS.get(slug, [])):
                    Step.objects.create(
                        journey=journey,
                        stage=first_stage,
                        key=key,
                        order=order,
                        kind=kind,
                        config=config,
                        mode="human" if kind == "handoff" else "automation",
                        team=sales if kind == "handoff" else None,
                    )
                if slug in STEPS:
                    journey_publish(journey=journey)

    def _samples(self) -> None:
        if Contact.objects.filter(external_id="c-demo-grace").exists():
            return
        items = []
        for index, raw in enumerate(SAMPLES):
            items.append((index, {**raw}, body_hash(raw)))
        signal_ingest_batch(api_key=None, items=items)
        # One conversation already under way: Casey took the renewal review.
        casey = get_user_model().objects.get(username="casey")
        renewal = Handoff.objects.get(contact__external_id="c-demo-margaret")
        handoff_claim(handoff_id=renewal.pk, user=casey)
        handoff_reply(
            handoff_id=renewal.pk,
            user=casey,
            body="Hi Margaret, your renewal is coming up in two months. Could we find 30 minutes "
            "next week to review how the team is using the platform?",
        )
        message_receive(
            message=InboundMessage(
                contact={"external_id": "c-demo-margaret"},
                account=None,
                channel="email",
                body="Thanks Casey. Tuesday afternoon works; can we also talk about adding seats?",
                external_id="demo-margaret-reply-1",
            )
        )
