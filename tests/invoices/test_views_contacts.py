"""Contacts in the browser: list with search and pages, detail with everything about them, edit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from invoices.models import Contact
from tasks.models import Task
from tests.base import make_contact, make_invoice, make_plan, page_with_fragments
from workflows.models import Card, Step, Workflow

pytestmark = pytest.mark.django_db


def contact_data(**overrides) -> dict:
    data = {"name": "Emily Carter", "email": "emily@carter-studio.example", "phone": "+44 20 7946 0123",
            "company": "Carter Studio Ltd", "language": "en"}
    data.update(overrides)
    return data


def test_contact_list_searches_name_email_and_company(user_client):
    anna = make_contact(name="Anna Schmidt", email="anna@schmidt.example", company="Schmidt Architektur")
    make_contact(name="Jonas Weber", email="jonas@weber.example", company="Weber Bau")
    url = reverse("invoices:contact-list")
    for q in ("anna", "schmidt.example", "architektur"):
        assert [c.pk for c in user_client.get(url, {"q": q}).context["contacts"]] == [anna.pk], q
    assert len(user_client.get(url).context["contacts"]) == 2


def test_contact_list_is_paginated_by_25(user_client):
    for i in range(30):
        make_contact(name=f"Person {i:02d}")
    url = reverse("invoices:contact-list")
    assert len(user_client.get(url).context["contacts"]) == 25
    assert len(user_client.get(url, {"page": 2}).context["contacts"]) == 5


def test_contact_list_shows_the_open_balance(user_client):
    contact = make_contact()
    make_invoice(contact=contact, status="sent")
    make_invoice(contact=contact, status="sent")
    html = user_client.get(reverse("invoices:contact-list")).content.decode()
    assert "€238.00" in html


def test_create_contact_saves_it_and_redirects_to_its_page(user_client):
    response = user_client.post(reverse("invoices:contact-create"), contact_data(language="de"))
    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:contact-detail", args=[contact.pk])
    assert (contact.name, contact.email, contact.language) == ("Emily Carter", "emily@carter-studio.example", "de")


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@example.com\r\nBcc: victim@example.com"}, "email"),
    ({"name": "Evil\r\nBcc: victim@example.com"}, "name"),
    ({"company": "Line\nbreak"}, "company"),
    ({"name": "Trailing break\n"}, "name"),
    ({"name": ""}, "name"),
    ({"language": "fr"}, "language"),
])
def test_invalid_contact_input_is_refused_at_its_field(user_client, change, field):
    response = user_client.post(reverse("invoices:contact-create"), contact_data(**change))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Contact.objects.exists()


def test_edit_contact_changes_it(user_client):
    contact = make_contact()
    response = user_client.post(reverse("invoices:contact-edit", args=[contact.pk]),
                                contact_data(name="Emily Carter-Jones", language="de"))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.name == "Emily Carter-Jones" and contact.language == "de"


def test_edit_contact_refuses_line_breaks(user_client):
    contact = make_contact(name="Ada")
    response = user_client.post(reverse("invoices:contact-edit", args=[contact.pk]),
                                contact_data(phone="123\r\n456"))
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    contact.refresh_from_db()
    assert contact.name == "Ada"


def test_contact_detail_shows_invoices_tasks_cards_and_recurring_payments(user_client):
    contact = make_contact(name="Grace Taylor")
    invoice = make_invoice(contact=contact, status="sent")
    Task.objects.create(title="Call Grace about the invoice", contact=contact, due_date=dt.date.today())
    workflow = Workflow.objects.create(name="Collections")
    step = Step.objects.create(workflow=workflow, name="Reminded", position=1)
    Card.objects.create(workflow=workflow, step=step, contact=contact)
    plan = make_plan(contact=contact, description="Bakery website hosting")
    html = page_with_fragments(user_client, reverse("invoices:contact-detail", args=[contact.pk]))
    assert invoice.number in html
    assert "Call Grace about the invoice" in html
    assert "Collections" in html and "Reminded" in html
    assert "Bakery website hosting" in html
    assert reverse("invoices:recurring-detail", args=[plan.pk]) in html
    assert "€119.00" in html  # open balance


def test_contact_detail_links_to_all_invoices_when_there_are_many(user_client):
    contact = make_contact()
    for _ in range(21):
        make_invoice(contact=contact)
    response = user_client.get(reverse("invoices:contact-detail", args=[contact.pk]))
    assert len(response.context["invoices"]) == 20
    assert f"{reverse('invoices:invoice-list')}?contact={contact.pk}" in response.content.decode()


def test_a_contact_gets_a_postal_address_a_vat_id_and_the_business_flag(user_client):
    response = user_client.post(reverse("invoices:contact-create"), contact_data(
        street="Rue de Rivoli 1", postal_code="75001", city="Paris", country="FR", vat_id="fr 40 303 265 045",
        is_business="on"))
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.street, contact.postal_code, contact.city, contact.country) == ("Rue de Rivoli 1", "75001",
                                                                                  "Paris", "FR")
    assert contact.vat_id == "FR40303265045" and contact.is_business
    page = user_client.get(reverse("invoices:contact-detail", args=[contact.pk])).content.decode()
    assert "Rue de Rivoli 1<br>75001 Paris<br>France" in page
    assert "FR40303265045" in page and "Business customer" in page


def test_an_invalid_vat_id_is_refused_at_its_field(user_client):
    response = user_client.post(reverse("invoices:contact-create"), contact_data(vat_id="DE123456789"))
    assert response.context["form"].errors["vat_id"] == [
        "DE123456789 is not a valid EU VAT ID (for example DE136695976)."]
    assert not Contact.objects.exists()


def test_a_form_without_a_country_means_germany(user_client):
    user_client.post(reverse("invoices:contact-create"), contact_data())
    assert Contact.objects.get().country == "DE"


def test_editing_keeps_the_address_through_the_service(user_client):
    contact = make_contact()
    user_client.post(reverse("invoices:contact-edit", args=[contact.pk]), contact_data(
        street="Hauptstr. 5", postal_code="80331", city="München", country="DE", vat_id="DE 136 695 976"))
    contact.refresh_from_db()
    assert (contact.city, contact.vat_id, contact.is_business) == ("München", "DE136695976", False)


def test_the_contact_page_says_when_reverse_charge_lacks_the_vat_id(user_client):
    from business.services import update_profile

    update_profile(reverse_charge=True)
    contact = make_contact(country="AT", is_business=True)
    page = user_client.get(reverse("invoices:contact-detail", args=[contact.pk])).content.decode()
    assert "reverse charge, which needs their VAT ID" in page
