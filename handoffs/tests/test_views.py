"""The rep's HTML pages: the inbox and one handoff, full pages and htmx fragments, who sees what,
and pinned query counts (the same number of queries at 10 rows as at 500)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Org
from handoffs.choices import Channel, Direction, HandoffEventKind, OutboxStatus, Priority, Trigger
from handoffs.live import LiveView, render_changes
from handoffs.models import Conversation, Handoff, HandoffEvent, Message, OutboxEntry
from handoffs.selectors import THREAD_PAGE
from handoffs.services import handoff_reply
from journeys.choices import EnrollmentStatus
from journeys.models import Contact, Enrollment
from portal.choices import Role
from portal.models import Team

pytestmark = pytest.mark.django_db

# Pinned: a change here means a page started (or stopped) querying. Measure with -vv, then update.
# Inbox: session, user, visible teams, event-log head, log pruned-through, tab counts (one
# aggregate, which also pages), work-team ids (Claim buttons), the user's (team, role) pairs
# (offered to me), the page's ids in order, the page of rows.
INBOX_QUERIES = 10
# Handoff page: session, user, the handoff (+team, contact, assignee), may work, may manage,
# the newest page of messages (+author, outbox), enrollments, history (+actor), whether I have
# signed here, event-log head, log pruned-through.
# + the playbook: live enrollments, its three tables, recent signals, the last inbound message.
HANDOFF_PAGE_QUERIES = 17


# --- builders -----------------------------------------------------------------------------------


def bulk_handoffs(
    team: Team, count: int, *, start: int = 0, assignee: Any = None, **fields: Any
) -> list[Handoff]:
    """`count` open handoffs for fresh contacts, with first-response due times in a shuffled
    (but deterministic) order, so sorting is observable. Contact names sort like their index."""
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                external_id=f"{team.slug}-{start + i}",
                name=f"Contact {team.slug} {start + i:04d}",
                email=f"{team.slug}-{start + i}@example.com",
            )
            for i in range(count)
        ]
    )
    defaults: dict[str, Any] = {
        "trigger": Trigger.MANUAL,
        "priority": Priority.NORMAL,
        "reason": "Asked for a person",
    }
    defaults.update(fields)
    rows = []
    for i, contact in enumerate(contacts):
        index = start + i
        rows.append(
            Handoff(
                team=team,
                contact=contact,
                created_at=now,
                # 7919 is prime: the due order is a permutation of the creation order.
                first_response_due_at=now + timedelta(minutes=(index * 7919) % 10007),
                sla_due_at=now + timedelta(minutes=(index * 7919) % 10007),  # as raised
                assignee=assignee,
                status="claimed" if assignee else "open",
                **defaults,
            )
        )
    return Handoff.objects.bulk_create(rows)


def bulk_conversation(handoff: Handoff, author: Any, count: int) -> None:
    """`count` messages (every other one ours, with an outbox row) and `count` history events."""
    conversation = Conversation.objects.get_or_create(contact=handoff.contact)[0]
    messages = Message.objects.bulk_create(
        [
            Message(
                conversation=conversation,
                handoff=handoff,
                direction=Direction.OUT if i % 2 else Direction.IN,
                channel=Channel.EMAIL,
                body=f"Message number {i}",
                author=author if i % 2 else None,
            )
            for i in range(count)
        ]
    )
    now = timezone.now()
    OutboxEntry.objects.bulk_create(
        [
            OutboxEntry(
                message=m,
                channel=m.channel,
                to_address=handoff.contact.email,
                status=OutboxStatus.SENT,
                next_attempt_at=now,
                backend="local",
            )
            for m in messages
            if m.direction == Direction.OUT
        ]
    )
    HandoffEvent.objects.bulk_create(
        [
            HandoffEvent(handoff=handoff, kind=HandoffEventKind.EVIDENCE_ADDED, actor=author)
            for _ in range(count)
        ]
    )


def logged_in(org: Org, username: str) -> Client:
    client = Client()
    client.force_login(org.users[username])
    return client


def htmx(client: Client, url: str, data: dict[str, str] | None = None) -> Any:
    return client.post(url, data or {}, HTTP_HX_REQUEST="true")


def hx_get(client: Client, url: str) -> Any:
    return client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread-older")


def contact_names(html: str) -> list[str]:
    return re.findall(r'class="contact-name"[^>]*>([^<]+)</a>', html)


def tab_count(html: str, label: str) -> int:
    match = re.search(rf'>{label} <span class="count">(\d+)</span>', html)
    assert match, f"no {label!r} tab in the page"
    return int(match.group(1))


@pytest.fixture
def ada(org: Org, send_signal: Any) -> Handoff:
    """The API.md example: budget 50,000 raises an urgent Sales handoff offered to the director
    (and enrolls Ada in Lead nurture, which the handoff pauses)."""
    response = send_signal(budget=50000, key="form-8841")
    assert response.status_code == 202, response.content
    return Handoff.objects.select_related("contact").get(contact__external_id="c-1001")


# --- routing and login --------------------------------------------------------------------------


def test_an_anonymous_visitor_to_the_inbox_is_sent_to_log_in(client: Client) -> None:
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/inbox/"


def test_home_sends_a_rep_to_the_inbox(org: Org) -> None:
    response = logged_in(org, "riley").get("/")
    assert (response.status_code, response["Location"]) == (302, "/inbox/")


def test_home_sends_ops_to_admin(org: Org) -> None:
    response = logged_in(org, "olive").get("/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_the_login_form_logs_a_rep_in_and_lands_on_the_inbox(org: Org) -> None:
    from conftest import PASSWORD

    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "riley", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1] == ("/inbox/", 302)
    assert b"<h1>Inbox</h1>" in response.content


# --- the inbox ----------------------------------------------------------------------------------


def test_a_reps_inbox_lists_their_teams_handoffs_by_the_running_sla_clock(org: Org) -> None:
    bulk_handoffs(org.teams["sales"], 8)
    bulk_handoffs(org.teams["success"], 3)  # not riley's team
    Handoff.objects.filter(contact__external_id="sales-0").update(status="resolved")

    html = logged_in(org, "riley").get("/inbox/").content.decode()

    expected = [
        h.contact.name
        for h in Handoff.objects.filter(team__slug="sales", status="open")
        .select_related("contact")
        .order_by("sla_due_at", "id")
    ]
    assert len(expected) == 7
    assert contact_names(html) == expected
    assert "Contact success" not in html
    assert "Contact sales 0000" not in html  # resolved: not in the inbox
    counts = [tab_count(html, tab) for tab in ("All open", "Mine", "Unassigned")]
    assert counts == [7, 0, 7]


def test_the_mine_and_unassigned_tabs_filter_and_count(org: Org) -> None:
    bulk_handoffs(org.teams["sales"], 3, start=0, assignee=org.users["riley"])
    bulk_handoffs(org.teams["sales"], 2, start=3, assignee=org.users["rob"])
    bulk_handoffs(org.teams["sales"], 4, start=5)
    client = logged_in(org, "riley")

    everything = client.get("/inbox/").content.decode()
    mine = client.get("/inbox/?view=mine").content.decode()
    unassigned = client.get("/inbox/?view=unassigned").content.decode()

    assert len(contact_names(everything)) == 9
    assert sorted(contact_names(mine)) == [f"Contact sales {i:04d}" for i in range(3)]
    assert sorted(contact_names(unassigned)) == [f"Contact sales {i:04d}" for i in range(5, 9)]
    for html in (everything, mine, unassigned):
        assert (tab_count(html, "All open"), tab_count(html, "Mine")) == (9, 3)
        assert tab_count(html, "Unassigned") == 4
    assert mine.count("Claimed by you") == 3
    assert "Claimed by Rob Rowe" in everything
    assert 'href="?view=mine" aria-current="page"' in mine


def test_an_unknown_view_falls_back_to_all(org: Org) -> None:
    bulk_handoffs(org.teams["sales"], 2)
    html = logged_in(org, "riley").get("/inbox/?view=bogus").content.decode()
    assert len(contact_names(html)) == 2
    assert 'href="?view=all" aria-current="page"' in html


def test_the_inbox_pages_25_at_a_time(org: Org) -> None:
    bulk_handoffs(org.teams["sales"], 30)
    client = logged_in(org, "riley")

    first = client.get("/inbox/").content.decode()
    second = client.get("/inbox/?view=all&page=2").content.decode()

    assert len(contact_names(first)) == 25
    assert len(contact_names(second)) == 5
    assert set(contact_names(first)).isdisjoint(contact_names(second))
    assert "Page 1 of 2" in first
    assert '<a href="?view=all&amp;page=2" rel="next">' in first
    assert '<a href="?view=all&amp;page=1" rel="prev">' in second
    assert "Page 2 of 2" in second
    assert tab_count(second, "All open") == 30
    # Only page 1 subscribes to the live stream (new handoffs land at the top of page 1).
    assert "ws-connect" in first
    assert "ws-connect" not in second


def test_a_director_sees_a_handoff_offered_to_directors_first_even_if_due_later(
    org: Org,
) -> None:
    sooner = bulk_handoffs(org.teams["sales"], 3)
    offered = bulk_handoffs(
        org.teams["sales"], 1, start=3, offered_to_role=Role.DIRECTOR, trigger=Trigger.HIGH_VALUE
    )[0]
    later = max(h.first_response_due_at for h in sooner) + timedelta(hours=1)
    Handoff.objects.filter(pk=offered.pk).update(first_response_due_at=later, sla_due_at=later)

    sams = logged_in(org, "sam").get("/inbox/").content.decode()
    rileys = logged_in(org, "riley").get("/inbox/").content.decode()

    assert contact_names(sams)[0] == "Contact sales 0003"
    assert sams.count("Offered to you") == 1
    assert re.search(rf'class="row offered"[^>]*id="handoff-row-{offered.pk}"', sams)
    # A rep is not a director: the same handoff sits at its due position, not offered to them.
    assert contact_names(rileys)[-1] == "Contact sales 0003"
    assert "Offered to you" not in rileys


def test_a_claimed_offer_is_no_longer_pinned_to_the_directors_top(org: Org) -> None:
    bulk_handoffs(org.teams["sales"], 2)
    offered = bulk_handoffs(
        org.teams["sales"], 1, start=2, offered_to_role=Role.DIRECTOR, assignee=org.users["rob"]
    )[0]
    later = timezone.now() + timedelta(days=30)
    Handoff.objects.filter(pk=offered.pk).update(first_response_due_at=later, sla_due_at=later)
    html = logged_in(org, "sam").get("/inbox/").content.decode()
    assert contact_names(html)[-1] == "Contact sales 0002"
    assert "Offered to you" not in html


def test_another_teams_member_sees_none_of_sales_and_gets_404s(org: Org, ada: Handoff) -> None:
    casey = logged_in(org, "casey")

    html = casey.get("/inbox/").content.decode()
    assert "Ada Lovelace" not in html
    assert tab_count(html, "All open") == 0
    assert casey.get(f"/handoffs/{ada.pk}/").status_code == 404
    assert casey.get(f"/contacts/{ada.contact_id}/").status_code == 404
    # Acting on it is a 404 too, and changes nothing.
    assert htmx(casey, f"/handoffs/{ada.pk}/claim/", {"from": "row"}).status_code == 404
    ada.refresh_from_db()
    assert ada.assignee_id is None


def test_a_missing_handoff_is_404(org: Org) -> None:
    assert logged_in(org, "riley").get("/handoffs/999999/").status_code == 404


# --- acting on a handoff ------------------------------------------------------------------------


def test_claiming_from_the_inbox_row_returns_the_row_claimed_by_you(org: Org, ada: Handoff) -> None:
    response = htmx(logged_in(org, "riley"), f"/handoffs/{ada.pk}/claim/", {"from": "row"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="row')  # the fragment, not a page
    assert "<html" not in html
    assert f'id="handoff-row-{ada.pk}"' in html
    assert "Claimed by you" in html
    assert "data-claim" not in html  # no Claim button any more
    ada.refresh_from_db()
    assert (ada.assignee_id, ada.status) == (org.users["riley"].pk, "claimed")


def test_a_second_claimer_gets_the_row_already_claimed_by_the_first(org: Org, ada: Handoff) -> None:
    htmx(logged_in(org, "riley"), f"/handoffs/{ada.pk}/claim/", {"from": "row"})

    response = htmx(logged_in(org, "rob"), f"/handoffs/{ada.pk}/claim/", {"from": "row"})

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps 2xx only; the notice explains the loss
    assert "Already claimed by Riley Reed" in html
    assert "Claimed by Riley Reed" in html
    assert "Claimed by you" not in html
    ada.refresh_from_db()
    assert ada.assignee_id == org.users["riley"].pk


def test_a_plain_form_claim_redirects_to_the_handoff_page(org: Org, ada: Handoff) -> None:
    response = logged_in(org, "riley").post(f"/handoffs/{ada.pk}/claim/")
    assert (response.status_code, response["Location"]) == (302, f"/handoffs/{ada.pk}/")


def test_claim_is_post_only(org: Org, ada: Handoff) -> None:
    assert logged_in(org, "riley").get(f"/handoffs/{ada.pk}/claim/").status_code == 405


def test_a_reply_returns_the_workspace_with_the_signed_message(
    org: Org, ada: Handoff, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(org, "riley")
    with django_capture_on_commit_callbacks(execute=True):
        response = htmx(
            client, f"/handoffs/{ada.pk}/reply/", {"body": "Hi Ada, happy to help with this."}
        )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workspace"')
    assert "<html" not in html
    assert "Hi Ada, happy to help with this.<br><br>— Riley Reed, Sales team" in html
    message = Message.objects.get(handoff=ada)
    assert message.body.endswith("\n\n— Riley Reed, Sales team")
    assert f'id="message-{message.pk}"' in html
    ada.refresh_from_db()
    assert (ada.assignee_id, ada.status) == (org.users["riley"].pk, "waiting_on_contact")
    assert ada.first_responded_at is not None
    # The delivery (eager, after commit) shows on the page as sent.
    page = client.get(f"/handoffs/{ada.pk}/").content.decode()
    assert re.search(r'class="delivery delivery-sent"[^>]*>Sent via email<', page)
    # Second reply: signed once only.
    second = htmx(client, f"/handoffs/{ada.pk}/reply/", {"body": "Following up."})
    assert "Following up.</p>" in second.content.decode()
    assert "this goes out unsigned" in second.content.decode()


def test_an_empty_reply_is_refused_with_a_notice(org: Org, ada: Handoff) -> None:
    response = htmx(logged_in(org, "riley"), f"/handoffs/{ada.pk}/reply/", {"body": "   "})
    assert response.status_code == 200
    assert "Write a reply first" in response.content.decode()
    assert not Message.objects.filter(handoff=ada).exists()


def test_a_reply_to_someone_elses_handoff_is_refused(org: Org, ada: Handoff) -> None:
    htmx(logged_in(org, "rob"), f"/handoffs/{ada.pk}/claim/")
    response = htmx(logged_in(org, "riley"), f"/handoffs/{ada.pk}/reply/", {"body": "Hi"})
    assert "Already claimed by Rob Rowe" in response.content.decode()
    assert not Message.objects.filter(handoff=ada).exists()


def test_resolving_with_resume_automation_puts_the_journey_back_to_active(
    org: Org, ada: Handoff
) -> None:
    enrollment = Enrollment.objects.get(contact=ada.contact)
    assert enrollment.status == EnrollmentStatus.PAUSED_FOR_HUMAN  # the handoff paused it
    client = logged_in(org, "riley")
    page = client.get(f"/handoffs/{ada.pk}/").content.decode()
    assert "(their journey is paused)" in page

    response = htmx(
        client,
        f"/handoffs/{ada.pk}/resolve/",
        {"resolution": "Discovery call booked", "resume_automation": "on"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Discovery call booked" in html
    assert "automation resumed" in html
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    ada.refresh_from_db()
    assert (ada.status, ada.resume_automation) == ("resolved", True)


def test_resolving_without_resume_automation_leaves_the_journey_paused(
    org: Org, ada: Handoff
) -> None:
    htmx(logged_in(org, "riley"), f"/handoffs/{ada.pk}/resolve/", {"resolution": "Lost"})
    assert Enrollment.objects.get(contact=ada.contact).status == EnrollmentStatus.PAUSED_FOR_HUMAN


def test_a_leader_reads_the_handoff_but_gets_no_reply_form(org: Org, ada: Handoff) -> None:
    lee = logged_in(org, "lee")

    response = lee.get(f"/handoffs/{ada.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "reply-form" not in html
    assert 'name="body"' not in html
    assert "data-claim" not in html
    assert "You can read this team's handoffs but not reply to them." in html
    # …and the server refuses a hand-made post too.
    refused = htmx(lee, f"/handoffs/{ada.pk}/reply/", {"body": "Hi"})
    assert "Your role cannot work this team" in refused.content.decode()
    assert not Message.objects.filter(handoff=ada).exists()


def test_a_leader_sees_sales_in_the_inbox_without_claim_buttons(org: Org, ada: Handoff) -> None:
    html = logged_in(org, "lee").get("/inbox/").content.decode()
    assert "Ada Lovelace" in html
    assert "data-claim" not in html


def test_the_handoff_page_shows_panel_conversation_and_history(org: Org, ada: Handoff) -> None:
    html = logged_in(org, "sam").get(f"/handoffs/{ada.pk}/").content.decode()
    assert "Budget 50,000 GBP ≥ 50,000" in html
    assert "Offered first to</dt><dd>Director" in html
    assert "No messages yet." in html
    assert "Your first reply is signed “— Sam Shah, Sales team”." in html
    assert f'ws-connect="/ws/ui/?page=handoff&handoff={ada.pk}&since=' in html


# --- pinned query counts ------------------------------------------------------------------------


def test_the_inbox_makes_the_same_number_of_queries_at_10_and_500_rows(
    org: Org, django_assert_num_queries: Any
) -> None:
    client = logged_in(org, "riley")
    client.get("/inbox/")  # warm per-process caches (content types) before counting
    bulk_handoffs(org.teams["sales"], 4)
    bulk_handoffs(org.teams["sales"], 5, start=4, assignee=org.users["rob"])
    bulk_handoffs(org.teams["sales"], 1, start=9, offered_to_role=Role.REP)  # offered to riley
    bulk_handoffs(org.teams["success"], 5)  # not visible to riley: must not count

    with django_assert_num_queries(INBOX_QUERIES):
        small = client.get("/inbox/")
    assert len(contact_names(small.content.decode())) == 10

    bulk_handoffs(org.teams["sales"], 240, start=10)
    bulk_handoffs(org.teams["sales"], 250, start=250, assignee=org.users["riley"])
    with django_assert_num_queries(INBOX_QUERIES):
        large = client.get("/inbox/")
    html = large.content.decode()
    assert len(contact_names(html)) == 25
    assert tab_count(html, "All open") == 500
    assert tab_count(html, "Mine") == 250
    assert "Offered to you" in html


def test_the_handoff_page_makes_the_same_number_of_queries_at_10_and_500_messages(
    org: Org, ada: Handoff, django_assert_num_queries: Any
) -> None:
    client = logged_in(org, "riley")
    client.get(f"/handoffs/{ada.pk}/")
    bulk_conversation(ada, org.users["riley"], 10)

    with django_assert_num_queries(HANDOFF_PAGE_QUERIES):
        small = client.get(f"/handoffs/{ada.pk}/")
    assert small.content.decode().count('class="msg ') == 10

    bulk_conversation(ada, org.users["rob"], 490)
    bulk_handoffs(org.teams["sales"], 500)  # a busy team does not cost the page either
    with django_assert_num_queries(HANDOFF_PAGE_QUERIES):
        large = client.get(f"/handoffs/{ada.pk}/")
    html = large.content.decode()
    assert html.count('class="msg ') == THREAD_PAGE  # the newest page; older ones on demand
    assert html.count("Sent via local") == THREAD_PAGE // 2
    assert "Message number 489<" in html and "Message number 459<" not in html
    assert "data-load-older" in html


def test_load_older_messages_brings_the_page_before_the_oldest_shown(
    org: Org, ada: Handoff
) -> None:
    bulk_conversation(ada, org.users["riley"], THREAD_PAGE * 2 + 5)
    client = logged_in(org, "riley")
    page = client.get(f"/handoffs/{ada.pk}/").content.decode()
    older = re.search(r'hx-get="([^"]+\?before=(\d+))"', page)
    assert older is not None

    # htmx: just the older messages (and the next button), to go above the ones shown
    fragment = hx_get(client, older[1]).content.decode()
    assert "<html" not in fragment
    assert fragment.count('class="msg ') == THREAD_PAGE
    assert "Message number 34<" in fragment and "Message number 35<" not in fragment
    assert "Message number 5<" in fragment and "Message number 4<" not in fragment
    oldest = re.search(r'hx-get="([^"]+\?before=(\d+))"', fragment)
    assert oldest is not None
    last = hx_get(client, oldest[1]).content.decode()
    assert last.count('class="msg ') == 5
    assert "data-load-older" not in last

    # without JavaScript the link opens the whole page at that point, with a way back
    plain = client.get(f"/handoffs/{ada.pk}/?before={older[2]}").content.decode()
    assert plain.count('class="msg ') == THREAD_PAGE
    assert "Back to the newest messages" in plain


def test_load_older_ignores_a_message_the_rep_may_not_see(org: Org, ada: Handoff) -> None:
    bulk_conversation(ada, org.users["riley"], 3)
    client = logged_in(org, "riley")
    unknown = hx_get(client, f"/handoffs/{ada.pk}/?before=999999999")
    assert unknown.status_code == 200
    assert 'class="msg ' not in unknown.content.decode()
    for junk in ("abc", "-1", "9" * 40):  # not a message id: the page as usual
        answer = client.get(f"/handoffs/{ada.pk}/?before={junk}")
        assert answer.status_code == 200
        assert answer.content.decode().count('class="msg ') == 3


# --- the live stream renders what the page renders ------------------------------------------------


def test_the_live_inbox_row_matches_the_page_row(org: Org, ada: Handoff) -> None:
    htmx(logged_in(org, "riley"), f"/handoffs/{ada.pk}/claim/", {"from": "row"})
    inbox = LiveView.from_query({"page": "inbox", "view": "all"})

    for_riley = render_changes(
        user=org.users["riley"], view=inbox, changes={ada.pk: "updated"}, seq=0
    )
    for_sam = render_changes(user=org.users["sam"], view=inbox, changes={ada.pk: "updated"}, seq=0)

    assert f'id="handoff-row-{ada.pk}"' in for_riley
    assert 'hx-swap-oob="true"' in for_riley
    assert "Claimed by you" in for_riley
    assert "Claimed by Riley Reed" in for_sam
    casey = render_changes(user=org.users["casey"], view=inbox, changes={ada.pk: "updated"}, seq=0)
    assert casey == ""  # never about a team they cannot see


def test_the_live_handoff_panel_tells_the_owner_it_is_theirs(org: Org, ada: Handoff) -> None:
    client = logged_in(org, "riley")
    htmx(client, f"/handoffs/{ada.pk}/claim/")
    assert '<dd id="owner">You</dd>' in client.get(f"/handoffs/{ada.pk}/").content.decode()

    live = render_changes(
        user=org.users["riley"],
        view=LiveView.from_query({"page": "handoff", "handoff": str(ada.pk)}),
        changes={ada.pk: "updated"},
        seq=0,
    )

    assert 'id="handoff-panel"' in live
    assert '<dd id="owner">You</dd>' in live


def test_the_handoff_page_template_runs_no_query_of_its_own(org: Org, ada: Handoff) -> None:
    client = logged_in(org, "riley")
    client.get(f"/handoffs/{ada.pk}/")
    with CaptureQueriesContext(connection) as queries:
        html = client.get(f"/handoffs/{ada.pk}/").content.decode()
    assert "Acme Ltd" in html
    lazy = [q["sql"] for q in queries.captured_queries if 'FROM "journeys_account"' in q["sql"]]
    assert lazy == []


def test_the_conversation_is_not_also_shown_as_flash_banners(org: Org, ada: Handoff) -> None:
    handoff_reply(handoff_id=ada.pk, user=org.users["riley"], body="Hello Ada")
    client = Client()
    client.force_login(org.users["riley"])

    html = client.get(f"/handoffs/{ada.pk}/").content.decode()

    assert 'class="flash"' not in html
    assert html.count("Hello Ada") == 1
