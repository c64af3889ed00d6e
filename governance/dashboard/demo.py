"""Weeks of history for the demo, so every number on the dashboard means something: leads and
customers' signals, handoffs in every team answered on time or late (breached and escalated),
resolved and handed back, enrollments moving through the demo journeys' Loop stages with
drop-offs, automated and human touches, governance deferring and suppressing touches by the demo
rules, and outcome signals (meetings, deals won and lost, renewals). Then a full rollup refresh.

Direct model writes with consistent timestamps (a signal, then the handoff it raised, then the
reply inside or outside the team's business-time SLA…), in bulk so `seed_demo` stays quick.
Everything it writes is history: every handoff is resolved and every enrollment has ended, so
nothing lands in today's inboxes or wakes a sweep. Running it again changes nothing."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from governance.dashboard.maturity import capabilities_ensure
from governance.dashboard.refresh import rollups_refresh
from governance.policies.choices import RuleKind, TouchAction
from governance.policies.models import FrequencyCap, QuietHours, ToneRule, TouchDecision
from governance.selectors import SlaTerms, sla_terms
from handoffs.choices import Channel, Direction, HandoffStatus, Priority, SlaTarget, Trigger
from handoffs.models import Conversation, Handoff, Message
from handoffs.sla import add_business_time, next_opening
from journeys.choices import EnrollmentStatus, VisitOutcome
from journeys.models import Contact, Enrollment, Journey, Signal, Stage, StageVisit
from portal.models import Team

PREFIX = "hist-"
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Tim",
    "Margaret",
    "Linus",
    "Barbara",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Guido",
    "Hedy",
    "Edsger",
    "Sophie",
]
LAST_NAMES = [
    "Byron",
    "Hopper",
    "Turing",
    "Johnson",
    "Berners-Lee",
    "Hamilton",
    "Torvalds",
    "Liskov",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
    "van Rossum",
    "Wilson",
]


@dataclass
class _Batch:
    contacts: list[Contact] = field(default_factory=list)
    signals: list[tuple[Signal, datetime]] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    messages: list[tuple[Message, datetime, Contact, Handoff | None]] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)
    visits: list[tuple[StageVisit, Enrollment]] = field(default_factory=list)
    decisions: list[tuple[TouchDecision, Enrollment]] = field(default_factory=list)


def seed_history(*, days: int = 42, seed: int = 5, now: datetime | None = None) -> bool:
    """Write `days` of history ending an hour ago; False when it is already there."""
    capabilities_ensure()
    if Contact.objects.filter(external_id__startswith=PREFIX).exists():
        return False
    teams = {t.slug: t for t in Team.objects.all()}
    if not {"sales", "success", "support"} <= teams.keys():
        return False
    with transaction.atomic():
        _History(teams, random.Random(seed), now or timezone.now(), days).write()
    rollups_refresh(full=True)
    return True


class _History:
    def __init__(
        self, teams: dict[str, Team], rng: random.Random, now: datetime, days: int
    ) -> None:
        self.teams, self.rng, self.days = teams, rng, days
        self.end = now - timedelta(hours=1)
        self.start = self.end - timedelta(days=days)
        users = get_user_model().objects.filter(username__in=["riley", "sam", "casey", "morgan"])
        self.people = {u.username: u for u in users}
        self.journeys = {
            j.slug: sorted(j.stages.all(), key=lambda s: (s.order, s.pk))
            for j in Journey.objects.prefetch_related("stages")
        }
        self.journey_ids = {j.slug: j.pk for j in Journey.objects.all()}
        self.rules = self._rules()
        self.batch = _Batch()
        self.terms: dict[tuple[int, str], SlaTerms] = {}
        self.n = 0

    # ---- the shape of a day -------------------------------------------------------------

    def write(self) -> None:
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            weekday = day.weekday() < 5
            for _ in range(self.rng.randint(7, 12) if weekday else self.rng.randint(2, 4)):
                self._lead(self._moment(day))
            for _ in range(self.rng.randint(2, 4) if weekday else 1):
                self._customer(self._moment(day))
            for _ in range(self.rng.randint(1, 3)):
                self._question(self._moment(day))
        self._flush()

    def _moment(self, day: datetime) -> datetime:
        """Mostly office hours, some evenings (after-hours handoffs start at the next opening)."""
        hour = self.rng.choice([8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 17, 19, 21])
        at = day.replace(hour=hour, minute=self.rng.randrange(60), second=self.rng.randrange(60))
        return min(at, self.end - timedelta(hours=2))

    def _contact(self, kind: str) -> Contact:
        self.n += 1
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        contact = Contact(
            external_id=f"{PREFIX}{kind}-{self.n:05d}",
            name=f"{first} {last}",
            email=f"{first.lower()}.{self.n}@{kind}.example",
            timezone="Europe/London",
        )
        self.batch.contacts.append(contact)
        return contact

    def _signal(self, contact: Contact, type_: str, at: datetime, **props: Any) -> Signal:
        key = f"{contact.external_id}:{type_}:{at.isoformat()}"
        signal = Signal(
            type=type_,
            contact=contact,
            occurred_at=at,
            properties=props,
            body_hash=hashlib.sha256(key.encode()).hexdigest(),
            evaluated_at=at + timedelta(seconds=1),
        )
        self.batch.signals.append((signal, at + timedelta(seconds=self.rng.randint(1, 20))))
        return signal

    def _lead(self, at: datetime) -> None:
        contact = self._contact("lead")
        big = self.rng.random() < 0.16
        budget = (
            self.rng.choice([60000, 75000, 90000, 120000])
            if big
            else self.rng.choice([500, 2000, 5000, 12000, 20000])
        )
        signal = self._signal(contact, "form_submitted", at, budget=budget, currency="GBP")
        self._journey(contact, "lead-nurture", at, drop=0.35)
        if big:
            self._handoff(
                contact,
                "sales",
                Trigger.HIGH_VALUE,
                Priority.URGENT,
                at,
                signal,
                f"Budget {budget} GBP ≥ 50,000",
                "sam",
            )
        if self.rng.random() < (0.55 if big else 0.2):
            met = at + timedelta(days=self.rng.uniform(0.5, 5))
            if met < self.end:
                self._signal(contact, "meeting_booked", met, meeting="discovery call")
                closed = met + timedelta(days=self.rng.uniform(2, 12))
                if closed < self.end and self.rng.random() < 0.7:
                    won = self.rng.random() < (0.5 if big else 0.3)
                    self._signal(contact, "deal_won" if won else "deal_lost", closed)

    def _customer(self, at: datetime) -> None:
        contact = self._contact("customer")
        kind = self.rng.choice(
            ["renewal_due", "renewal_due", "support_risk", "usage_drop", "trial"]
        )
        if kind == "trial":
            self._signal(contact, "trial_started", at, plan="pro")
            self._journey(contact, "trial-onboarding", at, drop=0.25)
            return
        if kind == "renewal_due":
            signal = self._signal(contact, "renewal_due", at, days_to_renewal=90)
            self._journey(contact, "renewal", at, drop=0.12)
            self._handoff(
                contact,
                "success",
                Trigger.STAGE,
                Priority.NORMAL,
                at,
                signal,
                "Renewal in 90 days: review with the customer",
                "casey",
            )
            renewed = at + timedelta(days=self.rng.uniform(3, 20))
            if renewed < self.end and self.rng.random() < 0.78:
                self._signal(contact, "renewed", renewed)
            return
        if kind == "support_risk":
            signal = self._signal(contact, "support_risk", at, reason="3 P1 tickets this week")
            self._handoff(
                contact,
                "success",
                Trigger.STAGE,
                Priority.HIGH,
                at,
                signal,
                "Support risk: 3 P1 tickets this week",
                "morgan",
            )
            return
        signal = self._signal(contact, "usage_drop", at, drop_pct=40, period="the last 14 days")
        self._journey(contact, "expansion", at, drop=0.3)
        self._handoff(
            contact,
            "success",
            Trigger.STAGE,
            Priority.NORMAL,
            at,
            signal,
            "Product usage down 40% in the last 14 days",
            "casey",
        )

    def _question(self, at: datetime) -> None:
        contact = self._contact("chat")
        angry = self.rng.random() < 0.35
        body = (
            "This is the third time I've asked, stop texting me"
            if angry
            else ("Do you integrate with our on-premise SAP system?")
        )
        self._message(contact, None, Direction.IN, at, body, channel=Channel.SMS)
        if angry:
            self._handoff(
                contact,
                "support",
                Trigger.SENTIMENT,
                Priority.HIGH,
                at,
                None,
                "Angry reply: “stop texting me”",
                "riley",
            )
        else:
            self._message(
                contact,
                None,
                Direction.OUT,
                at + timedelta(seconds=5),
                "Great question — let me check with one of our specialists. "
                "(I'm the Baton assistant.)",
                automated=True,
            )
            self._handoff(
                contact,
                "sales",
                Trigger.COMPLEXITY,
                Priority.NORMAL,
                at,
                None,
                "Question the FAQ cannot answer: SAP integration",
                "riley",
            )

    # ---- handoffs -----------------------------------------------------------------------

    def _handoff(
        self,
        contact: Contact,
        team_slug: str,
        trigger: str,
        priority: str,
        at: datetime,
        signal: Signal | None,
        reason: str,
        who: str,
    ) -> None:
        team = self.teams[team_slug]
        terms = self._terms(team, priority)
        created = at + timedelta(seconds=self.rng.randint(2, 30))
        started = next_opening(created, terms.calendar)
        minutes = terms.first_response_minutes or team.first_response_minutes
        due = add_business_time(started, minutes, terms.calendar)
        late = self.rng.random() < 0.14
        share = self.rng.uniform(1.2, 4.0) if late else self.rng.uniform(0.08, 0.9)
        responded = add_business_time(started, max(1.0, minutes * share), terms.calendar)
        resolution_due = (
            add_business_time(started, terms.resolution_minutes, terms.calendar)
            if terms.resolution_minutes
            else None
        )
        resolved = responded + timedelta(hours=self.rng.uniform(0.3, 30))
        if resolved > self.end:
            resolved = max(responded, self.end - timedelta(minutes=5))
        if responded > self.end:  # raised late yesterday: answered just now
            responded = resolved = self.end - timedelta(minutes=5)
            late = responded > due
        breached = late or (resolution_due is not None and resolved > resolution_due)
        person = self.people.get(who)
        handoff = Handoff(
            team=team,
            contact=contact,
            trigger=trigger,
            reason=reason,
            priority=priority,
            status=HandoffStatus.RESOLVED,
            assignee=person,
            signal=signal,
            created_at=created,
            claimed_at=min(responded, created + timedelta(minutes=self.rng.randint(1, 40))),
            sla_started_at=started,
            first_response_due_at=due,
            resolution_due_at=resolution_due,
            first_responded_at=responded,
            resolved_at=resolved,
            resolution="Spoke with the contact; next step agreed.",
            resume_automation=self.rng.random() < 0.6,
            breached=breached,
            escalated=breached,
            breached_at=(due if late else resolution_due) if breached else None,
            breached_target=(
                (SlaTarget.FIRST_RESPONSE if late else SlaTarget.RESOLUTION) if breached else ""
            ),
        )
        self.batch.handoffs.append(handoff)
        name = person.first_name if person else "the team"
        self._message(
            contact,
            handoff,
            Direction.OUT,
            responded,
            f"Hi, this is {name} taking over — thanks for your patience.",
            author=person,
        )
        if self.rng.random() < 0.5:
            self._message(
                contact,
                handoff,
                Direction.IN,
                responded + timedelta(minutes=20),
                "Thanks, that helps.",
            )

    def _terms(self, team: Team, priority: str) -> SlaTerms:
        key = (team.pk, priority)
        if key not in self.terms:
            self.terms[key] = sla_terms(
                team_id=team.pk, priority=priority, team_default_minutes=team.first_response_minutes
            )
        return self.terms[key]

    def _message(
        self,
        contact: Contact,
        handoff: Handoff | None,
        direction: str,
        at: datetime,
        body: str,
        *,
        automated: bool = False,
        author: Any = None,
        channel: str = Channel.EMAIL,
        enrollment: Enrollment | None = None,
        step: str = "",
    ) -> None:
        message = Message(
            direction=direction,
            channel=channel,
            body=body,
            automated=automated,
            author=author,
            enrollment=enrollment,
            step=step,
        )
        self.batch.messages.append((message, at, contact, handoff))

    # ---- journeys -----------------------------------------------------------------------

    def _journey(self, contact: Contact, slug: str, at: datetime, *, drop: float) -> None:
        stages = self.journeys.get(slug)
        if not stages:
            return
        enrollment = Enrollment(
            contact=contact,
            journey_id=self.journey_ids[slug],
            stage=stages[0],
            status=EnrollmentStatus.COMPLETED,
            stage_entered_at=at,
        )
        self.batch.enrollments.append(enrollment)
        entered = at + timedelta(seconds=1)
        for index, stage in enumerate(stages):
            stay = timedelta(hours=self.rng.lognormvariate(3.2, 0.9))  # a median near a day
            left = min(entered + stay, self.end - timedelta(minutes=1))
            self._touches(contact, enrollment, stage, entered, left)
            dropped = self.rng.random() < drop / len(stages)
            last = index == len(stages) - 1
            outcome = (
                VisitOutcome.DROPPED
                if dropped
                else VisitOutcome.COMPLETED
                if last
                else VisitOutcome.ADVANCED
            )
            visit = StageVisit(
                journey_id=enrollment.journey_id,
                stage=stage,
                entered_at=entered,
                left_at=left,
                outcome=outcome,
            )
            self.batch.visits.append((visit, enrollment))
            enrollment.stage, enrollment.stage_entered_at = stage, entered
            if dropped:
                enrollment.status = EnrollmentStatus.DROPPED
                break
            entered = left
            if entered >= self.end - timedelta(minutes=2):
                break

    def _touches(
        self, contact: Contact, enrollment: Enrollment, stage: Stage, start: datetime, end: datetime
    ) -> None:
        span = max(60.0, (end - start).total_seconds())
        for i in range(self.rng.randint(1, 3)):
            at = start + timedelta(seconds=span * (i + 0.2) / 3.5)
            if self.rng.random() < 0.12:
                self._decision(contact, enrollment, at)
                continue
            self._message(
                contact,
                None,
                Direction.OUT,
                at,
                f"Hi {contact.name.split()[0]}, a quick note from the Baton assistant.",
                automated=True,
                enrollment=enrollment,
                step=f"{stage.name.lower()}-{i}",
            )
            if self.rng.random() < 0.18:
                self._message(contact, None, Direction.IN, at + timedelta(hours=2), "Thanks!")

    def _rules(self) -> list[tuple[str, int | None, str, str]]:
        """The demo's guardrails as (kind, id, name, action) to stop touches with."""
        rules: list[tuple[str, int | None, str, str]] = []
        for cap in FrequencyCap.objects.all():
            action = TouchAction.DEFERRED if cap.action == "defer" else TouchAction.SUPPRESSED
            rules += [(RuleKind.CAP, cap.pk, cap.name, action)] * 3
        for quiet in QuietHours.objects.all():
            action = TouchAction.DEFERRED if quiet.action == "defer" else TouchAction.SUPPRESSED
            rules += [(RuleKind.QUIET_HOURS, quiet.pk, quiet.name, action)] * 2
        for tone in ToneRule.objects.all():
            if tone.kind == "banned":
                rules.append((RuleKind.TONE, tone.pk, tone.name, TouchAction.BLOCKED))
            elif tone.kind == "promise":
                rules.append((RuleKind.TONE, tone.pk, tone.name, TouchAction.HELD))
        return rules or [(RuleKind.CAP, None, "Three emails a week", TouchAction.DEFERRED)]

    def _decision(self, contact: Contact, enrollment: Enrollment, at: datetime) -> None:
        kind, rule_id, name, action = self.rng.choice(self.rules)
        decision = TouchDecision(
            contact=contact,
            step="touch",
            team=self.teams.get("marketing"),
            channel=Channel.EMAIL,
            action=action,
            rule_kind=kind,
            rule_id=rule_id,
            rule_name=name,
            reason=f"Stopped by {name}",
            text="A quick note from the Baton assistant.",
            defer_until=at + timedelta(hours=12) if action == TouchAction.DEFERRED else None,
            settled_at=at + timedelta(hours=12) if action == TouchAction.DEFERRED else None,
            created_at=at,
        )
        self.batch.decisions.append((decision, enrollment))

    # ---- writing ------------------------------------------------------------------------

    def _flush(self) -> None:
        b = self.batch
        Contact.objects.bulk_create(b.contacts, batch_size=500)
        for signal, _ in b.signals:
            signal.contact_id = signal.contact.pk
        Signal.objects.bulk_create([s for s, _ in b.signals], batch_size=500)
        for signal, received in b.signals:
            signal.received_at = received  # auto_now_add stamped "now"; history arrived then
        Signal.objects.bulk_update([s for s, _ in b.signals], ["received_at"], batch_size=2000)
        for handoff in b.handoffs:
            handoff.contact_id = handoff.contact.pk
            handoff.signal_id = handoff.signal.pk if handoff.signal else None
        Handoff.objects.bulk_create(b.handoffs, batch_size=500)
        for enrollment in b.enrollments:
            enrollment.contact_id = enrollment.contact.pk
        Enrollment.objects.bulk_create(b.enrollments, batch_size=500)
        visits = []
        for visit, enrollment in b.visits:
            visit.enrollment_id = enrollment.pk
            visits.append(visit)
        StageVisit.objects.bulk_create(visits, batch_size=500)
        contacts = {c.pk for _, _, c, _ in b.messages}
        existing = set(
            Conversation.objects.filter(contact_id__in=contacts).values_list(
                "contact_id", flat=True
            )
        )
        Conversation.objects.bulk_create(
            [Conversation(contact_id=pk, channel=Channel.EMAIL) for pk in contacts - existing],
            batch_size=500,
        )
        threads = dict(
            Conversation.objects.filter(contact_id__in=contacts).values_list("contact_id", "pk")
        )
        for message, _, contact, handoff in b.messages:
            message.conversation_id = threads[contact.pk]
            message.handoff_id = handoff.pk if handoff else None
            message.enrollment_id = message.enrollment.pk if message.enrollment else None
        Message.objects.bulk_create([m for m, _, _, _ in b.messages], batch_size=500)
        for message, at, _, _ in b.messages:
            message.created_at = at
        Message.objects.bulk_update(
            [m for m, _, _, _ in b.messages], ["created_at"], batch_size=2000
        )
        for decision, enrollment in b.decisions:
            decision.contact_id = decision.contact.pk
            decision.enrollment_id = enrollment.pk
        TouchDecision.objects.bulk_create([d for d, _ in b.decisions], batch_size=500)
