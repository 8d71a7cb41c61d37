"""Recurring payments: creating, starting, canceling and the scheduled pass that issues one sent
invoice per period (month ends, leap years, missed runs, end dates, running twice)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from invoices import services, signals
from core.errors import DomainError
from invoices.models import Invoice, InvoiceSequence, RecurringPayment
from tests.base import make_contact, make_owner, make_plan
from tests.invoice_signals import failing_receiver, receiving

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def noon(day: dt.date) -> dt.datetime:
    """Midday in the business time zone: the pass's clock on `day`."""
    return dt.datetime.combine(day, dt.time(12), BERLIN)


def periods(plan: RecurringPayment) -> list[dt.date]:
    return list(Invoice.objects.filter(recurring=plan).order_by("period_start").values_list("period_start", flat=True))


def stored(plan: RecurringPayment) -> RecurringPayment:
    return RecurringPayment.objects.get(pk=plan.pk)


def run_pass_on(*days: dt.date) -> list[int]:
    return [services.issue_recurring_invoices(now=noon(day)) for day in days]


@pytest.fixture(autouse=True)
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


# --- create_recurring --------------------------------------------------------------------------


def test_create_recurring_makes_a_scheduled_plan_that_has_issued_nothing():
    contact = make_contact()
    owner = make_owner()
    with receiving() as received:
        plan = services.create_recurring(
            contact=contact, description="  Hosting  ", amount="49.90", start_date=dt.date(2026, 5, 1),
            interval="monthly", currency="usd", tax_rate="19", payment_terms_days=7, by=owner,
        )

    saved = stored(plan)
    assert (saved.status, saved.next_date, saved.periods_issued) == ("scheduled", None, 0)
    assert (saved.description, saved.amount, saved.currency, saved.tax_rate) == (
        "Hosting", Decimal("49.90"), "USD", Decimal("19"))
    assert (saved.payment_terms_days, saved.created_by, saved.contact) == (7, owner, contact)
    assert not Invoice.objects.exists()
    assert received.names == []


def test_create_recurring_uses_the_default_currency_and_payment_terms(settings):
    settings.DEFAULT_CURRENCY = "CHF"
    settings.DEFAULT_PAYMENT_TERMS_DAYS = 30
    plan = make_plan(start_date=dt.date(2026, 5, 1))
    assert (stored(plan).currency, stored(plan).payment_terms_days) == ("CHF", 30)


def test_create_recurring_refuses_an_end_date_before_the_start_date():
    with pytest.raises(DomainError) as exc:
        make_plan(start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 4, 30))
    assert str(exc.value) == "The end date cannot be before the start date."
    assert exc.value.field == "end_date"
    assert not RecurringPayment.objects.exists()


def test_create_recurring_accepts_an_end_date_on_the_start_date():
    plan = make_plan(start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 5, 1))
    assert stored(plan).end_date == dt.date(2026, 5, 1)


@pytest.mark.parametrize("currency", ["ABC", "EURO", "€"])
def test_create_recurring_refuses_an_unknown_currency(currency):
    with pytest.raises(DomainError, match="ISO 4217") as exc:
        make_plan(currency=currency)
    assert exc.value.field == "currency"
    assert not RecurringPayment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be greater than zero."),
        (Decimal("0.00"), "The amount must be greater than zero."),
        ("-50", "The amount must be greater than zero."),
        ("NaN", "NaN is not an amount."),
        ("49.999", "Amounts can have at most two decimal places."),
        ("fifty", "fifty is not an amount."),
    ],
)
def test_create_recurring_refuses_an_amount_that_is_not_a_positive_sum_of_money(amount, message):
    with pytest.raises(DomainError) as exc:
        make_plan(amount=amount)
    assert str(exc.value) == message
    assert not RecurringPayment.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"interval": "daily"},
        {"tax_rate": "-1"},
        {"tax_rate": "100.01"},
        {"tax_rate": "NaN"},
        {"payment_terms_days": -1},
        {"description": "   "},
    ],
    ids=repr,
)
def test_create_recurring_refuses_other_bad_fields(overrides):
    with pytest.raises(DomainError):
        make_plan(**overrides)
    assert not RecurringPayment.objects.exists()


