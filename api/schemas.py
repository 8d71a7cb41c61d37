"""What the API reads and writes. Amounts are strings with two decimals ("119.00"), never floats;
dates are ISO 8601. Input amounts may be strings or numbers: the services check them and refuse
with the messages the pages show."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from automations.triggers import Frequency, Trigger
from invoices.models import Interval, InvoiceKind, InvoiceStatus, Language, PaymentMethod, RecurringStatus, TaxTreatment


def _not_a_bool(expected: str):
    """pydantic reads true/false as 1/0 where a number is wanted: `"contact_id": true` made an
    invoice for contact 1, `"unit_price": true` a line of 1.00. A JSON boolean is refused instead."""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("not_a_bool", "Input should be {expected}, not true or false",
                                      {"expected": expected})
        return value

    return BeforeValidator(check)


Amount = Annotated[str | int | float, _not_a_bool("a number or a string such as \"19.99\"")]
Int = Annotated[int, _not_a_bool("a whole number")]
# Not `Int | None`: the bounds of its Field would show in the OpenAPI schema as "ge"/"le", not
# "minimum"/"maximum".
OptionalInt = Annotated[int | None, _not_a_bool("a whole number")]


def money(value: Any) -> str:
    return f"{value:.2f}" if value is not None else ""


# --- Contacts ---------------------------------------------------------------------------------


# Loose bounds (as the other text fields): the service refuses a tag over 50 characters, or more
# than 20, with the form's messages; a name may be longer before its spaces are trimmed.
TagName = Annotated[str, Field(max_length=1000)]
TAGS = ("Tag names (at most 20 after trimming and merging names that differ only in case, 50 characters each); "
        "an existing tag is reused whatever its case.")


class Input(Schema):
    """A request body: a key the operation does not know is refused (a typo such as `note` for
    `notes` would otherwise change nothing and answer 200)."""

    model_config = ConfigDict(extra="forbid")


class ContactOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    company: str
    language: str
    street: str
    postal_code: str
    city: str
    country: str
    vat_id: str
    is_business: bool
    tags: list[str]
    created_at: dt.datetime

    @staticmethod
    def resolve_tags(contact: Any) -> list[str]:
        return [tag.name for tag in contact.tags.all()]


class ContactIn(Input):
    name: str = Field(..., max_length=1000)
    email: str = Field("", max_length=1000)
    phone: str = Field("", max_length=1000)
    company: str = Field("", max_length=1000)
    language: Literal[tuple(Language.values)] = "en"  # type: ignore[valid-type]
    street: str = Field("", max_length=1000)
    postal_code: str = Field("", max_length=1000)
    city: str = Field("", max_length=1000)
    country: str = Field("DE", max_length=100)
    vat_id: str = Field("", max_length=100)
    is_business: bool = False
    tags: list[TagName] = Field([], max_length=100, description=TAGS)


class ContactPatch(Input):
    name: str | None = Field(None, max_length=1000)
    email: str | None = Field(None, max_length=1000)
    phone: str | None = Field(None, max_length=1000)
    company: str | None = Field(None, max_length=1000)
    language: Literal[tuple(Language.values)] | None = None  # type: ignore[valid-type]
    street: str | None = Field(None, max_length=1000)
    postal_code: str | None = Field(None, max_length=1000)
    city: str | None = Field(None, max_length=1000)
    country: str | None = Field(None, max_length=100)
    vat_id: str | None = Field(None, max_length=100)
    is_business: bool | None = None
    tags: list[TagName] | None = Field(None, max_length=100, description=TAGS + " Not given: unchanged.")


# --- Invoices ---------------------------------------------------------------------------------


class LineItemOut(Schema):
    position: int
    description: str
    quantity: str
    unit_price: str
    tax_rate: str
    net_amount: str


class InvoiceOut(Schema):
    id: int
    number: str
    kind: Literal[tuple(InvoiceKind.values)]  # type: ignore[valid-type]
    status: Literal[tuple(InvoiceStatus.values)]  # type: ignore[valid-type]
    contact_id: int
    contact_name: str
    issue_date: dt.date
    due_date: dt.date
    service_date: dt.date | None
    service_end: dt.date | None
    tax_treatment: str
    currency: str
    notes: str
    subtotal: str
    tax_total: str
    total: str
    amount_paid: str
    balance: str
    credit_for_id: int | None
    recurring_id: int | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    paid_at: dt.datetime | None
    overdue_at: dt.datetime | None
    voided_at: dt.datetime | None
    pdf_url: str = Field(description="Download of the invoice's PDF (needs a signed-in session or this API's token).")
    items: list[LineItemOut]


# Where the API lives (config/urls.py); the PDF link is built from it without a reverse() per invoice.
API_ROOT = "/api/v1/"


def invoice_out(invoice: Any) -> dict[str, Any]:
    return {
        **{name: getattr(invoice, name) for name in (
            "id", "number", "kind", "status", "contact_id", "issue_date", "due_date", "service_date", "service_end",
            "tax_treatment", "currency", "notes", "credit_for_id", "recurring_id", "created_at", "sent_at", "paid_at",
            "overdue_at", "voided_at")},
        "contact_name": invoice.contact.name,
        "subtotal": money(invoice.subtotal), "tax_total": money(invoice.tax_total), "total": money(invoice.total),
        "amount_paid": money(invoice.amount_paid), "balance": money(invoice.balance),
        "pdf_url": f"{API_ROOT}invoices/{invoice.pk}/pdf",
        "items": [{"position": item.position, "description": item.description,
                   "quantity": f"{item.quantity.normalize():f}", "unit_price": money(item.unit_price),
                   "tax_rate": f"{item.tax_rate.normalize():f}", "net_amount": money(item.net_amount)}
                  for item in getattr(invoice, "lines", None) or invoice.items.all()],
    }


class LineItemIn(Input):
    description: str = Field(..., max_length=2000)
    quantity: Amount = "1"
    unit_price: Amount
    tax_rate: Amount = "0"


class InvoiceIn(Input):
    contact_id: Int = Field(..., ge=1, le=2**63 - 1)
    items: list[LineItemIn] = Field(default_factory=list, max_length=500)
    issue_date: dt.date | None = Field(None, description="Default: today (in the business time zone).")
    due_date: dt.date | None = Field(None, description="Default: the issue date plus the payment terms.")
    currency: str | None = Field(None, max_length=10)
    notes: str = Field("", max_length=20_000)
    service_date: dt.date | None = None
    service_end: dt.date | None = None
    tax_treatment: Literal[tuple(TaxTreatment.values)] | None = None  # type: ignore[valid-type]


class InvoicePatch(Input):
    """A draft's changes; what is left out stays. `items`, when given, replaces all the lines."""

    contact_id: OptionalInt = Field(None, ge=1, le=2**63 - 1)
    items: list[LineItemIn] | None = Field(None, max_length=500)
    issue_date: dt.date | None = Field(None, description="Stays in the year of the invoice's number.")
    due_date: dt.date | None = None
    currency: str | None = Field(None, max_length=10)
    notes: str | None = Field(None, max_length=20_000)
    service_date: dt.date | None = Field(None, description="null removes it.")
    service_end: dt.date | None = Field(None, description="null removes it.")
    tax_treatment: Literal[tuple(TaxTreatment.values)] | None = None  # type: ignore[valid-type]


