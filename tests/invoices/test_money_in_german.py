"""Amounts in the messages a person reads are in their language's format: "30,00 €" in German,
never "30.00 EUR" — from the services, the pages and the admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from core.errors import DomainError
from invoices import services
from invoices.models import Payment
from tests.base import make_invoice, make_owner

pytestmark = pytest.mark.django_db

THIRTY = [{"description": "Beratung", "quantity": "1", "unit_price": "30.00", "tax_rate": "0"}]


def test_an_overpayment_refused_by_the_service_names_the_amounts_in_german():
    invoice = make_invoice(status="sent", items=THIRTY)
    with translation.override("de"), pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount="1234.50")
    assert exc.value.message == (f"1.234,50\xa0€ ist mehr als die 30,00\xa0€, die auf Rechnung {invoice.number} "
                                 f"noch offen sind.")
    assert "EUR" not in exc.value.message and "30.00" not in exc.value.message


def test_voiding_a_partly_paid_invoice_is_refused_with_the_paid_amount_in_german():
    invoice = make_invoice(status="sent", items=THIRTY)
    services.record_payment(invoice=invoice, amount="10")
    with translation.override("de"), pytest.raises(DomainError) as exc:
        services.void_invoice(invoice=invoice)
    assert "10,00\xa0€" in exc.value.message and "EUR" not in exc.value.message


def test_the_payment_page_and_the_admin_say_it_in_german_too(client):
    invoice = make_invoice(status="sent", items=THIRTY)
    client.force_login(make_owner())
    today = dt.date.today().isoformat()
    page = client.post(reverse("invoices:invoice-payment", args=[invoice.pk]),
                       {"amount": "31", "date": today, "method": "bank_transfer", "reference": ""},
                       HTTP_ACCEPT_LANGUAGE="de")
    assert "31,00\xa0€ ist mehr als die 30,00\xa0€, die auf Rechnung" in page.context["form"].errors["amount"][0]
    admin = client.post(reverse("admin:invoices_payment_add"),
                        {"invoice": invoice.pk, "amount": "31", "date": today, "method": "bank_transfer",
                         "reference": ""}, HTTP_ACCEPT_LANGUAGE="de")
    assert "31,00\xa0€ ist mehr als die noch offenen 30,00\xa0€." in admin.content.decode()
    assert not Payment.objects.exists()


def test_in_english_the_amounts_are_formatted_the_english_way():
    invoice = make_invoice(status="sent", items=THIRTY)
    with pytest.raises(DomainError, match=r"€31\.00 is more than the €30\.00 still due"):
        services.record_payment(invoice=invoice, amount=Decimal("31"))
