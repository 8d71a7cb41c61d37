"""Tags in any case, umlauts included: SQLite's case-insensitive match knows only ASCII letters, so
"übersee" was a second tag beside "Übersee" and the contact list's ?tag= filter missed it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations.conditions import _has_tag
from invoices import services
from invoices.models import Tag
from tests.base import make_invoice

pytestmark = pytest.mark.django_db


def test_a_tag_typed_in_another_case_with_an_umlaut_is_the_same_tag():
    first = services.create_contact(name="Ada", tags=["Übersee"])
    second = services.create_contact(name="Bob", tags=["übersee"])
    assert list(Tag.objects.values_list("name", flat=True)) == ["Übersee"]
    assert list(second.tags.all()) == list(first.tags.all())


def test_the_contact_list_filters_by_a_tag_with_an_umlaut_in_any_case(user_client):
    services.create_contact(name="Ada Lovelace", tags=["Übersee"])
    services.create_contact(name="Bob Untagged")
    page = user_client.get(reverse("invoices:contact-list"), {"tag": "übersee"}).content.decode()
    assert "Ada Lovelace" in page and "Bob Untagged" not in page
    page = user_client.get(reverse("invoices:contact-list"), {"tag": "ÜBERSEE"}).content.decode()
    assert "Ada Lovelace" in page and "Bob Untagged" not in page


def test_a_schedule_condition_on_a_tag_with_an_umlaut_matches_in_any_case():
    contact = services.create_contact(name="Ada", tags=["Ärzte"])
    invoice = make_invoice(contact=contact)
    assert _has_tag(invoice, ["ärzte"])
