"""Two people on the review screen at the same moment, on PostgreSQL with real threads: a line is
recorded once, and two lines that together would overpay an invoice record one and refuse the
other with a message on its line — never a 500, never an overpaid invoice."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from banking import services
from invoices import signals
from invoices.models import Invoice, Payment
from tests.base import make_owner
from tests.invoices.test_concurrency import receiving, run_at_once

from .support import camt, credit, invoice_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]


def clients(count: int) -> list[Client]:
    owner = make_owner()
    signed_in = []
    for _n in range(count):
        client = Client()
        client.force_login(owner)
        signed_in.append(client)
    return signed_in


def confirm_at_once(line_ids: list[int]) -> list[tuple[int, str]]:
    browsers = clients(len(line_ids))

    def confirm(i: int) -> tuple[int, str]:
        response = browsers[i].post(reverse("banking:transaction-confirm", args=[line_ids[i]]), follow=True)
        return response.status_code, html.unescape(response.content.decode())

    with receiving(signals.payment_recorded, signals.invoice_paid):
        outcomes = run_at_once(len(line_ids), confirm)
    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes
    return outcomes


def test_two_people_confirming_the_same_line_at_once_record_one_payment():
    invoice = invoice_for("Ada Lovelace")  # 119.00
    statement = services.upload_statement(file_name="s.xml", format="camt053",
                                          content=camt(credit("119.00", f"RE {invoice.number}", ref="A1")))
    line = statement.transactions.get()

    outcomes = confirm_at_once([line.pk, line.pk])

    pages = [page for _status, page in outcomes]
    assert [status for status, _page in outcomes] == [200, 200]
    assert sum(f"Payment of €119.00 recorded on invoice {invoice.number}." in p for p in pages) == 1
    assert sum("This line is recorded already." in p for p in pages) == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1
    line.refresh_from_db()
    assert line.status == "confirmed" and line.payment == Payment.objects.get()


def test_two_lines_that_together_overpay_an_invoice_record_one_and_refuse_the_other_on_its_line():
    invoice = invoice_for("Ada Lovelace")  # 119.00
    statement = services.upload_statement(file_name="s.xml", format="camt053", content=camt(
        credit("70.00", f"RE {invoice.number} Teil 1", ref="B1") + credit("70.00", f"RE {invoice.number} Teil 2", ref="B2")))
    lines = list(statement.transactions.order_by("line"))
    assert [line.match_kind for line in lines] == ["partial", "partial"]

    outcomes = confirm_at_once([line.pk for line in lines])

    flashes = [" ".join(re.findall(r'role="alert">\s*([^<]*?)\s*<', page)) for _status, page in outcomes]
    refusal = f"€70.00 is more than the €49.00 still due on invoice {invoice.number}."
    assert sorted(flashes) == sorted([f"Payment of €70.00 recorded on invoice {invoice.number}.", refusal])
    saved = Invoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.amount_paid) == ("sent", Decimal("70.00"))
    assert sorted((line.status, line.error) for line in statement.transactions.all()) == [
        ("confirmed", ""), ("suggested", refusal)]