def test_create_recurring_refuses_a_tax_rate_that_is_not_a_number():
    with pytest.raises(DomainError):
        make_plan(tax_rate="nineteen")


# --- start_recurring ---------------------------------------------------------------------------


def test_start_makes_the_plan_active_and_issues_the_first_invoice_as_sent():
    owner = make_owner()
    plan = make_plan(
        start_date=dt.date(2026, 5, 4), amount="50.00", tax_rate="19", currency="EUR", payment_terms_days=10,
        description="Support",
    )
    now = noon(dt.date(2026, 5, 4))
    with receiving() as received:
        returned = services.start_recurring(plan=plan, by=owner, now=now)

    saved = stored(plan)
    assert (saved.status, saved.started_at, saved.start_date) == ("active", now, dt.date(2026, 5, 4))
    assert (saved.periods_issued, saved.next_date) == (1, dt.date(2026, 6, 4))
    assert returned.status == "active"
    (invoice,) = Invoice.objects.filter(recurring=plan)
    assert invoice.status == Invoice.Status.SENT
    assert (invoice.contact, invoice.currency, invoice.period_start) == (plan.contact, "EUR", dt.date(2026, 5, 4))
    assert (invoice.issue_date, invoice.due_date, invoice.sent_at) == (dt.date(2026, 5, 4), dt.date(2026, 5, 14), now)
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal("50.00"), Decimal("9.50"), Decimal("59.50"))
    assert [item.description for item in invoice.items.all()] == ["Support"]

    assert received.names == ["recurring_started", "invoice_sent"]
    (started,) = received.kwargs("recurring_started")
    assert (started["sender"], started["plan"].pk, started["by"], started["now"]) == (RecurringPayment, plan.pk, owner, now)
    assert received.kwargs("invoice_sent")[0]["invoice"] == invoice


def test_starting_twice_is_refused_and_issues_nothing_more():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 5)))
    assert str(exc.value) == "The recurring payment cannot be started: it is Active."
    assert Invoice.objects.filter(recurring=plan).count() == 1
    assert stored(plan).started_at == noon(dt.date(2026, 5, 4))
    assert received.names == []


@pytest.mark.parametrize(("action", "label"), [("cancel", "Canceled"), ("end", "Ended")])
def test_starting_a_canceled_or_ended_plan_is_refused(action, label):
    plan = make_plan(start_date=dt.date(2026, 5, 4), end_date=dt.date(2026, 5, 4))
    if action == "cancel":
        services.cancel_recurring(plan=plan, now=noon(dt.date(2026, 5, 1)))
    else:
        run_pass_on(dt.date(2026, 5, 4))
        assert stored(plan).status == "ended"
    with pytest.raises(DomainError, match=f"cannot be started: it is {label}"):
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))


def test_starting_before_the_start_date_starts_it_today():
    plan = make_plan(start_date=dt.date(2026, 5, 20))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))
    saved = stored(plan)
    assert (saved.status, saved.start_date, saved.next_date) == ("active", dt.date(2026, 5, 4), dt.date(2026, 6, 4))
    assert periods(plan) == [dt.date(2026, 5, 4)]
    assert plan.start_date == dt.date(2026, 5, 4)  # the caller's object too


def test_start_takes_today_in_the_business_time_zone():
    plan = make_plan(start_date=dt.date(2026, 6, 1))
    # 22:30 UTC on May 31st is 00:30 on June 1st in Berlin (summer time).
    with time_machine.travel(dt.datetime(2026, 5, 31, 22, 30, tzinfo=UTC), tick=False):
        services.start_recurring(plan=plan)
    assert periods(plan) == [dt.date(2026, 6, 1)]
    assert Invoice.objects.get(recurring=plan).issue_date == dt.date(2026, 6, 1)


def test_start_is_rolled_back_when_the_first_invoice_cannot_be_announced():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    with failing_receiver(signals.invoice_sent), pytest.raises(RuntimeError):
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))
    saved = stored(plan)
    assert (saved.status, saved.started_at, saved.next_date, saved.periods_issued) == ("scheduled", None, None, 0)
    assert not Invoice.objects.exists()
    assert not InvoiceSequence.objects.filter(last_number__gt=0).exists()


