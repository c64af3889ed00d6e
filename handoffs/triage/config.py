"""What triage reads from the database: the settings and phrases ops edit, the FAQ index
(cached in-process per FAQ state) and the team that owns a contact."""

from __future__ import annotations

import threading
from typing import Any

from django.db.models import Count, Max, Q

from handoffs.models import FaqEntry, Handoff, TriagePhrase, TriageSettings
from handoffs.triage import defaults
from handoffs.triage.choices import FaqStatus
from handoffs.triage.classify import Decision, Phrasebook, Ranker, Thresholds, triage_decide
from handoffs.triage.faq import FaqDoc, FaqIndex
from journeys.choices import LIVE_ENROLLMENT_STATUSES
from journeys.models import Contact, Enrollment, Step
from portal.memo import per_scope
from portal.models import Team


@per_scope
def triage_settings(*, create: bool = True) -> TriageSettings:
    """The settings row; created with the defaults if missing (a flushed test database) — or,
    with `create=False` (a page that must change nothing), the defaults unsaved."""
    found = TriageSettings.objects.select_related("default_team").filter(pk=1).first()
    if found is None:
        found = TriageSettings.objects.get_or_create(pk=1)[0] if create else TriageSettings()
    return found


def thresholds_of(row: TriageSettings) -> Thresholds:
    return Thresholds(
        angry_at_most=row.angry_at_most,
        positive_at_least=row.positive_at_least,
        faq_match_at_least=row.faq_match_at_least,
    )


_phrase_lock = threading.Lock()
_phrase_cache: dict[str, Any] = {"key": None, "book": None}


def phrasebook() -> Phrasebook:
    """The enabled phrases. An empty table (never seeded, or flushed) means the defaults: to
    switch a phrase off, untick it rather than delete every row. Built (patterns compiled, the
    speller indexed: ~15 ms) once per state of the table — rows, enabled rows, latest edit —
    and kept in-process; an edit in admin is live from the next message on."""
    state = TriagePhrase.objects.aggregate(
        rows=Count("id"), enabled=Count("id", filter=Q(enabled=True)), latest=Max("updated_at")
    )
    key = (state["rows"], state["enabled"], state["latest"])
    with _phrase_lock:
        if _phrase_cache["key"] == key and _phrase_cache["book"] is not None:
            return _phrase_cache["book"]
    if not state["rows"]:
        book = Phrasebook.build(defaults.PHRASES)
    else:
        rows = TriagePhrase.objects.filter(enabled=True).values_list(
            "kind", "phrase", "whole_message"
        )
        book = Phrasebook.build(rows)
    with _phrase_lock:
        _phrase_cache.update(key=key, book=book)
    return book


def triage_read(text: str, *, row: TriageSettings, with_faq: bool = True) -> Decision:
    """What triage makes of `text` with the phrases, thresholds and FAQ in the database: the
    one reading ingest (`services.message_triage`) and the admin "Try a message" page share.
    Without `with_faq` (a person already has the conversation) the FAQ is not consulted."""
    rank: Ranker = (lambda text: faq_index().rank(text)) if with_faq else (lambda _text: ())
    return triage_decide(text, phrases=phrasebook(), thresholds=thresholds_of(row), rank=rank)


_faq_lock = threading.Lock()
_faq_cache: dict[str, Any] = {"key": None, "index": None}


def faq_index(*, fallback: bool = False) -> FaqIndex:
    """The index over approved entries, rebuilt only when an entry was added, changed, approved,
    rejected or deleted since (the key: approved count and latest update). With `fallback`
    (evaluation), an empty FAQ is the starter FAQ of handoffs/triage/defaults.py."""
    state = FaqEntry.objects.aggregate(
        approved=Count("id", filter=Q(status=FaqStatus.APPROVED)), latest=Max("updated_at")
    )
    key = (state["approved"], state["latest"], fallback and not state["approved"])
    with _faq_lock:
        if _faq_cache["key"] == key and _faq_cache["index"] is not None:
            return _faq_cache["index"]
    if state["approved"]:
        docs = [
            FaqDoc(entry_id=e.pk, question=e.question, answer=e.answer, keywords=e.keywords)
            for e in FaqEntry.objects.filter(status=FaqStatus.APPROVED).order_by("id")
        ]
    elif fallback:
        docs = [
            FaqDoc(entry_id=-(n + 1), question=q, answer=a, keywords=k)
            for n, (q, a, k) in enumerate(defaults.STARTER_FAQ)
        ]
    else:
        docs = []
    index = FaqIndex(docs)
    with _faq_lock:
        _faq_cache.update(key=key, index=index)
    return index


def owning_team(*, contact: Contact, row: TriageSettings) -> Team | None:
    """Who takes the baton for this contact: the team of its most recent handoff, else a team
    owning a step of a journey it is live in (the newest enrollment first), else the default
    team in the settings, else the first team."""
    recent = (
        Handoff.objects.filter(contact=contact)
        .select_related("team")
        .order_by("-created_at", "-id")
        .first()
    )
    if recent is not None:
        return recent.team
    journeys = list(
        Enrollment.objects.filter(contact=contact, status__in=LIVE_ENROLLMENT_STATUSES)
        .order_by("-created_at", "-id")
        .values_list("journey_id", flat=True)
    )
    if journeys:
        steps = Step.objects.filter(journey_id__in=journeys, team__isnull=False).select_related(
            "team"
        )
        by_journey: dict[int, Team] = {}
        for step in steps.order_by("order", "id"):
            by_journey.setdefault(step.journey_id, step.team)
        for journey_id in journeys:
            if journey_id in by_journey:
                return by_journey[journey_id]
    return row.default_team or Team.objects.order_by("id").first()
