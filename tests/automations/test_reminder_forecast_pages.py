"""The forecast page by page (`reminders.forecast_pages`): counted and sliced in the database, the
same items in the same order as the whole `reminders.forecast()` list, which stays the definition."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automations import reminders, services
from automations.models import ReminderState
from business.services import update_profile
from invoices.models import Contact, Invoice
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
TODAY = dt.date(2026, 12, 18)  # a Friday: Christmas, New Year and Epiphany (Bavaria) within 30 days


def step(name: str, days: int, **repeat) -> dict:
    return {"name": name, "days": days, **repeat, "actions": [{"kind": "create_task", "title": name}]}


def schedule(name: str, *steps: dict, conditions=None, active=True):
    return services.create_automation(name=name, trigger="invoice_due", frequency="unlimited", steps=list(steps),
                                      conditions=conditions, is_active=active, include_backlog=True)


def invoice(due_in: int, price: str = "100.00", contact: Contact | None = None) -> Invoice:
    due = TODAY + dt.timedelta(days=due_in)
    return make_invoice(status="sent", issue_date=min(due, TODAY) - dt.timedelta(days=60), due_date=due,
                        contact=contact or make_contact(),
                        items=[{"description": "Work", "quantity": "1", "unit_price": price, "tax_rate": "19"}])


def key(item: reminders.Upcoming) -> tuple:
    return (item.automation.pk, item.step.pk, item.repetition, item.invoice.pk, item.day, item.sends_at)


@pytest.fixture
def busy_forecast():
    """Three active schedules (one repeating daily, so that weekend days share a sending moment; one
    with a condition), one switched off; invoices due from 40 days ago to 35 days ahead, some
    paused (until a day past: not any more), one paid, one whose due date moved after steps fired;
    progress from scans run at 00:30 Berlin time (the UTC day before) on the days before today."""
    update_profile(send_from=dt.time(9), send_until=dt.time(17), holiday_region="BY")
    dunning = schedule("Dunning", step("Heads-up", -3), step("1. Mahnung", 7),
                       step("2. Mahnung", 21, repeat_every_days=14, repeat_times=3))
    daily = schedule("Daily", step("Due", 0), step("Nag", 2, repeat_every_days=1, repeat_times=4))
    big = schedule("Big ones", step("Big", 5), step("Bigger", 12), conditions=[{"field": "amount_due", "value": "500"}])
    schedule("Off", step("Never", 0), active=False)
    paused_contact = make_contact(name="Paused customer")
    invoices = [invoice(n, price="900.00" if i % 3 == 0 else "100.00") for i, n in enumerate(range(-40, 36, 3))]
    invoices += [invoice(n, contact=paused_contact) for n in (-10, 2)]
    invoices += [invoice(n) for n in (-5, -5, 0, 4)]
    Contact.objects.filter(pk=paused_contact.pk).update(reminders_paused=True)
    Invoice.objects.filter(pk=invoices[-1].pk).update(reminders_paused=True, reminders_paused_until=TODAY + dt.timedelta(days=3))
    Invoice.objects.filter(pk=invoices[-2].pk).update(reminders_paused=True, reminders_paused_until=TODAY - dt.timedelta(days=1))
    Invoice.objects.filter(pk=invoices[-3].pk).update(reminders_paused=True)
    for offset in range(45, 0, -1):
        day = TODAY - dt.timedelta(days=offset)
        with time_machine.travel(dt.datetime.combine(day, dt.time(0, 30), tzinfo=BERLIN), tick=False):
            reminders.scan()
    Invoice.objects.filter(pk=invoices[0].pk).update(due_date=TODAY + dt.timedelta(days=1))  # moved: starts again
    paid = invoices[5]
    from invoices import services as invoice_services
    invoice_services.record_payment(invoice=Invoice.objects.get(pk=paid.pk), amount=paid.balance)
    return {"dunning": dunning, "daily": daily, "big": big}


def test_the_pages_are_the_whole_forecasts_slices_in_the_same_order(busy_forecast):
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(7), tzinfo=BERLIN), tick=False):
        whole = [key(item) for item in reminders.forecast(today=TODAY)]
        pages = reminders.forecast_pages(today=TODAY)
        # The fixture covers what makes the order tricky.
        states = set(ReminderState.objects.values_list("position", "repeats"))
        assert {(0, 0), (1, 0), (2, 1)} <= states and len(states) >= 5, states
        moments = [item[5] for item in whole]
        assert len(set(moments)) < len({item[4] for item in whole})  # days sharing a sending moment
        assert all(moment.astimezone(BERLIN).hour == 9 and moment.weekday() < 5 for moment in moments)
        assert dt.date(2026, 12, 25) not in {moment.date() for moment in moments}
        assert {item[0] for item in whole} == {schedule.pk for schedule in busy_forecast.values()}
        assert len(whole) > 60

        assert pages.count() == len(pages) == len(whole)
        paginator: Paginator[reminders.Upcoming] = Paginator(pages, 7)
        assert paginator.count == len(whole) and paginator.num_pages > 8
        for number in paginator.page_range:
            page = paginator.page(number)
            assert [key(item) for item in page.object_list] == whole[(number - 1) * 7:number * 7], number
        assert [key(item) for item in pages[0:len(whole)]] == whole
        assert pages[len(whole):len(whole) + 5] == []
        assert [key(pages[3]), key(pages[-1])] == [whole[3], whole[-1]]
        assert [key(item) for item in pages] == whole

        for automation in busy_forecast.values():
            one = [key(item) for item in reminders.forecast(today=TODAY, automation=automation)]
            paged = reminders.forecast_pages(today=TODAY, automation=automation)
            assert len(paged) == len(one) > 0
            assert [key(item) for item in paged[3:11]] == one[3:11]
            assert [key(item) for item in paged[0:len(one)]] == one


def test_a_page_request_counts_and_fetches_its_page_in_one_query_with_the_same_result(busy_forecast):
    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(7), tzinfo=BERLIN), tick=False):
        whole = [key(item) for item in reminders.forecast(today=TODAY)]
        for number in (1, 2, 5, len(whole) // 9 + 1):  # the last page is short
            pages = reminders.forecast_pages(today=TODAY).expect((number - 1) * 9, number * 9)
            paginator: Paginator[reminders.Upcoming] = Paginator(pages, 9)
            with CaptureQueriesContext(connection) as queries:
                page = paginator.page(number)
                items = [key(item) for item in page.object_list]
            # The invoices are read twice: once counted with the page's rows, once the page's own.
            assert len([q for q in queries.captured_queries if "invoices_invoice" in q["sql"]]) == 2
            assert paginator.count == len(whole) and items == whole[(number - 1) * 9:number * 9], number
        # Expecting a page past the end: the count alone, the slice asked for apart.
        pages = reminders.forecast_pages(today=TODAY).expect(len(whole) + 9, len(whole) + 18)
        assert len(pages) == len(whole) and [key(item) for item in pages[9:18]] == whole[9:18]


def test_the_page_loads_only_its_own_invoices(busy_forecast, django_assert_max_num_queries):
    pages = reminders.forecast_pages(today=TODAY)
    pages.count()
    with django_assert_max_num_queries(4):  # the profile, the page's rows, its invoices (with contacts)
        page = pages[10:15]
    assert len(page) == 5 and all(item.invoice.contact.name for item in page)


def test_no_active_schedule_no_forecast():
    schedule("Off", step("Never", 0), active=False)
    invoice(1)
    pages = reminders.forecast_pages(today=TODAY)
    assert len(pages) == 0 and pages[0:50] == []


def test_the_forecast_page_shows_the_forecasts_slices_also_past_the_end(busy_forecast, client):
    from django.urls import reverse

    from tests.base import make_owner

    with time_machine.travel(dt.datetime.combine(TODAY, dt.time(7), tzinfo=BERLIN), tick=False):
        client.force_login(make_owner())
        whole = [key(item) for item in reminders.forecast(today=TODAY)]
        url = reverse("automations:reminder-forecast")
        last = (len(whole) - 1) // 50 + 1
        for asked, shown in (("1", 1), (str(last), last), ("999", last), ("0", last), ("x", 1)):
            response = client.get(url, {"page": asked})
            assert response.status_code == 200
            assert response.context["page"].number == shown and response.context["page"].paginator.count == len(whole)
            assert [key(item) for item in response.context["items"]] == whole[(shown - 1) * 50:shown * 50], asked