def test_start_is_rolled_back_when_a_recurring_started_receiver_fails():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    with failing_receiver(signals.recurring_started), pytest.raises(RuntimeError):
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))
    assert stored(plan).status == "scheduled"
    assert not Invoice.objects.exists()


# --- cancel_recurring --------------------------------------------------------------------------


@pytest.mark.parametrize("started", [False, True], ids=["scheduled", "active"])
def test_cancel_stops_a_scheduled_or_active_plan_and_fires_recurring_canceled_once(started):
    owner = make_owner()
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    if started:
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))
    now = noon(dt.date(2026, 5, 10))
    with receiving() as received:
        returned = services.cancel_recurring(plan=plan, by=owner, now=now)

    saved = stored(plan)
    assert (saved.status, saved.canceled_at) == ("canceled", now)
    assert returned.status == "canceled"
    assert received.names == ["recurring_canceled"]
    (kwargs,) = received.kwargs("recurring_canceled")
    assert (kwargs["sender"], kwargs["plan"].pk, kwargs["by"], kwargs["now"]) == (RecurringPayment, plan.pk, owner, now)


def test_canceling_twice_is_refused():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    services.cancel_recurring(plan=plan, now=noon(dt.date(2026, 5, 1)))
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.cancel_recurring(plan=plan, now=noon(dt.date(2026, 5, 2)))
    assert str(exc.value) == "The recurring payment cannot be canceled: it is Canceled."
    assert stored(plan).canceled_at == noon(dt.date(2026, 5, 1))
    assert received.names == []


def test_canceling_an_ended_plan_is_refused():
    plan = make_plan(start_date=dt.date(2026, 5, 4), end_date=dt.date(2026, 5, 4))
    run_pass_on(dt.date(2026, 5, 4))
    with pytest.raises(DomainError, match="cannot be canceled: it is Ended"):
        services.cancel_recurring(plan=plan)
    assert stored(plan).status == "ended"


def test_a_canceled_plan_issues_no_more_invoices():
    plan = make_plan(start_date=dt.date(2026, 1, 15))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 1, 15)))
    services.cancel_recurring(plan=plan, now=noon(dt.date(2026, 2, 1)))
    with receiving() as received:
        assert run_pass_on(dt.date(2026, 2, 15), dt.date(2026, 6, 30)) == [0, 0]
    assert periods(plan) == [dt.date(2026, 1, 15)]
    assert received.names == []


def test_a_plan_canceled_before_it_started_is_never_started_by_the_pass():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    services.cancel_recurring(plan=plan, now=noon(dt.date(2026, 5, 1)))
    assert run_pass_on(dt.date(2026, 5, 4)) == [0]
    assert stored(plan).status == "canceled"
    assert not Invoice.objects.exists()


def test_cancel_is_rolled_back_when_a_receiver_fails():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))
    with failing_receiver(signals.recurring_canceled), pytest.raises(RuntimeError):
        services.cancel_recurring(plan=plan)
    saved = stored(plan)
    assert (saved.status, saved.canceled_at) == ("active", None)


# --- issue_recurring_invoices ------------------------------------------------------------------


@pytest.mark.parametrize(("year", "february_end"), [(2027, 28), (2028, 29)])
def test_a_monthly_plan_from_the_31st_bills_the_last_day_of_shorter_months_and_the_31st_again(year, february_end):
    plan = make_plan(start_date=dt.date(year, 1, 31), interval="monthly")
    feb_end = dt.date(year, 2, february_end)

    assert run_pass_on(dt.date(year, 1, 31)) == [1]
    assert run_pass_on(feb_end - dt.timedelta(days=1)) == [0]
    assert run_pass_on(feb_end) == [1]
    assert run_pass_on(dt.date(year, 3, 30)) == [0]
    assert run_pass_on(dt.date(year, 3, 31)) == [1]
    assert run_pass_on(dt.date(year, 4, 30)) == [1]

    expected = [dt.date(year, 1, 31), feb_end, dt.date(year, 3, 31), dt.date(year, 4, 30)]
    assert periods(plan) == expected
    issued = Invoice.objects.filter(recurring=plan).order_by("period_start")
    assert [inv.issue_date for inv in issued] == expected
    assert {inv.status for inv in issued} == {"sent"}
    assert stored(plan).next_date == dt.date(year, 5, 31)


