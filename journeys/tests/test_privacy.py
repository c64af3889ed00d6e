"""A contact's personal data: export and erase, from the API and admin (journeys/privacy.py).

The erasure test dumps every row of every table afterwards and looks for the person: their
name, email, phone, id, a signal property and the words they wrote must be nowhere, while the
counts and times the dashboard is built from are exactly as before."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client

from conftest import PASSWORD, Org, key_client
from handoffs.choices import OutboxStatus
from handoffs.models import Handoff, Message, OutboxEntry
from handoffs.services import handoff_claim, handoff_reply
from journeys.models import Contact, Enrollment, Signal
from portal.errors import Conflict
from portal.services import api_key_create

pytestmark = pytest.mark.django_db

SECRET_WORDS = "my dog Biscuit is ill"


@pytest.fixture
def ada(org: Org, send_signal: Any, integration: Any) -> Contact:
    """Ada: a £50,000 form (a handoff, a journey), a message she wrote, a rep's reply."""
    assert send_signal(external_id="c-ada", budget=75000).status_code == 202
    inbound = {
        "contact": {"external_id": "c-ada"},
        "channel": "sms",
        "body": f"Sorry for the delay, {SECRET_WORDS}",
        "external_id": "SM-ada-1",
    }
    assert integration.post("/api/v1/messages/inbound/", inbound, format="json").status_code in (
        200,
        201,
        202,
    )
    handoff = Handoff.objects.get(contact__external_id="c-ada", trigger="high_value")
    handoff_claim(handoff_id=handoff.pk, user=org.users["sam"])
    handoff_reply(handoff_id=handoff.pk, user=org.users["sam"], body="Hope Biscuit is better")
    return Contact.objects.get(external_id="c-ada")


def privacy_key(**flags: Any) -> Any:
    return key_client(api_key_create(name="DSR tool", can_read_handoffs=True, **flags)[1])


def everything() -> str:
    """Every row of every table, as text (keys, people and sessions aside: using one, or
    logging in, stamps it)."""
    return "\n".join(
        repr(row)
        for model in apps.get_models()
        if model._meta.label not in {"portal.ApiKey", "sessions.Session", "auth.User"}
        for row in model.objects.order_by("pk").values_list()
    )


def aggregates() -> dict[str, Any]:
    return {
        "signals": list(Signal.objects.order_by("id").values_list("type", "occurred_at")),
        "messages": list(
            Message.objects.order_by("id").values_list("direction", "automated", "created_at")
        ),
        "handoffs": list(
            Handoff.objects.order_by("id").values_list(
                "team_id", "trigger", "priority", "created_at", "first_responded_at"
            )
        ),
        "enrollments": Enrollment.objects.count(),
    }


def test_an_allowed_key_exports_everything_held_about_the_contact(ada: Contact) -> None:
    response = privacy_key(can_manage_contact_data=True).get(f"/api/v1/contacts/{ada.pk}/export/")

    assert response.status_code == 200
    data = response.json()
    assert data["contact"]["email"] == "c-ada@example.com"
    assert data["contact"]["name"] == "Ada Lovelace"
    assert data["signals"][0]["properties"]["budget"] == 75000
    bodies = [m["body"] for m in data["messages"]]
    assert any(SECRET_WORDS in b for b in bodies)
    assert any(b.startswith("Hope Biscuit is better") for b in bodies)
    assert {h["trigger"] for h in data["handoffs"]} >= {"high_value"}
    assert 'filename="contact-' in response["Content-Disposition"]


