"""The invoices' signals become webhook messages, in the transaction of the change (as the
automations' outbox does): a message exists exactly when its change was committed, and its key
makes it once however often the signal comes."""

from __future__ import annotations

from django.db import connection
from django.dispatch import receiver

from invoices import signals
from invoices.models import Invoice

from . import payloads, services
from .models import EventType


@receiver(signals.invoice_sent, dispatch_uid="webhooks.invoice_sent")
def on_invoice_sent(*, invoice, now, **kwargs) -> None:
    services.emit(event_type=EventType.INVOICE_SENT, key=f"invoice_sent:{invoice.pk}", now=now,
                  data=lambda: {"invoice": payloads.invoice_data(invoice)})


@receiver(signals.invoice_paid, dispatch_uid="webhooks.invoice_paid")
def on_invoice_paid(*, invoice, now, **kwargs) -> None:
    services.emit(event_type=EventType.INVOICE_PAID, key=f"invoice_paid:{invoice.pk}", now=now,
                  data=lambda: {"invoice": payloads.invoice_data(invoice)})


@receiver(signals.payment_recorded, dispatch_uid="webhooks.payment_recorded")
def on_payment_recorded(*, invoice, payment, now, **kwargs) -> None:
    services.emit(event_type=EventType.PAYMENT_RECORDED, key=f"payment_recorded:{payment.pk}", now=now,
                  data=lambda: {"payment": payloads.payment_data(payment), "invoice": payloads.invoice_data(invoice)})


@receiver(signals.invoices_overdue, dispatch_uid="webhooks.invoices_overdue")
def on_invoices_overdue(*, invoices, now, **kwargs) -> None:
    # The overdue scan's hot path: nothing at all unless someone subscribed.
    targets = services.subscribers(EventType.INVOICE_OVERDUE)
    if not targets:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {invoices.table} ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
    for start in range(0, len(ids), 500):
        for invoice in Invoice.objects.filter(pk__in=ids[start:start + 500]).select_related("contact"):
            services.emit(event_type=EventType.INVOICE_OVERDUE, subscription_ids=targets, now=now,
                          key=f"invoice_overdue:{invoice.pk}:{invoice.due_date.isoformat()}",
                          data={"invoice": payloads.invoice_data(invoice)})


@receiver(signals.recurring_started, dispatch_uid="webhooks.recurring_started")
def on_recurring_started(*, plan, now, **kwargs) -> None:
    services.emit(event_type=EventType.RECURRING_STARTED, key=f"recurring_started:{plan.pk}", now=now,
                  data=lambda: {"recurring_payment": payloads.recurring_data(plan)})


@receiver(signals.recurring_canceled, dispatch_uid="webhooks.recurring_canceled")
def on_recurring_canceled(*, plan, now, **kwargs) -> None:
    services.emit(event_type=EventType.RECURRING_CANCELED, key=f"recurring_canceled:{plan.pk}", now=now,
                  data=lambda: {"recurring_payment": payloads.recurring_data(plan)})
