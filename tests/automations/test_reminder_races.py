"""Two clusters scanning the reminder schedules at the same moment, in real processes on
PostgreSQL: each step fires once per invoice, and the progress matches."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count

from automations import services
from automations.models import Event, ReminderState
from tests.automations.qcluster_helpers import spawn_workers
from tests.base import make_contact, make_invoice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]
BERLIN = ZoneInfo("Europe/Berlin")


def test_two_scans_at_once_fire_each_step_once_per_invoice():
    services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", is_active=True, include_backlog=True,
        steps=[{"name": "Friendly", "days": 3, "actions": [{"kind": "create_task", "title": "Call"}]},
               {"name": "1. Mahnung", "days": 14, "actions": [{"kind": "create_task", "title": "Call again"}]}])
    contacts = [make_contact() for _ in range(10)]
    invoices = [make_invoice(status="sent", contact=contacts[i % 10], issue_date=dt.date(2026, 5, 1),
                             due_date=dt.date(2026, 5, 15)) for i in range(120)]
    moment = dt.datetime(2026, 6, 10, 10, 0, tzinfo=BERLIN).isoformat()  # every first step is due

    fired = spawn_workers("scan_reminders_at", 2, moment, timeout=120)
    again = spawn_workers("scan_reminders_at", 2, moment, timeout=120)  # the same moment once more

    assert sum(fired) == len(invoices) and sum(again) == 0
    per_invoice = Event.objects.filter(kind="invoice_due").values("invoice").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_invoice) == [1] * len(invoices)
    assert set(ReminderState.objects.values_list("position", flat=True)) == {0}
    assert ReminderState.objects.count() == len(invoices)
