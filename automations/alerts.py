"""What the engine tells the outside world when something failed for good: a run that failed (the
owners' alert and the `run_failed` webhook), an invoice email that failed or may not have gone out,
and an email that bounced (the owners' alerts).

Called in the transaction that records the failure, so the alert and the webhook message commit
with it, once: both are unique per key (`run_failed:<run id>`, `email_bounced:<event id>`)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications import services as notifications
from notifications.models import NotificationKind
from webhooks import services as webhooks
from webhooks.models import EventType

from .models import EmailEvent, InvoiceEmail, InvoiceEmailStatus, Run


def run_failed(run_id: int, *, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    run = Run.objects.select_related("automation", "contact", "event", "event__invoice").get(pk=run_id)
    invoice = run.event.invoice
    notifications.notify_owners(
        kind=NotificationKind.RUN_FAILED, key=f"run_failed:{run.pk}", now=now,
        text=_("The automation “%(name)s” failed for %(contact)s: %(error)s") % {
            "name": run.automation.name, "contact": run.contact.name, "error": (run.error or "")[:200]},
        link=reverse("automations:automation-detail", args=[run.automation_id]))
    webhooks.emit(event_type=EventType.RUN_FAILED, key=f"run_failed:{run.pk}", now=now, data=lambda: {
        "run": {"id": run.pk, "status": run.status, "error": run.error, "trigger": run.event.kind,
                "automation": {"id": run.automation_id, "name": run.automation.name}},
        "contact": {"id": run.contact_id, "name": run.contact.name},
        "invoice": {"id": invoice.pk, "number": invoice.number} if invoice is not None else None})


def email_bounced(event: EmailEvent, *, to: str, about: str, link: str = "") -> None:
    notifications.notify_owners(
        kind=NotificationKind.EMAIL_BOUNCED, key=f"email_bounced:{event.event_id}"[:200],
        text=_("An email to %(to)s bounced (%(about)s): %(reason)s") % {
            "to": to or event.recipient, "about": about, "reason": (event.description or "—")[:200]},
        link=link)


def invoice_email_failed(email_id: int, *, now: dt.datetime | None = None) -> None:
    email = InvoiceEmail.objects.select_related("invoice").get(pk=email_id)
    if email.status == InvoiceEmailStatus.UNKNOWN:
        text = _("The email of invoice %(number)s to %(to)s may not have gone out (it is not resent by "
                 "itself): %(error)s")
    else:
        text = _("The email of invoice %(number)s to %(to)s failed: %(error)s")
    notifications.notify_owners(
        kind=NotificationKind.INVOICE_EMAIL_FAILED, key=f"invoice_email_failed:{email.pk}", now=now,
        text=text % {"number": email.invoice.number, "to": email.email_to or "—", "error": (email.error or "—")[:200]},
        link=reverse("invoices:invoice-detail", args=[email.invoice_id]))
