"""Real concurrent transactions on PostgreSQL: threads, each with its own database connection,
released together by a barrier. SQLite serialises every writer, so these are skipped there.

A receiver that sleeps a little inside the service's transaction keeps each winner's locks held
longer, so the losers really arrive while the winner is still working."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.dispatch import Signal

from invoices import services, signals
from core.errors import DomainError
from invoices.models import Invoice, InvoiceSequence, Payment, RecurringPayment
from tests import threads
from tests.base import make_contact, make_invoice, make_plan
from tests.invoice_signals import as_sent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

BERLIN = ZoneInfo("Europe/Berlin")
LINE = {"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), BERLIN)


def run_at_once(count: int, work: Callable[[int], Any], *, timeout: float = 120) -> list[Any]:
    """Run `work(i)` in `count` threads released together; returns each result or exception."""
    return threads.run_at_once(*[partial(work, i) for i in range(count)], timeout=timeout)


def errors(outcomes: list[Any]) -> list[BaseException]:
    return [o for o in outcomes if isinstance(o, BaseException)]


def successes(outcomes: list[Any]) -> list[Any]:
    return [o for o in outcomes if not isinstance(o, BaseException)]


class Received:
    """Signal calls from every thread; `delay` seconds of sleep inside each sender's transaction."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.calls: list[tuple[Signal, dict[str, Any]]] = []

    def __call__(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        with self.lock:
            self.calls.append((signal, as_sent(kwargs)))
        time.sleep(self.delay)

    def kwargs(self, signal: Signal) -> list[dict[str, Any]]:
        with self.lock:
            return [kwargs for sent, kwargs in self.calls if sent is signal]


@contextmanager
def receiving(*watched: Signal, delay: float = 0.05) -> Iterator[Received]:
    received = Received(delay)
    for signal in watched:
        signal.connect(received, weak=False)
    try:
        yield received
    finally:
        for signal in watched:
            signal.disconnect(received)


# --- Numbering ---------------------------------------------------------------------------------


def test_twenty_invoices_created_at_once_get_twenty_distinct_gap_free_numbers():
    contacts = [make_contact() for _ in range(20)]

    outcomes = run_at_once(20, lambda i: services.create_invoice(
        contact=contacts[i], items=[LINE], issue_date=dt.date(2026, 6, 1)).number)

    assert errors(outcomes) == []
    assert sorted(outcomes) == [f"2026-{n:04d}" for n in range(1, 21)]
    assert sorted(Invoice.objects.values_list("number", flat=True)) == sorted(outcomes)
    assert InvoiceSequence.objects.get(year=2026).last_number == 20


def test_invoices_of_two_years_created_at_once_keep_two_gap_free_series():
    contacts = [make_contact() for _ in range(20)]

    outcomes = run_at_once(20, lambda i: services.create_invoice(
        contact=contacts[i], items=[LINE], issue_date=dt.date(2026 + i % 2, 1, 1)).number)

    assert errors(outcomes) == []
    assert sorted(n for n in outcomes if n.startswith("2026-")) == [f"2026-{n:04d}" for n in range(1, 11)]
    assert sorted(n for n in outcomes if n.startswith("2027-")) == [f"2027-{n:04d}" for n in range(1, 11)]


def test_numbers_reserved_in_blocks_at_once_never_overlap():
    outcomes = run_at_once(10, lambda i: services.reserve_invoice_numbers(year=2026, count=5))
    assert errors(outcomes) == []
    numbers = [number for block in outcomes for number in block]
    assert sorted(numbers) == [f"2026-{n:04d}" for n in range(1, 51)]
    for block in outcomes:  # each block is consecutive
        first = int(block[0].split("-")[1])
        assert block == [f"2026-{n:04d}" for n in range(first, first + 5)]


# --- Payments ----------------------------------------------------------------------------------


def test_two_full_payments_at_once_record_one_and_refuse_the_other():
    invoice = make_invoice(status="sent")

    with receiving(signals.invoice_paid, signals.payment_recorded) as received:
        outcomes = run_at_once(2, lambda i: services.record_payment(invoice=Invoice.objects.get(pk=invoice.pk),
                                                                    amount="119.00"))

    assert len(successes(outcomes)) == 1
    (refused,) = errors(outcomes)
    assert isinstance(refused, DomainError)
    assert str(refused) == f"Invoice {invoice.number} cannot be paid: it is Paid."
    saved = Invoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.amount_paid) == (Invoice.Status.PAID, saved.total)
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert len(received.kwargs(signals.invoice_paid)) == 1
    assert len(received.kwargs(signals.payment_recorded)) == 1


