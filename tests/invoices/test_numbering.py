"""Invoice numbers: "YYYY-NNNN", sequential and gap-free per year of the issue date."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from invoices import services
from core.errors import DomainError
from invoices.models import Invoice, InvoiceSequence
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
LINE = {"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}


def new_invoice(issue_date: dt.date | None = None) -> Invoice:
    return services.create_invoice(contact=make_contact(), items=[LINE], issue_date=issue_date)


def test_invoices_of_one_year_are_numbered_one_after_the_other():
    numbers = [new_invoice(dt.date(2026, 3, day)).number for day in (1, 1, 2)]
    assert numbers == ["2026-0001", "2026-0002", "2026-0003"]
    assert sorted(Invoice.objects.values_list("number", flat=True)) == numbers


def test_a_new_year_starts_again_at_0001():
    assert new_invoice(dt.date(2026, 12, 31)).number == "2026-0001"
    assert new_invoice(dt.date(2026, 12, 31)).number == "2026-0002"
    assert new_invoice(dt.date(2027, 1, 1)).number == "2027-0001"
    assert new_invoice(dt.date(2027, 1, 2)).number == "2027-0002"


def test_the_issue_date_decides_the_year_not_the_day_the_invoice_is_written():
    with time_machine.travel(dt.datetime(2027, 1, 5, 10, 0, tzinfo=UTC), tick=False):
        assert new_invoice(dt.date(2027, 1, 5)).number == "2027-0001"
        # Written in January, dated in December: it belongs to last year's series.
        assert new_invoice(dt.date(2026, 12, 28)).number == "2026-0001"
        assert new_invoice(dt.date(2027, 1, 5)).number == "2027-0002"
        assert new_invoice(dt.date(2026, 12, 30)).number == "2026-0002"


def test_without_an_issue_date_the_year_is_the_one_in_the_business_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    # 23:30 UTC on New Year's Eve is already New Year's Day in Berlin.
    with time_machine.travel(dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC), tick=False):
        invoice = new_invoice()
    assert (invoice.issue_date, invoice.number) == (dt.date(2027, 1, 1), "2027-0001")


def test_the_number_is_stored_with_the_invoice():
    invoice = new_invoice(dt.date(2026, 5, 1))
    assert Invoice.objects.get(pk=invoice.pk).number == "2026-0001"
    assert str(invoice) == "2026-0001"


def test_reserving_five_numbers_gives_five_consecutive_ones_and_the_next_invoice_follows_them():
    new_invoice(dt.date(2026, 1, 10))
    assert services.reserve_invoice_numbers(year=2026, count=5) == [
        "2026-0002", "2026-0003", "2026-0004", "2026-0005", "2026-0006"]
    assert new_invoice(dt.date(2026, 1, 11)).number == "2026-0007"


def test_reserving_numbers_for_a_year_without_invoices_starts_it_at_0001():
    assert services.reserve_invoice_numbers(year=2030, count=3) == ["2030-0001", "2030-0002", "2030-0003"]
    assert services.reserve_invoice_numbers(year=2030) == ["2030-0004"]
    assert InvoiceSequence.objects.get(year=2030).last_number == 4


def test_reserving_numbers_for_one_year_leaves_the_other_years_alone():
    services.reserve_invoice_numbers(year=2026, count=5)
    assert new_invoice(dt.date(2027, 2, 1)).number == "2027-0001"
    assert new_invoice(dt.date(2025, 2, 1)).number == "2025-0001"


def test_a_refused_invoice_leaves_no_gap_in_the_numbers():
    assert new_invoice(dt.date(2026, 4, 1)).number == "2026-0001"
    with pytest.raises(DomainError):
        services.create_invoice(
            contact=make_contact(), issue_date=dt.date(2026, 4, 2),
            items=[LINE, {**LINE, "unit_price": "0"}],
        )
    with pytest.raises(DomainError):
        services.create_invoice(contact=make_contact(), issue_date=dt.date(2026, 4, 2), items=[LINE], currency="ABC")
    assert new_invoice(dt.date(2026, 4, 3)).number == "2026-0002"


def test_drafts_sent_paid_and_void_invoices_all_share_one_series():
    statuses = ["draft", "sent", "paid", "void"]
    numbers = [make_invoice(status=status, issue_date=dt.date(2026, 6, 1)).number for status in statuses]
    assert numbers == ["2026-0001", "2026-0002", "2026-0003", "2026-0004"]


def test_editing_a_draft_keeps_its_number():
    invoice = new_invoice(dt.date(2026, 6, 1))
    services.update_draft_invoice(invoice=invoice, notes="Changed", items=[{**LINE, "unit_price": "5.00"}])
    assert Invoice.objects.get(pk=invoice.pk).number == "2026-0001"
    assert new_invoice(dt.date(2026, 6, 2)).number == "2026-0002"
