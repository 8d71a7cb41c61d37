"""A partly paid invoice says so: a "Partly paid" badge beside its status in the list, on its page and
in the admin; the customer's page lists the payments and what is still to pay."""

from __future__ import annotations

import pytest
from django.urls import reverse

from invoices import services
from invoices.public import make_token
from tests.base import make_invoice

pytestmark = pytest.mark.django_db

BADGE = "badge-status-partly_paid"


def test_the_list_and_the_page_show_partly_paid(user_client):
    partly = make_invoice(status="sent")
    services.record_payment(invoice=partly, amount="19.00")
    unpaid = make_invoice(status="sent")
    listing = user_client.get(reverse("invoices:invoice-list")).content.decode()
    assert listing.count(BADGE) == 2  # the phone's column and the wide one, of one invoice
    assert ">Partly paid</span>" in listing
    page = user_client.get(reverse("invoices:invoice-detail", args=[partly.pk])).content.decode()
    assert BADGE in page and "badge-status-sent" in page
    assert BADGE not in user_client.get(reverse("invoices:invoice-detail", args=[unpaid.pk])).content.decode()


def test_a_paid_invoice_is_not_partly_paid(user_client):
    paid = make_invoice(status="paid")
    assert BADGE not in user_client.get(reverse("invoices:invoice-detail", args=[paid.pk])).content.decode()


def test_the_admin_shows_it_too(user_client):
    invoice = make_invoice(status="sent")
    services.record_payment(invoice=invoice, amount="1.00")
    assert "status-pill-info" in user_client.get(reverse("admin:invoices_invoice_changelist")).content.decode()


def test_the_customer_sees_the_payments_and_the_balance(client):
    invoice = make_invoice(status="sent")  # 119.00
    services.record_payment(invoice=invoice, amount="19.00", reference="internal note")
    page = client.get(reverse("invoice-public", args=[make_token(invoice)])).content.decode()
    assert "Partly paid" in page and "Payments received" in page
    assert "€19.00" in page and "Still to pay: €100.00" in page
    assert "internal note" not in page  # the team's reference stays with the team

    services.record_payment(invoice=invoice, amount="100.00")
    page = client.get(reverse("invoice-public", args=[make_token(invoice)], )).content.decode()
    assert "Paid in full. Thank you!" in page and "Partly paid" not in page


def test_the_german_customer_page(client):
    invoice = make_invoice(status="sent")
    services.record_payment(invoice=invoice, amount="19.00")
    page = client.get(reverse("invoice-public", args=[make_token(invoice)]), HTTP_ACCEPT_LANGUAGE="de")
    assert "Teilweise bezahlt" in page.content.decode()
