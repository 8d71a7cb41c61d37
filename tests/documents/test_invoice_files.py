"""What goes with the invoice email (`invoice_files`, which the delivery calls): always the PDF; the
XRechnung too for a business customer when the profile says so; named in the contact's language."""

from __future__ import annotations

import pytest

from business import services as business
from documents import services
from tests.base import make_contact, make_invoice

from .support import credit_note_of, sent

pytestmark = pytest.mark.django_db


def test_a_business_customer_gets_the_pdf_and_the_xrechnung():
    invoice = sent(language="de")
    files = services.invoice_files(invoice)
    assert [(name, kind) for name, _, kind in files] == [
        (f"Rechnung-{invoice.number}.pdf", "application/pdf"),
        (f"Rechnung-{invoice.number}-xrechnung.xml", "application/xml"),
    ]
    assert files[0][1].startswith(b"%PDF-")
    assert files[1][1] == services.invoice_xml(invoice, flavour="xrechnung")


def test_a_consumer_gets_the_pdf_only_named_in_english():
    invoice = make_invoice(contact=make_contact(language="en", is_business=False), status="sent")
    assert [name for name, _, _ in services.invoice_files(invoice)] == [f"Invoice-{invoice.number}.pdf"]


def test_no_xml_when_the_profile_says_so():
    business.update_profile(attach_xml=False)
    invoice = sent(language="en")
    assert [name for name, _, _ in services.invoice_files(invoice)] == [f"Invoice-{invoice.number}.pdf"]


def test_the_customer_is_a_business_as_the_invoice_was_sent():
    invoice = sent(language="de")
    invoice.contact.is_business = False
    invoice.contact.save()
    assert len(services.invoice_files(invoice)) == 2  # the buyer of the sent invoice was a business


def test_a_credit_note_is_named_as_one():
    credit_note = credit_note_of(sent(language="en"))
    assert [name for name, _, _ in services.invoice_files(credit_note)] == [
        f"Credit-note-{credit_note.number}.pdf", f"Credit-note-{credit_note.number}-xrechnung.xml"]
