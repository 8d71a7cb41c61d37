"""Mahnstopp: reminders paused for an invoice or for all of a contact's invoices, with a reason and
an optional last day."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import DomainError
from invoices import services
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 10)
NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.timezone.utc)


def test_a_paused_invoice_says_why_and_until_when():
    invoice = make_invoice(status="sent")
    services.pause_reminders(target=invoice, reason="Customer  disputes the amount", until=dt.date(2026, 6, 30), now=NOW)
    invoice.refresh_from_db()
    assert invoice.reminders_paused_on(TODAY) and invoice.reminders_paused_on(dt.date(2026, 6, 30))
    assert not invoice.reminders_paused_on(dt.date(2026, 7, 1))  # the pause ends after its last day
    assert services.reminder_pause_reason(invoice, today=TODAY) == (
        "reminders for this invoice are paused until 06/30/2026: Customer disputes the amount")


def test_a_paused_contact_pauses_all_its_invoices_until_resumed():
    contact = make_contact()
    invoice = make_invoice(contact=contact, status="sent")
    services.pause_reminders(target=contact, reason="Insolvency proceedings", now=NOW)
    invoice.refresh_from_db()
    assert invoice.reminders_paused_on(dt.date(2030, 1, 1))
    assert "for this contact" in services.reminder_pause_reason(invoice, today=TODAY)
    services.resume_reminders(target=contact)
    invoice.refresh_from_db()
    assert not invoice.reminders_paused_on(TODAY) and services.reminder_pause_reason(invoice, today=TODAY) == ""


@pytest.mark.parametrize("reason, until, message", [
    ("", None, "Say why"),
    ("Disputed", dt.date(2026, 6, 9), "cannot end in the past"),
    ("x" * 301, None, "at most 300 characters"),
])
def test_a_pause_needs_a_reason_and_an_end_not_in_the_past(reason, until, message):
    invoice = make_invoice(status="sent")
    with pytest.raises(DomainError, match=message):
        services.pause_reminders(target=invoice, reason=reason, until=until, now=NOW)
    invoice.refresh_from_db()
    assert not invoice.reminders_paused
