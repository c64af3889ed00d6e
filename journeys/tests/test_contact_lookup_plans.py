"""Channels find the contact behind a phone number or an email address on every inbound message:
those lookups must reach the few matching rows by an index, not scan every contact."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from journeys.models import Contact, phone_digits
from portal.integrations.contacts import email_contact, normalise_phone, phone_contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_contacts(db: Any) -> None:
    Contact.objects.bulk_create(
        Contact(
            external_id=f"c-{n}",
            email=f"Person.{n}@Example.com",
            phone=f"+44 7700 9{n:05d}" if n % 2 else f"+447700{n:06d}",
        )
        for n in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE journeys_contact")


def _plan(queryset: Any) -> str:
    return queryset.explain()


def test_an_email_is_found_without_regard_to_case_through_an_index(many_contacts: None) -> None:
    lookup = Contact.objects.filter(email__iexact="person.42@example.COM")
    assert "contact_email_upper" in _plan(lookup)
    assert email_contact(email="PERSON.42@example.com") == {"external_id": "c-42"}


def test_a_phone_number_is_found_exactly_or_by_its_digits_through_an_index(
    many_contacts: None,
) -> None:
    assert "contact_phone" in _plan(Contact.objects.filter(phone="+447700000042"))
    by_digits = (
        Contact.objects.exclude(phone="")  # as portal/integrations/contacts.py asks
        .annotate(digits=phone_digits())
        .filter(digits="+447700900043")
        .order_by("-updated_at", "-id")
    )
    assert "contact_phone_digits" in _plan(by_digits)
    # Stored as "+44 7700 900043", written to us as "+447700900043": the same contact.
    assert phone_contact(phone=normalise_phone("+447700900043")) == {"external_id": "c-43"}
    assert phone_contact(phone="+44 7700 000042") == {"external_id": "c-42"}
