"""Delivery statuses from the ESP are shown by name, in the person's language: "Zustellung:
Zugestellt", not "Zustellung: delivered" — on the automation's page, the invoice's timeline and in
the admin."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse
from django.utils import timezone

from automations.models import DeliveryStatus, Event, Run, RunAction
from automations.services import create_automation
from tests.base import make_invoice, make_owner, page_with_fragments

pytestmark = pytest.mark.django_db

EMAIL = {"kind": "send_email", "subject": "Rechnung {{ invoice.number }}", "body": "Hallo", "sender_name": "",
         "reply_to": ""}


@pytest.fixture
def delivered(client):
    automation = create_automation(name="Danke", trigger="invoice_sent", frequency="unlimited", actions=[EMAIL])
    invoice = make_invoice(status="sent")
    event = Event.objects.get(invoice=invoice, kind="invoice_sent")
    run = Run.objects.create(automation=automation, event=event, contact=invoice.contact, status="succeeded")
    RunAction.objects.create(run=run, position=0, kind="send_email", status="succeeded", idempotency_key="k0",
                             email_to="ada@example.com", email_status="delivered", updated_at=timezone.now())
    client.force_login(make_owner())
    return automation, invoice


def german(client, url: str) -> str:
    client.cookies["django_language"] = "de"
    return html.unescape(page_with_fragments(client, url))


def test_the_automation_page_and_the_timeline_name_the_delivery_status_in_german(client, delivered):
    automation, invoice = delivered
    for url in (reverse("automations:automation-detail", args=[automation.pk]),
                reverse("invoices:invoice-detail", args=[invoice.pk])):
        page = german(client, url)
        assert "Zustellung: Zugestellt" in page, url
        assert ": delivered" not in page


def test_the_admin_names_the_delivery_status_in_german(client, delivered):
    page = german(client, reverse("admin:automations_runaction_changelist"))
    assert "Zugestellt" in page and ">delivered<" not in page


def test_every_status_anymail_reports_has_a_label():
    from anymail.signals import EventType

    tracked = {value for name, value in vars(EventType).items() if name.isupper() and not value.startswith("inbound")}
    assert tracked <= set(DeliveryStatus.values)
