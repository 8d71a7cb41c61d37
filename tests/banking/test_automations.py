"""A payment from the bank is a payment like any other: the "Invoice is paid" automations run once
for it, whether the line is recorded alone, in bulk, or imported again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations import services as automation_services
from automations.models import Event, Run
from invoices.models import Payment
from tasks.models import Task

from .support import CAMT_MARCH, CAMT_OVERLAP, march_invoices, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def follow_up(db):
    return automation_services.create_automation(
        name="Thank the customer", trigger="invoice_paid", frequency="unlimited", is_active=True,
        actions=[{"kind": "create_task", "title": "Thank {{ contact.name }} for {{ invoice.number }}"}])


def test_recording_a_line_fires_invoice_paid_once(client, owner, follow_up, django_capture_on_commit_callbacks):
    march_invoices()
    statement = upload(CAMT_MARCH, by=owner)
    line = statement.transactions.get(invoice__number="2026-0001")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("banking:transaction-confirm", args=[line.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("banking:transaction-confirm", args=[line.pk]))  # a second click
        upload(CAMT_MARCH, by=owner)  # the same file again
        upload(CAMT_OVERLAP, by=owner)  # a statement that has the line too

    assert list(Task.objects.values_list("title", flat=True)) == ["Thank Hans Müller for 2026-0001"]
    assert Event.objects.filter(kind="invoice_paid").count() == 1
    assert Run.objects.get().status == "succeeded"


def test_bulk_recording_fires_once_per_paid_invoice_and_not_for_a_partial_payment(client, owner, follow_up,
                                                                                 django_capture_on_commit_callbacks):
    march_invoices()
    statement = upload(CAMT_MARCH, by=owner)
    partial = statement.transactions.get(match_kind="partial")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("banking:statement-confirm-exact", args=[statement.pk]))
        client.post(reverse("banking:transaction-confirm", args=[partial.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("banking:statement-confirm-exact", args=[statement.pk]))

    assert sorted(Task.objects.values_list("title", flat=True)) == [
        "Thank Hans Müller for 2026-0001", "Thank Jörg Weiß for 2026-0002"]
    assert Event.objects.filter(kind="invoice_paid").count() == 2
    assert Payment.objects.count() == 3
