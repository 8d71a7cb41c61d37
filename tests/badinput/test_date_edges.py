"""Dates at the edges, in the business time zone (Europe/Berlin): due today at 23:59 is not overdue,
at 00:00 the next day it is — also on the days the clocks change, when Berlin's midnight is 22:00
or 23:00 UTC of the day before (so a UTC date would be a day off). The clock is moved with
time-machine; the overdue scan is the scheduled job, the pages are the ones a person opens."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from automations.jobs import scan_overdue
from invoices.models import Invoice
from tests.base import make_invoice, make_owner

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN).replace(fold=fold)


# (why, due date, the clock in Berlin, overdue after the scan?)
EDGES = [
    ("due today, 23:59", dt.date(2026, 11, 26), berlin(2026, 11, 26, 23, 59), False),
    ("due yesterday, 00:00 (23:00 UTC the day before)", dt.date(2026, 11, 26), berlin(2026, 11, 27, 0, 0), True),
    ("due today, 00:00", dt.date(2026, 11, 26), berlin(2026, 11, 26, 0, 0), False),
    ("spring forward (23 h day), 23:59", dt.date(2026, 3, 29), berlin(2026, 3, 29, 23, 59), False),
    ("day after spring forward, 00:00 (22:00 UTC)", dt.date(2026, 3, 29), berlin(2026, 3, 30, 0, 0), True),
    ("spring forward, 03:00 just after the gap", dt.date(2026, 3, 28), berlin(2026, 3, 29, 3, 0), True),
    ("fall back (25 h day), 23:59", dt.date(2026, 10, 25), berlin(2026, 10, 25, 23, 59), False),
    ("day after fall back, 00:00 (23:00 UTC)", dt.date(2026, 10, 25), berlin(2026, 10, 26, 0, 0), True),
    ("fall back, the second 02:30", dt.date(2026, 10, 25), berlin(2026, 10, 25, 2, 30, fold=1), False),
    ("fall back, the second 02:30, due the day before", dt.date(2026, 10, 24), berlin(2026, 10, 25, 2, 30, fold=1),
     True),
    ("year end, 23:59 on 31 Dec", dt.date(2026, 12, 31), berlin(2026, 12, 31, 23, 59), False),
    ("new year, 00:00 on 1 Jan (still 2026 in UTC)", dt.date(2026, 12, 31), berlin(2027, 1, 1, 0, 0), True),
]


def test_the_business_time_zone_is_berlin():
    assert settings.TIME_ZONE == "Europe/Berlin"


@pytest.mark.parametrize("why,due,clock,overdue", EDGES, ids=[row[0] for row in EDGES])
def test_the_overdue_scan_uses_the_business_date_at_the_edges(why, due, clock, overdue):
    invoice = make_invoice(status="sent", issue_date=due - dt.timedelta(days=14), due_date=due)
    with time_machine.travel(clock, tick=False):
        marked = scan_overdue()
    invoice.refresh_from_db()
    assert (marked, invoice.status) == ((1, "overdue") if overdue else (0, "sent"))


def test_a_new_invoice_after_midnight_in_berlin_is_dated_today_in_berlin_not_in_utc(client):
    client.force_login(make_owner())
    # 00:30 in Berlin is 23:30 UTC of the day before.
    with time_machine.travel(berlin(2026, 3, 30, 0, 30), tick=False):
        form = client.get("/invoices/new/").context["form"]
        invoice = make_invoice(status="sent")
        payment_default = client.get(f"/invoices/{invoice.pk}/payment/").context["form"].initial["date"]
    assert form.initial["issue_date"] == dt.date(2026, 3, 30)
    assert form.initial["due_date"] == dt.date(2026, 3, 30) + dt.timedelta(days=settings.DEFAULT_PAYMENT_TERMS_DAYS)
    assert invoice.issue_date == dt.date(2026, 3, 30)
    assert payment_default == dt.date(2026, 3, 30)


def test_the_invoice_page_counts_days_overdue_in_berlin_across_the_clock_change(client):
    client.force_login(make_owner())
    invoice = make_invoice(status="sent", issue_date=dt.date(2026, 3, 1), due_date=dt.date(2026, 3, 28))
    with time_machine.travel(berlin(2026, 3, 30, 0, 5), tick=False):  # 22:05 UTC on the 29th
        scan_overdue()
        response = client.get(f"/invoices/{invoice.pk}/")
    assert Invoice.objects.get(pk=invoice.pk).status == "overdue"
    assert response.context["days_overdue"] == 2
