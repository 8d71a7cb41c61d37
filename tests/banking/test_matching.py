"""The matcher on its own: which open invoice a line pays, how sure it is, and why (no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from banking.matching import Matcher, OpenInvoice, match_lines, number_keys

DUE = dt.date(2026, 3, 6)


def invoice(pk: int, number: str, balance: str, *, contact: int | None = None, name: str = "Ada Lovelace",
            company: str = "", currency: str = "EUR") -> OpenInvoice:
    return OpenInvoice(id=pk, number=number, contact_id=contact or pk, contact_name=name, company=company,
                       balance=Decimal(balance), currency=currency, due_date=DUE + dt.timedelta(days=pk))


@dataclass
class Line:
    amount: Decimal
    remittance: str = ""
    payer_name: str = ""
    payer_iban: str = ""
    currency: str = "EUR"


def line(amount: str, text: str = "", **kw) -> Line:
    return Line(Decimal(amount), text, **kw)


TWELVE = invoice(12, "2026-0012", "119.00", name="Hans Müller", company="Müller & Söhne GmbH")
OTHERS = [invoice(13, "2026-0013", "238.00", name="Grace Hopper"), invoice(1, "2025-0012", "119.00", name="Old Customer")]


def match(item: Line, invoices=(TWELVE, *OTHERS), **kw):
    return match_lines([item], Matcher(invoices, **kw))[0]


@pytest.mark.parametrize("text", [
    "RE 2026-0012", "Rechnung 2026/0012", "20260012", "2026-12", "RE2026.0012 vielen Dank", "Re.-Nr. 2026 0012",
    "2026_0012", "Rechnungsnummer: 2026 / 12", "INV-2026-0012", "rg2026-012",
])
def test_each_tolerant_form_of_the_number_is_an_exact_match(text):
    result = match(line("119.00", text))
    assert (result.invoice_id, result.kind, result.confidence) == (12, "exact", 100)
    assert result.reason == "Invoice number 2026-0012 and the amount due (€119.00) match."


@pytest.mark.parametrize("text", ["Leistung vom 2026-12-01", "15.03.2026", "Kundennr. 120260012345", "2026", "IBAN DE02120300000000202051"])
def test_dates_and_other_numbers_name_no_invoice(text):
    assert (2026, 12) not in number_keys(text)


def test_a_lower_amount_with_the_number_is_a_partial_payment_shown_not_forced():
    result = match(line("50.00", "RE 2026-0012 Anzahlung"))
    assert (result.invoice_id, result.kind, result.confidence) == (12, "partial", 80)
    assert result.reason == "Partial payment: invoice 2026-0012 names it, €50.00 of the €119.00 due."


def test_a_higher_amount_with_the_number_is_an_overpayment_that_records_only_the_balance():
    result = match(line("150.00", "RE 2026-0012"))
    assert (result.invoice_id, result.kind, result.confidence) == (12, "over", 70)
    assert result.reason == ("Overpayment: invoice 2026-0012 names it, €150.00 is €31.00 more than the €119.00 due; "
                             "confirming records the €119.00 due.")


def test_without_a_number_the_amount_and_the_payers_name_are_a_probable_match():
    result = match(line("238.00", "Danke!", payer_name="HOPPER, GRACE"))
    assert (result.invoice_id, result.kind, result.confidence) == (13, "probable", 75)


def test_the_company_name_counts_and_legal_forms_are_ignored():
    result = match(line("119.00", "Danke", payer_name="Mueller und Soehne"), invoices=[TWELVE])
    assert (result.invoice_id, result.confidence) == (12, 60)  # similar, not equal
    result = match(line("119.00", "Danke", payer_name="MÜLLER & SÖHNE"), invoices=[TWELVE])
    assert (result.invoice_id, result.confidence) == (12, 75)


def test_an_iban_that_paid_the_contact_before_is_a_strong_match():
    result = match(line("238.00", "Danke", payer_iban="NL91ABNA0417164300"), known_ibans={"NL91ABNA0417164300": {13}})
    assert (result.invoice_id, result.kind, result.confidence) == (13, "probable", 85)
    assert "this IBAN paid Grace Hopper before" in result.reason


def test_the_payer_alone_lists_the_contacts_open_invoices_without_suggesting_one():
    result = match(line("10.00", "Danke", payer_iban="NL91ABNA0417164300"), known_ibans={"NL91ABNA0417164300": {13}})
    assert (result.invoice_id, result.confidence, result.candidates) == (None, 20, [13])


def test_the_amount_alone_is_listed_but_not_suggested():
    result = match(line("238.00", "Danke", payer_name="Somebody Else"))
    assert (result.invoice_id, result.kind, result.confidence, result.candidates) == (None, "", 35, [13])
    assert result.reason == "Only the amount (€238.00) matches 2026-0013 of Grace Hopper."


def test_two_candidates_the_best_is_suggested_and_the_other_listed():
    # Both 119.00: the payer's name picks 2026-0012; the other is offered as well.
    result = match(line("119.00", "Danke", payer_name="Hans Müller"))
    assert (result.invoice_id, result.confidence, result.candidates) == (12, 75, [1])


def test_two_equally_good_candidates_lower_the_confidence_and_say_so():
    same_contact = [invoice(12, "2026-0012", "119.00", contact=7), invoice(14, "2026-0014", "119.00", contact=7)]
    result = match(line("119.00", "Danke", payer_name="Ada Lovelace"), invoices=same_contact)
    assert (result.invoice_id, result.confidence, result.candidates) == (12, 60, [14])  # the one due first
    assert result.reason.endswith("1 other open invoices match as well.")


def test_two_numbers_the_exact_one_wins():
    result = match(line("238.00", "RE 2026-0012 und 2026-0013"))
    assert (result.invoice_id, result.kind, result.candidates) == (13, "exact", [12])


def test_a_number_of_a_paid_invoice_is_named_in_the_reason():
    result = match(line("119.00", "RE 2026-0099"), closed={(2026, 99): ("2026-0099", "paid")})
    assert result.invoice_id is None
    assert "It names invoice 2026-0099, which is paid." in result.reason


def test_a_number_in_another_currency_is_not_suggested():
    result = match(line("119.00", "RE 2026-0012", currency="USD"))
    assert result.invoice_id is None and result.confidence == 40


def test_two_lines_paying_the_same_invoice_in_full_only_the_first_stays_exact():
    results = match_lines([line("119.00", "RE 2026-0012"), line("119.00", "RE 2026-0012 again")], Matcher([TWELVE]))
    assert [(r.invoice_id, r.kind, r.confidence) for r in results] == [(12, "exact", 100), (12, "probable", 60)]
    assert results[1].reason.endswith("An earlier line of this statement pays the same invoice in full.")


def test_nothing_matches():
    result = match(line("7.77", "Spende"))
    assert (result.invoice_id, result.confidence, result.reason) == (
        None, 0, "No open invoice matches the number, amount or payer.")
