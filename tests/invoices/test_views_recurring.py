"""Recurring payments in the browser: create, start, cancel (after confirmation)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from automations.models import Event
from invoices.models import Invoice, RecurringPayment
from tests.base import make_contact, make_plan

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


def plan_data(who, **overrides) -> dict:
    data = {"contact": who.pk, "description": "Website maintenance", "amount": "149.00", "tax_rate": "19",
            "currency": "EUR", "interval": "monthly", "start_date": TODAY.isoformat(), "end_date": "",
            "payment_terms_days": "14"}
    data.update(overrides)
    return data


def test_create_recurring_payment_saves_a_scheduled_plan(user_client):
    contact = make_contact()
    response = user_client.post(reverse("invoices:recurring-create"), plan_data(contact, currency="CHF"))
    plan = RecurringPayment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:recurring-detail", args=[plan.pk])
    assert (plan.status, plan.amount, plan.tax_rate, plan.currency, plan.payment_terms_days) == (
        "scheduled", Decimal("149.00"), Decimal("19"), "CHF", 14)
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "0"}, "amount"),
    ({"end_date": (TODAY - dt.timedelta(days=1)).isoformat()}, "end_date"),
    ({"interval": "daily"}, "interval"),
    ({"currency": "ABC"}, "currency"),
    ({"contact": ""}, "contact"),
    ({"description": "Two\nlines"}, "description"),
])
def test_invalid_recurring_input_is_refused_at_its_field(user_client, change, field):
    response = user_client.post(reverse("invoices:recurring-create"), plan_data(make_contact(), **change))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not RecurringPayment.objects.exists()


def test_start_activates_the_plan_and_issues_its_first_invoice(user_client):
    plan = make_plan(start_date=TODAY)
    response = user_client.post(reverse("invoices:recurring-start", args=[plan.pk]), follow=True)
    plan.refresh_from_db()
    assert plan.status == "active"
    invoice = plan.invoices.get()
    assert invoice.status == "sent"
    assert invoice.number in response.content.decode()
    assert Event.objects.filter(recurring=plan, kind="recurring_started").exists()


def test_the_plan_page_shows_the_gross_amount_its_invoices_charge(user_client):
    # 11.50 + 19 % = 13.685: each invoice rounds the tax (2.185) half up to 2.19, so 13.69 is charged.
    plan = make_plan(amount=Decimal("11.50"), tax_rate=Decimal("19"), start_date=TODAY)
    user_client.post(reverse("invoices:recurring-start", args=[plan.pk]))
    assert plan.invoices.get().total == Decimal("13.69")
    page = user_client.get(reverse("invoices:recurring-detail", args=[plan.pk])).content.decode()
    assert "= €13.69" in page


def test_starting_twice_shows_the_refusal_not_a_500(user_client):
    plan = make_plan()
    url = reverse("invoices:recurring-start", args=[plan.pk])
    user_client.post(url)
    response = user_client.post(url, follow=True)
    assert response.status_code == 200
    assert "cannot be started: it is Active." in response.content.decode()
    assert plan.invoices.count() == 1


def test_cancel_asks_for_confirmation_then_cancels(user_client):
    plan = make_plan()
    url = reverse("invoices:recurring-cancel", args=[plan.pk])
    response = user_client.get(url)
    assert response.status_code == 200
    assert "Cancel recurring payment?" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "scheduled"
    response = user_client.post(url)
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == "canceled"
    assert Event.objects.filter(recurring=plan, kind="recurring_canceled").exists()


def test_cancel_of_a_canceled_plan_shows_the_refusal(user_client):
    plan = make_plan()
    url = reverse("invoices:recurring-cancel", args=[plan.pk])
    user_client.post(url)
    response = user_client.post(url, follow=True)
    assert "cannot be canceled: it is Canceled." in response.content.decode()
    assert user_client.get(url, follow=True).redirect_chain[-1][0] == reverse("invoices:recurring-detail", args=[plan.pk])


def test_recurring_list_shows_status_and_filters_by_it(user_client):
    scheduled = make_plan(description="Support retainer")
    active = make_plan(description="Hosting")
    user_client.post(reverse("invoices:recurring-start", args=[active.pk]))
    response = user_client.get(reverse("invoices:recurring-list"))
    html = response.content.decode()
    assert "Support retainer" in html and "Hosting" in html
    assert "badge-status-scheduled" in html and "badge-status-active" in html
    filtered = user_client.get(reverse("invoices:recurring-list"), {"status": "active"})
    assert [p.pk for p in filtered.context["plans"]] == [active.pk]
    assert scheduled.pk not in [p.pk for p in filtered.context["plans"]]


def test_recurring_detail_lists_its_invoices_and_offers_only_possible_buttons(user_client):
    plan = make_plan()
    detail = reverse("invoices:recurring-detail", args=[plan.pk])
    html = user_client.get(detail).content.decode()
    assert reverse("invoices:recurring-start", args=[plan.pk]) in html
    user_client.post(reverse("invoices:recurring-start", args=[plan.pk]))
    html = user_client.get(detail).content.decode()
    assert reverse("invoices:recurring-start", args=[plan.pk]) not in html
    assert reverse("invoices:recurring-cancel", args=[plan.pk]) in html
    assert plan.invoices.get().number in html
