"""What happened to one invoice, for its page: its events with the automation runs each caused,
its emails with their delivery status, and its creation, payments and voiding. The invoice page includes it by URL
(`automations:invoice-timeline`), so the invoices app needs to know nothing of the engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from invoices.models import Invoice

from .models import Event, Run, RunAction
from .triggers import EVENT_LABELS


def invoice_timeline(invoice: Invoice) -> list[dict[str, Any]]:
    """What happened to the invoice, oldest first: its events (with the automation runs each one
    caused), its emails (sent, waiting, failed, …, with the delivery status the ESP reported), and
    its creation, payments and voiding."""
    entries: list[dict[str, Any]] = [
        {"at": invoice.created_at, "label": _("Created"), "icon": "file-earmark-plus", "runs": []},
    ]
    events = (
        Event.objects.filter(invoice=invoice)
        .prefetch_related(Prefetch("runs", queryset=Run.objects.select_related("automation").order_by("created_at", "pk")
                                   .prefetch_related(Prefetch("results", queryset=RunAction.objects.select_related(
                                       "task", "step__workflow").order_by("position")))))
        .order_by("occurred_at", "pk")
    )
    icons = {"invoice_sent": "send", "invoice_paid": "check-circle", "invoice_overdue": "exclamation-triangle"}
    for event in events:
        runs = list(event.runs.all())
        entries.append({"at": event.occurred_at, "label": EVENT_LABELS.get(event.kind, event.get_kind_display()), "icon": icons.get(event.kind, "lightning"),
                        "runs": runs, "event": event})
    payments = list(invoice.payments.all())
    for payment in payments:
        entries.append({"at": payment.created_at, "label": _("Payment recorded"), "icon": "cash-coin", "runs": [],
                        "payment": payment})
    if invoice.voided_at:
        entries.append({"at": invoice.voided_at, "label": _("Voided"), "icon": "x-circle", "runs": []})
    for email in invoice.emails.select_related("created_by").order_by("created_at", "pk"):
        label = (_("Email to %(to)s") % {"to": email.email_to}) if email.email_to else _("Not emailed")
        entries.append({"at": email.sent_at or email.created_at, "label": label, "icon": "envelope", "runs": [],
                        "email": email})
    # The service stamps "paid" with its clock before the payment row gets its own: the last
    # payment is what made the invoice paid, so "paid" goes after it.
    last_payment = max((p.created_at for p in payments), default=None)

    def order(entry: dict[str, Any]) -> tuple[dt.datetime, int]:
        event = entry.get("event")
        if event is not None and event.kind == "invoice_paid" and last_payment is not None:
            return max(entry["at"], last_payment), 1
        return entry["at"], 0

    # Creation comes first, even when the events were back-dated (imported or demo data).
    entries[1:] = sorted(entries[1:], key=order)
    return entries
