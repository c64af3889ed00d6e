"""The rep's context view of a contact: the journey timeline, newest first, paged by htmx, with a
pinned query count (the same at 10 events as at 200)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import Org
from handoffs.choices import Channel, Direction, HandoffEventKind
from handoffs.models import Conversation, Handoff, HandoffEvent, Message
from handoffs.services import InboundMessage, handoff_reply, message_receive
from journeys.models import Contact, HandoffRule, Signal
from journeys.selectors import timeline_count

pytestmark = pytest.mark.django_db

# Pinned: a change means the page started (or stopped) querying. Measure with -vv, then update.
# Session, user, the contact (+account), the four timeline sources (signals, messages, handoff
# events, journey events), enrollments, handoffs, and the summary's five (latest signal, the
# week's message counts, the last inbound message, live enrollments, active handoffs).
# + the playbook: active handoffs, its three tables, recent signals, the last inbound message.
CONTACT_PAGE_QUERIES = 20
TIMELINE_FRAGMENT_QUERIES = 7  # no side panel: only the timeline's four sources


def logged_in(org: Org, username: str) -> Client:
    client = Client()
    client.force_login(org.users[username])
    return client


def kinds(html: str) -> list[str]:
    return re.findall(r'<span class="tl-kind">(\w+)</span>', html)


def times(html: str) -> list[str]:
    return re.findall(r'<li class="tl tl-\w+">\s*<time datetime="([^"]+)"', html)


@pytest.fixture
def ada(org: Org, send_signal: Any) -> Contact:
    """Ada's history: a signal an hour ago (budget 50,000) that raised a Sales handoff and
    enrolled (then paused) her in Lead nurture, and Riley's reply."""
    occurred = (timezone.now() - timedelta(hours=1)).isoformat()
    assert send_signal(budget=50000, key="form-8841", occurred_at=occurred).status_code == 202
    handoff = Handoff.objects.get(contact__external_id="c-1001")
    handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="Hi Ada, Riley here.")
    return Contact.objects.get(external_id="c-1001")


def add_history(contact: Contact, count: int) -> None:
    """`count` more timeline events, a third each signals, messages and handoff events, all
    older than what the fixture made (so the newest page is stable)."""
    long_ago = timezone.now() - timedelta(days=30)
    third = count // 3
    Signal.objects.bulk_create(
        [
            Signal(
                contact=contact,
                type="page_viewed",
                body_hash=f"h{i}",
                occurred_at=long_ago - timedelta(minutes=i),
                properties={"page": f"/pricing/{i}"},
            )
            for i in range(third)
        ]
    )
    conversation = Conversation.objects.get_or_create(contact=contact)[0]
    Message.objects.bulk_create(
        [
            Message(
                conversation=conversation,
                direction=Direction.IN,
                channel=Channel.EMAIL,
                body=f"Old message {i}",
            )
            for i in range(third)
        ]
    )
    handoff = Handoff.objects.get(contact=contact)
    HandoffEvent.objects.bulk_create(
        [
            HandoffEvent(handoff=handoff, kind=HandoffEventKind.EVIDENCE_ADDED)
            for _ in range(count - 2 * third)
        ]
    )
    # auto_now_add stamped these "now": move them into the past, keeping their order.
    for i, message in enumerate(Message.objects.filter(body__startswith="Old message")):
        Message.objects.filter(pk=message.pk).update(created_at=long_ago - timedelta(minutes=i))
    HandoffEvent.objects.filter(kind=HandoffEventKind.EVIDENCE_ADDED).update(at=long_ago)


