"""Realistic demo traffic for `manage.py simulate`: a seeded stream of signals and inbound replies.

Pure: no HTTP, no ORM. `Scenario.next_event()` makes the next request body; the command calls
`Scenario.confirm()` once the server accepted an event, and replies (and follow-up signals such
as `activated` or `deal_won`) only ever go to contacts whose creating signal was accepted.

Each event draws from its own generator, seeded by (seed, sequence number): which kind of event
comes n-th, and a new lead's details and budget, do not depend on how fast earlier events were
confirmed, so a seeded run is repeatable even though confirmations arrive from other threads."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SIGNALS_PATH = "/api/v1/signals/"
BATCH_PATH = "/api/v1/signals/batch/"
INBOUND_PATH = "/api/v1/messages/inbound/"

FIRST_NAMES = [
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Freya", "Leo",
    "Priya", "Mohammed", "Sofia", "Jack", "Grace", "Harry", "Chloe", "Oscar", "Aisha", "Theo",
    "Emily", "Kwame", "Lucia", "Finn", "Hannah", "Ravi", "Zara", "Tom", "Niamh", "Luca",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Patel", "Khan", "Evans",
    "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green", "Okafor", "Murphy", "Kowalski",
    "Rossi", "Nguyen", "Campbell", "Clarke", "Shah", "Hall", "Lewis", "Begum", "Fraser", "Ali",
]  # fmt: skip
# (account external id, name, email domain): prospects fill in forms, customers use the product.
PROSPECTS = [
    ("sim-northwind", "Northwind Traders", "northwind.example"),
    ("sim-brightlane", "Brightlane Logistics", "brightlane.example"),
    ("sim-kestrel", "Kestrel Health", "kestrelhealth.example"),
    ("sim-oakridge", "Oakridge Legal", "oakridge.example"),
    ("sim-tidewater", "Tidewater Energy", "tidewater.example"),
    ("sim-fernhill", "Fernhill Foods", "fernhill.example"),
    ("sim-quayside", "Quayside Media", "quayside.example"),
    ("sim-larkspur", "Larkspur Education", "larkspur.example"),
]
CUSTOMERS = [
    ("sim-harbourline", "Harbourline Shipping", "harbourline.example"),
    ("sim-copperleaf", "Copperleaf Retail", "copperleaf.example"),
    ("sim-meridian", "Meridian Analytics", "meridian.example"),
    ("sim-stonebridge", "Stonebridge Insurance", "stonebridge.example"),
    ("sim-bluefin", "Bluefin Travel", "bluefin.example"),
    ("sim-ashgrove", "Ashgrove Manufacturing", "ashgrove.example"),
]
TIMEZONES = ["Europe/London"] * 6 + ["Europe/Dublin", "Europe/Berlin", "America/New_York"]
ROLES = ["Solutions engineer", "Customer success manager", "Account executive", "Support agent"]

# Relative weights of what happens next. A follow-up with nobody to follow up falls back to a
# new lead, so early in a run there are more `form_submitted` than the weights say.
EVENT_WEIGHTS: dict[str, int] = {
    "form_submitted": 22,
    "application_submitted": 7,
    "trial_started": 8,
    "activated": 4,
    "usage_drop": 5,
    "support_risk": 4,
    "renewal_due": 4,
    "usage_spike": 4,
    "meeting_booked": 5,
    "deal_won": 2,
    "deal_lost": 2,
    "reply": 33,
}
REPLY_WEIGHTS: dict[str, int] = {
    "answer": 30,  # an applicant answering the recruitment screen
    "positive": 22,
    "faq": 16,
    "confused": 11,
    "angry": 11,
    "opt_out": 10,
}
RECENT_CONTACTS = 500  # follow-ups and replies come from the contacts seen most recently
HIGH_VALUE_SHARE = 0.05
HIGH_VALUE_BUDGET = 50_000
SMALL_BUDGETS = [500, 750, 1000, 1500, 2500, 4000, 5000, 7500, 10_000, 15_000, 20_000, 30_000]

# The recruitment screen asks these in order (seed_demo: visa? experience? notice?).
ANSWERS: list[list[str]] = [
    ["yes", "Yes I do", "yes, British citizen", "no visa", "no"],
    ["3 years", "about 5 years", "2 years", "6 months", "10 years"],
    ["a month", "2 weeks", "one month", "3 months", "immediately"],
]
NO_VISA = {"no visa", "no"}
REPLIES: dict[str, list[str]] = {
    "positive": [
        "Yes, I'm interested. Can we talk this week?",
        "Sounds great, please send more details.",
        "Yes please, book me in.",
        "Perfect, Thursday afternoon works for me.",
    ],
    "faq": [
        "What are your opening hours?",
        "How much does it cost per seat?",
        "Do you integrate with Salesforce?",
        "Is there a free trial?",
    ],
    "confused": [
        "I don't understand, what is this about?",
        "Sorry, who is this?",
        "I'm confused, did I sign up for something?",
    ],
    "angry": [
        "This is the third time I'm asking. Nobody has called me back.",
        "Stop sending me automated messages and get a person to call me.",
        "I'm really unhappy, the invoice is wrong again.",
    ],
    "opt_out": ["STOP", "Stop texting me", "unsubscribe", "Please remove me from your list"],
}


@dataclass(frozen=True)
class Event:
    """One request body: a signal (for /signals/ or a batch) or an inbound message."""

    seq: int
    label: str  # the signal type, or "reply:<kind>"
    path: str
    body: dict[str, Any]
    contact_id: str
    new_contact: bool  # this event introduces the contact

    @property
    def is_signal(self) -> bool:
        return self.path == SIGNALS_PATH


@dataclass
class SimContact:
    external_id: str
    name: str
    email: str
    phone: str
    timezone: str
    kind: str  # lead, applicant, trial, customer
    account: dict[str, str] | None
    answered: int = 0  # recruitment questions answered so far
    activated: bool = False
    met: bool = False  # a meeting was booked
    closed: bool = False  # a deal was won or lost
    opted_out: bool = False

    def as_payload(self) -> dict[str, str]:
        payload = {"external_id": self.external_id, "name": self.name, "timezone": self.timezone}
        if self.email:
            payload["email"] = self.email
        if self.phone:
            payload["phone"] = self.phone
        return payload


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Scenario:
    run_id: str
    seed: int | None = None
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(init=False)  # this event's generator
    base: str = field(init=False)
    contacts: dict[str, SimContact] = field(default_factory=dict)  # every contact made
    confirmed: list[str] = field(default_factory=list)  # accepted by the server, in order
    seq: int = 0

    def __post_init__(self) -> None:
        self.base = secrets.token_hex(8) if self.seed is None else str(self.seed)
        self.rng = random.Random(self.base)

    # ---- the stream --------------------------------------------------------------------

    def next_event(self) -> Event:
        self.seq += 1
        self.rng = random.Random(f"{self.base}:{self.seq}")
        kind = self._pick(EVENT_WEIGHTS)
        event: Event | None = getattr(self, f"_{kind}")()  # _form_submitted, ..., _reply
        return event or self._form_submitted()

    def confirm(self, event: Event) -> None:
        """The server accepted `event`: its contact now exists there and may be followed up."""
        if event.new_contact and event.contact_id not in self.confirmed:
            self.confirmed.append(event.contact_id)

    # ---- helpers -----------------------------------------------------------------------

    def _pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _known(self, test: Callable[[SimContact], bool]) -> SimContact | None:
        recent = self.confirmed[-RECENT_CONTACTS:]
        choices = [c for c in map(self.contacts.__getitem__, recent) if test(c)]
        return self.rng.choice(choices) if choices else None

    def _new_contact(self, kind: str, company: tuple[str, str, str] | None) -> SimContact:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        number = len(self.contacts) + 1
        domain = company[2] if company else self.rng.choice(["gmail.example", "outlook.example"])
        with_phone = kind == "applicant" or self.rng.random() < 0.6
        contact = SimContact(
            external_id=f"sim-{self.run_id}-c{number:05d}",
            name=f"{first} {last}",
            email="" if kind == "applicant" else f"{first}.{last}{number}@{domain}".lower(),
            phone=f"+4477009{self.rng.randrange(100000):05d}" if with_phone else "",
            timezone=self.rng.choice(TIMEZONES),
            kind=kind,
            account={"external_id": company[0], "name": company[1]} if company else None,
        )
        self.contacts[contact.external_id] = contact
        return contact

    def _signal(
        self, type_: str, contact: SimContact, properties: dict[str, Any], *, new: bool
    ) -> Event:
        body: dict[str, Any] = {
            "type": type_,
            "idempotency_key": f"sim-{self.run_id}-{self.seq:06d}",
            "occurred_at": iso(self.clock()),
            "contact": contact.as_payload(),
            "properties": properties,
        }
        if contact.account:
            body["account"] = dict(contact.account)
        return Event(self.seq, type_, SIGNALS_PATH, body, contact.external_id, new)

    def _customer(self) -> tuple[SimContact, bool]:
        """A customer contact: often one seen before, otherwise a new one at a customer."""
        known = self._known(lambda c: c.kind == "customer")
        if known and self.rng.random() < 0.5:
            return known, False
        return self._new_contact("customer", self.rng.choice(CUSTOMERS)), True

    # ---- signals -----------------------------------------------------------------------

    def _form_submitted(self) -> Event:
        contact = self._new_contact("lead", self.rng.choice(PROSPECTS))
        if self.rng.random() < HIGH_VALUE_SHARE:
            budget = self.rng.randrange(HIGH_VALUE_BUDGET, 250_001, 5_000)
            currency = self.rng.choice(["GBP", "EUR", "USD"])
        else:
            budget = self.rng.choice(SMALL_BUDGETS)
            currency = self.rng.choice(["GBP"] * 4 + ["EUR", "USD"])
        form = self.rng.choice(["pricing", "demo request", "contact us", "newsletter"])
        properties = {"budget": budget, "currency": currency, "form": form}
        return self._signal("form_submitted", contact, properties, new=True)

    def _application_submitted(self) -> Event:
        contact = self._new_contact("applicant", None)
        properties = {"role": self.rng.choice(ROLES), "source": "careers page"}
        return self._signal("application_submitted", contact, properties, new=True)

    def _trial_started(self) -> Event:
        contact = self._new_contact("trial", self.rng.choice(PROSPECTS))
        properties = {"plan": self.rng.choice(["starter", "team", "business"])}
        return self._signal("trial_started", contact, properties, new=True)

    def _activated(self) -> Event | None:
        contact = self._known(lambda c: c.kind == "trial" and not c.activated)
        if contact is None:
            return None
        contact.activated = True
        source = self.rng.choice(["first data source connected", "first report shared"])
        return self._signal("activated", contact, {"source": source}, new=False)

    def _usage_drop(self) -> Event:
        contact, new = self._customer()
        properties = {
            "drop_pct": self.rng.randrange(10, 75, 5),
            "period": self.rng.choice(["the last 7 days", "the last 14 days", "the last 30 days"]),
        }
        return self._signal("usage_drop", contact, properties, new=new)

    def _support_risk(self) -> Event:
        contact, new = self._customer()
        reason = self.rng.choice(
            ["3 P1 tickets this week", "escalation from the CFO", "outage complaint", "CSAT 2/5"]
        )
        properties = {"reason": reason, "arr": self.rng.randrange(12_000, 240_001, 6_000)}
        return self._signal("support_risk", contact, properties, new=new)

    def _renewal_due(self) -> Event:
        contact, new = self._customer()
        properties = {
            "days_to_renewal": self.rng.randint(30, 90),
            "arr": self.rng.randrange(12_000, 240_001, 6_000),
        }
        return self._signal("renewal_due", contact, properties, new=new)

    def _usage_spike(self) -> Event:
        contact, new = self._customer()
        seats = self.rng.choice([10, 25, 50, 100, 250])
        properties = {"seats_used": seats - self.rng.randint(0, seats // 10), "seats": seats}
        return self._signal("usage_spike", contact, properties, new=new)

    def _meeting_booked(self) -> Event | None:
        contact = self._known(lambda c: c.kind in ("lead", "trial") and not c.met)
        if contact is None:
            return None
        contact.met = True
        starts = self.clock() + timedelta(days=self.rng.randint(1, 10), hours=2)
        properties = {
            "meeting": self.rng.choice(["discovery call", "solution workshop", "product demo"]),
            "starts_at": iso(starts.replace(minute=0, second=0, microsecond=0)),
        }
        return self._signal("meeting_booked", contact, properties, new=False)

    def _deal_won(self) -> Event | None:
        contact = self._known(lambda c: c.met and not c.closed)
        if contact is None:
            return None
        contact.closed = True
        properties = {"amount": self.rng.randrange(6_000, 120_001, 1_000), "currency": "GBP"}
        return self._signal("deal_won", contact, properties, new=False)

    def _deal_lost(self) -> Event | None:
        contact = self._known(lambda c: c.met and not c.closed)
        if contact is None:
            return None
        contact.closed = True
        reason = self.rng.choice(["price", "timing", "chose a competitor", "no decision"])
        return self._signal("deal_lost", contact, {"reason": reason}, new=False)

    # ---- replies -----------------------------------------------------------------------

    def _reply(self) -> Event | None:
        kind = self._pick(REPLY_WEIGHTS)
        contact = None
        if kind == "answer":
            contact = self._known(lambda c: c.kind == "applicant" and c.answered < len(ANSWERS))
            kind = "answer" if contact else "positive"
        if contact is not None:
            body = self.rng.choice(ANSWERS[contact.answered])
            # A "no" to the right to work ends the screen: nothing more to answer.
            contact.answered = len(ANSWERS) if body in NO_VISA else contact.answered + 1
        else:
            contact = self._known(lambda c: not c.opted_out)
            if contact is None:
                return None
            body = self.rng.choice(REPLIES[kind])
            contact.opted_out = kind == "opt_out"
        if contact.phone:
            channel = "sms" if contact.kind == "applicant" else self.rng.choice(["sms", "whatsapp"])
        else:
            channel = self.rng.choice(["email", "email", "chat"])
        payload = {
            "contact": contact.as_payload(),
            "channel": channel,
            "body": body,
            "external_id": f"sim-{self.run_id}-m{self.seq:06d}",
        }
        return Event(self.seq, f"reply:{kind}", INBOUND_PATH, payload, contact.external_id, False)