def test_erasing_leaves_no_trace_of_the_person_and_every_aggregate_intact(ada: Contact) -> None:
    before = aggregates()
    assert "Ada Lovelace" in everything()

    response = privacy_key(can_manage_contact_data=True).post(
        f"/api/v1/contacts/{ada.pk}/erase/", {"reason": "DSR-2026-114"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["contact_id"] == ada.pk
    dump = everything()
    for trace in ("Ada Lovelace", "c-ada@example.com", "+447700900123", "c-ada", SECRET_WORDS):
        assert trace not in dump, trace
    assert "Biscuit" not in dump
    assert "75000" not in dump
    assert aggregates() == before
    contact = Contact.objects.get(pk=ada.pk)
    assert contact.external_id == f"erased:{ada.pk}"
    assert contact.erasure_note == "DSR-2026-114 — API key DSR tool"
    assert set(contact.opted_out_channels) >= {"email", "sms", "whatsapp"}
    assert not Handoff.objects.filter(contact=contact, status__in=["open", "claimed"]).exists()
    assert not Enrollment.objects.filter(contact=contact, status="active").exists()
    assert not OutboxEntry.objects.filter(
        message__conversation__contact=contact, status=OutboxStatus.QUEUED
    ).exists()


def test_a_new_signal_after_erasure_starts_a_new_contact(ada: Contact, send_signal: Any) -> None:
    privacy_key(can_manage_contact_data=True).post(
        f"/api/v1/contacts/{ada.pk}/erase/", {"reason": "DSR-1"}, format="json"
    )
    assert send_signal(external_id="c-ada", key="after", budget=None).status_code == 202
    fresh = Contact.objects.get(external_id="c-ada")
    assert fresh.pk != ada.pk
    assert Contact.objects.get(pk=ada.pk).name == ""


@pytest.mark.parametrize(
    "body, status",
    [({}, 400), ({"reason": ""}, 400), ({"reason": "x" * 301}, 400), ([], 400)],
)
def test_erasure_without_a_reason_is_refused_and_changes_nothing(
    ada: Contact, body: Any, status: int
) -> None:
    client = privacy_key(can_manage_contact_data=True)
    before = everything()
    response = client.post(f"/api/v1/contacts/{ada.pk}/erase/", body, format="json")
    assert response.status_code == status
    assert everything() == before


def test_erasing_twice_is_a_409_and_changes_nothing(ada: Contact) -> None:
    client = privacy_key(can_manage_contact_data=True)
    client.post(f"/api/v1/contacts/{ada.pk}/erase/", {"reason": "DSR-1"}, format="json")
    before = everything()
    again = client.post(f"/api/v1/contacts/{ada.pk}/erase/", {"reason": "DSR-1"}, format="json")
    assert again.status_code == 409
    assert "already erased" in again.json()["detail"]
    assert everything() == before


def test_who_may_export_and_erase(org: Org, ada: Contact, as_user: Any) -> None:
    """A key needs the flag; a person needs the permission; a key limited to other teams, or a
    person outside the contact's teams, gets 404 — and nothing changes."""
    before = everything()
    plain = privacy_key()
    assert plain.get(f"/api/v1/contacts/{ada.pk}/export/").status_code == 403
    assert plain.post(f"/api/v1/contacts/{ada.pk}/erase/", {"reason": "x"}).status_code == 403
    assert as_user("sam").get(f"/api/v1/contacts/{ada.pk}/export/").status_code == 403

    raw = api_key_create(name="Success DSR", can_read_handoffs=True, can_manage_contact_data=True)
    key, secret = raw
    key.teams.set([org.teams["success"]])
    assert key_client(secret).get(f"/api/v1/contacts/{ada.pk}/export/").status_code == 404

    boss = get_user_model().objects.create_superuser("dpo", "dpo@example.com", PASSWORD)
    client = Client()
    client.force_login(boss)
    assert client.get(f"/api/v1/contacts/{ada.pk}/export/").status_code == 200
    assert everything() == before


def test_admin_exports_then_erases_with_a_reason(org: Org, ada: Contact) -> None:
    boss = get_user_model().objects.create_superuser("dpo", "dpo@example.com", PASSWORD)
    client = Client()
    client.force_login(boss)
    changelist = "/admin/journeys/contact/"
    picked = {"action": "export_personal_data", "_selected_action": [ada.pk]}

    exported = client.post(changelist, picked)
    assert exported.status_code == 200
    assert exported.json()[0]["contact"]["name"] == "Ada Lovelace"

    ask = client.post(changelist, {**picked, "action": "erase_personal_data"})
    assert b"Erase for good" in ask.content
    assert Contact.objects.get(pk=ada.pk).name == "Ada Lovelace"  # asked, not done

    refused = client.post(changelist, {**picked, "action": "erase_personal_data", "confirm": "1"})
    assert b"This field is required" in refused.content
    assert Contact.objects.get(pk=ada.pk).name == "Ada Lovelace"

    done = client.post(
        changelist,
        {**picked, "action": "erase_personal_data", "confirm": "1", "reason": "DSR-7"},
        follow=True,
    )
    assert b"Erased the personal data of 1 contact(s)" in done.content
    erased = Contact.objects.get(pk=ada.pk)
    assert (erased.name, erased.erased_by, erased.erasure_note) == ("", boss, "DSR-7")


def test_ops_without_the_permission_do_not_see_the_actions(org: Org, ada: Contact) -> None:
    client = Client()
    client.force_login(org.users["olive"])
    page = client.get("/admin/journeys/contact/").content.decode()
    assert "erase_personal_data" not in page
    assert "export_personal_data" not in page


def test_the_service_refuses_a_second_erasure(ada: Contact) -> None:
    from journeys.privacy import contact_erase

    contact_erase(contact_id=ada.pk, actor=None, note="DSR-1")
    with pytest.raises(Conflict):
        contact_erase(contact_id=ada.pk, actor=None, note="DSR-1")
