"""A sent invoice is an immutable document: rendered once, stored in the database, the same bytes
every time after; a change of the business profile does not reach it. What is paid is the one
thing that changes on it: a payment gives a new document (the first one stays as it was sent). A
draft is rendered anew each time and never stored."""

from __future__ import annotations

import threading
from unittest import mock

import pytest

from business import services as business
from documents import services
from documents.models import StoredDocument
from invoices import services as invoices
from tests import threads
from tests.base import make_invoice

from .support import credit_note_of, pdf_text, sent

RENDER = "documents.services.render_pdf"


@pytest.mark.django_db
def test_a_sent_invoice_is_rendered_once_and_then_served_as_stored():
    invoice = sent()
    with mock.patch(RENDER, wraps=services.render_pdf) as render:
        first = services.invoice_files(invoice)
        again = services.invoice_files(invoice)
        pdf = services.invoice_pdf(invoice)
        xml = services.invoice_xml(invoice, flavour="factur-x")
    assert render.call_count == 1
    assert first == again
    assert pdf == first[0][1]
    stored = StoredDocument.objects.get(invoice=invoice)
    assert bytes(stored.pdf) == pdf and bytes(stored.xml_facturx) == xml
    assert bytes(stored.xml_xrechnung) == first[1][1]


@pytest.mark.django_db
def test_a_changed_business_profile_does_not_change_a_sent_invoice():
    invoice = sent()
    before = pdf_text(services.invoice_pdf(invoice))
    business.update_profile(legal_name="Neuer Name AG", street="Andere Straße 9", iban="DE02120300000000202051",
                            bic="BYLADEM1001", vat_id="DE811907980", tax_number="", invoice_footer="Neu!")
    StoredDocument.objects.all().delete()  # even rendered again, it is the invoice as it was sent
    again = pdf_text(services.invoice_pdf(invoice))
    assert again == before
    assert "Analytical Engines GmbH" in again and "Neuer Name AG" not in again
    # A payment renders a new document: still the seller as it was.
    invoices.record_payment(invoice=invoice, amount="10.00")
    paid = pdf_text(services.invoice_pdf(invoice))
    assert "Bereits bezahlt 10,00 €" in paid
    for old in ("Analytical Engines GmbH", "Hauptstraße 1", "DE136695976", "DE89 3704 0044 0532 0130 00"):
        assert old in paid
    for new in ("Neuer Name AG", "Andere Straße 9", "DE811907980", "DE02", "Neu!"):
        assert new not in paid


@pytest.mark.django_db
def test_a_payment_gives_a_new_document_and_the_sent_one_stays():
    invoice = sent()
    as_sent = services.invoice_pdf(invoice)
    invoices.record_payment(invoice=invoice, amount="73.60")
    partly_paid = services.invoice_pdf(invoice)
    assert partly_paid != as_sent
    assert "Bereits bezahlt 73,60 €" in pdf_text(partly_paid) and "Bereits bezahlt" not in pdf_text(as_sent)
    documents = StoredDocument.objects.filter(invoice=invoice).order_by("amount_paid")
    assert [(str(d.amount_paid), bytes(d.pdf)) for d in documents] == [("0.00", as_sent), ("73.60", partly_paid)]
    assert services.invoice_pdf(invoice) == partly_paid


@pytest.mark.django_db
def test_a_credit_note_is_stored_like_an_invoice():
    credit_note = credit_note_of(sent())
    with mock.patch(RENDER, wraps=services.render_pdf) as render:
        assert services.invoice_pdf(credit_note) == services.invoice_pdf(credit_note)
    assert render.call_count == 1
    assert StoredDocument.objects.filter(invoice=credit_note).count() == 1


@pytest.mark.django_db
def test_a_draft_is_rendered_each_time_and_never_stored():
    draft = make_invoice(status="draft")
    with mock.patch(RENDER, wraps=services.render_pdf) as render:
        first = services.invoice_pdf(draft)
        invoices.update_draft_invoice(invoice=draft, notes="Geänderte Notiz")
        second = services.invoice_pdf(draft)
        services.invoice_xml(draft)
    assert render.call_count == 2
    assert "Geänderte Notiz" in pdf_text(second) and "Geänderte Notiz" not in pdf_text(first)
    assert not StoredDocument.objects.exists()
    with pytest.raises(ValueError, match="drafts are never stored"):
        services.stored_document(draft)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_only")
def test_two_workers_rendering_at_once_store_one_document():
    invoice = sent()
    both_rendered = threading.Barrier(2)
    real_render = services._render

    def render_side_by_side(content):
        result = real_render(content)
        both_rendered.wait(timeout=60)  # neither stores before both have rendered
        return result

    with mock.patch("documents.services._render", side_effect=render_side_by_side):
        one, other = threads.run_at_once(lambda: services.stored_document(invoice),
                                         lambda: services.stored_document(invoice))
    assert isinstance(one, StoredDocument) and isinstance(other, StoredDocument), (one, other)
    assert one.pk == other.pk
    assert bytes(one.pdf) == bytes(other.pdf)
    assert StoredDocument.objects.filter(invoice=invoice).count() == 1
    assert services.invoice_pdf(invoice) == bytes(one.pdf)
