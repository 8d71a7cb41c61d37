"""Amounts as people type them: German `12,50` and `1.234,56`, English `12.50` and `1,234.56` —
read on the server in the person's language, shown back in it, never 1,19 € turned into 119 €."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from core.forms import format_amount, parse_amount
from invoices.models import Invoice, Payment
from tests.base import make_contact, make_invoice

GERMAN = {
    "12,50": "12.50", "1.234,56": "1234.56", "1234,56": "1234.56", "1.234": "1234", "1.234.567,89": "1234567.89",
    "1,19": "1.19", "0,5": "0.5", ",5": "0.5", "19": "19", "12.50": "12.50", " 1.234,56 € ": "1234.56",
    "1\u00a0234,56": "1234.56", "-5": "-5",
}
ENGLISH = {"12.50": "12.50", "1,234.56": "1234.56", "1,234": "1234", "12,50": "12.50", "1.19": "1.19", "19": "19"}
NOT_NUMBERS = ["", "abc", "NaN", "Infinity", "1.23.4", "1,2,3", "12.345.6", "1.2345,6", "1,234.56,7", "--5", "1e5",
               "٣"]


@pytest.mark.parametrize(("text", "value"), GERMAN.items())
def test_german_amounts(text, value):
    with translation.override("de"):
        assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize(("text", "value"), ENGLISH.items())
def test_english_amounts(text, value):
    with translation.override("en"):
        assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", NOT_NUMBERS)
@pytest.mark.parametrize("language", ["de", "en"])
def test_what_is_no_number_is_none(language, text):
    with translation.override(language):
        assert parse_amount(text) is None


def test_amounts_are_shown_the_way_they_are_read_back():
    for language, expected in (("de", "1.234.567,50"), ("en", "1,234,567.50")):
        with translation.override(language):
            assert format_amount(Decimal("1234567.50")) == expected
            assert parse_amount(expected) == Decimal("1234567.50")
            assert format_amount(Decimal("19")) == "19"


def invoice_post(contact, price: str, **fields: str) -> dict[str, str]:
    today = dt.date.today()
    return {"contact": str(contact.pk), "issue_date": today.isoformat(),
            "due_date": (today + dt.timedelta(days=14)).isoformat(), "currency": "EUR", "notes": "",
            "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000", "items-0-description": "Beratung", "items-0-quantity": "1,5",
            "items-0-unit_price": price, "items-0-tax_rate": "19", **fields}


@pytest.mark.django_db
def test_a_german_invoice_line_of_1_234_56_is_1234_56(user_client):
    response = user_client.post(reverse("invoices:invoice-create"), invoice_post(make_contact(), "1.234,56"),
                                HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 302
    line = Invoice.objects.get().items.get()
    assert (line.quantity, line.unit_price) == (Decimal("1.5"), Decimal("1234.56"))
    edit = user_client.get(reverse("invoices:invoice-edit", args=[line.invoice_id]), HTTP_ACCEPT_LANGUAGE="de")
    html = edit.content.decode()
    assert 'value="1.234,56"' in html and 'value="1,5"' in html and 'inputmode="decimal"' in html
    assert 'type="number"' not in html


@pytest.mark.django_db
def test_a_german_payment_of_1_19_is_1_19_not_119(user_client):
    invoice = make_invoice(status="sent")  # 119,00 € due
    form = user_client.get(reverse("invoices:invoice-payment", args=[invoice.pk]), HTTP_ACCEPT_LANGUAGE="de")
    assert 'value="119,00"' in form.content.decode()  # the balance, prefilled the German way
    user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]),
                     {"amount": "1,19", "date": dt.date.today().isoformat(), "method": "bank_transfer"},
                     HTTP_ACCEPT_LANGUAGE="de")
    assert Payment.objects.get().amount == Decimal("1.19")


@pytest.mark.django_db
def test_a_german_amount_with_three_decimals_is_refused_with_the_message_in_german(user_client):
    invoice = make_invoice(status="sent")
    page = user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]),
                            {"amount": "1,195", "date": dt.date.today().isoformat(), "method": "bank_transfer"},
                            HTTP_ACCEPT_LANGUAGE="de")
    assert page.context["form"].errors["amount"] == ["Bitte sicherstellen, dass der Wert höchstens 2 Dezimalstellen enthält."]
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_recurring_amount_in_german(user_client):
    contact = make_contact()
    user_client.post(reverse("invoices:recurring-create"), {
        "contact": str(contact.pk), "description": "Wartung", "amount": "1.250,00", "tax_rate": "7,5",
        "currency": "EUR", "interval": "monthly", "start_date": dt.date.today().isoformat(), "end_date": "",
        "payment_terms_days": "14"}, HTTP_ACCEPT_LANGUAGE="de")
    plan = contact.recurring_payments.get()
    assert (plan.amount, plan.tax_rate) == (Decimal("1250.00"), Decimal("7.5"))
