from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from handoffs.models import Handoff, Message
from journeys.models import Contact, Enrollment, HandoffRule, Signal
from portal.models import ApiKey, Membership


def _seed() -> list[str]:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue().strip().splitlines()


def _counts() -> dict[str, int]:
    models = [Contact, Signal, Handoff, Message, Enrollment, HandoffRule, Membership]
    return {m.__name__: m.objects.count() for m in [*models, get_user_model()]}


def test_the_demo_has_its_people_rules_and_sample_history(db):
    lines = _seed()

    assert lines[-1].startswith("bk_")
    assert any(line.split()[0] == "riley" for line in lines if line.strip())
    roles = dict(
        Membership.objects.filter(team__slug="sales").values_list("user__username", "role")
    )
    assert roles["riley"] == "rep"
    assert roles["sam"] == "director"
    grace = Handoff.objects.get(contact__external_id="c-demo-grace")
    assert (grace.trigger, grace.priority, grace.offered_to_role) == (
        "high_value",
        "urgent",
        "director",
    )
    assert not Handoff.objects.filter(contact__external_id="c-demo-alan").exists()
    margaret = Handoff.objects.get(contact__external_id="c-demo-margaret")
    assert margaret.status == "claimed"  # Casey replied and Margaret answered
    assert margaret.messages.filter(direction="in").count() == 1


def test_running_it_again_changes_nothing_but_prints_a_fresh_key(db):
    first_key = _seed()[-1]
    before = _counts()

    second_key = _seed()[-1]

    assert _counts() == before
    assert second_key != first_key
    assert ApiKey.objects.count() == 2
