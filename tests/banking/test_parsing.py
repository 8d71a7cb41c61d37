"""Reading the banks' files: CAMT.053 of every version German banks send, and two banks' CSV
exports with their preambles, Latin-1 umlauts and decimal commas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from banking.parsing import parse_amount, parse_camt, parse_csv
from core.errors import DomainError

from .support import CAMT_MARCH, CAMT_OVERLAP, DB_MARCH, DB_OVERLAP, ING, camt, credit, deutsche_bank, ing, read

pytestmark = pytest.mark.django_db


def summary(parsed):
    return [(line.booking_date.isoformat(), str(line.amount), line.is_credit, line.payer_name, line.remittance)
            for line in parsed.lines]


def test_a_camt_statement_gives_each_booked_transaction_with_its_payer_and_text():
    parsed = parse_camt(read(CAMT_MARCH))

    assert (parsed.account_iban, parsed.period_start, parsed.period_end) == (
        "DE89370400440532013000", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert summary(parsed) == [
        ("2026-03-02", "119.00", True, "Müller & Söhne GmbH", "RE 2026-0001 Danke"),
        ("2026-03-03", "45.90", False, "Telekom Deutschland GmbH", "Rechnung 123456 Kundennr. 44001"),
        # The batch entry of 300.00 is its two transfers, each with its own payer and amount.
        ("2026-03-05", "119.00", True, "Jörg Weiß", "Rechnung 2026/0002"),
        ("2026-03-05", "181.00", True, "Babbage Engines Ltd", "20260003 Teilzahlung Rest folgt"),
        ("2026-03-20", "59.50", True, "LOVELACE, ADA", "Beratung Februar"),
        # The pending entry of 500.00 is not there: it comes again, booked, in the next statement.
    ]
    first, debit, batch_a, batch_b, no_reference = parsed.lines
    assert (first.bank_reference, first.end_to_end, first.payer_iban) == ("2026030200001", "RE2026-0001",
                                                                          "DE02120300000000202051")
    assert batch_a.bank_reference == batch_b.bank_reference == "2026030500003"
    assert batch_a.end_to_end == batch_b.end_to_end == ""  # NOTPROVIDED is no reference
    assert len({line.key for line in parsed.lines}) == 5
    assert no_reference.bank_reference == "" and no_reference.line > first.line


@pytest.mark.parametrize("version", ["02", "03", "04", "05", "06", "07", "08"])
def test_every_camt_053_version_from_02_to_08_is_read(version):
    parsed = parse_camt(camt(credit("10.00", "RE 2026-0001", ref="R1"), version=version))
    assert summary(parsed) == [("2026-03-10", "10.00", True, "Someone", "RE 2026-0001")]


def test_version_08_names_the_payer_under_pty_and_the_amount_per_transaction():
    parsed = parse_camt(read(CAMT_OVERLAP))
    assert [(line.payer_name, str(line.amount)) for line in parsed.lines] == [
        ("Müller & Söhne GmbH", "119.00"), ("LOVELACE, ADA", "59.50"), ("Grace Hopper", "100.00")]


def test_the_same_transaction_has_the_same_key_in_an_overlapping_statement_of_another_version():
    march = {line.remittance: line.key for line in parse_camt(read(CAMT_MARCH)).lines}
    overlap = {line.remittance: line.key for line in parse_camt(read(CAMT_OVERLAP)).lines}
    # By the bank's reference (AcctSvcrRef), and without one by what identifies the line.
    assert overlap["RE 2026-0001 Danke"] == march["RE 2026-0001 Danke"]
    assert overlap["Beratung Februar"] == march["Beratung Februar"]
    assert overlap["Invoice 2026-5, thanks"] not in march.values()


def test_a_deutsche_bank_csv_in_latin_1_with_preamble_and_balance_lines():
    parsed = parse_csv(read(DB_MARCH), deutsche_bank())

    assert parsed.account_iban == "DE89370400440532013000"  # from the preamble
    assert (parsed.period_start, parsed.period_end) == (dt.date(2026, 3, 2), dt.date(2026, 3, 20))
    assert summary(parsed) == [
        ("2026-03-02", "119.00", True, "Müller & Söhne GmbH", "RE 2026-0001 Danke"),
        ("2026-03-03", "45.90", False, "Telekom Deutschland GmbH", "Rechnung 123456 Kundennr. 44001"),
        ("2026-03-05", "119.00", True, "Jörg Weiß", "Rechnung 2026/0002"),
        ("2026-03-05", "181.00", True, "Babbage Engines Ltd", "20260003 Teilzahlung; Rest folgt"),
        ("2026-03-20", "59.50", True, "LOVELACE, ADA", "Beratung Februar"),
        ("2026-03-20", "59.50", True, "LOVELACE, ADA", "Beratung Februar"),
    ]
    assert [line.line for line in parsed.lines] == [6, 7, 8, 9, 10, 11]
    # Two identical transfers on one day stay two transactions.
    assert parsed.lines[-1].key != parsed.lines[-2].key


def test_identical_csv_lines_are_found_again_in_an_overlapping_export():
    march = [line.key for line in parse_csv(read(DB_MARCH), deutsche_bank()).lines]
    later = [line.key for line in parse_csv(read(DB_OVERLAP), deutsche_bank(name="Deutsche Bank 2")).lines]
    assert later[:2] == march[-2:]
    assert later[2] not in march


def test_an_ing_csv_in_utf_8_with_bom_a_long_preamble_and_a_column_by_number():
    parsed = parse_csv(read(ING), ing())
    assert parsed.account_iban == "DE89370400440532013000"
    assert summary(parsed) == [
        ("2026-04-07", "100.00", True, "Grace Hopper", "Invoice 2026-5, thanks"),
        ("2026-03-20", "59.50", True, "LOVELACE, ADA", "Beratung Februar"),
        ("2026-03-20", "59.50", True, "LOVELACE, ADA", "Beratung Februar"),
        ("2026-03-18", "1250.00", False, "Büroservice Köln", "Miete Büro März"),
    ]
    assert {line.currency for line in parsed.lines} == {"EUR"}


def test_the_header_row_can_be_named_instead_of_found():
    assert len(parse_csv(read(DB_MARCH), deutsche_bank(header_row=5)).lines) == 6
    with pytest.raises(DomainError, match="Line 4 has no column “Buchungstag”"):
        parse_csv(read(DB_MARCH), deutsche_bank(name="Wrong row", header_row=4))


def test_the_chosen_encoding_is_used():
    mapping = deutsche_bank(encoding="cp1252")
    assert parse_csv(read(DB_MARCH), mapping).lines[2].payer_name == "Jörg Weiß"


@pytest.mark.parametrize("text, comma, expected", [
    ("1.234,56", True, "1234.56"), ("-45,90", True, "-45.90"), ("12,50-", True, "-12.50"), ("+5,00 €", True, "5.00"),
    ("119", True, "119"), ("1,234.56", False, "1234.56"), ("-0.5", False, "-0.5"), ("1 234,56 EUR", True, "1234.56"),
])
def test_amounts_as_banks_write_them(text, comma, expected):
    assert parse_amount(text, decimal_comma=comma) == Decimal(expected)


@pytest.mark.parametrize("text", ["12,3x", "1,2,3", "", "12,345", "NaN", "1e5", "--5"])
def test_what_is_not_an_amount(text):
    assert parse_amount(text, decimal_comma=True) is None


@pytest.mark.parametrize("text, comma", [
    # The other convention's decimal mark is not a group separator: never a hundred times the amount.
    ("12.50", True), ("1.234.5", True), ("12.3456,00", True), ("12,50", False), ("1,2345.00", False),
])
def test_a_decimal_mark_of_the_other_convention_is_not_read_as_a_group_separator(text, comma):
    assert parse_amount(text, decimal_comma=comma) is None
