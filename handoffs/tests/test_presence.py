"""Who's viewing a handoff and the soft reply lock ("Riley is replying…").

The lock rules on PostgreSQL (take, renew, expire, release on send and on clearing the box, a
race of two typers), the reply service and the composer refusing someone else's send until it
is confirmed, the public API unchanged, and the live stream through the real ASGI application
(`WebsocketCommunicator`): two people on one handoff see each other come and go and type, a
person of another team never hears about it, and a viewer whose process died drops out."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from conftest import Org, run_concurrently
from handoffs import services
from handoffs.choices import HandoffEventKind, HandoffStatus
from handoffs.models import Handoff, HandoffEvent, HandoffViewer, Message, ReplyLock
from handoffs.presence import (
    PRESENCE_TTL,
    REPLY_LOCK_TTL,
    presence_for,
    reply_lock_of,
    viewers_of,
)
from handoffs.services.presence import (
    ReplyLocked,
    presence_join,
    presence_leave,
    presence_touch,
    reply_lock_release,
    reply_lock_take,
)
from portal.asgi import application
from portal.services import membership_remove

TIMEOUT = 5  # how long a receive may wait; never a timing assertion
QUIET = 0.5  # how long "nothing arrives" listens


@pytest.fixture
def ada(org: Org, send_signal: Any) -> Handoff:
    """An open, unassigned Sales handoff (high value, offered to the director)."""
    response = send_signal(budget=50000, key="form-8841")
    assert response.status_code == 202, response.content
    return Handoff.objects.select_related("contact").get(contact__external_id="c-1001")


def take(handoff: Handoff, user: Any, channel: str = "chan-1") -> ReplyLock | None:
    return reply_lock_take(handoff_id=handoff.pk, user=user, channel_name=channel)


def held_by(handoff: Handoff) -> str | None:
    lock = reply_lock_of(handoff_id=handoff.pk)
    return lock.holder.username if lock else None


def expire(handoff: Handoff) -> None:
    """As if the holder stopped typing REPLY_LOCK_TTL ago."""
    ReplyLock.objects.filter(handoff=handoff).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


# --- the lock's rules -------------------------------------------------------------------------


@pytest.mark.django_db
def test_typing_takes_the_lock_for_the_lock_ttl(org: Org, ada: Handoff) -> None:
    before = timezone.now()
    lock = take(ada, org.users["riley"])
    assert lock is not None and lock.holder == org.users["riley"]
    assert before + REPLY_LOCK_TTL <= lock.expires_at <= timezone.now() + REPLY_LOCK_TTL
    assert held_by(ada) == "riley"


@pytest.mark.django_db
def test_typing_again_renews_the_holders_lock_and_keeps_when_it_was_taken(
    org: Org, ada: Handoff
) -> None:
    first = take(ada, org.users["riley"])
    assert first is not None
    ReplyLock.objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(seconds=3))
    renewed = take(ada, org.users["riley"], channel="chan-2")
    assert renewed is not None and renewed.pk == first.pk
    assert renewed.taken_at == first.taken_at
    assert renewed.expires_at > timezone.now() + timedelta(seconds=3)
    assert renewed.channel_name == "chan-2"
    assert ReplyLock.objects.count() == 1


@pytest.mark.django_db
def test_someone_else_typing_does_not_take_a_live_lock(org: Org, ada: Handoff) -> None:
    take(ada, org.users["riley"])
    answer = take(ada, org.users["rob"], channel="chan-rob")
    assert answer is not None and answer.holder == org.users["riley"]  # told who has it
    assert held_by(ada) == "riley"


@pytest.mark.django_db
def test_an_expired_lock_goes_to_the_next_person_who_types(org: Org, ada: Handoff) -> None:
    take(ada, org.users["riley"])
    expire(ada)
    lock = take(ada, org.users["rob"], channel="chan-rob")
    assert lock is not None and lock.holder == org.users["rob"]
    assert held_by(ada) == "rob"
    # An expired lock is nobody's: it stops a send of nobody's either.
    expire(ada)
    services.handoff_reply(handoff_id=ada.pk, user=org.users["riley"], body="Hi", over_lock=False)


@pytest.mark.django_db
def test_clearing_the_box_releases_the_lock_and_only_the_holder_can(org: Org, ada: Handoff) -> None:
    take(ada, org.users["riley"], channel="chan-1")
    assert not reply_lock_release(handoff_id=ada.pk, user=org.users["rob"])
    assert not reply_lock_release(handoff_id=ada.pk, user=org.users["riley"], channel_name="x")
    assert held_by(ada) == "riley"
    assert reply_lock_release(handoff_id=ada.pk, user=org.users["riley"], channel_name="chan-1")
    assert held_by(ada) is None


@pytest.mark.django_db
def test_only_someone_who_may_reply_can_take_the_lock(org: Org, ada: Handoff) -> None:
    assert take(ada, org.users["lee"]) is None  # a leader reads, does not reply
    assert take(ada, org.users["casey"]) is None  # another team
    services.handoff_claim(handoff_id=ada.pk, user=org.users["riley"])
    assert take(ada, org.users["rob"]) is None  # Riley owns it now
    assert take(ada, org.users["riley"]) is not None
    assert held_by(ada) == "riley"


@pytest.mark.django_db(transaction=True)
def test_two_people_starting_to_type_at_once_leave_exactly_one_holder(
    org: Org, send_signal: Any
) -> None:
    send_signal(budget=50000, key="race")
    handoff = Handoff.objects.get(contact__external_id="c-1001")
    for _ in range(5):
        ReplyLock.objects.all().delete()
        answers = run_concurrently(
            [
                lambda: take(handoff, org.users["riley"], channel="chan-riley"),
                lambda: take(handoff, org.users["rob"], channel="chan-rob"),
            ]
        )
        holder = held_by(handoff)
        assert holder in {"riley", "rob"}
        # Both were told the same holder: the winner its own lock, the loser the winner's.
        assert {a.holder.username for a in answers if a is not None} == {holder}
        assert ReplyLock.objects.count() == 1


# --- the reply service and the public API -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sending_releases_the_senders_lock(org: Org, send_signal: Any) -> None:
    send_signal(budget=50000, key="send")
    handoff = Handoff.objects.get(contact__external_id="c-1001")
    take(handoff, org.users["riley"])
    services.handoff_reply(
        handoff_id=handoff.pk, user=org.users["riley"], body="Hello Ada", over_lock=False
    )
    assert held_by(handoff) is None
    event = HandoffEvent.objects.get(handoff=handoff, kind=HandoffEventKind.REPLIED)
    assert "over_lock" not in event.data  # one's own lock is not "over" anyone's


@pytest.mark.django_db
def test_someone_elses_send_is_refused_without_confirmation_and_changes_nothing(
    org: Org, ada: Handoff
) -> None:
    take(ada, org.users["riley"])
    with pytest.raises(ReplyLocked) as refused:
        services.handoff_reply(
            handoff_id=ada.pk, user=org.users["rob"], body="Hi, Rob here", over_lock=False
        )
    assert refused.value.holder_name == "Riley Reed"
    assert refused.value.status_code == 409
    ada.refresh_from_db()
    assert (ada.status, ada.assignee_id) == (HandoffStatus.OPEN, None)
    assert not Message.objects.filter(handoff=ada).exists()
    assert held_by(ada) == "riley"


@pytest.mark.django_db
def test_a_confirmed_send_goes_over_the_lock_and_the_history_says_whose(
    org: Org, ada: Handoff
) -> None:
    take(ada, org.users["riley"])
    message = services.handoff_reply(
        handoff_id=ada.pk, user=org.users["rob"], body="Hi, Rob here", over_lock=True
    )
    assert message.author == org.users["rob"]
    ada.refresh_from_db()
    assert ada.assignee == org.users["rob"]  # replying to an open handoff claims it
    event = HandoffEvent.objects.get(handoff=ada, kind=HandoffEventKind.REPLIED)
    assert event.actor == org.users["rob"]
    assert event.data["over_lock"] == {"holder": "Riley Reed", "id": org.users["riley"].pk}


@pytest.mark.django_db
def test_a_lock_whose_holder_lost_the_handoff_no_longer_stops_a_send(
    org: Org, ada: Handoff
) -> None:
    take(ada, org.users["riley"])
    services.handoff_reassign(handoff_id=ada.pk, user=org.users["sam"], assignee=org.users["rob"])
    services.handoff_reply(
        handoff_id=ada.pk, user=org.users["rob"], body="Rob has this", over_lock=False
    )
    event = HandoffEvent.objects.get(handoff=ada, kind=HandoffEventKind.REPLIED)
    assert "over_lock" not in event.data


@pytest.mark.django_db
def test_the_public_reply_api_keeps_working_over_a_lock_and_records_it(
    org: Org, ada: Handoff, as_user: Any
) -> None:
    take(ada, org.users["riley"])
    response = as_user("rob").post(
        f"/api/v1/handoffs/{ada.pk}/reply/", {"body": "Hi from the API"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["body"].startswith("Hi from the API")
    event = HandoffEvent.objects.get(handoff=ada, kind=HandoffEventKind.REPLIED)
    assert event.data["over_lock"]["holder"] == "Riley Reed"


# --- the composer ------------------------------------------------------------------------------


def htmx_client(org: Org, username: str) -> Client:
    client = Client(headers={"HX-Request": "true"})
    client.force_login(org.users[username])
    return client


@pytest.mark.django_db
def test_the_composer_asks_to_confirm_keeps_the_draft_then_sends_when_confirmed(
    org: Org, ada: Handoff
) -> None:
    take(ada, org.users["riley"])
    rob = htmx_client(org, "rob")
    url = f"/handoffs/{ada.pk}/reply/"

    asked = rob.post(url, {"body": "Hi Ada <3, Rob here"})
    assert asked.status_code == 200  # htmx swaps it in
    html = asked.content.decode()
    assert "<strong>Riley Reed is replying</strong> — send anyway?" in html
    assert re.search(r'<button[^>]*name="over_lock" value="1"[^>]*>Send anyway</button>', html)
    assert ">Hi Ada &lt;3, Rob here</textarea>" in html  # the draft is kept, escaped
    assert "Riley Reed is replying…" in html  # and the live line says so too
    assert not Message.objects.filter(handoff=ada).exists()

    sent = rob.post(url, {"body": "Hi Ada <3, Rob here", "over_lock": "1"})
    assert sent.status_code == 200
    html = sent.content.decode()
    assert "send anyway?" not in html
    assert "Hi Ada &lt;3, Rob here" in html  # now in the conversation
    assert re.search(r'<textarea id="reply-body"[^>]*></textarea>', html)  # an empty box
    assert Message.objects.filter(handoff=ada, author=org.users["rob"]).count() == 1

    lead = Client()
    lead.force_login(org.users["sam"])
    page = lead.get(f"/handoffs/{ada.pk}/").content.decode()
    assert re.search(
        r"Replied by Rob Rowe <span [^>]*data-over-lock>while Riley Reed was replying</span>", page
    )


@pytest.mark.django_db
def test_a_plain_form_post_over_a_lock_answers_the_page_with_the_question(
    org: Org, ada: Handoff
) -> None:
    take(ada, org.users["riley"])
    client = Client()
    client.force_login(org.users["rob"])
    response = client.post(f"/handoffs/{ada.pk}/reply/", {"body": "No JS here"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Riley Reed is replying</strong> — send anyway?" in html
    assert ">No JS here</textarea>" in html


@pytest.mark.django_db
def test_the_holder_sees_no_lock_line_for_their_own_lock(org: Org, ada: Handoff) -> None:
    take(ada, org.users["riley"])
    riley = presence_for(user=org.users["riley"], handoff_id=ada.pk)
    rob = presence_for(user=org.users["rob"], handoff_id=ada.pk)
    assert riley is not None and riley.replying is None
    assert rob is not None and rob.replying == "Riley Reed"
    assert presence_for(user=org.users["casey"], handoff_id=ada.pk) is None  # another team


@pytest.mark.django_db
def test_the_handoff_page_has_the_presence_hooks_and_the_script(org: Org, ada: Handoff) -> None:
    client = Client()
    client.force_login(org.users["riley"])
    html = client.get(f"/handoffs/{ada.pk}/").content.decode()
    assert 'id="presence"' in html
    assert 'id="reply-lock"' in html
    assert re.search(r'data-presence data-heartbeat="15" data-typing-ping="5"', html)
    assert re.search(r'<script src="/static/js/presence\.js" defer nonce="[^"]+"></script>', html)


# --- presence bookkeeping ----------------------------------------------------------------------


@pytest.mark.django_db
def test_viewers_are_the_others_once_each_first_arrival_first(org: Org, ada: Handoff) -> None:
    presence_join(handoff_id=ada.pk, user=org.users["riley"], channel_name="a")
    presence_join(handoff_id=ada.pk, user=org.users["sam"], channel_name="b")
    presence_join(handoff_id=ada.pk, user=org.users["riley"], channel_name="c")  # a second tab
    presence_join(handoff_id=ada.pk, user=org.users["rob"], channel_name="d")
    names = [v.name for v in viewers_of(handoff_id=ada.pk, exclude_user_id=org.users["rob"].pk)]
    assert names == ["Riley Reed", "Sam Shah"]
    assert [v.initials for v in viewers_of(handoff_id=ada.pk)] == ["RR", "SS", "RR"]

    presence_leave(handoff_id=ada.pk, channel_name="a")  # one of Riley's tabs closes
    assert "Riley Reed" in [v.name for v in viewers_of(handoff_id=ada.pk)]
    presence_leave(handoff_id=ada.pk, channel_name="c")
    assert [v.name for v in viewers_of(handoff_id=ada.pk)] == ["Sam Shah", "Rob Rowe"]


@pytest.mark.django_db
def test_a_viewer_not_heard_from_within_the_ttl_is_gone_and_pruned(org: Org, ada: Handoff) -> None:
    presence_join(handoff_id=ada.pk, user=org.users["sam"], channel_name="dead-process")
    presence_join(handoff_id=ada.pk, user=org.users["riley"], channel_name="alive")
    stale = timezone.now() - PRESENCE_TTL - timedelta(seconds=1)
    HandoffViewer.objects.filter(channel_name="dead-process").update(last_seen=stale)
    assert [v.name for v in viewers_of(handoff_id=ada.pk)] == ["Riley Reed"]  # at once

    presence_touch(handoff_id=ada.pk, user=org.users["riley"], channel_name="alive")
    assert list(HandoffViewer.objects.values_list("channel_name", flat=True)) == ["alive"]


@pytest.mark.django_db
def test_leaving_releases_the_lock_the_closing_tab_held_and_no_other(
    org: Org, ada: Handoff
) -> None:
    presence_join(handoff_id=ada.pk, user=org.users["riley"], channel_name="tab-1")
    presence_join(handoff_id=ada.pk, user=org.users["riley"], channel_name="tab-2")
    take(ada, org.users["riley"], channel="tab-2")
    presence_leave(handoff_id=ada.pk, channel_name="tab-1")
    assert held_by(ada) == "riley"
    presence_leave(handoff_id=ada.pk, channel_name="tab-2")
    assert held_by(ada) is None


# --- the live stream ---------------------------------------------------------------------------


class Sockets:
    def __init__(self) -> None:
        self.opened: list[WebsocketCommunicator] = []

    async def open(self, user: Any, handoff_id: int) -> WebsocketCommunicator:
        headers = await cookie_headers(user)
        communicator = WebsocketCommunicator(
            application, f"/ws/ui/?page=handoff&handoff={handoff_id}", headers=headers
        )
        self.opened.append(communicator)
        accepted, detail = await communicator.connect(timeout=TIMEOUT)
        assert accepted, f"refused ({detail})"
        return communicator

    async def close_all(self) -> None:
        for communicator in self.opened:
            with contextlib.suppress(Exception):
                await communicator.disconnect(timeout=TIMEOUT)


@pytest.fixture
async def ws(transactional_db: Any) -> AsyncIterator[Sockets]:
    sockets = Sockets()
    yield sockets
    await sockets.close_all()
    await sync_to_async(connections.close_all)()


@database_sync_to_async
def cookie_headers(user: Any) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    sessionid = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={sessionid}".encode()),
        (b"origin", b"http://testserver"),
    ]


@database_sync_to_async
def raise_handoff(send_signal: Any) -> int:
    response = send_signal(budget=50000, key="live")
    assert response.status_code == 202, response.content
    return Handoff.objects.get(contact__external_id="c-1001").pk


def viewers_in(frame: str) -> list[str]:
    """The names on the "Viewing:" chips of a presence frame."""
    match = re.search(r'<div id="presence".*?</div>', frame, re.S)
    assert match, frame
    return re.findall(r"</span>([^<]+)</span>", match.group(0))


async def next_presence(communicator: WebsocketCommunicator, *, limit: int = 6) -> str:
    """The next frame that carries the presence fragment (skipping others)."""
    for _ in range(limit):
        frame = await communicator.receive_from(timeout=TIMEOUT)
        if 'id="presence"' in frame:
            return frame
    pytest.fail("no presence frame arrived")


async def presence_until(communicator: WebsocketCommunicator, check: Any, *, limit: int = 6) -> str:
    """Presence frames until one passes `check` (a join may be told twice: by itself and by
    a later change)."""
    seen = []
    for _ in range(limit):
        frame = await next_presence(communicator)
        if check(frame):
            return frame
        seen.append(frame)
    pytest.fail(f"no presence frame passed; saw {seen!r}")


async def test_two_people_on_one_handoff_see_each_other_arrive_and_leave(
    org: Org, send_signal: Any, ws: Sockets
) -> None:
    handoff_id = await raise_handoff(send_signal)
    riley = await ws.open(org.users["riley"], handoff_id)
    first = await next_presence(riley)
    assert viewers_in(first) == []  # alone; never herself

    rob = await ws.open(org.users["rob"], handoff_id)
    assert viewers_in(await next_presence(rob)) == ["Riley Reed"]
    frame = await presence_until(riley, lambda f: viewers_in(f) == ["Rob Rowe"])
    assert 'hx-swap-oob="true"' in frame
    assert 'title="Rob Rowe has this handoff open"' in frame
    assert ">RR</span>" in frame  # his initials chip

    await rob.disconnect(timeout=TIMEOUT)
    await presence_until(riley, lambda f: viewers_in(f) == [])
    assert await database_sync_to_async(
        lambda: list(HandoffViewer.objects.values_list("user__username", flat=True))
    )() == ["riley"]


async def test_typing_shows_is_replying_to_the_others_and_clearing_hides_it(
    org: Org, send_signal: Any, ws: Sockets
) -> None:
    handoff_id = await raise_handoff(send_signal)
    riley = await ws.open(org.users["riley"], handoff_id)
    rob = await ws.open(org.users["rob"], handoff_id)
    await presence_until(riley, lambda f: viewers_in(f) == ["Rob Rowe"])
    await presence_until(rob, lambda f: viewers_in(f) == ["Riley Reed"])

    await riley.send_to(text_data=json.dumps({"type": "typing"}))
    frame = await presence_until(rob, lambda f: "is replying" in f)
    assert re.search(r'<p id="reply-lock"[^>]*hx-swap-oob="true">.*Riley Reed is replying…', frame)
    mine = await presence_until(riley, lambda f: 'id="reply-lock"' in f)
    assert "is replying" not in mine  # not for herself

    await riley.send_to(text_data=json.dumps({"type": "idle"}))
    await presence_until(rob, lambda f: "is replying" not in f)
    assert await database_sync_to_async(reply_lock_of)(handoff_id=handoff_id) is None


async def test_someone_of_another_team_never_hears_of_the_handoffs_presence(
    org: Org, send_signal: Any, ws: Sockets
) -> None:
    handoff_id = await raise_handoff(send_signal)
    casey = await ws.open(org.users["casey"], handoff_id)  # Success: may not see Sales' work
    riley = await ws.open(org.users["riley"], handoff_id)
    await casey.send_to(text_data=json.dumps({"type": "typing"}))
    await casey.send_to(text_data=json.dumps({"type": "heartbeat"}))
    await riley.send_to(text_data=json.dumps({"type": "typing"}))
    rob = await ws.open(org.users["rob"], handoff_id)
    await presence_until(rob, lambda f: "Riley Reed is replying" in f)

    assert await casey.receive_nothing(timeout=QUIET)
    while not await rob.receive_nothing(timeout=QUIET):
        assert "Casey" not in await rob.receive_from(timeout=TIMEOUT)

    @database_sync_to_async
    def rows() -> list[str]:
        return sorted(HandoffViewer.objects.values_list("user__username", flat=True))

    assert await rows() == ["riley", "rob"]
    assert (await database_sync_to_async(reply_lock_of)(handoff_id=handoff_id)).holder_id == (
        org.users["riley"].pk
    )


async def test_a_viewer_whose_process_died_drops_out_on_the_next_heartbeat(
    org: Org, send_signal: Any, ws: Sockets
) -> None:
    handoff_id = await raise_handoff(send_signal)

    @database_sync_to_async
    def ghost(age: timedelta) -> None:
        HandoffViewer.objects.update_or_create(
            channel_name="died-without-disconnect",
            defaults={
                "handoff_id": handoff_id,
                "user": org.users["sam"],
                "joined_at": timezone.now(),
                "last_seen": timezone.now() - age,
            },
        )

    await ghost(timedelta(0))
    riley = await ws.open(org.users["riley"], handoff_id)
    await presence_until(riley, lambda f: viewers_in(f) == ["Sam Shah"])

    await ghost(PRESENCE_TTL + timedelta(seconds=1))  # no heartbeat from it since
    await riley.send_to(text_data=json.dumps({"type": "heartbeat"}))
    await presence_until(riley, lambda f: viewers_in(f) == [])


async def test_someone_who_loses_the_team_stops_showing_at_their_next_heartbeat(
    org: Org, send_signal: Any, ws: Sockets
) -> None:
    handoff_id = await raise_handoff(send_signal)
    riley = await ws.open(org.users["riley"], handoff_id)
    rob = await ws.open(org.users["rob"], handoff_id)
    await presence_until(riley, lambda f: viewers_in(f) == ["Rob Rowe"])

    await database_sync_to_async(membership_remove)(user=org.users["rob"], team=org.teams["sales"])
    await rob.send_to(text_data=json.dumps({"type": "heartbeat"}))
    await presence_until(riley, lambda f: viewers_in(f) == [])
    await rob.send_to(text_data=json.dumps({"type": "typing"}))  # no longer heard at all
    assert await database_sync_to_async(reply_lock_of)(handoff_id=handoff_id) is None


async def test_a_page_may_only_say_heartbeat_typing_or_idle(
    org: Org, send_signal: Any, ws: Sockets
) -> None:
    handoff_id = await raise_handoff(send_signal)
    riley = await ws.open(org.users["riley"], handoff_id)
    await next_presence(riley)
    for junk in [" ", "not json", "[]", json.dumps({"type": "claim"}), "x" * 5000]:
        await riley.send_to(text_data=junk)
    assert await riley.receive_nothing(timeout=QUIET)
    assert await database_sync_to_async(reply_lock_of)(handoff_id=handoff_id) is None
