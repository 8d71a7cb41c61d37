"""The five triggers and the three frequency limits: the one greppable list of both."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Trigger(models.TextChoices):
    INVOICE_OVERDUE = "invoice_overdue", _("Invoice is overdue")
    INVOICE_PAID = "invoice_paid", _("Invoice is paid")
    INVOICE_SENT = "invoice_sent", _("Invoice is sent")
    RECURRING_STARTED = "recurring_started", _("Recurring payment starts")
    RECURRING_CANCELED = "recurring_canceled", _("Recurring payment is canceled")
    # A schedule, not a moment: steps before and after the due date (automations.reminders).
    INVOICE_DUE = "invoice_due", _("Payment reminders (before and after the due date)")


# How an event reads in a history (the labels above read as conditions: "Invoice is paid").
EVENT_LABELS = {
    Trigger.INVOICE_OVERDUE: _("Invoice became overdue"),
    Trigger.INVOICE_PAID: _("Invoice was paid"),
    Trigger.INVOICE_SENT: _("Invoice was sent"),
    Trigger.RECURRING_STARTED: _("Recurring payment started"),
    Trigger.RECURRING_CANCELED: _("Recurring payment was canceled"),
    Trigger.INVOICE_DUE: _("Payment reminder"),
}

INVOICE_TRIGGERS = {Trigger.INVOICE_OVERDUE, Trigger.INVOICE_PAID, Trigger.INVOICE_SENT, Trigger.INVOICE_DUE}
# Triggers whose automation is a schedule of reminder steps (ReminderStep) instead of one list of actions.
SCHEDULE_TRIGGERS = {Trigger.INVOICE_DUE}
RECURRING_TRIGGERS = {Trigger.RECURRING_STARTED, Trigger.RECURRING_CANCELED}


class Frequency(models.TextChoices):
    UNLIMITED = "unlimited", _("Unlimited (trigger every time)")
    ONCE_PER_CONTACT = "once_per_contact", _("Once per contact")
    ONCE_PER_CONTACT_24H = "once_per_contact_24h", _("Once per contact every 24 hours")


FREQUENCY_HELP = {
    Frequency.UNLIMITED: _("Your action runs every time it is triggered."),
    Frequency.ONCE_PER_CONTACT: _("Your action runs only once for each contact."),
    Frequency.ONCE_PER_CONTACT_24H: _("Your action runs at most once for each contact within 24 hours."),
}
