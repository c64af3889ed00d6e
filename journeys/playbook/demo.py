"""The demo's playbook: next steps for each Loop stage and trigger the demo raises, a small
content library and reply templates. `seed_playbook()` is idempotent: rows are found by title
(or name) and left alone if ops changed them since; the Ops group may edit the playbook."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from handoffs.choices import Trigger as T
from journeys.choices import LoopStage as L
from journeys.playbook.choices import Persona as P
from journeys.playbook.models import ContentItem, NextStepRule, ReplyTemplate
from portal.models import Team

SITE = "https://baton.example"

# (title, detail, loop stages, triggers, condition, team slug or None, weight)
NEXT_STEPS: list[tuple[str, str, list[str], list[str], dict[str, Any], str | None, int]] = [
    (
        "Reply personally within the hour",
        "Say sorry for the experience in your first line, say what you will do and by when. "
        "No upsell, no defending. If they opted out of a channel, answer on another one they "
        "use — or not at all.",
        [],
        [T.SENTIMENT],
        {},
        None,
        10,
    ),
    (
        "Unblock the trial before anything else",
        "Check their tickets and the import log, then offer a 15-minute screen-share today. "
        "A trial that stalls in week one rarely converts.",
        [L.ONBOARD, L.ADOPT],
        [T.SENTIMENT],
        {},
        "success",
        5,
    ),
    (
        "Bring the account lead in before the renewal call",
        "An unhappy customer near renewal is a churn risk: agree a recovery plan with your "
        "lead and put it in writing.",
        [L.RENEW],
        [T.SENTIMENT],
        {},
        "success",
        5,
    ),
    (
        "Answer in the same conversation",
        "Check the knowledge base, ask a specialist if unsure, and reply here so they see the "
        "answer where they asked. Then use “Save as FAQ candidate” so the bot answers it next "
        "time.",
        [],
        [T.COMPLEXITY],
        {},
        None,
        5,
    ),
    (
        "Offer a 20-minute working session",
        "A question during set-up usually hides a second one. Solve it together on a call.",
        [L.ONBOARD, L.ADOPT],
        [T.COMPLEXITY],
        {},
        "success",
        0,
    ),
    (
        "Call within 15 minutes, then book discovery",
        "Confirm budget, timeline, decision makers and the problem they need solved; book a "
        "discovery call with a solutions engineer before you hang up.",
        [L.ACQUIRE],
        [T.HIGH_VALUE],
        {},
        "sales",
        10,
    ),
    (
        "Loop in the Sales Director",
        "A budget this size gets a director on the first call: send them the form answers and "
        "your notes.",
        [],
        [T.HIGH_VALUE],
        {"path": "properties.budget", "op": ">=", "value": 100000, "currency": "GBP"},
        "sales",
        5,
    ),
    (
        "Run the renewal review",
        "Walk through their usage against the goals they bought for, confirm seats and who "
        "signs, and agree next steps in writing well before the renewal date.",
        [L.RENEW],
        [T.STAGE],
        {},
        "success",
        10,
    ),
    (
        "Qualify the expansion",
        "Ask which teams need seats and by when, offer the volume tier, and bring in the "
        "account executive if it is more than ten seats.",
        [L.EXPAND],
        [],
        {},
        "sales",
        5,
    ),
    (
        "Offer a set-up call",
        "Propose two times in the next 48 hours: connecting the first data source together "
        "takes ten minutes.",
        [L.ONBOARD],
        [T.STAGE],
        {},
        "success",
        5,
    ),
    (
        "Key account: tell the account lead today",
        "Annual revenue this size is on the leadership scorecard: share the risk and your plan "
        "before the end of the day.",
        [],
        [T.STAGE, T.SENTIMENT],
        {"path": "properties.arr", "op": ">=", "value": 100000},
        "success",
        10,
    ),
    (
        "Prepare the interview",
        "Read the screening answers, check the CV, confirm the slot they booked and send the "
        "interview brief the day before.",
        [L.ACQUIRE],
        [T.QUALIFICATION],
        {},
        "sales",
        5,
    ),
    (
        "Read the last three touches before you write",
        "Automation may have said something yesterday; pick up from there rather than starting "
        "over.",
        [],
        [],
        {},
        None,
        -10,
    ),
]

# (title, path under SITE, summary, loop stages, triggers, personas, team slug or None)
CONTENT: list[tuple[str, str, str, list[str], list[str], list[str], str | None]] = [
    (
        "Discovery call guide",
        "/playbook/discovery",
        "The questions that qualify a big opportunity in 30 minutes.",
        [L.ACQUIRE],
        [T.HIGH_VALUE],
        [],
        "sales",
    ),
    (
        "ROI calculator",
        "/tools/roi",
        "Hours saved per rep per week, in their numbers, for the budget holder.",
        [L.ACQUIRE, L.EXPAND],
        [],
        [P.ECONOMIC_BUYER, P.EXECUTIVE_SPONSOR],
        None,
    ),
    (
        "Security and compliance pack",
        "/trust/pack",
        "SOC 2 report, DPA and data-flow diagram for technical reviews.",
        [L.ACQUIRE, L.ONBOARD],
        [],
        [P.TECHNICAL_EVALUATOR],
        None,
    ),
    (
        "Getting started in ten minutes",
        "/docs/getting-started",
        "Connect a data source, invite the team, send the first journey.",
        [L.ONBOARD],
        [],
        [],
        None,
    ),
    (
        "Fixing CSV import errors",
        "/docs/import-troubleshooting",
        "The five import errors trials hit most, and the fix for each.",
        [L.ONBOARD, L.ADOPT],
        [T.SENTIMENT, T.COMPLEXITY],
        [],
        "success",
    ),
    (
        "Week-one checklist for admins",
        "/docs/week-one",
        "What teams that stay set up in their first week.",
        [L.ADOPT],
        [],
        [P.CHAMPION, P.END_USER],
        None,
    ),
    (
        "Seat and volume pricing",
        "/pricing/volume",
        "The volume tiers from 50 seats, with annual discounts.",
        [L.EXPAND],
        [],
        [],
        "sales",
    ),
    (
        "Customer story: Harbour Systems went from 20 to 400 seats",
        "/customers/harbour",
        "How one team's pilot became company-wide in six months.",
        [L.EXPAND, L.RENEW],
        [],
        [],
        None,
    ),
    (
        "Renewal review deck",
        "/playbook/renewal-review",
        "Usage against goals, seats, what's new this year: fill in and share.",
        [L.RENEW],
        [T.STAGE],
        [],
        "success",
    ),
    (
        "Interview brief for candidates",
        "/careers/interview-brief",
        "What to expect, who they will meet, how to prepare.",
        [L.ACQUIRE],
        [T.QUALIFICATION],
        [],
        "sales",
    ),
]

# (name, body, loop stages, triggers, team slug or None)
TEMPLATES: list[tuple[str, str, list[str], list[str], str | None]] = [
    (
        "Sorry, I'm on it",
        "Hi {contact.first_name}, I'm sorry this has been so frustrating. I've read back "
        "through your messages and I'm looking into it myself now. I'll update you by the end "
        "of today with what I've found and what happens next.",
        [],
        [T.SENTIMENT],
        None,
    ),
    (
        "Specialist answer",
        "Hi {contact.first_name}, thanks for your patience. I checked with our specialists:\n"
        "\n"
        "[your answer]\n"
        "\n"
        "Does that answer it? Happy to go through it on a quick call if that's easier.",
        [],
        [T.COMPLEXITY],
        None,
    ),
    (
        "Book discovery",
        "Hi {contact.first_name}, thanks for telling us about your plans at {account.name}. "
        "I'd love to hear what you want to achieve: could we find 30 minutes this week? Pick a "
        "time here: " + SITE + "/book/discovery",
        [L.ACQUIRE],
        [T.HIGH_VALUE],
        "sales",
    ),
    (
        "Renewal review invitation",
        "Hi {contact.first_name}, your plan renews in {properties.days_to_renewal} days. Could "
        "we find 30 minutes to look at how {account.name} is using it and what you need for "
        "next year?",
        [L.RENEW],
        [T.STAGE, T.SENTIMENT],
        "success",
    ),
    (
        "Set-up call offer",
        "Hi {contact.first_name}, I noticed your trial isn't connected to a data source yet. "
        "Shall we do it together? It takes ten minutes: would tomorrow at 10:00 or 15:00 suit "
        "you?",
        [L.ONBOARD],
        [T.STAGE],
        "success",
    ),
    (
        "Expansion follow-up",
        "Hi {contact.first_name}, you're using {properties.seats_used} of {properties.seats} "
        "seats. How many more people would you like to add, and by when? I can set up the "
        "volume tier for you.",
        [L.EXPAND],
        [],
        "sales",
    ),
    (
        "Interview confirmation",
        "Hi {contact.first_name}, thanks for your answers: you're through to an interview for "
        "the {properties.role} role. I'm {rep.first_name}, and I'll be there too. The brief is "
        "here: " + SITE + "/careers/interview-brief",
        [L.ACQUIRE],
        [T.QUALIFICATION],
        "sales",
    ),
]

OPS_GROUP = "Ops"
MODELS = ("nextsteprule", "contentitem", "replytemplate")


@transaction.atomic
def seed_playbook() -> None:
    teams = {team.slug: team for team in Team.objects.all()}
    for title, detail, stages, triggers, condition, team, weight in NEXT_STEPS:
        NextStepRule.objects.get_or_create(
            title=title,
            defaults={
                "detail": detail,
                "loop_stages": [str(s) for s in stages],
                "triggers": [str(t) for t in triggers],
                "condition": condition,
                "team": teams.get(team) if team else None,
                "weight": weight,
            },
        )
    for title, path, summary, stages, triggers, personas, team in CONTENT:
        ContentItem.objects.get_or_create(
            title=title,
            defaults={
                "url": SITE + path,
                "summary": summary,
                "loop_stages": [str(s) for s in stages],
                "triggers": [str(t) for t in triggers],
                "personas": [str(p) for p in personas],
                "team": teams.get(team) if team else None,
            },
        )
    for name, body, stages, triggers, team in TEMPLATES:
        ReplyTemplate.objects.get_or_create(
            name=name,
            defaults={
                "body": body,
                "loop_stages": [str(s) for s in stages],
                "triggers": [str(t) for t in triggers],
                "team": teams.get(team) if team else None,
            },
        )
    group = Group.objects.filter(name=OPS_GROUP).first()
    if group is not None:
        actions = ("view", "add", "change", "delete")
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="journeys",
                codename__in=[f"{action}_{model}" for model in MODELS for action in actions],
            )
        )
