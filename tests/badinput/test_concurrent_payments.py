"""Two people record payments on the same invoice at the same moment, through the payment page,
and together they would overpay it: one is recorded, the other is refused with a message that says
how much is still due — never a 500, never an overpaid invoice. Real threads with their own
database connections on PostgreSQL (the barrier and the slow receiver of
tests/invoices/test_concurrency.py make them really overlap)."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.test import Client

from invoices import signals
from invoices.models import Invoice, Payment
from tests.base import make_invoice, make_owner
from tests.invoices.test_concurrency import receiving, run_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]


def post_payments(invoice: Invoice, amounts: list[str]) -> list[tuple[int, str]]:
    owner = make_owner()
    clients = []
    for _amount in amounts:
        client = Client()
        client.force_login(owner)
        clients.append(client)

    def pay(i: int) -> tuple[int, str]:
        response = clients[i].post(f"/invoices/{invoice.pk}/payment/", {
            "amount": amounts[i], "date": invoice.issue_date.isoformat(), "method": "bank_transfer",
            "reference": f"transfer {i}", "nonce": f"form-{i}"}, follow=True)
        return response.status_code, html.unescape(response.content.decode())

    with receiving(signals.payment_recorded, signals.invoice_paid):
        outcomes = run_at_once(len(amounts), pay)
    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes
    return outcomes


def test_two_partial_payments_that_together_overpay_record_one_and_refuse_the_other_at_the_amount():
    invoice = make_invoice(status="sent")  # 119.00 EUR due
    outcomes = post_payments(invoice, ["70.00", "70.00"])

    assert [status for status, _page in outcomes] == [200, 200]
    pages = [page for _status, page in outcomes]
    recorded = [p for p in pages if f"Payment of €70.00 recorded on invoice {invoice.number}." in p]
    refused = [p for p in pages if f"€70.00 is more than the €49.00 still due on invoice {invoice.number}." in p]
    assert (len(recorded), len(refused)) == (1, 1)
    assert "Traceback" not in refused[0]
    saved = Invoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.amount_paid) == ("sent", Decimal("70.00"))
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_two_full_payments_at_once_pay_the_invoice_once_and_say_so_to_the_other():
    invoice = make_invoice(status="sent")
    outcomes = post_payments(invoice, ["119.00", "119.00"])

    pages = [page for _status, page in outcomes]
    assert sum(f"Payment of €119.00 recorded on invoice {invoice.number}." in p for p in pages) == 1
    assert sum(f"Invoice {invoice.number} cannot be paid: it is Paid." in p for p in pages) == 1
    saved = Invoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.amount_paid) == ("paid", saved.total)
    assert Payment.objects.filter(invoice=invoice).count() == 1
