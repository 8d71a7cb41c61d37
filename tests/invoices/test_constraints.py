"""The database itself refuses rows the services would never write (a bad import, a raw UPDATE, a
future bug), and the models' own validation says what is wrong in words a user understands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from invoices import services
from core.errors import DomainError
from invoices.models import Contact, Invoice, LineItem, Payment, RecurringPayment
from tests.base import make_contact, make_invoice, make_plan

pytestmark = pytest.mark.django_db


def refused_by_database(write) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


@pytest.fixture
def invoice() -> Invoice:
    return make_invoice(status="sent", issue_date=dt.date(2026, 3, 1), due_date=dt.date(2026, 3, 15))


def stored(invoice: Invoice) -> Invoice:
    return Invoice.objects.get(pk=invoice.pk)


# --- Invoice ------------------------------------------------------------------------------------


def test_database_refuses_a_due_date_before_the_issue_date(invoice):
    refused_by_database(lambda: Invoice.objects.filter(pk=invoice.pk).update(due_date=dt.date(2026, 2, 28)))
    assert stored(invoice).due_date == dt.date(2026, 3, 15)


def test_database_accepts_a_due_date_on_the_issue_date(invoice):
    # The boundary of the rule above: the update goes through.
    assert Invoice.objects.filter(pk=invoice.pk).update(due_date=dt.date(2026, 3, 1)) == 1


@pytest.mark.parametrize("status", ["archived", "", "PAID"])
def test_database_refuses_an_unknown_status(invoice, status):
    refused_by_database(lambda: Invoice.objects.filter(pk=invoice.pk).update(status=status))
    assert stored(invoice).status == "sent"


def test_database_refuses_an_overpayment(invoice):
    refused_by_database(lambda: Invoice.objects.filter(pk=invoice.pk).update(amount_paid=F("total") + Decimal("0.01")))
    assert stored(invoice).amount_paid == Decimal("0")
    # Paying exactly the total is fine.
    assert Invoice.objects.filter(pk=invoice.pk).update(amount_paid=F("total")) == 1


def test_database_refuses_a_negative_amount_paid(invoice):
    refused_by_database(lambda: Invoice.objects.filter(pk=invoice.pk).update(amount_paid=Decimal("-0.01")))


def test_database_refuses_a_negative_total(invoice):
    refused_by_database(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(
            subtotal=Decimal("-10.00"), tax_total=Decimal("0"), total=Decimal("-10.00"))
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"total": F("total") + Decimal("0.01")},
        {"subtotal": F("subtotal") - Decimal("0.01")},
        {"tax_total": Decimal("0")},
    ],
    ids=["total", "subtotal", "tax"],
)
def test_database_refuses_a_total_that_is_not_subtotal_plus_tax(invoice, changes):
    refused_by_database(lambda: Invoice.objects.filter(pk=invoice.pk).update(**changes))
    saved = stored(invoice)
    assert (saved.subtotal, saved.tax_total, saved.total) == (Decimal("100.00"), Decimal("19.00"), Decimal("119.00"))


def test_database_refuses_a_duplicate_invoice_number(invoice):
    other = make_invoice(issue_date=dt.date(2026, 3, 2))
    refused_by_database(lambda: Invoice.objects.filter(pk=other.pk).update(number=invoice.number))
    assert stored(other).number == "2026-0002"


def test_database_refuses_two_invoices_for_the_same_recurring_period():
    plan = make_plan(start_date=dt.date(2026, 5, 1))
    contact = plan.contact
    services.create_invoice(contact=contact, items=[], recurring=plan, period_start=dt.date(2026, 5, 1))
    refused_by_database(
        lambda: services.create_invoice(contact=contact, items=[], recurring=plan, period_start=dt.date(2026, 5, 1))
    )
    assert Invoice.objects.filter(recurring=plan).count() == 1
    # Another period of the same plan, or the same day without a plan, is fine.
    services.create_invoice(contact=contact, items=[], recurring=plan, period_start=dt.date(2026, 6, 1))
    services.create_invoice(contact=contact, items=[], period_start=dt.date(2026, 5, 1))
    services.create_invoice(contact=contact, items=[], period_start=dt.date(2026, 5, 1))
    assert Invoice.objects.filter(recurring=plan).count() == 2


# --- LineItem ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": Decimal("0")},
        {"quantity": Decimal("-1")},
        {"unit_price": Decimal("0")},
        {"unit_price": Decimal("-5.00")},
        {"tax_rate": Decimal("100.01")},
        {"tax_rate": Decimal("150")},
        {"tax_rate": Decimal("-1")},
        {"description": ""},
    ],
    ids=repr,
)
def test_database_refuses_a_bad_line_item(invoice, fields):
    values = {"description": "Consulting", "quantity": Decimal("1"), "unit_price": Decimal("10.00"),
              "tax_rate": Decimal("19"), **fields}
    refused_by_database(lambda: LineItem.objects.create(invoice=invoice, **values))
    assert invoice.items.count() == 1


def test_database_accepts_a_tax_rate_of_100_percent(invoice):
    LineItem.objects.create(invoice=invoice, description="Tax only", unit_price=Decimal("1.00"), tax_rate=Decimal("100"))
    assert invoice.items.count() == 2


def test_database_refuses_an_existing_line_changed_to_a_zero_quantity(invoice):
    refused_by_database(lambda: invoice.items.update(quantity=Decimal("0")))
    assert invoice.items.get().quantity == Decimal("1")


# --- Payment -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-0.01")])
def test_database_refuses_a_payment_of_zero_or_less(invoice, amount):
    refused_by_database(lambda: Payment.objects.create(invoice=invoice, amount=amount, date=dt.date(2026, 3, 5)))
    assert not Payment.objects.exists()


# --- Contact -----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["ada@example.com\nBcc: all@example.com", "ada@example.com\r", "\rada@example.com"])
def test_database_refuses_a_contact_email_with_a_line_break(email):
    contact = make_contact(email="ada@example.com")
    refused_by_database(lambda: Contact.objects.filter(pk=contact.pk).update(email=email))
    assert Contact.objects.get(pk=contact.pk).email == "ada@example.com"


def test_database_refuses_a_contact_without_a_name():
    contact = make_contact()
    refused_by_database(lambda: Contact.objects.filter(pk=contact.pk).update(name=""))


def test_database_refuses_an_unknown_contact_language():
    contact = make_contact()
    refused_by_database(lambda: Contact.objects.filter(pk=contact.pk).update(language="fr"))
    assert Contact.objects.get(pk=contact.pk).language == "en"


# --- RecurringPayment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"end_date": dt.date(2026, 4, 30)},
        {"amount": Decimal("0")},
        {"tax_rate": Decimal("101")},
        {"status": "paused"},
        {"interval": "daily"},
    ],
    ids=repr,
)
def test_database_refuses_a_bad_recurring_plan(changes):
    plan = make_plan(start_date=dt.date(2026, 5, 1))
    refused_by_database(lambda: RecurringPayment.objects.filter(pk=plan.pk).update(**changes))
    saved = RecurringPayment.objects.get(pk=plan.pk)
    assert (saved.end_date, saved.amount, saved.status, saved.interval) == (None, Decimal("50.00"), "scheduled", "monthly")


# --- Model validation messages -----------------------------------------------------------------


def unsaved_invoice(**overrides) -> Invoice:
    fields = {"contact": make_contact(), "number": "2026-9999", "issue_date": dt.date(2026, 3, 1),
              "due_date": dt.date(2026, 3, 15), "currency": "EUR"}
    fields.update(overrides)
    return Invoice(**fields)


@pytest.mark.parametrize("currency", ["ABC", "eur", "EURO", ""])
def test_model_validation_names_an_unknown_currency(currency):
    with pytest.raises(ValidationError) as exc:
        unsaved_invoice(currency=currency).full_clean()
    assert "currency" in exc.value.message_dict
    if currency:
        assert (f"{currency} is not an ISO 4217 currency code (for example EUR, USD, CHF)."
                in exc.value.message_dict["currency"])


def test_model_validation_accepts_a_known_currency():
    unsaved_invoice(currency="CHF").full_clean()


def test_model_validation_refuses_a_due_date_before_the_issue_date():
    with pytest.raises(ValidationError) as exc:
        unsaved_invoice(due_date=dt.date(2026, 2, 28)).full_clean()
    assert exc.value.message_dict["due_date"] == ["The due date cannot be before the issue date."]


def test_services_upper_case_a_lower_case_currency_so_it_is_accepted():
    invoice = services.create_invoice(contact=make_contact(), currency="eur", items=[])
    plan = make_plan(currency="eur")
    assert (stored(invoice).currency, RecurringPayment.objects.get(pk=plan.pk).currency) == ("EUR", "EUR")


def test_services_explain_an_unknown_currency():
    with pytest.raises(DomainError) as exc:
        services.create_invoice(contact=make_contact(), currency="abc", items=[])
    # The message shows what the user's value became after upper-casing.
    assert str(exc.value) == "ABC is not an ISO 4217 currency code (for example EUR, USD, CHF)."


@pytest.mark.parametrize("name", ["Ada\nLovelace", "Ada\rLovelace", "Ada\r\nBcc: x@example.com"])
def test_model_validation_refuses_a_line_break_in_a_contact_name(name):
    with pytest.raises(ValidationError) as exc:
        Contact(name=name, email="ada@example.com").full_clean()
    assert exc.value.message_dict["name"] == ["This field cannot contain line breaks."]


@pytest.mark.parametrize("field", ["name", "company", "phone"])
def test_create_contact_refuses_a_line_break_with_a_readable_message(field):
    values = {"name": "Ada Lovelace", field: "Ada\nBcc: x@example.com"}
    if field == "name":
        values["name"] = "Ada\r\nLovelace"
    with pytest.raises(DomainError) as exc:
        services.create_contact(**values)
    assert str(exc.value) == "This field cannot contain line breaks."
    assert exc.value.field == field
    assert not Contact.objects.exists()


def test_create_contact_refuses_an_email_with_a_line_break():
    with pytest.raises(DomainError) as exc:
        services.create_contact(name="Ada", email="ada@example.com\nBcc: x@example.com")
    assert exc.value.field == "email"
    assert not Contact.objects.exists()


def test_model_validation_refuses_a_payment_of_zero():
    with pytest.raises(ValidationError) as exc:
        Payment(amount=Decimal("0"), date=dt.date(2026, 3, 1)).full_clean(exclude=["invoice"])
    assert exc.value.message_dict["amount"] == ["Ensure this value is greater than or equal to 0.01."]
