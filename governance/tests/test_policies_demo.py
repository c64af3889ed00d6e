"""The demo's guardrails load once, and its sample contacts show each rule at work through the
real engine, whatever the time of day the demo is loaded."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from governance.policies.demo import seed_policies, seed_policy_samples
from governance.policies.models import Approval, FrequencyCap, QuietHours, ToneRule, TouchDecision
from handoffs.models import Message
from journeys.selectors import contacts_visible_to

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_rules_and_samples_load_once_and_show_every_rule(capsys):
    call_command("seed_demo")
    sent_before = Message.objects.filter(automated=True, direction="out").count()

    for _ in range(2):
        seed_policies()
        seed_policy_samples()

    assert (FrequencyCap.objects.count(), QuietHours.objects.count()) == (2, 1)
    assert ToneRule.objects.count() == 3
    decisions = {
        (d.contact.external_id, d.action, d.rule_name)
        for d in TouchDecision.objects.filter(
            contact__external_id__startswith="c-demo-"
        ).select_related("contact")
    }
    assert decisions == {
        ("c-demo-cap-email", "deferred", "Automated email: at most 3 a week"),
        ("c-demo-cap-sms", "suppressed", "Automated SMS: at most 1 a day"),
        ("c-demo-quiet", "deferred", "Quiet hours 21:00–08:00"),
        ("c-demo-offer", "held", "No promises without a person"),
    }
    approval = Approval.objects.get()
    assert approval.handoff.team.slug == "sales" and "20% off" in approval.original_text
    assert approval.original_text.count("Baton assistant (automated message)") == 1
    # Each sample is in a journey its team owns, so the team sees it (and its timeline).
    users = get_user_model().objects
    for username, samples in [
        ("casey", {"c-demo-cap-email", "c-demo-quiet"}),
        ("riley", {"c-demo-cap-sms", "c-demo-offer"}),
    ]:
        seen = contacts_visible_to(principal=users.get(username=username))
        assert set(seen.values_list("external_id", flat=True)) >= samples
    # The demo's own sample messages carry their disclosure already: nothing signed twice.
    later = Message.objects.filter(automated=True, direction="out").order_by("id")[sent_before:]
    assert all(m.body.count("automated message") == 1 for m in later)
