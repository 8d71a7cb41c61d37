"""Dates of the books stay within 2000–2099, and a new plan starts at most a year back.

A year like 0026 (a typo for 2026) numbered an invoice "26-0001"; an issue date of 9999-12-31
without a due date crashed with OverflowError (the payment terms run past Python's calendar); and
a plan back-dated to 2001 issued and sent 1,352 weekly invoices in the one request that started it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from invoices import services
from core.dates import business_today
from core.errors import DomainError
from invoices.models import Invoice, RecurringPayment
from tests.base import make_contact, make_invoice, make_owner

pytestmark = pytest.mark.django_db

LINE = {"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}
MESSAGE = "Enter a date between 2000 and 2099."


@pytest.mark.parametrize("issue_date", [dt.date(9999, 12, 31), dt.date(26, 11, 26), dt.date(1999, 12, 31)])
def test_an_issue_date_outside_2000_to_2099_is_refused_at_the_issue_date(issue_date):
    with pytest.raises(DomainError) as exc:
        services.create_invoice(contact=make_contact(), items=[LINE], issue_date=issue_date)
    assert (exc.value.message, exc.value.field) == (MESSAGE, "issue_date")
    assert not Invoice.objects.exists()


def test_the_edges_of_the_range_are_accepted():
    contact = make_contact()
    services.create_invoice(contact=contact, items=[LINE], issue_date=dt.date(2000, 1, 1))
    services.create_invoice(contact=contact, items=[LINE], issue_date=dt.date(2099, 12, 1),
                            due_date=dt.date(2099, 12, 31))
    assert Invoice.objects.count() == 2


def test_a_draft_cannot_be_moved_out_of_the_range_nor_a_payment_dated_there():
    invoice = make_invoice()
    with pytest.raises(DomainError) as exc:
        services.update_draft_invoice(invoice=invoice, due_date=dt.date(9999, 12, 31))
    assert (exc.value.message, exc.value.field) == (MESSAGE, "due_date")
    services.send_invoice(invoice=invoice)
    with pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount="1", date=dt.date(1900, 1, 1))
    assert (exc.value.message, exc.value.field) == (MESSAGE, "date")
    assert not invoice.payments.exists()


def test_a_plan_started_years_ago_is_refused_on_the_page_before_it_sends_hundreds_of_invoices(client):
    client.force_login(make_owner())
    contact = make_contact()
    data = {"contact": contact.pk, "description": "Support", "amount": "50", "tax_rate": "0", "currency": "EUR",
            "interval": "weekly", "payment_terms_days": "14"}
    today = business_today()
    response = client.post("/invoices/recurring/new/", {**data, "start_date": (today - dt.timedelta(days=400)).isoformat()})
    assert response.status_code == 200
    assert response.context["form"].errors["start_date"] == [
        "The start date can be at most one year in the past: starting the plan issues an invoice for every "
        "period since then."]
    assert not RecurringPayment.objects.exists()
    response = client.post("/invoices/recurring/new/", {**data, "start_date": (today - dt.timedelta(days=300)).isoformat()})
    assert response.status_code == 302
    assert RecurringPayment.objects.count() == 1
