"""§ 288 BGB default interest, day by day: base rate + 5 points (consumers) or + 9 (businesses),
split where the base rate changes or a payment lowers the balance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from invoices.interest import interest_periods

RATES = [(dt.date(2025, 1, 1), Decimal("2.27")), (dt.date(2025, 7, 1), Decimal("1.27"))]


def test_a_consumer_owes_base_rate_plus_five_points_for_the_days_in_default():
    periods = interest_periods(total=Decimal("1000.00"), payments=[], start=dt.date(2025, 8, 1),
                               end=dt.date(2025, 8, 31), base_rates=RATES, business=False)
    (period,) = periods
    assert (period.days, period.rate, period.balance) == (31, Decimal("6.27"), Decimal("1000.00"))
    # 1000 × 6.27 % × 31 / 365 = 5.325…
    assert period.amount == Decimal("5.33")


def test_a_business_customer_owes_nine_points_and_the_period_splits_at_a_base_rate_change():
    periods = interest_periods(total=Decimal("10000.00"), payments=[], start=dt.date(2025, 6, 16),
                               end=dt.date(2025, 7, 15), base_rates=RATES, business=True)
    assert [(p.start, p.end, p.rate) for p in periods] == [
        (dt.date(2025, 6, 16), dt.date(2025, 6, 30), Decimal("11.27")),
        (dt.date(2025, 7, 1), dt.date(2025, 7, 15), Decimal("10.27")),
    ]
    assert [p.amount for p in periods] == [Decimal("46.32"), Decimal("42.21")]


def test_a_partial_payment_lowers_the_balance_from_its_day_and_a_full_one_ends_the_interest():
    periods = interest_periods(
        total=Decimal("1000.00"), payments=[(dt.date(2025, 8, 11), Decimal("600.00")), (dt.date(2025, 8, 21), Decimal("400.00"))],
        start=dt.date(2025, 8, 1), end=dt.date(2025, 8, 31), base_rates=RATES, business=False)
    assert [(p.start, p.end, p.balance) for p in periods] == [
        (dt.date(2025, 8, 1), dt.date(2025, 8, 10), Decimal("1000.00")),
        (dt.date(2025, 8, 11), dt.date(2025, 8, 20), Decimal("400.00")),
    ]


def test_no_days_no_interest():
    assert interest_periods(total=Decimal("100"), payments=[], start=dt.date(2025, 8, 2), end=dt.date(2025, 8, 1),
                            base_rates=RATES, business=False) == []


# --- Charging them: an invoice of its own, once per charge ---------------------------------------

import pytest  # noqa: E402

from core.errors import DomainError  # noqa: E402
from invoices import services  # noqa: E402
from invoices.models import Invoice  # noqa: E402
from tests.base import make_contact, make_invoice  # noqa: E402


@pytest.fixture
def overdue():
    contact = make_contact(is_business=False, language="de")
    invoice = make_invoice(contact=contact, status="sent", issue_date=dt.date(2025, 7, 1), due_date=dt.date(2025, 7, 15),
                           items=[{"description": "Design", "quantity": "1", "unit_price": "1000.00", "tax_rate": "0"}])
    return invoice


@pytest.mark.django_db
def test_a_reminder_fee_is_an_invoice_of_its_own_and_charged_once_per_level(overdue):
    fee = services.charge_reminder_fee(invoice=overdue, amount="5.00", key="level-1")
    again = services.charge_reminder_fee(invoice=overdue, amount="5.00", key="level-1")

    assert again.pk == fee.pk and Invoice.objects.filter(fee_for=overdue).count() == 1
    assert (fee.status, fee.total, fee.fee_for_id) == ("sent", Decimal("5.00"), overdue.pk)
    assert fee.items.get().description == f"Mahngebühr zu Rechnung {overdue.number}"
    overdue.refresh_from_db()
    assert overdue.total == Decimal("1000.00")  # the overdue invoice itself never changes
    assert services.charge_reminder_fee(invoice=overdue, amount="5.00", key="level-2").pk != fee.pk


@pytest.mark.django_db
def test_default_interest_runs_from_the_day_after_the_due_date_and_is_not_charged_twice(overdue):
    first = services.charge_default_interest(invoice=overdue, key="level-1", until=dt.date(2025, 8, 14))
    # 15 July + 1 … 14 August: 30 days at 1.27 + 5 points on 1,000.00 → 5.15
    assert first.total == Decimal("5.15")
    assert (first.service_date, first.service_end) == (dt.date(2025, 7, 16), dt.date(2025, 8, 14))
    second = services.charge_default_interest(invoice=overdue, key="level-2", until=dt.date(2025, 9, 13))
    assert second.service_date == dt.date(2025, 8, 15)  # continues where the first one ended
    assert services.charge_default_interest(invoice=overdue, key="level-2", until=dt.date(2025, 9, 13)).pk == second.pk


@pytest.mark.django_db
def test_a_business_customer_pays_nine_points_and_the_flat_fee_once():
    contact = make_contact(is_business=True)
    invoice = make_invoice(contact=contact, status="sent", issue_date=dt.date(2025, 7, 1), due_date=dt.date(2025, 7, 15),
                           items=[{"description": "Design", "quantity": "1", "unit_price": "1000.00", "tax_rate": "0"}])
    first = services.charge_default_interest(invoice=invoice, key="level-1", until=dt.date(2025, 8, 14))
    descriptions = list(first.items.values_list("description", flat=True))
    assert any("10.27" in text for text in descriptions)
    assert first.total == Decimal("8.44") + Decimal("40.00")  # 1000 × 10.27 % × 30 / 365 = 8.44
    second = services.charge_default_interest(invoice=invoice, key="level-2", until=dt.date(2025, 9, 13))
    assert second.total == Decimal("8.44")  # no second flat fee


@pytest.mark.django_db
def test_nothing_to_charge_once_it_is_paid(overdue):
    services.record_payment(invoice=overdue, amount="1000.00", date=dt.date(2025, 7, 15))
    assert services.charge_default_interest(invoice=overdue, key="level-1", until=dt.date(2025, 8, 14)) is None
    with pytest.raises(DomainError):
        services.charge_reminder_fee(invoice=overdue, amount="0", key="level-1")