class SendIn(Input):
    email: bool = Field(True, description="True: email it to the contact (with its PDF); false: only mark it as sent.")


class VoidIn(Input):
    email_credit_note: bool = Field(False, description="Email the credit note of a sent invoice to the contact.")


class PaymentIn(Input):
    amount: Amount
    date: dt.date | None = Field(None, description="Default: today.")
    method: Literal[tuple(PaymentMethod.values)] = PaymentMethod.BANK_TRANSFER  # type: ignore[valid-type]
    reference: str = Field("", max_length=1000)


class PaymentOut(Schema):
    id: int
    invoice_id: int
    invoice_number: str
    amount: str
    currency: str
    date: dt.date
    method: str
    reference: str
    created_at: dt.datetime


def payment_out(payment: Any) -> dict[str, Any]:
    return {"id": payment.pk, "invoice_id": payment.invoice_id, "invoice_number": payment.invoice.number,
            "amount": money(payment.amount), "currency": payment.invoice.currency, "date": payment.date,
            "method": payment.method, "reference": payment.reference, "created_at": payment.created_at}


# --- Recurring payments -----------------------------------------------------------------------


class RecurringOut(Schema):
    id: int
    contact_id: int
    contact_name: str
    description: str
    amount: str
    tax_rate: str
    currency: str
    interval: str
    start_date: dt.date
    end_date: dt.date | None
    payment_terms_days: int
    status: Literal[tuple(RecurringStatus.values)]  # type: ignore[valid-type]
    next_date: dt.date | None
    periods_issued: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    canceled_at: dt.datetime | None
    ended_at: dt.datetime | None


