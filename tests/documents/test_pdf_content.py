"""The invoice PDF shows what § 14 UStG asks for, read back from the PDF as a customer's PDF reader
(pypdf's text extraction) would: both parties, the seller's tax number and VAT ID, number, dates,
service date or period, lines, net total, VAT per rate, total, paid and balance, due date, the
legal sentence of § 19 UStG or reverse charge, notes, footer, bank details; in the contact's
language."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from business import services as business
from documents import services
from invoices import services as invoices
from tests.base import make_invoice

from .support import credit_note_of, images, pdf_text, reader, sent

pytestmark = pytest.mark.django_db


def test_a_german_invoice_shows_everything_the_law_asks_for():
    business.update_profile(invoice_footer="Geschäftsführerin: Ada Lovelace · Amtsgericht Berlin HRB 12345")
    invoice = sent(language="de", notes="Vielen Dank für Ihren Auftrag.", issue_date=dt.date(2026, 3, 2),
                   due_date=dt.date(2026, 3, 16))
    text = pdf_text(services.invoice_pdf(invoice))
    for expected in [
        # The seller, its address, tax number and VAT ID.
        "Analytical Engines GmbH", "Hauptstraße 1", "10115 Berlin", "USt-IdNr.: DE136695976",
        "Steuernummer: 181/815/08155",
        # The buyer and its address.
        "Cobol GmbH", "Grace Hopper", "Lindenallee 7", "20095 Hamburg",
        # Number, dates, service date.
        f"Rechnung {invoice.number}", f"Rechnungsnummer {invoice.number}", "Rechnungsdatum 2. März 2026",
        "Leistungsdatum entspricht dem Rechnungsdatum", "Fällig am 16. März 2026",
        # Quantity, description, unit price and net per line.
        "1 Beratung 2,5 120,00 € 19 % 300,00 €", "2 Fachbuch 1 20,00 € 7 % 20,00 €",
        "3 Workshop 1 80,00 € 19 % 80,00 €",
        # Net total, VAT per rate with its base, total.
        "Summe netto 400,00 €", "USt. 19 % auf 380,00 € 72,20 €", "USt. 7 % auf 20,00 € 1,40 €",
        "Gesamtbetrag 473,60 €",
        # Payment: due amount and date, bank details.
        "Bitte überweisen Sie 473,60 € bis zum 16. März 2026", "IBAN DE89 3704 0044 0532 0130 00",
        "BIC COBADEFFXXX", "Kontoinhaber Analytical Engines GmbH",
        # Notes, footer.
        "Vielen Dank für Ihren Auftrag.", "Geschäftsführerin: Ada Lovelace · Amtsgericht Berlin HRB 12345",
    ]:
        assert expected in text, f"{expected!r} is not on the invoice:\n{text}"
    # A German customer of a German seller: no country line on the address.
    assert "DEUTSCHLAND" not in text
    assert "Entwurf" not in text and "Umsatzsteuer berechnet" not in text


def test_an_english_invoice_says_it_in_english():
    invoice = sent(language="en", contact={"country": "GB", "street": "12 St James's Square", "postal_code": "SW1Y 4LB",
                                           "city": "London"},
                   issue_date=dt.date(2026, 3, 2), due_date=dt.date(2026, 3, 16), service_date=dt.date(2026, 2, 27))
    text = pdf_text(services.invoice_pdf(invoice))
    for expected in [
        f"Invoice {invoice.number}", "Invoice date March 2, 2026", "Date of service Feb. 27, 2026",
        "Due date March 16, 2026", "Net total €400.00", "VAT 19 % on €380.00 €72.20", "VAT 7 % on €20.00 €1.40",
        "Total €473.60", "Please transfer €473.60 by March 16, 2026", "VAT ID: DE136695976",
        "Tax number: 181/815/08155", "SW1Y 4LB London", "UNITED KINGDOM",
    ]:
        assert expected in text, f"{expected!r} is not on the invoice:\n{text}"
    assert "Rechnung" not in text


def test_a_service_period_is_shown_as_a_period():
    invoice = sent(language="de", service_date=dt.date(2026, 2, 1), service_end=dt.date(2026, 2, 28),
                   issue_date=dt.date(2026, 3, 2))
    assert "Leistungszeitraum 1. Februar 2026 – 28. Februar 2026" in pdf_text(services.invoice_pdf(invoice))


@pytest.mark.parametrize(("language", "sentence", "vat_line"), [
    ("de", "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet.", "USt. "),
    ("en", "According to § 19 UStG (small business rule), no VAT is charged.", "VAT 0"),
])
def test_a_small_business_invoice_carries_the_sentence_of_section_19_and_no_vat(language, sentence, vat_line):
    invoice = sent(language=language, treatment="small_business")
    text = pdf_text(services.invoice_pdf(invoice))
    assert sentence in text
    assert vat_line not in text
    assert ("Gesamtbetrag 345,50 €" if language == "de" else "Total €345.50") in text


@pytest.mark.parametrize(("language", "sentence", "vat_id"), [
    ("de", "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).", "Ihre USt-IdNr. FR40303265045"),
    ("en", "Reverse charge: the recipient of the service is liable for the VAT.", "Your VAT ID FR40303265045"),
])
def test_a_reverse_charge_invoice_carries_the_sentence_and_both_vat_ids(language, sentence, vat_id):
    invoice = sent(language=language, treatment="reverse_charge")
    text = pdf_text(services.invoice_pdf(invoice))
    assert sentence in text
    assert vat_id in text
    assert "DE136695976" in text  # the seller's own VAT ID
    assert "FRANKREICH" in text if language == "de" else "FRANCE" in text


def test_a_partly_paid_invoice_shows_what_was_paid_and_the_balance():
    invoice = sent(language="de")
    invoices.record_payment(invoice=invoice, amount="73.60")
    text = pdf_text(services.invoice_pdf(invoice))
    assert "Gesamtbetrag 473,60 € Bereits bezahlt 73,60 € Offener Betrag 400,00 €" in text
    assert "Bitte überweisen Sie 400,00 €" in text


def test_a_paid_invoice_asks_for_nothing():
    invoice = sent(language="en")
    invoices.record_payment(invoice=invoice, amount=invoice.total)
    text = pdf_text(services.invoice_pdf(invoice))
    assert "Amount paid €473.60 Balance due €0.00" in text
    assert "Paid in full. Thank you!" in text
    assert "Please transfer" not in text


@pytest.mark.parametrize(("language", "title", "reference"), [
    ("de", "Stornorechnung", "Diese Stornorechnung storniert die Rechnung {number} vom 2. März 2026."),
    ("en", "Credit note", "This credit note cancels invoice {number} of March 2, 2026."),
])
def test_a_credit_note_names_the_invoice_it_cancels_and_asks_for_no_payment(language, title, reference):
    invoice = sent(language=language, issue_date=dt.date(2026, 3, 2), due_date=dt.date(2026, 3, 16))
    credit_note = credit_note_of(invoice)
    pdf = services.invoice_pdf(credit_note)
    text = pdf_text(pdf)
    assert f"{title} {credit_note.number}" in text
    assert reference.format(number=invoice.number) in text
    assert ("Gutschriftsbetrag 473,60 €" if language == "de" else "Credit total €473.60") in text
    for absent in ("Fällig am", "Due date", "überweisen", "transfer", "GiroCode"):
        assert absent not in text
    assert images(pdf) == 0  # no payment QR code


def test_a_draft_is_marked_as_a_draft():
    draft = make_invoice(status="draft")
    text = pdf_text(services.invoice_pdf(draft))
    assert f"Invoice {draft.number} (Draft)" in text
    assert "DRAFT" in text  # the watermark on every page


def test_the_logo_is_on_the_invoice():
    logo = io.BytesIO()
    Image.new("RGB", (120, 40), (30, 60, 200)).save(logo, format="PNG")
    business.set_logo(data=logo.getvalue())
    invoice = sent(language="de")
    assert images(services.invoice_pdf(invoice)) == 2  # the logo and the payment QR code


def test_a_long_invoice_runs_over_pages_with_the_footer_on_each():
    items = [{"description": f"Position {n}: Wartung", "quantity": "1", "unit_price": "10.00", "tax_rate": "19"}
             for n in range(1, 61)]
    invoice = sent(language="de", items=items)
    pdf = services.invoice_pdf(invoice)
    text = pdf_text(pdf)
    assert "Position 60: Wartung" in text and "Gesamtbetrag 714,00 €" in text
    pages = len(reader(pdf).pages)
    assert pages >= 2
    assert text.count("Steuernummer: 181/815/08155") == pages
    assert f"{pages} / {pages}" in text
