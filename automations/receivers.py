"""The outbox: invoice and recurring-payment signals become `Event` rows in the same transaction.

The services send their signals inside their transaction, so an event exists exactly when the
change it records was committed. After the commit the dispatcher is woken (`request_dispatch`); if
that wake-up is lost (a crash right after the commit, a broker message dropped), the sweeper
schedule finds the undispatched event and wakes it again.

Each event has a unique `key` for the things that happen once (an invoice is sent once, becomes
overdue once per due date, …), so a repeated signal can never make a second event.

An invoice sent (or a credit note issued) with `deliver=True` also gets its email's outbox row
here, in the same transaction (automations.delivery).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.dispatch import receiver

from invoices import signals

from . import delivery, dispatch
from .models import Event, InvoiceEmailKind
from .triggers import Trigger


def _wake_on_commit() -> None:
    # robust: the change is committed whatever happens to the wake-up. A broker that is down must
    # not turn a recorded payment into an error for its caller; the failure is logged and the
    # sweeper dispatches the event later.
    transaction.on_commit(dispatch.request_dispatch, robust=True)


def _record(*, kind: str, key: str, now, contact_id: int, invoice_id: int | None = None, recurring_id: int | None = None) -> None:
    Event.objects.bulk_create(
        [Event(kind=kind, key=key, occurred_at=now, contact_id=contact_id, invoice_id=invoice_id, recurring_id=recurring_id)],
        ignore_conflicts=True,
    )
    _wake_on_commit()


@receiver(signals.invoice_sent, dispatch_uid="automations.invoice_sent")
def on_invoice_sent(*, invoice, now, by=None, deliver: bool = False, **kwargs) -> None:
    _record(kind=Trigger.INVOICE_SENT, key=f"invoice_sent:{invoice.pk}", now=now,
            contact_id=invoice.contact_id, invoice_id=invoice.pk)
    if deliver:
        delivery.queue_email(invoice=invoice, kind=InvoiceEmailKind.INVOICE, by=by)


@receiver(signals.credit_note_issued, dispatch_uid="automations.credit_note_issued")
def on_credit_note_issued(*, invoice, by=None, deliver: bool = False, **kwargs) -> None:
    if deliver:
        delivery.queue_email(invoice=invoice, kind=InvoiceEmailKind.CREDIT_NOTE, by=by)


@receiver(signals.invoice_paid, dispatch_uid="automations.invoice_paid")
def on_invoice_paid(*, invoice, now, **kwargs) -> None:
    _record(kind=Trigger.INVOICE_PAID, key=f"invoice_paid:{invoice.pk}", now=now,
            contact_id=invoice.contact_id, invoice_id=invoice.pk)


@receiver(signals.invoices_overdue, dispatch_uid="automations.invoices_overdue")
def on_invoices_overdue(*, invoices, now, **kwargs) -> None:
    # One row per invoice per due date, written by the database from the batch table the scan
    # filled: no row and no model instance comes to Python (the scan's hot path). In invoice order,
    # so the key and invoice indexes are filled page after page instead of at random places.
    due = "to_char(b.due_date, 'YYYY-MM-DD')" if connection.vendor == "postgresql" else "b.due_date"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (kind, key, occurred_at, contact_id, invoice_id) "
            f"SELECT %s, 'invoice_overdue:' || b.id || ':' || {due}, %s, b.contact_id, b.id "
            f"FROM {invoices.table} b WHERE true ORDER BY b.id "  # WHERE: SQLite's parser needs it before ON CONFLICT
            "ON CONFLICT (key) DO NOTHING",
            [Trigger.INVOICE_OVERDUE.value, connection.ops.adapt_datetimefield_value(now)],
        )
    _wake_on_commit()


@receiver(signals.recurring_started, dispatch_uid="automations.recurring_started")
def on_recurring_started(*, plan, now, **kwargs) -> None:
    _record(kind=Trigger.RECURRING_STARTED, key=f"recurring_started:{plan.pk}", now=now,
            contact_id=plan.contact_id, recurring_id=plan.pk)


@receiver(signals.recurring_canceled, dispatch_uid="automations.recurring_canceled")
def on_recurring_canceled(*, plan, now, **kwargs) -> None:
    _record(kind=Trigger.RECURRING_CANCELED, key=f"recurring_canceled:{plan.pk}", now=now,
            contact_id=plan.contact_id, recurring_id=plan.pk)