def recurring_out(plan: Any) -> dict[str, Any]:
    return {
        **{name: getattr(plan, name) for name in (
            "id", "contact_id", "description", "currency", "interval", "start_date", "end_date", "payment_terms_days",
            "status", "next_date", "periods_issued", "created_at", "started_at", "canceled_at", "ended_at")},
        "contact_name": plan.contact.name, "amount": money(plan.amount), "tax_rate": f"{plan.tax_rate.normalize():f}",
    }


class RecurringIn(Input):
    contact_id: Int = Field(..., ge=1, le=2**63 - 1)
    description: str = Field(..., max_length=2000)
    amount: Amount
    start_date: dt.date
    interval: Literal[tuple(Interval.values)] = Interval.MONTHLY  # type: ignore[valid-type]
    end_date: dt.date | None = None
    currency: str | None = Field(None, max_length=10)
    tax_rate: Amount = "0"
    payment_terms_days: OptionalInt = Field(None, ge=0, le=3650)


# --- Tasks ------------------------------------------------------------------------------------


class TaskOut(Schema):
    id: int
    title: str
    description: str
    due_date: dt.date | None
    status: Literal["open", "done"]
    assignee: str | None = Field(description="The assignee's user name; null: the whole team.")
    contact_id: int | None
    invoice_id: int | None
    run_id: int | None
    created_at: dt.datetime
    completed_at: dt.datetime | None


def task_out(task: Any) -> dict[str, Any]:
    return {
        **{name: getattr(task, name) for name in (
            "id", "title", "description", "due_date", "status", "contact_id", "invoice_id", "run_id", "created_at",
            "completed_at")},
        "assignee": task.assignee.get_username() if task.assignee_id else None,
    }


class TaskIn(Input):
    title: str = Field(..., max_length=2000)
    description: str = Field("", max_length=20_000)
    due_date: dt.date | None = None
    assignee: str | None = Field(None, max_length=150, description="A user name; null: the whole team.")
    contact_id: OptionalInt = Field(None, ge=1, le=2**63 - 1)
    invoice_id: OptionalInt = Field(None, ge=1, le=2**63 - 1)


# --- Automations and runs ---------------------------------------------------------------------


class AutomationOut(Schema):
    id: int
    name: str
    trigger: str
    frequency: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    definition: dict[str, Any] = Field(description="The automation in the export format (actions, steps, …).")


class SwitchIn(Input):
    active: bool
    include_backlog: bool = Field(False, description="A reminder schedule switched on: also for invoices already due.")


class ImportIn(Input):
    automations: list[dict[str, Any]] = Field(..., max_length=1000, description="The export format: a list of automations.")
    replace: bool = Field(False, description="Update automations whose name is taken instead of refusing the file.")


class RunActionOut(Schema):
    position: int
    kind: str
    status: str
    error: str
    task_id: int | None
    email_status: str


class RunOut(Schema):
    id: int
    automation_id: int
    automation_name: str
    event_kind: str
    invoice_id: int | None
    contact_id: int
    status: str
    reason: str
    error: str
    attempts: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    actions: list[RunActionOut]


def run_out(run: Any) -> dict[str, Any]:
    return {
        **{name: getattr(run, name) for name in (
            "id", "automation_id", "contact_id", "status", "reason", "error", "attempts", "created_at", "finished_at")},
        "automation_name": run.automation.name, "event_kind": run.event.kind, "invoice_id": run.event.invoice_id,
        "actions": [{"position": r.position, "kind": r.kind, "status": r.status, "error": r.error, "task_id": r.task_id,
                     "email_status": r.email_status} for r in run.results.all()],
    }


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]]


TRIGGERS = Trigger.values
FREQUENCIES = Frequency.values