def test_a_weekly_plan_bills_every_seven_days():
    plan = make_plan(start_date=dt.date(2026, 3, 2), interval="weekly")  # a Monday
    assert run_pass_on(dt.date(2026, 3, 2), dt.date(2026, 3, 8), dt.date(2026, 3, 9), dt.date(2026, 3, 16)) == [1, 0, 1, 1]
    assert periods(plan) == [dt.date(2026, 3, 2), dt.date(2026, 3, 9), dt.date(2026, 3, 16)]


def test_a_yearly_plan_from_february_29th_bills_february_28th_in_common_years():
    plan = make_plan(start_date=dt.date(2028, 2, 29), interval="yearly")
    assert run_pass_on(dt.date(2028, 2, 29), dt.date(2029, 2, 27), dt.date(2029, 2, 28), dt.date(2030, 2, 28)) == [1, 0, 1, 1]
    assert periods(plan) == [dt.date(2028, 2, 29), dt.date(2029, 2, 28), dt.date(2030, 2, 28)]
    assert stored(plan).next_date == dt.date(2031, 2, 28)


def test_a_yearly_plan_bills_once_a_year():
    plan = make_plan(start_date=dt.date(2026, 4, 1), interval="yearly")
    assert run_pass_on(dt.date(2026, 4, 1), dt.date(2026, 12, 31), dt.date(2027, 3, 31), dt.date(2027, 4, 1)) == [1, 0, 0, 1]
    assert periods(plan) == [dt.date(2026, 4, 1), dt.date(2027, 4, 1)]


def test_a_late_pass_issues_every_missed_period_once():
    plan = make_plan(start_date=dt.date(2026, 1, 15))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 1, 15)))

    with receiving() as received:
        assert services.issue_recurring_invoices(now=noon(dt.date(2026, 4, 20))) == 3

    assert periods(plan) == [dt.date(2026, m, 15) for m in (1, 2, 3, 4)]
    late = Invoice.objects.filter(recurring=plan, period_start__gt=dt.date(2026, 1, 15))
    assert {inv.issue_date for inv in late} == {dt.date(2026, 4, 20)}
    assert len({inv.number for inv in late}) == 3
    assert sorted(kw["invoice"].period_start for kw in received.kwargs("invoice_sent")) == [
        dt.date(2026, 2, 15), dt.date(2026, 3, 15), dt.date(2026, 4, 15)]
    assert (stored(plan).periods_issued, stored(plan).next_date) == (4, dt.date(2026, 5, 15))


def test_running_the_pass_twice_issues_nothing_new():
    plan = make_plan(start_date=dt.date(2026, 1, 15))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 1, 15)))
    assert run_pass_on(dt.date(2026, 3, 15)) == [2]
    with receiving() as received:
        assert run_pass_on(dt.date(2026, 3, 15), dt.date(2026, 3, 16)) == [0, 0]
    assert received.names == []
    assert len(periods(plan)) == 3


def test_the_pass_starts_a_scheduled_plan_on_its_start_date():
    plan = make_plan(start_date=dt.date(2026, 5, 1))
    with receiving() as received:
        assert run_pass_on(dt.date(2026, 4, 30)) == [0]
    assert stored(plan).status == "scheduled"
    assert received.names == []

    now = noon(dt.date(2026, 5, 1))
    with receiving() as received:
        assert services.issue_recurring_invoices(now=now) == 1
    saved = stored(plan)
    assert (saved.status, saved.started_at, saved.start_date) == ("active", now, dt.date(2026, 5, 1))
    assert periods(plan) == [dt.date(2026, 5, 1)]
    assert received.names == ["recurring_started", "invoice_sent"]
    assert received.kwargs("recurring_started")[0]["by"] is None


