"""Demo history for the rule audit: one published change (a faster urgent first reply for Sales)
and one open draft (the high-value threshold lowered to £40,000) to replay before publishing.
Run after the governance seeds; does nothing when the audit already has entries or drafts."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from governance.models import SlaPolicy
from governance.versions.models import RuleDraft, RuleRevision
from governance.versions.services import draft_change_save, draft_publish
from journeys.models import HandoffRule


def seed_versions() -> None:
    if RuleRevision.objects.exists() or RuleDraft.objects.exists():
        return
    olive = get_user_model().objects.filter(username="olive").first()
    if olive is None:
        return
    policy = SlaPolicy.objects.filter(team__slug="sales", priority="urgent").first()
    if policy is not None and policy.first_response_minutes != 5:
        change = draft_change_save(
            user=olive,
            model=SlaPolicy,
            pk=policy.pk,
            values={"first_response_minutes": 5},
            title="Faster urgent replies for Sales",
            note="Directors asked for five minutes on urgent leads",
        )
        draft_publish(draft_id=change.draft_id, user=olive)
    rule = HandoffRule.objects.filter(name="High value", team__slug="sales").first()
    if rule is not None:
        condition = {"path": "properties.budget", "op": ">=", "value": 40000}
        draft_change_save(
            user=olive,
            model=HandoffRule,
            pk=rule.pk,
            values={"condition": condition},
            title="Q4: a person for budgets from £40,000",
            note="Smaller budgets close in Q4 too; replay the last 30 days before publishing",
        )
