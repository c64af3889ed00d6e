"""The chat widget: a signed session link per contact (made through the API), the contact's
message through the same inbound path as every channel, the FAQ bot answering in the thread, a
person taking over in the same thread, the poll that says 204 until something changes, and a
page other sites may frame."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from conftest import Org
from handoffs.choices import Channel, Direction, OutboxStatus
from handoffs.models import FaqEntry, Handoff, Message, OutboxEntry
from handoffs.services import handoff_reply
from handoffs.triage import defaults
from handoffs.triage.choices import FaqStatus
from journeys.models import Contact
from portal.integrations.chat import SALT, chat_token

pytestmark = pytest.mark.django_db(transaction=True)
PUBLIC = "https://baton.example.com"


@pytest.fixture(autouse=True)
def public_url(settings: Any) -> None:
    settings.BATON_PUBLIC_URL = PUBLIC


@pytest.fixture
def faq(org: Org) -> list[FaqEntry]:
    return [
        FaqEntry.objects.create(question=q, answer=a, keywords=k, status=FaqStatus.APPROVED)
        for q, a, k in defaults.STARTER_FAQ
    ]


@pytest.fixture
def ada(org: Org) -> Contact:
    return Contact.objects.create(external_id="c-1001", name="Ada Lovelace")


def path(contact: Contact, tail: str = "") -> str:
    return f"/chat/{chat_token(contact)}/{tail}"


def say(client: Client, contact: Contact, text: str, client_id: str = "a1") -> Any:
    return client.post(
        path(contact, "send/"), {"body": text, "client_id": client_id}, HTTP_HX_REQUEST="true"
    )


def thread_text(html: str) -> list[str]:
    """The visible messages, as "who: text"."""
    items = re.findall(r'<span class="who">(.*?)</span>\s*<p>(.*?)</p>', html, flags=re.S)
    return [f"{who}: {re.sub(r'<br>', ' ', text).strip()}" for who, text in items]


def test_an_integration_opens_a_session_and_gets_the_url_and_iframe(org: Org, api_key: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    response = client.post(
        "/api/v1/chat/sessions/",
        {"contact": {"external_id": "c-77", "name": "Grace Hopper", "email": "g@example.com"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    contact = Contact.objects.get(external_id="c-77")
    assert contact.name == "Grace Hopper"
    assert body["url"] == f"{PUBLIC}/chat/{body['token']}/"
    assert body["embed"].startswith(f'<iframe src="{body["url"]}"')
    assert signing.loads(body["token"], salt=SALT) == {"c": contact.pk}
    assert Client().get(f"/chat/{body['token']}/").status_code == 200


def test_sessions_need_an_integration_key_and_valid_fields(org: Org, api_key: str) -> None:
    anonymous = APIClient().post("/api/v1/chat/sessions/", {"contact": {}}, format="json")
    assert anonymous.status_code in (401, 403)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    bad = client.post(
        "/api/v1/chat/sessions/",
        {"contact": {"name": "No id"}, "colour": "red"},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["errors"] == {
        "contact.external_id": ["This field is required."],
        "colour": ["Unknown field."],
    }
    assert not Contact.objects.exists()


@pytest.mark.parametrize("token", ["nonsense", "e30:1abc:xyz"])
def test_a_made_up_token_is_a_404_that_says_so(org: Org, token: str) -> None:
    response = Client().get(f"/chat/{token}/")
    assert response.status_code == 404
    assert "not valid any more" in response.content.decode()
    assert (
        Client().post(f"/chat/{token}/send/", {"body": "hi", "client_id": "x"}).status_code == 404
    )


def test_a_token_for_another_purpose_or_too_old_is_refused(
    ada: Contact, settings: Any, monkeypatch: Any
) -> None:
    other = signing.dumps({"c": ada.pk}, salt="something.else")
    assert Client().get(f"/chat/{other}/").status_code == 404
    token = chat_token(ada)
    settings.BATON_CHAT_TOKEN_DAYS = 30
    import time as real_time

    later = real_time.time() + 31 * 86400
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert Client().get(f"/chat/{token}/").status_code == 404


def test_the_page_may_be_framed_by_other_sites(ada: Contact) -> None:
    response = Client().get(path(ada))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "Ask us anything." in response.content.decode()


def test_the_faq_bot_answers_in_the_thread(ada: Contact, faq: list[FaqEntry]) -> None:
    client = Client()
    response = say(client, ada, "What are your opening hours?")

    assert response.status_code == 200
    shown = thread_text(response.content.decode())
    assert shown[0] == "You: What are your opening hours?"
    assert shown[1].startswith("Assistant: Our team is available Monday to Friday")
    inbound = Message.objects.get(direction=Direction.IN)
    assert (inbound.channel, inbound.conversation.contact_id) == (Channel.CHAT, ada.pk)
    entry = OutboxEntry.objects.get()
    assert (entry.channel, entry.status, entry.backend, entry.to_address) == (
        Channel.CHAT,
        OutboxStatus.SENT,
        "chat",
        "c-1001",
    )


def test_a_person_takes_over_in_the_same_thread(
    org: Org, ada: Contact, faq: list[FaqEntry]
) -> None:
    client = Client()
    say(client, ada, "Can we run two workspaces on one invoice for our Dublin office?")
    handoff = Handoff.objects.get()
    assert handoff.trigger == "complexity"
    first = client.get(path(ada))
    version = re.search(r'data-version="([^"]+)"', first.content.decode()).group(1)
    assert client.get(path(ada, f"messages/?v={version}")).status_code == 204

    riley = org.users["riley"]
    riley.memberships.update(team=handoff.team)
    handoff_reply(handoff_id=handoff.pk, user=riley, body="Yes — one invoice covers both.")

    polled = client.get(path(ada, f"messages/?v={version}"))
    assert polled.status_code == 200
    shown = thread_text(polled.content.decode())
    assert shown[0].startswith("You: Can we run two workspaces")
    assert shown[1].startswith("Assistant: ")  # the holding reply
    assert shown[2].startswith("Riley Reed: ")
    assert "Yes — one invoice covers both." in shown[2]


def test_a_message_posted_twice_is_stored_once(ada: Contact) -> None:
    client = Client()
    say(client, ada, "Hello there", client_id="same")
    say(client, ada, "Hello there", client_id="same")
    assert Message.objects.filter(direction=Direction.IN).count() == 1


@pytest.mark.parametrize(
    ("body", "client_id", "error"),
    [
        ("   ", "a1", "Write a message first."),
        ("x" * 2001, "a1", "over 2000 characters"),
        ("hello", "../../etc", "could not be read"),
    ],
)
def test_bad_input_says_why_and_stores_nothing(
    ada: Contact, body: str, client_id: str, error: str
) -> None:
    response = say(Client(), ada, body, client_id=client_id)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Message.objects.exists()


def test_a_nul_character_is_refused_before_it_reaches_the_chat(ada: Contact) -> None:
    response = say(Client(), ada, "hello\x00")
    assert response.status_code == 400  # RequestSanityMiddleware, as for every form
    assert not Message.objects.exists()


def test_without_javascript_the_form_posts_and_comes_back(ada: Contact) -> None:
    client = Client()
    page = path(ada)  # one token: a token made a second later differs (it carries the time)
    response = client.post(page + "send/", {"body": "Hi", "client_id": "b2"})
    assert response.status_code == 302
    assert response["Location"] == page
    assert "You: Hi" in thread_text(client.get(page).content.decode())


def test_the_poll_costs_a_fixed_number_of_queries(
    ada: Contact, django_assert_max_num_queries: Any
) -> None:
    client = Client()
    for n in range(30):
        say(client, ada, f"message {n}", client_id=f"c{n}")
    with django_assert_max_num_queries(3):
        assert client.get(path(ada, "messages/?v=0")).status_code == 200