def test_ten_payments_of_ten_at_once_on_fifty_due_accept_exactly_five():
    invoice = make_invoice(status="sent", items=[{**LINE, "unit_price": "50.00", "tax_rate": "0"}])
    assert invoice.total == Decimal("50.00")

    with receiving(signals.invoice_paid, signals.payment_recorded, delay=0.01) as received:
        outcomes = run_at_once(10, lambda i: services.record_payment(invoice=Invoice.objects.get(pk=invoice.pk),
                                                                     amount="10.00"))

    assert len(successes(outcomes)) == 5
    refused = errors(outcomes)
    assert len(refused) == 5
    assert all(isinstance(exc, DomainError) for exc in refused), refused
    saved = Invoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.amount_paid, saved.balance) == (Invoice.Status.PAID, Decimal("50.00"), Decimal("0"))
    assert Payment.objects.filter(invoice=invoice).count() == 5
    assert len(received.kwargs(signals.payment_recorded)) == 5
    assert len(received.kwargs(signals.invoice_paid)) == 1


def test_a_void_and_a_payment_at_once_never_both_succeed():
    invoice = make_invoice(status="sent")

    def work(i: int) -> Any:
        fresh = Invoice.objects.get(pk=invoice.pk)
        if i == 0:
            return services.void_invoice(invoice=fresh)
        return services.record_payment(invoice=fresh, amount="10.00")

    with receiving(signals.invoice_voided, signals.payment_recorded):
        outcomes = run_at_once(2, work)

    assert len(successes(outcomes)) == 1
    assert all(isinstance(exc, DomainError) for exc in errors(outcomes))
    saved = Invoice.objects.get(pk=invoice.pk)
    if saved.status == Invoice.Status.VOID:
        assert saved.amount_paid == Decimal("0") and not Payment.objects.exists()
    else:
        assert (saved.status, saved.amount_paid, Payment.objects.count()) == ("sent", Decimal("10.00"), 1)


def test_two_sends_of_one_draft_at_once_send_it_once():
    invoice = make_invoice()
    with receiving(signals.invoice_sent) as received:
        outcomes = run_at_once(2, lambda i: services.send_invoice(invoice=Invoice.objects.get(pk=invoice.pk)))
    assert len(successes(outcomes)) == 1
    (refused,) = errors(outcomes)
    assert str(refused) == f"Invoice {invoice.number} cannot be sent: it is Sent."
    assert len(received.kwargs(signals.invoice_sent)) == 1


# --- Overdue scan ------------------------------------------------------------------------------


