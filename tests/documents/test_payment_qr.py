"""The EPC QR code ("GiroCode") on the invoice: a banking app scanning it fills in a SEPA transfer of
what is due, to the seller's IBAN, with the invoice number as the reference. Only for EUR, only
with an IBAN, only when something is due; never on a credit note."""

from __future__ import annotations

from decimal import Decimal

import pytest

from business import services as business
from documents import services
from documents.content import content_of
from documents.pdf import epc_payload, payment_qr
from invoices import services as invoices

from .support import credit_note_of, images, sent

pytestmark = pytest.mark.django_db


def test_the_payload_is_an_epc069_12_credit_transfer():
    payload = epc_payload(name="Analytical Engines GmbH", iban="DE89 3704 0044 0532 0130 00",
                          amount=Decimal("473.6"), remittance="2026-0012", bic="COBADEFFXXX")
    assert payload.split("\n") == [
        "BCD",  # service tag
        "002",  # version (the BIC may be left out)
        "1",  # UTF-8
        "SCT",  # SEPA credit transfer
        "COBADEFFXXX",
        "Analytical Engines GmbH",
        "DE89370400440532013000",
        "EUR473.60",
        "",  # purpose code
        "",  # structured reference
        "2026-0012",  # unstructured remittance information
    ]


def test_the_payload_keeps_to_the_limits_of_the_standard():
    payload = epc_payload(name="N" * 100, iban="DE89370400440532013000", amount=Decimal("1"),
                          remittance="R" * 200 + "\nline")
    lines = payload.split("\n")
    assert lines[4] == ""  # no BIC
    assert lines[5] == "N" * 70
    assert lines[10] == "R" * 140
    assert len(lines) == 11  # a line break in a text cannot add a line
    for amount in (Decimal("0"), Decimal("0.001"), Decimal("1000000000")):
        with pytest.raises(ValueError):
            epc_payload(name="X", iban="DE89370400440532013000", amount=amount, remittance="1")


def test_the_invoice_asks_for_what_is_due():
    invoice = sent()
    invoices.record_payment(invoice=invoice, amount="73.60")
    content = content_of(invoice)
    assert content.balance == Decimal("400.00")
    assert payment_qr(content).startswith("data:image/png;base64,")
    assert images(services.invoice_pdf(invoice)) == 1


@pytest.mark.parametrize("case", ["other currency", "no IBAN", "paid", "credit note"])
def test_no_qr_code_where_a_transfer_in_euros_is_not_asked_for(case):
    if case == "other currency":
        invoice = sent(currency="CHF")
    elif case == "no IBAN":
        business.update_profile(iban="", bic="")
        invoice = sent()
    elif case == "paid":
        invoice = sent()
        invoices.record_payment(invoice=invoice, amount=invoice.total)
    else:
        invoice = credit_note_of(sent())
    invoice.refresh_from_db()
    assert payment_qr(content_of(invoice)) == ""
    assert images(services.invoice_pdf(invoice)) == 0


def test_an_amount_due_beyond_what_a_qr_code_can_ask_for_prints_the_invoice_without_one():
    # EPC069-12 allows at most 999,999,999.99 EUR; the invoice can be larger (unit prices up to 12 digits).
    invoice = sent(items=[{"description": "Power plant", "quantity": "1", "unit_price": "1000000000.00",
                           "tax_rate": "19"}])
    assert payment_qr(content_of(invoice)) == ""
    assert services.invoice_pdf(invoice).startswith(b"%PDF")
