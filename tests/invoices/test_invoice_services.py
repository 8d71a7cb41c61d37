"""Invoice state changes through `invoices.services`: every transition, every refused one, the
money arithmetic, the overdue scan at the business-time-zone edge, and the signals each change
sends inside its transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from invoices import services, signals
from core.errors import DomainError
from invoices.models import Invoice, LineItem, Payment
from tests.base import make_contact, make_invoice, make_owner
from tests.invoice_signals import failing_receiver, receiving

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
ISSUED = dt.date(2026, 3, 1)
DUE = dt.date(2026, 3, 15)


def line(price: str = "100.00", quantity: str = "1", tax_rate: str = "19", description: str = "Consulting") -> dict:
    return {"description": description, "quantity": quantity, "unit_price": price, "tax_rate": tax_rate}


def sent_invoice(**overrides: Any) -> Invoice:
    """A sent invoice of 119.00 (100.00 + 19% tax), issued 2026-03-01, due 2026-03-15."""
    overrides.setdefault("issue_date", ISSUED)
    overrides.setdefault("due_date", DUE)
    return make_invoice(status="sent", **overrides)


def overdue_invoice(**overrides: Any) -> Invoice:
    invoice = sent_invoice(**overrides)
    services.mark_overdue(now=dt.datetime.combine(invoice.due_date + dt.timedelta(days=1), dt.time(12), BERLIN))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OVERDUE
    return invoice


def stored(invoice: Invoice) -> Invoice:
    return Invoice.objects.get(pk=invoice.pk)


@pytest.fixture
def owner():
    return make_owner()


# --- create_invoice ---------------------------------------------------------------------------


def test_create_invoice_rounds_each_line_to_cents_before_adding_up_and_adds_tax_per_line():
    invoice = services.create_invoice(
        contact=make_contact(),
        issue_date=ISSUED,
        items=[
            line("19.99", quantity="3", tax_rate="19"),  # 59.97, tax 11.3943 -> 11.39
            line("0.99", quantity="1", tax_rate="7"),  # 0.99, tax 0.0693 -> 0.07
            line("10.05", quantity="1.5", tax_rate="0"),  # 15.075 -> 15.08 (half up)
        ],
    )

    saved = stored(invoice)
    assert (saved.subtotal, saved.tax_total, saved.total) == (Decimal("76.04"), Decimal("11.46"), Decimal("87.50"))
    assert saved.balance == Decimal("87.50")
    assert [item.net_amount for item in saved.items.all()] == [Decimal("59.97"), Decimal("0.99"), Decimal("15.08")]


def test_create_invoice_rounds_per_line_not_on_the_sum():
    # Three lines of half a cent each: rounded per line they are 0.03, rounded on the sum 0.02.
    invoice = services.create_invoice(
        contact=make_contact(), items=[line("0.01", quantity="0.5", tax_rate="0")] * 3
    )
    assert stored(invoice).subtotal == Decimal("0.03")

    # The same for tax: 10% of 0.05 is half a cent, a whole cent per line (0.02 on the sum).
    invoice = services.create_invoice(contact=make_contact(), items=[line("0.05", tax_rate="10")] * 3)
    saved = stored(invoice)
    assert (saved.subtotal, saved.tax_total, saved.total) == (Decimal("0.15"), Decimal("0.03"), Decimal("0.18"))


def test_create_invoice_makes_a_draft_with_its_lines_in_order_and_who_created_it(owner):
    contact = make_contact()
    invoice = services.create_invoice(
        contact=contact, issue_date=ISSUED, due_date=DUE, currency="EUR", notes="Thanks!", by=owner,
        items=[line("10.00", description="First"), line("20.00", description="Second")],
    )

    saved = stored(invoice)
    assert saved.status == Invoice.Status.DRAFT
    assert saved.number == "2026-0001"
    assert (saved.contact, saved.issue_date, saved.due_date, saved.notes) == (contact, ISSUED, DUE, "Thanks!")
    assert saved.created_by == owner
    assert [(item.position, item.description) for item in saved.items.all()] == [(0, "First"), (1, "Second")]
    assert saved.amount_paid == Decimal("0")
    assert saved.sent_at is None


def test_create_invoice_sends_no_signal():
    with receiving() as received:
        make_invoice()
    assert received.names == []


def test_create_invoice_due_date_defaults_to_the_payment_terms_after_the_issue_date(settings):
    settings.DEFAULT_PAYMENT_TERMS_DAYS = 30
    invoice = services.create_invoice(contact=make_contact(), items=[line()], issue_date=dt.date(2026, 3, 10))
    assert stored(invoice).due_date == dt.date(2026, 4, 9)


def test_create_invoice_issue_date_defaults_to_today_in_the_business_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.DEFAULT_PAYMENT_TERMS_DAYS = 14
    # 23:30 UTC on March 10th is already March 11th in Berlin.
    with time_machine.travel(dt.datetime(2026, 3, 10, 23, 30, tzinfo=UTC), tick=False):
        invoice = services.create_invoice(contact=make_contact(), items=[line()])
    saved = stored(invoice)
    assert saved.issue_date == dt.date(2026, 3, 11)
    assert saved.due_date == dt.date(2026, 3, 25)


def test_create_invoice_upper_cases_and_trims_the_currency():
    invoice = services.create_invoice(contact=make_contact(), items=[line()], currency=" usd ")
    assert stored(invoice).currency == "USD"


def test_create_invoice_uses_the_default_currency_when_none_is_given(settings):
    settings.DEFAULT_CURRENCY = "CHF"
    invoice = services.create_invoice(contact=make_contact(), items=[line()])
    assert stored(invoice).currency == "CHF"


@pytest.mark.parametrize("currency", ["ABC", "EURO", "€", "E1"])
def test_create_invoice_refuses_an_unknown_currency_and_saves_nothing(currency):
    with pytest.raises(DomainError) as exc:
        services.create_invoice(contact=make_contact(), items=[line()], currency=currency)
    assert "ISO 4217" in str(exc.value)
    assert exc.value.field == "currency"
    assert not Invoice.objects.exists()


def test_create_invoice_refuses_a_due_date_before_the_issue_date():
    with pytest.raises(DomainError, match="due date cannot be before the issue date") as exc:
        services.create_invoice(
            contact=make_contact(), items=[line()], issue_date=dt.date(2026, 3, 10), due_date=dt.date(2026, 3, 9)
        )
    assert exc.value.field == "due_date"
    assert not Invoice.objects.exists()


def test_create_invoice_accepts_a_due_date_on_the_issue_date():
    invoice = services.create_invoice(contact=make_contact(), items=[line()], issue_date=ISSUED, due_date=ISSUED)
    assert stored(invoice).due_date == ISSUED


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (line(quantity="0"), "Line 2:"),
        (line(quantity="-1"), "Line 2:"),
        (line(price="0"), "Line 2:"),
        (line(price="-10.00"), "Line 2:"),
        (line(price="10.001"), "Line 2:"),
        (line(price=""), "Line 2: quantity, price and tax rate must be numbers"),
        (line(price="ten"), "Line 2: quantity, price and tax rate must be numbers"),
        (line(quantity="NaN"), "Line 2:"),
        (line(price="Infinity"), "Line 2:"),
        (line(price="1e30"), "Line 2:"),
        (line(tax_rate="-1"), "Line 2:"),
        (line(tax_rate="100.01"), "Line 2:"),
        (line(description="   "), "Line 2:"),
    ],
)
def test_create_invoice_refuses_a_bad_line_naming_it_and_saves_nothing(bad_line, message):
    with pytest.raises(DomainError) as exc:
        services.create_invoice(contact=make_contact(), items=[line(), bad_line])
    assert str(exc.value).startswith(message)
    assert not Invoice.objects.exists()
    assert not LineItem.objects.exists()


def test_create_invoice_accepts_a_tax_rate_of_exactly_100_percent():
    invoice = services.create_invoice(contact=make_contact(), items=[line("10.00", tax_rate="100")])
    assert stored(invoice).total == Decimal("20.00")


def test_create_invoice_refuses_a_total_that_does_not_fit():
    with pytest.raises(DomainError, match="total is too large"):
        services.create_invoice(contact=make_contact(), items=[line("999999999999.99", quantity="999999999.999")])
    assert not Invoice.objects.exists()


def test_a_refused_invoice_uses_up_no_number():
    with pytest.raises(DomainError):
        services.create_invoice(contact=make_contact(), issue_date=ISSUED, items=[line(price="-1")])
    invoice = services.create_invoice(contact=make_contact(), issue_date=ISSUED, items=[line()])
    assert invoice.number == "2026-0001"


# --- update_draft_invoice / recalculate_invoice ------------------------------------------------


def test_update_draft_replaces_the_lines_and_recomputes_the_totals():
    invoice = make_invoice(issue_date=ISSUED, due_date=DUE)
    services.update_draft_invoice(
        invoice=invoice, items=[line("50.00", quantity="2", tax_rate="7"), line("5.00", tax_rate="0")]
    )

    saved = stored(invoice)
    assert [item.unit_price for item in saved.items.all()] == [Decimal("50.00"), Decimal("5.00")]
    assert (saved.subtotal, saved.tax_total, saved.total) == (Decimal("105.00"), Decimal("7.00"), Decimal("112.00"))
    # The caller's object shows the new totals too.
    assert invoice.total == Decimal("112.00")


def test_update_draft_changes_dates_notes_contact_and_upper_cases_the_currency():
    invoice = make_invoice(issue_date=ISSUED, due_date=DUE)
    other = make_contact()
    services.update_draft_invoice(
        invoice=invoice, contact=other, issue_date=dt.date(2026, 3, 2), due_date=dt.date(2026, 4, 1),
        currency="chf", notes="New terms",
    )

    saved = stored(invoice)
    assert (saved.contact, saved.issue_date, saved.due_date, saved.currency, saved.notes) == (
        other, dt.date(2026, 3, 2), dt.date(2026, 4, 1), "CHF", "New terms")
    # The lines are kept when none are given.
    assert saved.items.count() == 1
    assert saved.total == Decimal("119.00")


def test_a_draft_moved_into_another_year_never_keeps_a_number_of_the_old_year():
    invoice = make_invoice(issue_date=dt.date(2026, 12, 30), due_date=dt.date(2027, 1, 13))
    try:
        services.update_draft_invoice(invoice=invoice, issue_date=dt.date(2027, 1, 4))
    except DomainError:
        assert stored(invoice).issue_date == dt.date(2026, 12, 30)
    else:
        saved = stored(invoice)
        assert saved.number.startswith(f"{saved.issue_date.year}-")


def test_update_draft_refuses_a_due_date_before_the_issue_date_and_changes_nothing():
    invoice = make_invoice(issue_date=ISSUED, due_date=DUE)
    with pytest.raises(DomainError, match="due date cannot be before the issue date"):
        services.update_draft_invoice(invoice=invoice, due_date=dt.date(2026, 2, 1), items=[line("1.00")])
    saved = stored(invoice)
    assert saved.due_date == DUE
    assert [item.unit_price for item in saved.items.all()] == [Decimal("100.00")]


def test_update_draft_with_a_bad_line_keeps_the_old_lines():
    invoice = make_invoice()
    with pytest.raises(DomainError, match="Line 1:"):
        services.update_draft_invoice(invoice=invoice, items=[line(quantity="0")])
    saved = stored(invoice)
    assert [item.unit_price for item in saved.items.all()] == [Decimal("100.00")]
    assert saved.total == Decimal("119.00")


def test_update_draft_refuses_a_bad_currency():
    invoice = make_invoice(currency="EUR")
    with pytest.raises(DomainError, match="ISO 4217"):
        services.update_draft_invoice(invoice=invoice, currency="ABC")
    assert stored(invoice).currency == "EUR"


def test_update_draft_refuses_fields_it_cannot_change():
    invoice = make_invoice()
    with pytest.raises(TypeError, match="status"):
        services.update_draft_invoice(invoice=invoice, status="paid")
    assert stored(invoice).status == Invoice.Status.DRAFT


@pytest.mark.parametrize(("status", "label"), [("sent", "Sent"), ("paid", "Paid"), ("void", "Void")])
def test_update_refuses_an_invoice_that_is_no_longer_a_draft_naming_its_status(status, label):
    invoice = make_invoice(status=status, notes="Original")
    with pytest.raises(DomainError) as exc:
        services.update_draft_invoice(invoice=invoice, notes="Changed", items=[line("1.00")])
    assert str(exc.value) == f"Only a draft can be edited; invoice {invoice.number} is {label}."
    saved = stored(invoice)
    assert saved.notes == "Original"
    assert saved.total == Decimal("119.00")


def test_update_refuses_an_overdue_invoice():
    invoice = overdue_invoice()
    with pytest.raises(DomainError, match="is Overdue"):
        services.update_draft_invoice(invoice=invoice, notes="Changed")


def test_recalculate_stores_the_totals_of_lines_added_directly():
    invoice = make_invoice()
    LineItem.objects.create(invoice=invoice, description="Extra", quantity=Decimal("2"), unit_price=Decimal("5.00"))
    services.recalculate_invoice(invoice=invoice)
    saved = stored(invoice)
    assert (saved.subtotal, saved.tax_total, saved.total) == (Decimal("110.00"), Decimal("19.00"), Decimal("129.00"))
    assert invoice.total == Decimal("129.00")


def test_recalculate_refuses_a_sent_invoice():
    invoice = sent_invoice()
    with pytest.raises(DomainError, match="cannot change"):
        services.recalculate_invoice(invoice=invoice)


# --- send_invoice ------------------------------------------------------------------------------


def test_send_moves_a_draft_to_sent_and_fires_invoice_sent_once(owner):
    invoice = make_invoice(issue_date=ISSUED, due_date=DUE)
    with receiving() as received:
        returned = services.send_invoice(invoice=invoice, by=owner, now=NOW)

    saved = stored(invoice)
    assert saved.status == Invoice.Status.SENT
    assert saved.sent_at == NOW
    assert returned.status == Invoice.Status.SENT
    assert received.names == ["invoice_sent"]
    (kwargs,) = received.kwargs("invoice_sent")
    assert kwargs["sender"] is Invoice
    assert kwargs["invoice"].pk == invoice.pk
    assert kwargs["invoice"].status == Invoice.Status.SENT
    assert kwargs["by"] == owner
    assert kwargs["now"] == NOW


def test_send_refuses_an_invoice_without_line_items():
    invoice = services.create_invoice(contact=make_contact(), items=[])
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.send_invoice(invoice=invoice)
    assert str(exc.value) == f"Invoice {invoice.number} has no line items; add at least one before sending it."
    assert stored(invoice).status == Invoice.Status.DRAFT
    assert received.names == []


@pytest.mark.parametrize(("status", "label"), [("sent", "Sent"), ("paid", "Paid"), ("void", "Void")])
def test_send_refuses_an_invoice_that_is_not_a_draft_naming_its_status(status, label):
    invoice = make_invoice(status=status)
    before = stored(invoice)
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.send_invoice(invoice=invoice, now=NOW)
    assert str(exc.value) == f"Invoice {invoice.number} cannot be sent: it is {label}."
    after = stored(invoice)
    assert (after.status, after.sent_at) == (before.status, before.sent_at)
    assert received.names == []


def test_send_refuses_a_void_invoice_without_lines_naming_its_status():
    invoice = services.create_invoice(contact=make_contact(), items=[])
    services.void_invoice(invoice=invoice)
    with pytest.raises(DomainError) as exc:
        services.send_invoice(invoice=invoice)
    assert str(exc.value) == f"Invoice {invoice.number} cannot be sent: it is Void."


def test_send_refuses_an_overdue_invoice():
    invoice = overdue_invoice()
    with pytest.raises(DomainError, match="cannot be sent: it is Overdue"):
        services.send_invoice(invoice=invoice)
    assert stored(invoice).status == Invoice.Status.OVERDUE


def test_send_is_rolled_back_when_a_receiver_fails():
    invoice = make_invoice()
    with failing_receiver(signals.invoice_sent), pytest.raises(RuntimeError):
        services.send_invoice(invoice=invoice, now=NOW)
    saved = stored(invoice)
    assert saved.status == Invoice.Status.DRAFT
    assert saved.sent_at is None


# --- record_payment ----------------------------------------------------------------------------


def test_partial_payments_add_up_and_keep_the_invoice_open(owner):
    invoice = sent_invoice()
    with receiving() as received:
        first = services.record_payment(invoice=invoice, amount="100.00", date=dt.date(2026, 3, 5), by=owner, now=NOW)
        services.record_payment(invoice=invoice, amount=Decimal("9.50"), now=NOW)

    saved = stored(invoice)
    assert saved.status == Invoice.Status.SENT
    assert saved.amount_paid == Decimal("109.50")
    assert saved.balance == Decimal("9.50")
    assert saved.paid_at is None
    assert sorted(p.amount for p in saved.payments.all()) == [Decimal("9.50"), Decimal("100.00")]
    assert (first.date, first.created_by, first.method) == (dt.date(2026, 3, 5), owner, "bank_transfer")
    # The caller's invoice shows what was paid.
    assert invoice.amount_paid == Decimal("109.50")
    assert received.names == ["payment_recorded", "payment_recorded"]
    kwargs = received.kwargs("payment_recorded")[0]
    assert (kwargs["sender"], kwargs["invoice"].pk, kwargs["payment"], kwargs["by"], kwargs["now"]) == (
        Invoice, invoice.pk, first, owner, NOW)


def test_the_payment_covering_the_balance_makes_the_invoice_paid_and_fires_invoice_paid_once(owner):
    invoice = sent_invoice()
    services.record_payment(invoice=invoice, amount="100.00", now=NOW)
    later = NOW + dt.timedelta(days=2)
    with receiving() as received:
        payment = services.record_payment(invoice=invoice, amount="19.00", by=owner, now=later)

    saved = stored(invoice)
    assert saved.status == Invoice.Status.PAID
    assert saved.paid_at == later
    assert saved.amount_paid == saved.total == Decimal("119.00")
    assert saved.balance == Decimal("0")
    assert received.names == ["payment_recorded", "invoice_paid"]
    (kwargs,) = received.kwargs("invoice_paid")
    assert kwargs["sender"] is Invoice
    assert kwargs["invoice"].pk == invoice.pk
    assert kwargs["invoice"].status == Invoice.Status.PAID
    assert kwargs["payment"] == payment
    assert (kwargs["by"], kwargs["now"]) == (owner, later)


def test_paying_the_whole_total_at_once_makes_the_invoice_paid():
    invoice = sent_invoice()
    services.record_payment(invoice=invoice, amount="119.00", now=NOW)
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid, saved.paid_at) == (Invoice.Status.PAID, Decimal("119.00"), NOW)


def test_payment_date_defaults_to_today_in_the_business_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    invoice = sent_invoice()
    with time_machine.travel(dt.datetime(2026, 3, 10, 23, 30, tzinfo=UTC), tick=False):
        payment = services.record_payment(invoice=invoice, amount="10.00")
    assert Payment.objects.get(pk=payment.pk).date == dt.date(2026, 3, 11)


@pytest.mark.parametrize("amount", ["119.01", "200", "1000000"])
def test_an_overpayment_is_refused_and_nothing_is_saved(amount):
    invoice = sent_invoice()
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount=amount, now=NOW)
    assert f"is more than the €119.00 still due on invoice {invoice.number}" in str(exc.value)
    assert exc.value.field == "amount"
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid) == (Invoice.Status.SENT, Decimal("0"))
    assert not Payment.objects.exists()
    assert received.names == []


def test_an_overpayment_after_a_partial_payment_is_refused_against_the_remaining_balance():
    invoice = sent_invoice()
    services.record_payment(invoice=invoice, amount="100.00")
    with pytest.raises(DomainError, match="more than the €19.00 still due"):
        services.record_payment(invoice=invoice, amount="19.01")
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid, saved.payments.count()) == (Invoice.Status.SENT, Decimal("100.00"), 1)


@pytest.mark.parametrize(("status", "label"), [("draft", "Draft"), ("paid", "Paid"), ("void", "Void")])
def test_paying_an_invoice_that_is_not_open_is_refused_naming_its_status(status, label):
    invoice = make_invoice(status=status)
    payments_before = Payment.objects.count()
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount="10.00")
    assert str(exc.value) == f"Invoice {invoice.number} cannot be paid: it is {label}."
    assert Payment.objects.count() == payments_before
    assert stored(invoice).status == status
    assert received.names == []


def test_a_partial_payment_on_an_overdue_invoice_keeps_it_overdue():
    invoice = overdue_invoice()
    with receiving() as received:
        services.record_payment(invoice=invoice, amount="50.00")
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid) == (Invoice.Status.OVERDUE, Decimal("50.00"))
    assert received.names == ["payment_recorded"]


def test_paying_an_overdue_invoice_in_full_makes_it_paid():
    invoice = overdue_invoice()
    with receiving() as received:
        services.record_payment(invoice=invoice, amount="119.00", now=NOW)
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid, saved.paid_at) == (Invoice.Status.PAID, Decimal("119.00"), NOW)
    assert received.names == ["payment_recorded", "invoice_paid"]


@pytest.mark.parametrize(
    "amount",
    [
        0, "0", "0.00", "-0", "-5", Decimal("-0.01"),
        "NaN", "nan", "sNaN", "inf", "-Infinity", float("nan"), float("inf"),
        "1.005", "0.001", "0.1 5",
        "1e12", "1000000000000.00", "999999999999999999999",
        "abc", "", "   ", "10,50", "10 EUR", None, [], True,
        0.1 + 0.2,
    ],
    ids=repr,
)
def test_an_amount_that_is_not_a_positive_sum_of_money_is_refused_and_nothing_is_saved(amount):
    invoice = sent_invoice()
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount=amount)
    assert exc.value.field == "amount"
    assert exc.value.message
    assert not Payment.objects.exists()
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid) == (Invoice.Status.SENT, Decimal("0"))
    assert received.names == []


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be greater than zero."),
        ("-5", "The amount must be greater than zero."),
        ("NaN", "NaN is not an amount."),
        ("inf", "inf is not an amount."),
        ("abc", "abc is not an amount."),
        ("1.005", "Amounts can have at most two decimal places."),
        (0.1 + 0.2, "Amounts can have at most two decimal places."),
        ("1e12", "The amount is too large."),
    ],
)
def test_a_refused_amount_says_what_is_wrong(amount, message):
    invoice = sent_invoice()
    with pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount=amount)
    assert str(exc.value) == message


@pytest.mark.parametrize("status", ["paid", "void", "draft"])
def test_paying_a_closed_invoice_says_it_is_closed_whatever_the_amount(status):
    """"Record full payment" of a paid invoice pays its balance of 0: the refusal must say the
    invoice is paid, not that the amount must be greater than zero."""
    invoice = make_invoice(status=status)
    with pytest.raises(DomainError) as exc:
        services.record_payment(invoice=invoice, amount=invoice.balance if status == "paid" else "0")
    assert str(exc.value) == f"Invoice {invoice.number} cannot be paid: it is {invoice.get_status_display()}."


@pytest.mark.parametrize("amount", ["1e30", "9" * 29])
def test_a_huge_amount_is_refused_as_too_large(amount):
    invoice = sent_invoice()
    with pytest.raises(DomainError, match="too large"):
        services.record_payment(invoice=invoice, amount=amount)


@pytest.mark.parametrize(
    ("amount", "stored_amount"),
    [
        ("19", Decimal("19.00")),
        (19, Decimal("19.00")),
        (Decimal("19.5"), Decimal("19.50")),
        (" 19.50 ", Decimal("19.50")),
        ("19.000", Decimal("19.00")),
        (0.3, Decimal("0.30")),  # a float is taken as written, not as 0.29999999999999998889776975…
        (19.99, Decimal("19.99")),
        ("0.01", Decimal("0.01")),
    ],
    ids=repr,
)
def test_an_amount_is_stored_exactly_as_written(amount, stored_amount):
    invoice = sent_invoice()
    payment = services.record_payment(invoice=invoice, amount=amount)
    assert Payment.objects.get(pk=payment.pk).amount == stored_amount
    assert stored(invoice).amount_paid == stored_amount


def test_an_unknown_payment_method_is_refused():
    invoice = sent_invoice()
    with pytest.raises(DomainError, match="bitcoin is not a payment method") as exc:
        services.record_payment(invoice=invoice, amount="10.00", method="bitcoin")
    assert exc.value.field == "method"
    assert not Payment.objects.exists()


@pytest.mark.parametrize("reference", ["ref\nBcc: evil@example.com", "ref\r1"])
def test_a_reference_with_a_line_break_is_refused(reference):
    invoice = sent_invoice()
    with pytest.raises(DomainError, match="cannot contain line breaks"):
        services.record_payment(invoice=invoice, amount="10.00", reference=reference)
    assert not Payment.objects.exists()


def test_a_payment_keeps_its_method_and_trimmed_reference():
    invoice = sent_invoice()
    payment = services.record_payment(invoice=invoice, amount="10.00", method="card", reference="  TX-42  ")
    saved = Payment.objects.get(pk=payment.pk)
    assert (saved.method, saved.reference) == ("card", "TX-42")


def test_a_payment_is_rolled_back_when_the_invoice_paid_receiver_fails():
    invoice = sent_invoice()
    with failing_receiver(signals.invoice_paid), pytest.raises(RuntimeError):
        services.record_payment(invoice=invoice, amount="119.00", now=NOW)
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid, saved.paid_at) == (Invoice.Status.SENT, Decimal("0"), None)
    assert not Payment.objects.exists()


def test_a_payment_is_rolled_back_when_the_payment_recorded_receiver_fails():
    invoice = sent_invoice()
    with failing_receiver(signals.payment_recorded), pytest.raises(RuntimeError):
        services.record_payment(invoice=invoice, amount="10.00")
    assert stored(invoice).amount_paid == Decimal("0")
    assert not Payment.objects.exists()


# --- void_invoice ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["draft", "sent"])
def test_void_moves_a_draft_or_sent_invoice_to_void_and_fires_invoice_voided_once(status, owner):
    invoice = make_invoice(status=status)
    with receiving() as received:
        services.void_invoice(invoice=invoice, by=owner, now=NOW)

    saved = stored(invoice)
    assert (saved.status, saved.voided_at) == (Invoice.Status.VOID, NOW)
    assert invoice.status == Invoice.Status.VOID
    # A sent invoice was given to the customer: a credit note cancels it (a draft needs none).
    assert received.names == (["invoice_voided", "credit_note_issued"] if status == "sent" else ["invoice_voided"])
    (kwargs,) = received.kwargs("invoice_voided")
    assert (kwargs["sender"], kwargs["invoice"].pk, kwargs["by"], kwargs["now"]) == (Invoice, invoice.pk, owner, NOW)


def test_void_moves_an_overdue_invoice_to_void():
    invoice = overdue_invoice()
    services.void_invoice(invoice=invoice, now=NOW)
    assert stored(invoice).status == Invoice.Status.VOID


@pytest.mark.parametrize("make", [sent_invoice, overdue_invoice])
def test_void_is_refused_once_a_payment_is_recorded(make):
    invoice = make()
    services.record_payment(invoice=invoice, amount="10.00")
    status = stored(invoice).status
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.void_invoice(invoice=invoice)
    assert str(exc.value) == f"Invoice {invoice.number} cannot be voided: payments of €10.00 are recorded on it."
    assert stored(invoice).status == status
    assert received.names == []


def test_void_twice_is_refused():
    invoice = make_invoice()
    services.void_invoice(invoice=invoice, now=NOW)
    with receiving() as received, pytest.raises(DomainError) as exc:
        services.void_invoice(invoice=invoice, now=NOW + dt.timedelta(hours=1))
    assert str(exc.value) == f"Invoice {invoice.number} cannot be voided: it is Void."
    assert stored(invoice).voided_at == NOW
    assert received.names == []


def test_void_of_a_paid_invoice_is_refused():
    invoice = make_invoice(status="paid")
    with pytest.raises(DomainError) as exc:
        services.void_invoice(invoice=invoice)
    assert str(exc.value) == f"Invoice {invoice.number} cannot be voided: it is Paid."
    assert stored(invoice).status == Invoice.Status.PAID


def test_void_is_rolled_back_when_a_receiver_fails():
    invoice = sent_invoice()
    with failing_receiver(signals.invoice_voided), pytest.raises(RuntimeError):
        services.void_invoice(invoice=invoice, now=NOW)
    saved = stored(invoice)
    assert (saved.status, saved.voided_at) == (Invoice.Status.SENT, None)


# --- mark_overdue ------------------------------------------------------------------------------


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("due", "midnight_utc"),
    [
        (dt.date(2026, 1, 15), dt.datetime(2026, 1, 15, 23, 0, tzinfo=UTC)),  # CET, UTC+1
        (dt.date(2026, 7, 15), dt.datetime(2026, 7, 15, 22, 0, tzinfo=UTC)),  # CEST, UTC+2
    ],
)
def test_an_invoice_becomes_overdue_at_midnight_in_the_business_time_zone(settings, due, midnight_utc):
    settings.TIME_ZONE = "Europe/Berlin"
    invoice = sent_invoice(issue_date=due - dt.timedelta(days=14), due_date=due)
    next_midnight = berlin(due.year, due.month, due.day) + dt.timedelta(days=1)
    assert next_midnight == midnight_utc  # the day after the due date begins in Berlin while UTC is still on it

    with time_machine.travel(berlin(due.year, due.month, due.day, 23, 59), tick=False):
        assert services.mark_overdue() == 0
    assert stored(invoice).status == Invoice.Status.SENT

    with time_machine.travel(midnight_utc - dt.timedelta(minutes=1), tick=False):
        assert services.mark_overdue() == 0
    assert stored(invoice).status == Invoice.Status.SENT

    with time_machine.travel(midnight_utc, tick=False):
        assert services.mark_overdue() == 1
    saved = stored(invoice)
    assert saved.status == Invoice.Status.OVERDUE
    assert saved.overdue_at == midnight_utc


def test_an_invoice_due_today_is_not_overdue_yet():
    invoice = sent_invoice(due_date=dt.date(2026, 3, 15))
    assert services.mark_overdue(now=berlin(2026, 3, 15, 18)) == 0
    assert stored(invoice).status == Invoice.Status.SENT


def test_mark_overdue_takes_its_day_from_now_in_the_business_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    invoice = sent_invoice(due_date=dt.date(2026, 3, 15))
    assert services.mark_overdue(now=dt.datetime(2026, 3, 15, 22, 59, tzinfo=UTC)) == 0
    assert services.mark_overdue(now=dt.datetime(2026, 3, 15, 23, 0, tzinfo=UTC)) == 1
    assert stored(invoice).status == Invoice.Status.OVERDUE


def test_mark_overdue_only_flips_sent_invoices_past_their_due_date():
    past = {"issue_date": dt.date(2026, 2, 1), "due_date": dt.date(2026, 2, 15)}
    due_sent = make_invoice(status="sent", **past)
    draft = make_invoice(status="draft", **past)
    paid = make_invoice(status="paid", **past)
    void = make_invoice(status="void", **past)
    not_due_yet = make_invoice(status="sent", issue_date=dt.date(2026, 2, 1), due_date=dt.date(2026, 3, 20))

    with receiving() as received:
        marked = services.mark_overdue(now=NOW)

    assert marked == 1
    statuses = {inv.pk: stored(inv).status for inv in (due_sent, draft, paid, void, not_due_yet)}
    assert statuses == {
        due_sent.pk: "overdue", draft.pk: "draft", paid.pk: "paid", void.pk: "void", not_due_yet.pk: "sent"}
    assert stored(paid).overdue_at is None
    (kwargs,) = received.kwargs("invoices_overdue")
    assert [o.id for o in kwargs["invoices"]] == [due_sent.pk]


def test_a_partly_paid_sent_invoice_becomes_overdue_too():
    invoice = sent_invoice()
    services.record_payment(invoice=invoice, amount="100.00")
    assert services.mark_overdue(now=berlin(2026, 3, 16, 8)) == 1
    saved = stored(invoice)
    assert (saved.status, saved.amount_paid, saved.balance) == (Invoice.Status.OVERDUE, Decimal("100.00"), Decimal("19.00"))


def test_mark_overdue_returns_the_count_and_sends_each_invoice_once_with_its_contact_and_due_date():
    invoices = [sent_invoice(due_date=dt.date(2026, 3, day)) for day in (2, 3, 4)]
    now = berlin(2026, 3, 10, 6)
    with receiving() as received:
        assert services.mark_overdue(now=now) == 3

    assert received.names == ["invoices_overdue"]
    (kwargs,) = received.kwargs("invoices_overdue")
    assert kwargs["sender"] is Invoice
    assert kwargs["now"] == now
    assert sorted((o.id, o.contact_id, o.due_date) for o in kwargs["invoices"]) == sorted(
        (inv.pk, inv.contact_id, inv.due_date) for inv in invoices)
    assert all(isinstance(o.due_date, dt.date) for o in kwargs["invoices"])


def test_an_overdue_batch_kept_past_its_transaction_refuses_to_be_read():
    sent_invoice(due_date=dt.date(2026, 3, 2))
    sent_invoice(due_date=dt.date(2026, 3, 3))
    kept = []

    def receiver(*, invoices, **kwargs):
        kept.append(invoices)  # not read here

    signals.invoices_overdue.connect(receiver, weak=False)
    try:
        assert services.mark_overdue(now=berlin(2026, 3, 10, 6)) == 2
    finally:
        signals.invoices_overdue.disconnect(receiver)

    (batch,) = kept
    assert len(batch) == 2  # the count needs no table
    # Its table is dropped (PostgreSQL) or holds the next batch (SQLite): an error, not wrong rows.
    with pytest.raises(RuntimeError, match="only inside the transaction"):
        list(batch)


def test_running_mark_overdue_twice_marks_each_invoice_once():
    invoice = sent_invoice()
    first = berlin(2026, 3, 16, 1)
    with receiving() as received:
        assert services.mark_overdue(now=first) == 1
        assert services.mark_overdue(now=first + dt.timedelta(hours=1)) == 0

    assert [[o.id for o in kw["invoices"]] for kw in received.kwargs("invoices_overdue")] == [[invoice.pk]]
    assert stored(invoice).overdue_at == first


def test_mark_overdue_with_nothing_due_sends_no_signal():
    sent_invoice()
    with receiving() as received:
        assert services.mark_overdue(now=berlin(2026, 3, 12)) == 0
    assert received.names == []


@pytest.mark.parametrize(("due_count", "batches"), [(5, [2, 2, 1]), (4, [2, 2])])
def test_mark_overdue_in_batches_flips_every_invoice_and_announces_each_once(due_count, batches):
    invoices = [sent_invoice() for _ in range(due_count)]
    not_due = sent_invoice(due_date=dt.date(2026, 4, 1))
    with receiving() as received:
        assert services.mark_overdue(now=NOW.replace(month=4, day=1), batch_size=2) == due_count

    announced = [[o.id for o in kw["invoices"]] for kw in received.kwargs("invoices_overdue")]
    assert [len(batch) for batch in announced] == batches
    all_ids = [pk for batch in announced for pk in batch]
    assert sorted(all_ids) == sorted(inv.pk for inv in invoices)
    assert Invoice.objects.filter(status="overdue").count() == due_count
    assert stored(not_due).status == Invoice.Status.SENT


def test_mark_overdue_is_rolled_back_when_a_receiver_fails():
    invoice = sent_invoice()
    with failing_receiver(signals.invoices_overdue), pytest.raises(RuntimeError):
        services.mark_overdue(now=berlin(2026, 3, 16, 8))
    saved = stored(invoice)
    assert (saved.status, saved.overdue_at) == (Invoice.Status.SENT, None)


def test_after_a_failed_batch_the_next_run_marks_and_announces_only_what_is_left():
    invoices = [sent_invoice() for _ in range(3)]
    now = berlin(2026, 3, 16, 8)
    with failing_receiver(signals.invoices_overdue, after=1), pytest.raises(RuntimeError):
        services.mark_overdue(now=now, batch_size=2)
    # The first batch was committed on its own; the failed one was rolled back.
    assert Invoice.objects.filter(status="overdue").count() == 2
    (left,) = Invoice.objects.filter(pk__in=[i.pk for i in invoices], status="sent").values_list("pk", flat=True)

    with receiving() as received:
        assert services.mark_overdue(now=now, batch_size=2) == 1
    (kwargs,) = received.kwargs("invoices_overdue")
    assert [o.id for o in kwargs["invoices"]] == [left]
    assert Invoice.objects.filter(status="overdue").count() == 3


def test_an_invoice_due_on_new_years_eve_is_overdue_from_midnight_in_berlin():
    invoice = sent_invoice(issue_date=dt.date(2025, 12, 1), due_date=dt.date(2025, 12, 31))
    assert services.mark_overdue(now=dt.datetime(2025, 12, 31, 22, 59, tzinfo=UTC)) == 0
    assert services.mark_overdue(now=dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC)) == 1
    assert stored(invoice).status == Invoice.Status.OVERDUE


def test_overdue_since_is_stored_as_the_same_instant_however_now_is_given(request):
    invoice = sent_invoice()
    services.mark_overdue(now=berlin(2026, 3, 16, 8, 0))  # 07:00 UTC
    marked_before_half_past_seven_utc = Invoice.objects.filter(
        pk=invoice.pk, overdue_at__lt=dt.datetime(2026, 3, 16, 7, 30, tzinfo=UTC))
    assert marked_before_half_past_seven_utc.exists()


def test_totals_that_binary_floats_cannot_add_exactly_are_accepted_and_paid_in_parts():
    # SQLite stores decimals as floats: 779.90 + 148.18 != 928.08 there unless rounded.
    invoice = make_invoice(items=[{"description": "Audit", "quantity": "1", "unit_price": "779.90", "tax_rate": "19"}])
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal("779.90"), Decimal("148.18"), Decimal("928.08"))
    services.send_invoice(invoice=invoice)
    for part in ("309.36", "309.36", "309.36"):
        services.record_payment(invoice=invoice, amount=part)
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.amount_paid == Decimal("928.08") and invoice.balance == 0


def test_ten_megabyte_notes_are_refused_and_nothing_is_saved():
    with pytest.raises(DomainError, match="at most 10000 characters"):
        services.create_invoice(contact=make_contact(), notes="x" * 10_000_000,
                                items=[{"description": "A", "quantity": "1", "unit_price": "1.00"}])
    assert not Invoice.objects.exists()


def test_sending_names_what_a_legal_e_invoice_still_lacks(business_profile):
    from business.services import update_profile

    update_profile(phone="", vat_id="")
    business_customer = make_contact(is_business=True)
    invoice = make_invoice(contact=business_customer)
    with pytest.raises(DomainError) as refused:
        services.send_invoice(invoice=invoice)
    assert "needs your phone number in the business profile" in refused.value.message
    reverse = make_invoice(contact=make_contact(is_business=True, vat_id="ATU13585627", country="AT"),
                           tax_treatment="reverse_charge",
                           items=[{"description": "Design", "quantity": "1", "unit_price": "100.00", "tax_rate": "0"}])
    with pytest.raises(DomainError, match="Reverse charge needs your own VAT ID"):
        services.send_invoice(invoice=reverse)
