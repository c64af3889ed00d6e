"""The playbook ops keep in admin: next-step rules, the content library and reply templates.

Tags are lists of choice values stored as JSON (SQLite runs the demo, so no ArrayField); an
empty list means "any". `team` empty means the row serves every team; a team's row serves only
contacts that team is working. `active` off hides a row without deleting it."""

from __future__ import annotations

from django.db import models

from handoffs.choices import Trigger
from journeys.choices import LoopStage
from journeys.playbook.choices import Persona

TAGS_HELP = "Leave every box empty to match any."


class PlaybookItem(models.Model):
    loop_stages = models.JSONField(
        default=list,
        blank=True,
        help_text="The Loop stages of the contact's live journeys this is for. " + TAGS_HELP,
    )
    triggers = models.JSONField(
        default=list,
        blank=True,
        help_text="The triggers of the contact's open handoff this is for. " + TAGS_HELP,
    )
    team = models.ForeignKey(
        "portal.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only for contacts this team is working. Empty: every team.",
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def loop_stage_labels(self) -> list[str]:
        return [LoopStage(v).label for v in self.loop_stages if v in LoopStage.values]

    def trigger_labels(self) -> list[str]:
        return [Trigger(v).label for v in self.triggers if v in Trigger.values]


class NextStepRule(PlaybookItem):
    """What a person should do next, e.g. "Call within the hour; acknowledge the problem first"
    for a sentiment handoff at any stage, or "Walk through usage before the renewal call" at
    renew. Shown when every set tag matches and the condition holds."""

    title = models.CharField(max_length=120, help_text="The step, as an instruction.")
    detail = models.TextField(blank=True, help_text="How to do it well (a few lines).")
    condition = models.JSONField(
        default=dict,
        blank=True,
        help_text='Only when this also holds, in the handoff rules\' language, e.g. {"path": '
        '"properties.arr", "op": ">=", "value": 100000}. It reads the contact\'s recent '
        "signals: the latest one's type and time, their properties (newest wins), the contact "
        "and the account. Empty: always. See docs/rules.md.",
    )
    weight = models.SmallIntegerField(
        default=0, help_text="Among equally specific steps, a higher weight shows first."
    )

    class Meta:
        ordering = ["-weight", "title"]
        verbose_name = "next-step rule"

    def __str__(self) -> str:
        return self.title


class ContentItem(PlaybookItem):
    """A page, deck or guide worth sending or reading at a moment of the journey."""

    title = models.CharField(max_length=120)
    url = models.URLField(max_length=500, verbose_name="URL")
    summary = models.CharField(max_length=300, blank=True, help_text="One line: why it helps.")
    personas = models.JSONField(
        default=list,
        blank=True,
        help_text="Who it is for (the contact's persona, from its signals). " + TAGS_HELP,
    )

    class Meta:
        ordering = ["title"]
        verbose_name = "content item"
        verbose_name_plural = "content library"

    def __str__(self) -> str:
        return self.title

    def persona_labels(self) -> list[str]:
        return [Persona(v).label for v in self.personas if v in Persona.values]


class ReplyTemplate(PlaybookItem):
    """A reply a rep starts from. Placeholders ({contact.first_name}, {account.name},
    {properties.days_to_renewal}, {rep.first_name}…) are filled for the contact; the rep edits
    the draft and sends it. Nothing is ever sent from a template by itself."""

    name = models.CharField(max_length=120)
    body = models.TextField(
        help_text="The reply, with {placeholders}: contact.{first_name,name,email,phone}, "
        "account.name, properties.* (from the contact's recent signals), journey.name, "
        "rep.{first_name,name}, team.name. Write {{ or }} for a literal brace."
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "reply template"

    def __str__(self) -> str:
        return self.name
