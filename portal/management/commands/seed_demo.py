"""The demo organisation. Running it again changes nothing but prints a fresh integration key."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from governance.dashboard.demo import seed_history
from governance.demo import seed_governance
from governance.policies.demo import seed_policies, seed_policy_samples
from governance.versions.demo import seed_versions
from handoffs.choices import Priority, Trigger
from handoffs.models import Handoff
from handoffs.services import InboundMessage, handoff_claim, handoff_reply, message_receive
from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.ingestion import body_hash, signal_ingest_batch
from journeys.models import Contact, ExchangeRate, HandoffRule, Journey, Stage, Step
from journeys.playbook.demo import seed_playbook
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
    ("journeys", "exchangerate", ["view", "add", "change", "delete"]),
    ("journeys", "enrollment", ["view", "add", "change"]),
    ("handoffs", "handoff", ["view"]),
    ("handoffs", "message", ["view"]),
    ("handoffs", "outboxentry", ["view", "change"]),
    ("handoffs", "faqentry", ["view", "add", "change"]),  # triage: docs/triage.md
    ("handoffs", "triagephrase", ["view", "add", "change", "delete"]),
    ("handoffs", "triagesettings", ["view", "change"]),
    ("governance", "frequencycap", ["view", "add", "change", "delete"]),  # docs/governance.md
    ("governance", "quiethours", ["view", "add", "change", "delete"]),
    ("governance", "tonerule", ["view", "add", "change", "delete"]),
    ("governance", "touchdecision", ["view"]),
    ("governance", "approval", ["view"]),
    ("portal", "notificationchannel", ["view", "add", "change", "delete"]),  # integrations out
    ("portal", "outbounddelivery", ["view"]),
    ("portal", "deadletter", ["view"]),
    ("dashboard", "capability", ["view", "change"]),  # the maturity panel's KPIs and thresholds
]
RATES = {"USD": "0.79", "EUR": "0.86"}  # value of one unit in GBP, the demo's base currency
RULES = [
    {
        "name": "High value",
        "signal_type": "form_submitted",
        "condition": {"path": "properties.budget", "op": ">=", "value": 50000, "currency": "GBP"},
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
AUTO, HUMAN, HYBRID = "automation", "human", "hybrid"
# A journey: (name, slug, enrolling signal type, description, stages); a stage: (name, Loop
# stage, steps); a step: (key, kind, config, mode, team slug or None).
JOURNEYS: list[tuple[str, str, str, str, list[tuple[str, str, list[tuple[Any, ...]]]]]] = [
    (
        "Lead nurture",
        "lead-nurture",
        "form_submitted",
        "A new lead gets a welcome, and a nudge if three days pass without a reply.",
        [
            (
                "Nurture",
                LoopStage.ACQUIRE,
                [
                    (
                        "intro",
                        "send_message",
                        {
                            "channel": "auto",
                            "subject": "Thanks for your interest, {contact.first_name}",
                            "template": "Hi {contact.first_name}, thanks for your interest! I'm "
                            "the Baton assistant; a short guide is on its way.",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "wait_reply",
                        "wait",
                        {
                            "until": "reply",
                            "minutes": 3 * 24 * 60,
                            "on_event": "done",
                            "on_timeout": "nudge",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "nudge",
                        "send_message",
                        {
                            "channel": "auto",
                            "template": "Hi {contact.first_name}, just checking in: any "
                            "questions I can pass to the team?",
                        },
                        AUTO,
                        None,
                    ),
                    ("done", "end", {"outcome": "completed"}, AUTO, None),
                ],
            )
        ],
    ),
    (
        "Recruitment",
        "recruitment",
        "application_submitted",
        "Three knock-out questions by SMS; a pass books an interview with a person.",
        [
            (
                "Screening",
                LoopStage.ACQUIRE,
                [
                    (
                        "visa",
                        "ask",
                        {
                            **ASK,
                            "expect": "yes_no",
                            "field": "visa",
                            "pass": {"op": "==", "value": True},
                            "question": "Hi {contact.first_name}, thanks for applying! Do you "
                            "have the right to work in the UK?",
                        },
                        AUTO,
                        None,
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
                        AUTO,
                        None,
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
                            "next": "book",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "reject",
                        "send_message",
                        {
                            "channel": "auto",
                            "template": "Thank you for applying, {contact.first_name}. We can't "
                            "take your application further right now, but we wish you the very "
                            "best.",
                        },
                        AUTO,
                        None,
                    ),
                    ("rejected", "end", {"outcome": "dropped"}, AUTO, None),
                ],
            ),
            (
                "Interview",
                LoopStage.ACQUIRE,
                [
                    (
                        "book",
                        "send_message",
                        {
                            "channel": "auto",
                            "template": "Great news, {contact.first_name}: you're through to an "
                            "interview. Pick a time here: https://baton.example/book/interview",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "interview",
                        "handoff",
                        {
                            "team": "sales",
                            "priority": "normal",
                            "trigger": "qualification",
                            "reason": "Screened applicant: visa {answers.visa}, "
                            "{answers.experience} years' experience, {answers.notice} weeks' "
                            "notice",
                        },
                        HUMAN,
                        "sales",
                    ),
                    ("done", "end", {"outcome": "completed"}, AUTO, None),
                ],
            ),
        ],
    ),
    (
        "Trial onboarding",
        "trial-onboarding",
        "trial_started",
        "Welcome a trial, watch for activation, and call the ones who stall.",
        [
            (
                "Kick-off",
                LoopStage.ONBOARD,
                [
                    (
                        "welcome",
                        "send_message",
                        {
                            "channel": "email",
                            "subject": "Welcome to your trial, {contact.first_name}",
                            "template": "Hi {contact.first_name}, welcome aboard! The quickest "
                            "way in is to connect your first data source: it takes two minutes.",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "wait_activation",
                        "wait",
                        {
                            "until": "activated",
                            "minutes": 3 * 24 * 60,
                            "on_event": "tips",
                            "on_timeout": "setup_call",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "setup_call",
                        "handoff",
                        {
                            "team": "success",
                            "priority": "normal",
                            "trigger": "stage",
                            "reason": "Trial not activated after 3 days: offer "
                            "{contact.first_name} a set-up call",
                            "sla_minutes": 240,
                            "next": "tips",
                        },
                        HYBRID,
                        "success",
                    ),
                ],
            ),
            (
                "Adoption",
                LoopStage.ADOPT,
                [
                    (
                        "tips",
                        "send_message",
                        {
                            "channel": "email",
                            "subject": "Three things teams like yours do in week one",
                            "template": "Hi {contact.first_name}, here are three things teams "
                            "like yours set up in their first week.",
                        },
                        AUTO,
                        None,
                    ),
                    ("settle", "wait", {"minutes": 7 * 24 * 60}, AUTO, None),
                    ("adopted", "end", {"outcome": "completed"}, AUTO, None),
                ],
            ),
        ],
    ),
    (
        "Expansion",
        "expansion",
        "usage_spike",
        "A team near its seat limit is offered more; interest goes to sales.",
        [
            (
                "Expansion",
                LoopStage.EXPAND,
                [
                    (
                        "offer",
                        "send_message",
                        {
                            "channel": "auto",
                            "template": "Hi {contact.first_name}, your team is using "
                            "{properties.seats_used} of {properties.seats} seats. Would more "
                            "help? Just reply and we'll set it up.",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "wait_interest",
                        "wait",
                        {
                            "until": "reply",
                            "minutes": 5 * 24 * 60,
                            "on_event": "sales_call",
                            "on_timeout": "quiet",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "sales_call",
                        "handoff",
                        {
                            "team": "sales",
                            "priority": "high",
                            "trigger": "stage",
                            "reason": "Expansion interest: {properties.seats_used} of "
                            "{properties.seats} seats used",
                            "next": "expanded",
                        },
                        HUMAN,
                        "sales",
                    ),
                    ("expanded", "end", {"outcome": "completed"}, AUTO, None),
                    ("quiet", "end", {"outcome": "dropped"}, AUTO, None),
                ],
            )
        ],
    ),
    (
        "Renewal",
        "renewal",
        "renewal_due",
        "Ninety days out: a heads-up, a human review, then wait for the renewal.",
        [
            (
                "Renewal review",
                LoopStage.RENEW,
                [
                    (
                        "heads_up",
                        "send_message",
                        {
                            "channel": "email",
                            "subject": "Your renewal is coming up",
                            "template": "Hi {contact.first_name}, your plan renews in "
                            "{properties.days_to_renewal} days. Your success manager will be in "
                            "touch to review how it's going.",
                        },
                        AUTO,
                        None,
                    ),
                    (
                        "review",
                        "handoff",
                        {
                            "team": "success",
                            "priority": "normal",
                            "trigger": "stage",
                            "reason": "Renewal in {properties.days_to_renewal} days: review with "
                            "the customer",
                        },
                        HUMAN,
                        "success",
                    ),
                    (
                        "wait_renewal",
                        "wait",
                        {
                            "until": "renewed",
                            "minutes": 120 * 24 * 60,
                            "on_event": "renewed",
                            "on_timeout": "lapsed",
                        },
                        AUTO,
                        None,
                    ),
                    ("renewed", "end", {"outcome": "completed"}, AUTO, None),
                    ("lapsed", "end", {"outcome": "dropped"}, AUTO, None),
                ],
            )
        ],
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
        properties={
            "budget": 75000,
            "currency": "GBP",
            "form": "pricing",
            "persona": "economic_buyer",
        },
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
        properties={
            "reason": "3 P1 tickets this week",
            "arr": 120000,
            "persona": "executive_sponsor",
        },
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
    _signal(
        "demo-ada-trial",
        "trial_started",
        {"external_id": "c-demo-ada", "name": "Ada Lovelace", "email": "ada@example.com"},
        account={"external_id": "engines", "name": "Analytical Engines"},
        properties={"plan": "team", "persona": "end_user"},
    ),
    _signal(
        "demo-mary-trial",
        "trial_started",
        {"external_id": "c-demo-mary", "name": "Mary Jackson", "email": "mary@example.com"},
        account={"external_id": "langley", "name": "Langley Aero"},
        properties={"plan": "business", "persona": "technical_evaluator"},
    ),
    _signal(
        "demo-dorothy-application",
        "application_submitted",
        {"external_id": "c-demo-dorothy", "name": "Dorothy Vaughan", "phone": "+447700900106"},
        properties={"role": "Solutions engineer", "persona": "candidate"},
    ),
    _signal(
        "demo-hedy-usage",
        "usage_spike",
        {"external_id": "c-demo-hedy", "name": "Hedy Lamarr", "email": "hedy@example.com"},
        account={"external_id": "signalcorp", "name": "Signal Corp"},
        properties={"seats_used": 48, "seats": 50, "persona": "champion"},
    ),
]
# Inbound messages triage reads (docs/triage.md): an FAQ answer, an angry reply (a sentiment
# handoff) and a question the FAQ cannot answer (the holding reply and a complexity handoff).
TRIAGE_SAMPLES = [
    (
        {"external_id": "c-demo-rosalind", "name": "Rosalind Franklin", "phone": "+447700900108"},
        "sms",
        "demo-rosalind-hours",
        "Hi, what are your opening hours?",
    ),
    (
        {"external_id": "c-demo-ada"},
        "email",
        "demo-ada-angry",
        "This is the third time I'm asking: the CSV import still fails and nobody has got back "
        "to me.",
    ),
    (
        {"external_id": "c-demo-mary"},
        "email",
        "demo-mary-question",
        "When we buy, can the trial workspace move under our parent company's account?",
    ),
]
# Sent after SAMPLES, so the journeys they started are waiting for them.
FOLLOW_UPS = [
    _signal(
        "demo-mary-activated",
        "activated",
        {"external_id": "c-demo-mary"},
        properties={"source": "first data source connected"},
    ),
]


class Command(BaseCommand):
    help = "Create the demo organisation, people, rules, journeys and sample contacts."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            teams = self._teams()
            self._people(teams)
            self._rules(teams)
            for currency, rate in RATES.items():
                ExchangeRate.objects.get_or_create(currency=currency, defaults={"rate": rate})
            self._journeys()
        # The samples commit one by one, as they would arrive: each signal's automated messages
        # go out before the next event, not all held back by a person who took over later.
        self._samples()
        self._triage()
        seed_playbook()  # next steps, content and reply templates (journeys/playbook/demo.py)
        # After the samples, so seeding never depends on the time of day (docs/sla.md).
        seed_governance()  # business hours, SLA policies, after-hours replies
        seed_policies()  # caps, quiet hours, tone rules (docs/governance.md)
        seed_policy_samples()  # four contacts each stopped by a different rule
        seed_history()  # weeks of history behind the dashboard (governance/dashboard/demo.py)
        seed_versions()  # one published change and an open draft to replay
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
        self._availability(teams, ops_group)

    def _availability(self, teams: dict[str, Team], ops_group: Group) -> None:
        """Who takes handoffs, when (docs/assignment.md). Sales assigns round robin; Success stays
        manual, so the demo shows both. Demo hours are all day, every day, so auto-assignment
        works whenever the demo runs; real people set theirs on /me/availability/. Set once, on
        the first run: running the seed again never undoes what people or ops changed since."""
        from datetime import time

        from portal.choices import AssignmentMode, AvailabilityStatus
        from portal.models import Availability
        from portal.services import (
            availability_set_hours,
            availability_set_status,
            team_set_assignment_mode,
        )

        for model, actions in [
            ("availability", ["view", "add", "change"]),
            ("workingperiod", ["view", "add", "change", "delete"]),
        ]:
            for action in actions:
                ops_group.permissions.add(
                    Permission.objects.get(
                        content_type__app_label="portal", codename=f"{action}_{model}"
                    )
                )
        if Availability.objects.filter(user__username="riley").exists():
            return
        all_day = [(weekday, time(0), time(0)) for weekday in range(7)]
        for username in ["riley", "sam", "casey", "morgan"]:
            user = get_user_model().objects.get(username=username)
            availability_set_hours(user=user, time_zone="Europe/London", periods=all_day)
            availability_set_status(user=user, status=AvailabilityStatus.AVAILABLE)
        team_set_assignment_mode(team=teams["sales"], mode=AssignmentMode.ROUND_ROBIN)

    def _rules(self, teams: dict[str, Team]) -> None:
        for spec in RULES:
            if HandoffRule.objects.filter(name=spec["name"]).exists():
                continue
            HandoffRule.objects.create(**{**spec, "team": teams[spec["team"]]})

    def _journeys(self) -> None:
        for name, slug, signal_type, description, stages in JOURNEYS:
            journey, created = Journey.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "enroll_on_signal_type": signal_type,
                    "description": description,
                },
            )
            if not created:
                continue
            order = 0
            for position, (stage_name, loop, steps) in enumerate(stages):
                stage = Stage.objects.create(
                    journey=journey, name=stage_name, loop_stage=loop, order=position
                )
                for key, kind, config, mode, team in steps:
                    Step.objects.create(
                        journey=journey,
                        stage=stage,
                        key=key,
                        order=order,
                        kind=kind,
                        config=config,
                        mode=mode,
                        team=Team.objects.get(slug=team) if team else None,
                    )
                    order += 1
            journey_publish(journey=journey)

    def _samples(self) -> None:
        if Contact.objects.filter(external_id="c-demo-grace").exists():
            return
        for batch in (SAMPLES, FOLLOW_UPS):
            items = [(index, {**raw}, body_hash(raw)) for index, raw in enumerate(batch)]
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

    def _triage(self) -> None:
        """The starter FAQ (approved) and the sample messages triage reads. Idempotent: entries
        are found by question, messages by their external id."""
        from handoffs.models import FaqEntry
        from handoffs.triage.choices import FaqStatus
        from handoffs.triage.defaults import STARTER_FAQ

        for question, answer, keywords in STARTER_FAQ:
            FaqEntry.objects.get_or_create(
                question=question,
                defaults={"answer": answer, "keywords": keywords, "status": FaqStatus.APPROVED},
            )
        for contact, channel, message_id, body in TRIAGE_SAMPLES:
            message_receive(
                message=InboundMessage(
                    contact=contact,
                    account=None,
                    channel=channel,
                    body=body,
                    external_id=message_id,
                )
            )