def test_the_pass_starts_a_plan_at_midnight_in_the_business_time_zone():
    plan = make_plan(start_date=dt.date(2026, 5, 1))
    assert services.issue_recurring_invoices(now=dt.datetime(2026, 4, 30, 21, 59, tzinfo=UTC)) == 0
    assert stored(plan).status == "scheduled"
    # 22:00 UTC on April 30th is midnight on May 1st in Berlin (summer time).
    assert services.issue_recurring_invoices(now=dt.datetime(2026, 4, 30, 22, 0, tzinfo=UTC)) == 1
    assert stored(plan).status == "active"


def test_the_pass_uses_the_real_clock_when_no_now_is_given():
    plan = make_plan(start_date=dt.date(2026, 5, 1))
    with time_machine.travel(noon(dt.date(2026, 6, 1)), tick=False):
        assert services.issue_recurring_invoices() == 2
    assert periods(plan) == [dt.date(2026, 5, 1), dt.date(2026, 6, 1)]


def test_a_plan_whose_start_date_passed_unnoticed_is_started_with_all_its_periods():
    plan = make_plan(start_date=dt.date(2026, 1, 10))
    assert run_pass_on(dt.date(2026, 3, 20)) == [3]
    saved = stored(plan)
    assert (saved.status, saved.start_date) == ("active", dt.date(2026, 1, 10))
    assert periods(plan) == [dt.date(2026, 1, 10), dt.date(2026, 2, 10), dt.date(2026, 3, 10)]


def test_a_plan_with_an_end_date_ends_after_its_last_period_and_issues_nothing_more():
    plan = make_plan(start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 3, 15))
    with receiving() as received:
        results = run_pass_on(dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 3, 16),
                              dt.date(2026, 4, 1), dt.date(2026, 8, 1))
    assert results == [1, 1, 1, 0, 0, 0]
    assert periods(plan) == [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    saved = stored(plan)
    assert saved.status == "ended"
    assert saved.ended_at is not None
    assert received.names.count("recurring_ended") == 1
    (ended,) = received.kwargs("recurring_ended")
    assert (ended["sender"], ended["plan"].pk, ended["plan"].status) == (RecurringPayment, plan.pk, "ended")


def test_a_period_starting_on_the_end_date_is_still_billed():
    plan = make_plan(start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 3, 1))
    run_pass_on(dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert periods(plan) == [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    assert stored(plan).status == "ended"


def test_a_late_pass_bills_the_periods_up_to_the_end_date_and_ends_the_plan():
    plan = make_plan(start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 3, 31))
    with receiving() as received:
        assert run_pass_on(dt.date(2026, 9, 1)) == [3]
    assert periods(plan) == [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    assert stored(plan).status == "ended"
    assert received.names == ["recurring_started", *["invoice_sent"] * 3, "recurring_ended"]


def test_the_pass_leaves_future_scheduled_plans_alone():
    later = make_plan(start_date=dt.date(2026, 7, 1))
    now_due = make_plan(start_date=dt.date(2026, 6, 1))
    assert run_pass_on(dt.date(2026, 6, 1)) == [1]
    assert (stored(later).status, stored(now_due).status) == ("scheduled", "active")
    assert periods(later) == []


def test_the_pass_bills_each_plan_for_its_own_contact_and_amount():
    first = make_plan(start_date=dt.date(2026, 6, 1), amount="10.00")
    second = make_plan(start_date=dt.date(2026, 6, 1), amount="20.00", interval="weekly")
    assert run_pass_on(dt.date(2026, 6, 8)) == [3]
    assert [(inv.contact, inv.total) for inv in Invoice.objects.filter(recurring=first)] == [(first.contact, Decimal("10.00"))]
    assert [(inv.contact, inv.total) for inv in Invoice.objects.filter(recurring=second)] == [
        (second.contact, Decimal("20.00"))] * 2


def test_a_pass_reaches_every_plan_however_many_batches_it_takes():
    due = [make_plan(start_date=dt.date(2026, 4, 1)) for _ in range(5)]
    running = [make_plan(start_date=dt.date(2026, 3, 1)) for _ in range(3)]
    for plan in running:
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 3, 1)))

    assert services.issue_recurring_invoices(now=noon(dt.date(2026, 4, 1)), batch_size=2) == 5 + 3

    assert all(stored(plan).status == "active" and stored(plan).periods_issued == 1 for plan in due)
    assert all(stored(plan).periods_issued == 2 for plan in running)
