"""Admin → Triage phrases → "Try a message": ops paste a message and see what triage would
decide — label, VADER score, the phrase that decided, whether a person is needed, the handoff
it would raise and the bot's reply, the best FAQ matches against the threshold.

It reads exactly as ingest does (`config.triage_read`, `plan.triage_plan`) and carries nothing
out: nothing is stored, sent or raised (the settings row is not even created if missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from django import forms
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from handoffs.choices import Channel, Priority, Trigger
from handoffs.models import TriagePhrase, TriageSettings
from handoffs.triage.choices import PhraseKind, TriageLabel
from handoffs.triage.classify import Candidate, Decision, Rule
from handoffs.triage.config import faq_index, triage_read, triage_settings
from handoffs.triage.patterns import PatternError, compile_pattern
from handoffs.triage.plan import Plan, signed, triage_plan
from handoffs.triage.text import MAX_CHARS, words

URL_NAME = "handoffs_triagephrase_try"

# Which kind of phrase each phrase rule reads from (to link the deciding phrase in admin).
_PHRASE_RULES = {
    Rule.OPT_OUT: PhraseKind.OPT_OUT,
    Rule.ANGRY: PhraseKind.ANGRY,
    Rule.CONFUSED: PhraseKind.CONFUSED,
    Rule.SPECIALIST: PhraseKind.SPECIALIST,
    Rule.POSITIVE: PhraseKind.POSITIVE,
}


class TryMessageForm(forms.Form):
    text = forms.CharField(
        label="Message",
        strip=True,
        max_length=MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80, "autofocus": True}),
        error_messages={
            "required": "Paste a message to try.",
            "max_length": f"Keep it to {MAX_CHARS:,} characters: triage reads no further "
            "(this one has %(show_value)d).",
        },
        help_text="As the contact would send it: typos, emoji and all.",
    )
    channel = forms.ChoiceField(
        choices=Channel.choices,
        initial=Channel.SMS,
        help_text="An opt-out is recorded for this channel.",
    )
    person_has_it = forms.BooleanField(
        required=False,
        label_suffix="",
        label="A person already has this conversation",
        help_text="Then triage only labels the message (and honours an opt-out): nothing new "
        "is raised and the bot stays quiet.",
    )


@dataclass(frozen=True)
class Trial:
    text: str
    decision: Decision
    plan: Plan
    settings: TriageSettings
    faq: tuple[Candidate, ...]  # best first, for the table
    faq_consulted: bool  # whether the decision read them (a question nothing decided before)
    faq_entries: int  # approved entries ranked against
    phrase: TriagePhrase | None  # the deciding phrase's row, to link to
    person_has_it: bool
    channel: str

    @property
    def channel_display(self) -> str:
        return Channel(self.channel).label

    @property
    def verdict(self) -> str:
        if self.plan.trigger == Trigger.SENTIMENT:
            return f"Needs a person: a sentiment handoff, {self.plan.priority} priority"
        if self.plan.trigger == Trigger.COMPLEXITY:
            return "Needs a person: a complexity handoff, after the bot's holding reply"
        if self.decision.needs_human:  # a person already has the conversation
            return "Needs a person: the person who has the conversation sees it"
        if self.plan.reply_kind == "faq answer":
            return "Stays with automation: the bot answers from the FAQ"
        return "Stays with automation: only the label is recorded"

    @property
    def words(self) -> str:
        return " ".join(words(self.text))

    @property
    def label_display(self) -> str:
        return TriageLabel(self.decision.label).label

    @property
    def phrase_kind_display(self) -> str:
        kind = _PHRASE_RULES.get(self.decision.rule)
        return PhraseKind(kind).label.lower() if kind else ""

    @property
    def sentiment_display(self) -> str:
        return signed(self.decision.sentiment)

    @property
    def angry_display(self) -> str:
        return signed(self.settings.angry_at_most)

    @property
    def positive_display(self) -> str:
        return signed(self.settings.positive_at_least)

    @property
    def handoff_display(self) -> str:
        if not self.plan.trigger:
            return ""
        whom = "offered to the owning team's lead (its director if it has no lead)"
        pool = "in the owning team's pool"
        return (
            f"{Trigger(self.plan.trigger).label}, {Priority(self.plan.priority).label.lower()} "
            f"priority, {whom if self.plan.offer_to_lead else pool}"
        )

    @property
    def faq_rows(self) -> list[dict[str, Any]]:
        threshold = self.settings.faq_match_at_least
        return [
            {"candidate": c, "answers": c.score >= threshold, "linked": c.entry_id > 0}
            for c in self.faq
        ]

    @property
    def faq_note(self) -> str:
        if self.faq_consulted:
            return ""
        if not self.faq_entries:
            return "No FAQ entry is approved yet: every question goes to a specialist."
        if self.person_has_it:
            return "Not consulted: a person has the conversation. Shown for reference."
        if self.decision.rule in (Rule.NOTHING, Rule.VERY_POSITIVE):
            return "Not consulted: the message is not a question. Shown for reference."
        return f"Not consulted: {self.decision.rule} decided first. Shown for reference."


def try_message(*, text: str, channel: str, person_has_it: bool) -> Trial:
    """What ingest would make of `text`, through the same reading and plan; carries out nothing."""
    row = triage_settings(create=False)
    decision = triage_read(text, row=row, with_faq=not person_has_it)
    plan = triage_plan(
        decision,
        text=text,
        channel_label=Channel(channel).label,
        holding_reply=row.holding_reply,
        signature=row.assistant_signature,
        handoff_open=person_has_it,
    )
    index = faq_index()
    consulted = not person_has_it and decision.rule in (Rule.FAQ, Rule.NO_FAQ)
    faq = decision.candidates if consulted else tuple(index.rank(text))
    kind = _PHRASE_RULES.get(decision.rule)
    phrase = (
        TriagePhrase.objects.filter(kind=kind, phrase=decision.phrase).order_by("id").first()
        if kind
        else None
    )
    return Trial(
        text=text,
        decision=decision,
        plan=plan,
        settings=row,
        faq=faq,
        faq_consulted=consulted,
        faq_entries=len(index.docs),
        phrase=phrase,
        person_has_it=person_has_it,
        channel=channel,
    )


def try_message_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The page. Anyone who may view triage phrases in admin may try a message (it reads only);
    admin's own check keeps it to active staff."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = TryMessageForm(request.POST or None)
    trial = None
    if request.method == "POST" and form.is_valid():
        trial = try_message(
            text=form.cleaned_data["text"],
            channel=form.cleaned_data["channel"],
            person_has_it=form.cleaned_data["person_has_it"],
        )
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": "Try a message",
        "opts": model_admin.opts,
        "form": form,
        "trial": trial,
        "priorities": Priority,
    }
    return TemplateResponse(request, "admin/handoffs/triage_try.html", context)


# ---- admin wiring (handoffs/admin.py) ---------------------------------------------------------


class TriagePhraseForm(forms.ModelForm):
    """A phrase is a pattern (handoffs/triage/patterns.py): one that cannot be read is refused
    here with the reason, rather than silently skipped by triage."""

    class Meta:
        model = TriagePhrase
        fields = ["kind", "phrase", "whole_message", "enabled"]
        help_texts = {
            "phrase": "Words as a contact would write them; every inflection matches (“text” "
            "= “texts”, “texting”). a|b — either word in this place: stop texting|emailing. "
            "* — up to three words in between: take * off * list. Double quotes — this exact "
            'form only: "charged".',
        }

    def clean_phrase(self) -> str:
        phrase = " ".join(self.cleaned_data["phrase"].split())
        try:
            compile_pattern(phrase)
        except PatternError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return phrase


class TryMessageLink:
    """Puts the "Try a message" link in a triage admin's changelist and change form."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra = {**(extra_context or {}), "try_message_url": reverse(f"admin:{URL_NAME}")}
        return super().changelist_view(request, extra_context=extra)  # type: ignore[misc]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        extra = {**(extra_context or {}), "try_message_url": reverse(f"admin:{URL_NAME}")}
        return super().change_view(  # type: ignore[misc]
            request, object_id, form_url, extra_context=extra
        )


class TryMessagePage(TryMessageLink):
    """Serves the page at …/triagephrase/try/ (before the admin's own object URLs)."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(partial(try_message_view, self))  # type: ignore[attr-defined]
        return [path("try/", view, name=URL_NAME), *super().get_urls()]  # type: ignore[misc]
