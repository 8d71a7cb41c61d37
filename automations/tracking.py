"""Delivery status from the ESP: anymail's tracking webhook → EmailEvent → the run history and
the invoice's timeline.

anymail verifies the webhook (ANYMAIL_WEBHOOK_SECRET basic auth, and the ESP's signature where
it has one) and sends its `tracking` signal. An ESP may deliver the same event twice, or twice at
once: the event id is unique, so it is stored once, and the status shown is always recomputed from
the newest stored event, so the order of arrival does not matter.
"""

from __future__ import annotations

import hashlib

from anymail.signals import tracking
from django.db import transaction
from django.db.models import F
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import alerts
from .models import DeliveryStatus, EmailEvent, InvoiceEmail, RunAction


def _about(record: RunAction | InvoiceEmail | None) -> dict[str, str]:
    """Which email bounced, for the owners' alert: the invoice's, or an automation's."""
    if isinstance(record, InvoiceEmail):
        return {"to": record.email_to, "about": _("invoice %(number)s") % {"number": record.invoice.number},
                "link": reverse("invoices:invoice-detail", args=[record.invoice_id])}
    if isinstance(record, RunAction):
        automation = record.run.automation
        return {"to": record.email_to, "about": _("automation “%(name)s”") % {"name": automation.name},
                "link": reverse("automations:automation-detail", args=[automation.pk])}
    return {"to": "", "about": _("unknown email")}


def _event_id(event) -> str:
    if event.event_id:
        return str(event.event_id)[:300]
    raw = f"{event.message_id}|{event.event_type}|{event.timestamp}|{event.recipient}"
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def record_tracking_event(event) -> None:
    """Store one anymail tracking event (once, however often it arrives), on the automation's or
    the invoice's email it is about."""
    message_id = str(event.message_id or "")[:300]
    with transaction.atomic():
        # Lock the email's record first: two events of one message stored at once are then
        # recorded one after the other, and the second sees the first when it picks the newest
        # (without the lock each could see only its own event and the later commit would win,
        # newest or not).
        record: RunAction | InvoiceEmail | None = None
        if message_id:
            record = (RunAction.objects.select_for_update().filter(message_id=message_id).order_by("pk").first()
                      or InvoiceEmail.objects.select_for_update().filter(message_id=message_id).order_by("pk").first())
        EmailEvent.objects.bulk_create(
            [EmailEvent(message_id=message_id, event_id=_event_id(event), event_type=event.event_type or "unknown",
                        timestamp=event.timestamp, recipient=(event.recipient or "")[:254],
                        description=event.description or "", **_link(record))],
            ignore_conflicts=True,
        )
        if record is not None:
            refresh_email_status(record)
        if (event.event_type or "") == DeliveryStatus.BOUNCED:
            stored = EmailEvent.objects.filter(event_id=_event_id(event)).first()
            if stored is not None:
                alerts.email_bounced(stored, **_about(record))


def _link(record: RunAction | InvoiceEmail | None) -> dict[str, RunAction | InvoiceEmail]:
    """The EmailEvent field that points at `record`."""
    if record is None:
        return {}
    return {"invoice_email": record} if isinstance(record, InvoiceEmail) else {"result": record}


def refresh_email_status(record: RunAction | InvoiceEmail) -> None:
    """Attach the stored events of the record's message (also those that arrived before its id was
    saved) and show the newest one's status. Call with the record's row locked."""
    EmailEvent.objects.filter(message_id=record.message_id, result__isnull=True, invoice_email__isnull=True).update(
        **_link(record))
    # An event without a time counts as the oldest (PostgreSQL sorts NULL first in DESC).
    latest = (EmailEvent.objects.filter(message_id=record.message_id)
              .order_by(F("timestamp").desc(nulls_last=True), "-pk").first())
    if latest is not None:
        type(record)._default_manager.filter(pk=record.pk).update(updated_at=timezone.now(),
                                                                  email_status=latest.event_type)


@receiver(tracking, dispatch_uid="automations.tracking")
def on_tracking(sender, event, esp_name, **kwargs) -> None:
    record_tracking_event(event)