def make_due_sent_invoices(count: int) -> list[int]:
    contact = make_contact()
    numbers = services.reserve_invoice_numbers(year=2026, count=count)
    Invoice.objects.bulk_create(
        Invoice(number=number, contact=contact, status=Invoice.Status.SENT, issue_date=dt.date(2026, 3, 1),
                due_date=dt.date(2026, 3, 15), currency="EUR", subtotal=Decimal("100.00"),
                tax_total=Decimal("19.00"), total=Decimal("119.00"), sent_at=noon(dt.date(2026, 3, 1)))
        for number in numbers
    )
    return list(Invoice.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("batch_size", [5000, 25])
def test_two_overdue_scans_at_once_flip_and_announce_each_invoice_once(batch_size):
    ids = make_due_sent_invoices(200)

    with receiving(signals.invoices_overdue, delay=0.01) as received:
        outcomes = run_at_once(2, lambda i: services.mark_overdue(now=noon(dt.date(2026, 4, 1)), batch_size=batch_size))

    assert errors(outcomes) == []
    assert sum(outcomes) == 200
    announced = Counter(o.id for kwargs in received.kwargs(signals.invoices_overdue) for o in kwargs["invoices"])
    assert set(announced) == set(ids)
    assert set(announced.values()) == {1}
    assert Invoice.objects.filter(status=Invoice.Status.OVERDUE).count() == 200


def test_a_full_payment_racing_the_overdue_scan_leaves_the_invoice_paid():
    invoice = make_invoice(status="sent", issue_date=dt.date(2026, 3, 1), due_date=dt.date(2026, 3, 15))

    def work(i: int) -> Any:
        if i == 0:
            return services.mark_overdue(now=noon(dt.date(2026, 4, 1)))
        return services.record_payment(invoice=Invoice.objects.get(pk=invoice.pk), amount="119.00")

    with receiving(signals.invoices_overdue, signals.invoice_paid):
        outcomes = run_at_once(2, work)

    assert errors(outcomes) == []
    saved = Invoice.objects.get(pk=invoice.pk)
    assert (saved.status, saved.amount_paid) == (Invoice.Status.PAID, Decimal("119.00"))


# --- Recurring ---------------------------------------------------------------------------------


def periods(plan: RecurringPayment) -> list[dt.date]:
    return list(Invoice.objects.filter(recurring=plan).order_by("period_start").values_list("period_start", flat=True))


def test_two_recurring_passes_at_once_start_a_plan_once_and_issue_one_invoice_per_period():
    plan = make_plan(start_date=dt.date(2026, 1, 10))

    with receiving(signals.recurring_started, signals.invoice_sent, delay=0.02) as received:
        outcomes = run_at_once(2, lambda i: services.issue_recurring_invoices(now=noon(dt.date(2026, 4, 20))))

    assert errors(outcomes) == []
    assert sum(outcomes) == 4
    assert periods(plan) == [dt.date(2026, m, 10) for m in (1, 2, 3, 4)]
    assert len(received.kwargs(signals.recurring_started)) == 1
    assert sorted(kw["invoice"].period_start for kw in received.kwargs(signals.invoice_sent)) == periods(plan)
    saved = RecurringPayment.objects.get(pk=plan.pk)
    assert (saved.status, saved.periods_issued, saved.next_date) == ("active", 4, dt.date(2026, 5, 10))


def test_two_recurring_passes_at_once_over_missed_periods_of_active_plans_issue_each_once():
    plans = [make_plan(start_date=dt.date(2026, 1, 10)) for _ in range(3)]
    for plan in plans:
        services.start_recurring(plan=plan, now=noon(dt.date(2026, 1, 10)))

    with receiving(signals.invoice_sent, delay=0.02) as received:
        outcomes = run_at_once(2, lambda i: services.issue_recurring_invoices(now=noon(dt.date(2026, 6, 20))))

    assert errors(outcomes) == []
    assert sum(outcomes) == 3 * 5
    for plan in plans:
        assert periods(plan) == [dt.date(2026, m, 10) for m in range(1, 7)]
        # The plan's own count and next period agree, so next month's pass bills July, not later.
        saved = RecurringPayment.objects.get(pk=plan.pk)
        assert (saved.periods_issued, saved.next_date) == (6, dt.date(2026, 7, 10))
    assert len(received.kwargs(signals.invoice_sent)) == 15


def test_two_starts_of_one_plan_at_once_start_it_once():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    with receiving(signals.recurring_started, signals.invoice_sent) as received:
        outcomes = run_at_once(2, lambda i: services.start_recurring(
            plan=RecurringPayment.objects.get(pk=plan.pk), now=noon(dt.date(2026, 5, 4))))
    assert len(successes(outcomes)) == 1
    (refused,) = errors(outcomes)
    assert str(refused) == "The recurring payment cannot be started: it is Active."
    assert periods(plan) == [dt.date(2026, 5, 4)]
    assert len(received.kwargs(signals.recurring_started)) == 1
    assert len(received.kwargs(signals.invoice_sent)) == 1


def test_two_cancels_of_one_plan_at_once_cancel_it_once():
    plan = make_plan(start_date=dt.date(2026, 5, 4))
    services.start_recurring(plan=plan, now=noon(dt.date(2026, 5, 4)))

    with receiving(signals.recurring_canceled) as received:
        outcomes = run_at_once(2, lambda i: services.cancel_recurring(plan=RecurringPayment.objects.get(pk=plan.pk)))

    assert len(successes(outcomes)) == 1
    (refused,) = errors(outcomes)
    assert isinstance(refused, DomainError)
    assert str(refused) == "The recurring payment cannot be canceled: it is Canceled."
    assert RecurringPayment.objects.get(pk=plan.pk).status == "canceled"
    assert len(received.kwargs(signals.recurring_canceled)) == 1