def test_the_contact_page_shows_the_timeline_newest_first(org: Org, ada: Contact) -> None:
    response = logged_in(org, "riley").get(f"/contacts/{ada.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    found = kinds(html)
    assert {"signal", "handoff", "message"} <= set(found)
    # Newest first: Riley's claim-by-replying, the reply, the journey paused for a human, the
    # handoff being raised, the enrollment, and the signal behind it all.
    assert found == ["handoff", "message", "journey", "handoff", "stage", "signal"]
    html = html[html.index('<ol class="timeline">') :]  # the order of the timeline itself
    reply = html.index("Email to Ada Lovelace by Riley Reed")
    raised = html.index("High value handoff raised")
    assert html.index("High value handoff claimed by Riley Reed") < reply < raised
    assert raised < html.index("Signal form_submitted")
    stamps = times(html)
    assert stamps == sorted(stamps, reverse=True)
    assert "Signal form_submitted (budget=50000, currency=GBP)" in html
    assert "High value handoff raised: Budget 50,000 GBP ≥ 50,000" in html
    assert "Email to Ada Lovelace by Riley Reed" in html
    assert "Hi Ada, Riley here.<br><br>— Riley Reed, Sales team" in html
    # The side panel: details, the handoff and the (paused) journey.
    assert "<code>c-1001</code>" in html
    assert "Paused for a human" in html
    assert "Older events" not in html  # everything fits on one page


def test_the_timeline_links_handoff_events_to_the_handoff(org: Org, ada: Contact) -> None:
    handoff = Handoff.objects.get(contact=ada)
    html = logged_in(org, "riley").get(f"/contacts/{ada.pk}/").content.decode()
    assert f'<a href="/handoffs/{handoff.pk}/">High value handoff raised' in html


def test_older_events_come_as_an_htmx_fragment(org: Org, ada: Contact) -> None:
    add_history(ada, 120)
    client = logged_in(org, "riley")

    first = client.get(f"/contacts/{ada.pk}/").content.decode()
    assert len(times(first)) == 50
    assert 'hx-get="?page=2" hx-target="#timeline-more"' in first

    response = client.get(
        f"/contacts/{ada.pk}/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-more"
    )

    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "<h1>" not in fragment
    assert fragment.lstrip().startswith('<li class="tl')
    assert len(times(fragment)) == 50
    assert max(times(fragment)) <= min(times(first))  # continues where page 1 stopped
    assert 'hx-get="?page=3"' in fragment
    last = client.get(
        f"/contacts/{ada.pk}/?page=3", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-more"
    ).content.decode()
    assert "timeline-more" not in last
    # Nothing lost, nothing repeated across the three pages.
    pages = first + fragment + last
    assert len(times(pages)) == timeline_count(contact=ada, principal=org.users["riley"])
    assert sorted(re.findall(r"Old message (\d+)<", pages), key=int) == [str(i) for i in range(40)]
    assert sorted(re.findall(r"page=/pricing/(\d+)\)", pages), key=int) == [
        str(i) for i in range(40)
    ]


def test_page_2_without_htmx_is_a_whole_page(org: Org, ada: Contact) -> None:
    add_history(ada, 60)
    html = logged_in(org, "riley").get(f"/contacts/{ada.pk}/?page=2").content.decode()
    assert "<html" in html
    assert 1 <= len(times(html)) <= 50


def test_a_nonsense_page_number_shows_the_first_page(org: Org, ada: Contact) -> None:
    html = logged_in(org, "riley").get(f"/contacts/{ada.pk}/?page=abc").content.decode()
    assert "Hi Ada, Riley here." in html


def test_another_teams_member_gets_404_for_the_contact(org: Org, ada: Contact) -> None:
    assert logged_in(org, "casey").get(f"/contacts/{ada.pk}/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, org: Org, ada: Contact) -> None:
    response = client.get(f"/contacts/{ada.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_contact_page_makes_the_same_number_of_queries_at_10_and_200_events(
    org: Org, ada: Contact, django_assert_num_queries: Any
) -> None:
    client = logged_in(org, "riley")
    client.get(f"/contacts/{ada.pk}/")  # warm per-process caches before counting
    add_history(ada, 6)  # with the fixture's own events: about 10

    with django_assert_num_queries(CONTACT_PAGE_QUERIES):
        small = client.get(f"/contacts/{ada.pk}/")
    assert 10 <= len(times(small.content.decode())) < 50

    add_history(ada, 195)
    with django_assert_num_queries(CONTACT_PAGE_QUERIES):
        large = client.get(f"/contacts/{ada.pk}/")
    assert len(times(large.content.decode())) == 50
    with django_assert_num_queries(TIMELINE_FRAGMENT_QUERIES):
        fragment = client.get(
            f"/contacts/{ada.pk}/?page=3", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-more"
        )
    assert len(times(fragment.content.decode())) == 50


# --- the summary and the timeline's kind filter ----------------------------------------------


def summary(html: str) -> str:
    start = html.index('<section class="summary"')
    return html[start : html.index("</section>", start)]


def test_the_summary_follows_what_happens(org: Org, ada: Contact) -> None:
    client = logged_in(org, "riley")

    before = summary(client.get(f"/contacts/{ada.pk}/").content.decode())
    assert "Latest signal: form_submitted, 1 hour ago." in before
    assert "Last 7 days: 0 automated messages, 1 reply from people, 0 messages from Ada" in before
    assert "High value handoff raised just now, with Riley Reed." in before
    assert "They last wrote" not in before

    message_receive(
        message=InboundMessage(
            contact={"external_id": "c-1001"},
            account=None,
            channel="email",
            body="Thanks Riley, Tuesday works.",
            external_id="ada-1",
        )
    )
    after = summary(client.get(f"/contacts/{ada.pk}/").content.decode())

    assert "1 message from Ada Lovelace" in after
    assert "They last wrote just now: “Thanks Riley, Tuesday works.”" in after


def test_the_summary_keeps_to_the_readers_teams(org: Org, ada: Contact, integration: Any) -> None:
    HandoffRule.objects.create(
        name="Risk",
        signal_type="support_risk",
        condition={"all": []},
        trigger="stage",
        team=org.teams["success"],
        reason_template="Risk",
    )
    risk = {"type": "support_risk", "contact": {"external_id": "c-1001"}, "properties": {}}
    assert integration.post("/api/v1/signals/", risk, format="json").status_code == 202

    riley = summary(logged_in(org, "riley").get(f"/contacts/{ada.pk}/").content.decode())

    assert "Stage moment" not in riley  # Success's handoff is not Sales' business
    assert "support_risk" not in riley


def test_the_timeline_shows_only_the_kinds_asked_for(org: Org, ada: Contact) -> None:
    add_history(ada, 90)
    client = logged_in(org, "riley")

    only_messages = client.get(f"/contacts/{ada.pk}/?kind=message").content.decode()
    two = client.get(f"/contacts/{ada.pk}/?kind=signal&kind=handoff").content.decode()

    assert set(kinds(only_messages)) == {"message"}
    assert '<input type="checkbox" name="kind" value="message" checked' in only_messages
    assert set(kinds(two)) == {"signal", "handoff"}
    assert 'hx-get="?page=2&amp;kind=signal&amp;kind=handoff"' in two
    assert set(kinds(client.get(f"/contacts/{ada.pk}/?kind=bogus").content.decode())) > {
        "message",
        "signal",
    }
