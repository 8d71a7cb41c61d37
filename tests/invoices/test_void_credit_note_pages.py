"""Voiding a sent invoice in the browser: the question explains the credit note (Stornorechnung), and
afterwards the invoice and its credit note link each other, each with the credit note's PDF."""

from __future__ import annotations

import pytest
from django.urls import reverse

from invoices.models import Invoice
from tests.base import make_invoice

pytestmark = pytest.mark.django_db


def test_the_question_explains_the_credit_note_of_a_sent_invoice(user_client):
    invoice = make_invoice(status="sent")
    page = user_client.get(reverse("invoices:invoice-void", args=[invoice.pk])).content.decode()
    assert "A credit note (Stornorechnung) is issued" in page
    assert "a credit note with a number of its own series (ST-…) is issued today" in page
    draft = make_invoice()
    page = user_client.get(reverse("invoices:invoice-void", args=[draft.pk])).content.decode()
    assert "no credit note is needed" in page and "Stornorechnung" not in page


def test_the_invoice_and_its_credit_note_link_each_other_with_the_pdf(user_client):
    invoice = make_invoice(status="sent")
    user_client.post(reverse("invoices:invoice-void", args=[invoice.pk]))
    credit_note = Invoice.objects.get(credit_for=invoice)
    assert credit_note.number.startswith("ST-")

    original = user_client.get(reverse("invoices:invoice-detail", args=[invoice.pk])).content.decode()
    assert f'credit note <a href="{reverse("invoices:invoice-detail", args=[credit_note.pk])}">{credit_note.number}</a>' in original
    assert reverse("documents:invoice-pdf", args=[credit_note.pk]) in original

    page = user_client.get(reverse("invoices:invoice-detail", args=[credit_note.pk])).content.decode()
    assert f"Credit note {credit_note.number}" in page
    assert f'cancels invoice <a href="{reverse("invoices:invoice-detail", args=[invoice.pk])}">{invoice.number}</a>' in page
    assert reverse("documents:invoice-pdf", args=[credit_note.pk]) in page
    pdf = user_client.get(reverse("documents:invoice-pdf", args=[credit_note.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
