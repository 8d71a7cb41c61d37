"""The reminder schedules' pages: the 30-day forecast, the invoice page's "why (not)" card, and
pausing and resuming reminders (Mahnstopp) from the invoice and contact pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from automations import reminders, services
from automations.models import Event
from invoices.models import Contact, Invoice
from tests.base import make_contact, make_invoice, make_owner, make_team_member

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()


@pytest.fixture
def owner_client(client):
    client.force_login(make_owner())
    return client


def task_step(name: str, days: int) -> dict:
    return {"name": name, "days": days, "actions": [{"kind": "create_task", "title": f"{name} {{{{ invoice.number }}}}"}]}


def schedule(*steps, name="Dunning", active=True):
    return services.create_automation(name=name, trigger="invoice_due", frequency="unlimited", steps=list(steps),
                                      is_active=active, include_backlog=True)


def open_invoice(due_in: int, **kw) -> Invoice:
    return make_invoice(status="sent", issue_date=min(TODAY, TODAY + dt.timedelta(days=due_in)) - dt.timedelta(days=14),
                        due_date=TODAY + dt.timedelta(days=due_in), **kw)


def test_the_forecast_lists_what_goes_out_in_the_next_30_days_in_order(owner_client):
    dunning = schedule(task_step("Heads-up", -3), task_step("1. Mahnung", 14))
    schedule(task_step("Other", 0), name="Switched off", active=False)
    soon = open_invoice(5, contact=make_contact(name="Ada Lovelace"))
    later = open_invoice(40)  # heads-up on day 37: outside the 30 days
    response = owner_client.get(reverse("automations:reminder-forecast"))
    assert response.status_code == 200
    rows = [(item.invoice, item.step.name, item.day) for item in response.context["items"]]
    assert rows == [(soon, "Heads-up", TODAY + dt.timedelta(days=2)), (soon, "1. Mahnung", TODAY + dt.timedelta(days=19))]
    page = response.content.decode()
    assert "Ada Lovelace" in page and soon.number in page and later.number not in page
    assert "Dunning" in page and "1 schedule is switched off and not shown." in page
    # One schedule only.
    filtered = owner_client.get(reverse("automations:reminder-forecast"), {"automation": dunning.pk})
    assert len(filtered.context["items"]) == 2


def test_the_forecast_is_paginated(owner_client):
    schedule(task_step("Due", 0))
    contact = make_contact()
    for _n in range(55):
        open_invoice(1, contact=contact)
    first = owner_client.get(reverse("automations:reminder-forecast"))
    assert len(first.context["items"]) == 50 and first.context["page"].paginator.count == 55
    assert "1–50 of 55" in first.content.decode()
    second = owner_client.get(reverse("automations:reminder-forecast"), {"page": "2"})
    assert len(second.context["items"]) == 5
    junk = owner_client.get(reverse("automations:reminder-forecast"), {"page": "x", "automation": "nope"})
    assert junk.status_code == 200 and len(junk.context["items"]) == 50


def test_the_automations_list_links_to_the_forecast(owner_client):
    page = owner_client.get(reverse("automations:automation-list")).content.decode()
    assert reverse("automations:reminder-forecast") in page


def test_the_invoice_page_loads_the_reminders_card_which_says_what_comes_next_or_why_not(owner_client):
    schedule(task_step("Friendly", 3))
    schedule(task_step("Never", 3), name="Off", active=False)
    invoice = open_invoice(-1)
    detail = owner_client.get(reverse("invoices:invoice-detail", args=[invoice.pk])).content.decode()
    url = reverse("automations:invoice-reminders", args=[invoice.pk])
    assert url in detail  # loaded by URL name, like the timeline
    card = owner_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "Next: Friendly on" in card
    assert "No reminder will go out: the automation is switched off." in card
    paid = make_invoice(status="paid")
    card = owner_client.get(reverse("automations:invoice-reminders", args=[paid.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "No reminder will go out: the invoice is paid." in card
    # Opened without JavaScript: a page of its own with a way back.
    page = owner_client.get(url).content.decode()
    assert "Back to the invoice" in page


def test_pausing_an_invoice_from_its_page_holds_its_reminders_until_resumed(owner_client):
    schedule(task_step("Friendly", 3))
    invoice = open_invoice(-10)
    until = TODAY + dt.timedelta(days=10)
    response = owner_client.post(reverse("automations:invoice-reminders-pause", args=[invoice.pk]),
                                 {"reason": "Customer disputes the amount", "until": until.isoformat()})
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:invoice-detail", args=[invoice.pk]) + "#reminders"
    invoice.refresh_from_db()
    assert invoice.reminders_paused and invoice.reminders_paused_until == until
    card = owner_client.get(reverse("automations:invoice-reminders", args=[invoice.pk]), HTTP_HX_REQUEST="true")
    text = card.content.decode()
    assert "Customer disputes the amount" in text and "Resume reminders" in text
    assert "reminders for this invoice are paused" in text
    reminders.scan()
    assert not Event.objects.filter(invoice=invoice, kind="invoice_due").exists()
    owner_client.post(reverse("automations:invoice-reminders-resume", args=[invoice.pk]))
    invoice.refresh_from_db()
    assert not invoice.reminders_paused and invoice.reminders_pause_reason == ""
    reminders.scan()
    assert Event.objects.filter(invoice=invoice, kind="invoice_due").count() == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"reason": "  "}, "Say why the reminders are paused"),
    ({"reason": "x", "until": (TODAY - dt.timedelta(days=1)).isoformat()}, "The pause cannot end in the past."),
    ({"reason": "x", "until": "2026-02-30"}, "Enter a valid date."),
])
def test_a_bad_pause_is_refused_with_a_message(owner_client, data, message):
    invoice = open_invoice(-10)
    response = owner_client.post(reverse("automations:invoice-reminders-pause", args=[invoice.pk]), data, follow=True)
    assert message in response.content.decode()
    invoice.refresh_from_db()
    assert not invoice.reminders_paused


def test_pausing_a_contact_from_its_page_holds_all_their_invoices(owner_client):
    schedule(task_step("Friendly", 3))
    contact = make_contact(name="Grace Hopper")
    first, second = open_invoice(-10, contact=contact), open_invoice(-12, contact=contact)
    detail = owner_client.get(reverse("invoices:contact-detail", args=[contact.pk])).content.decode()
    assert reverse("automations:contact-reminders", args=[contact.pk]) in detail
    owner_client.post(reverse("automations:contact-reminders-pause", args=[contact.pk]), {"reason": "Insolvency"})
    contact.refresh_from_db()
    assert contact.reminders_paused and contact.reminders_paused_until is None
    card = owner_client.get(reverse("automations:contact-reminders", args=[contact.pk]), HTTP_HX_REQUEST="true")
    assert "Insolvency" in card.content.decode()
    invoice_card = owner_client.get(reverse("automations:invoice-reminders", args=[first.pk]), HTTP_HX_REQUEST="true")
    assert "Reminders for Grace Hopper are paused: Insolvency" in invoice_card.content.decode()
    reminders.scan()
    assert not Event.objects.filter(invoice__in=[first, second], kind="invoice_due").exists()
    owner_client.post(reverse("automations:contact-reminders-resume", args=[contact.pk]))
    assert not Contact.objects.get(pk=contact.pk).reminders_paused
    reminders.scan()
    assert Event.objects.filter(invoice__in=[first, second], kind="invoice_due").count() == 2


def test_pausing_twice_keeps_the_latest_reason_and_resuming_twice_is_harmless(owner_client):
    invoice = open_invoice(-10)
    url = reverse("automations:invoice-reminders-pause", args=[invoice.pk])
    owner_client.post(url, {"reason": "First"})
    owner_client.post(url, {"reason": "Second"})
    invoice.refresh_from_db()
    assert invoice.reminders_pause_reason == "Second"
    resume = reverse("automations:invoice-reminders-resume", args=[invoice.pk])
    assert owner_client.post(resume).status_code == 302
    assert owner_client.post(resume).status_code == 302
    invoice.refresh_from_db()
    assert not invoice.reminders_paused


def test_a_team_member_sees_the_reminders_but_the_forecast_needs_the_automations_view(client):
    client.force_login(make_team_member())
    invoice = open_invoice(-1)
    assert client.get(reverse("automations:invoice-reminders", args=[invoice.pk])).status_code == 200
    assert client.get(reverse("automations:reminder-forecast")).status_code == 200


# --- The admin --------------------------------------------------------------------------------


def test_the_admin_shows_a_schedule_with_its_steps_and_saves_its_name_without_losing_them(owner_client):
    automation = services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", conditions=[{"field": "amount_due", "value": "50"}],
        steps=[{"name": "Friendly", "days": 3, "actions": [{"kind": "create_task", "title": "Call"}]},
               {"name": "1. Mahnung", "days": 14, "repeat_every_days": 7, "repeat_times": 2,
                "actions": [{"kind": "charge_fee", "fee": "5.00"}]}])
    url = reverse("admin:automations_automation_change", args=[automation.pk])
    page = owner_client.get(url).content.decode()
    assert "Friendly" in page and "3 days after the due date" in page and "every 7 days, at most 2 times" in page
    assert "Charge a reminder fee (5.00)" in page
    assert "For invoices where the amount due is at least 50.00." in page
    form = owner_client.get(url).context["inline_admin_formsets"][0].formset
    management = {f"{form.prefix}-{key}": value for key, value in form.management_form.initial.items()}
    ids = {f"{form.prefix}-{i}-id": str(step.pk) for i, step in enumerate(automation.reminder_steps.order_by("position"))}
    response = owner_client.post(url, {"name": "Dunning (EUR)", "frequency": "unlimited", **management, **ids,
                                       **{f"{form.prefix}-{i}-automation": str(automation.pk) for i in range(2)}})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    automation.refresh_from_db()
    assert automation.name == "Dunning (EUR)" and automation.trigger == "invoice_due"
    assert list(automation.reminder_steps.values_list("name", flat=True)) == ["Friendly", "1. Mahnung"]
    assert automation.actions.count() == 2


def test_the_admin_cannot_make_a_schedule_without_steps(owner_client):
    response = owner_client.post(reverse("admin:automations_automation_add") + "?classic=1", {
        "name": "x", "trigger": "invoice_due", "frequency": "unlimited", "actions-TOTAL_FORMS": "0",
        "actions-INITIAL_FORMS": "0", "actions-MIN_NUM_FORMS": "1", "actions-MAX_NUM_FORMS": "20"})
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not services.Automation.objects.exists()


def test_tags_are_made_in_the_admin_and_a_tag_condition_uses_them(owner_client):
    from invoices.models import Tag
    response = owner_client.post(reverse("admin:invoices_tag_add"), {"name": "VIP"})
    assert response.status_code == 302
    vip = Tag.objects.get(name="VIP")
    tagged, other = make_contact(), make_contact()
    tagged.tags.add(vip)
    assert "VIP" in owner_client.get(reverse("admin:invoices_tag_changelist")).content.decode()
    services.create_automation(name="VIPs", trigger="invoice_due", frequency="unlimited", is_active=True,
                               include_backlog=True, steps=[task_step("Friendly", 3)],
                               conditions=[{"field": "tag", "value": ["VIP"]}])
    first, second = open_invoice(-10, contact=tagged), open_invoice(-10, contact=other)
    reminders.scan()
    assert list(Event.objects.filter(kind="invoice_due").values_list("invoice", flat=True)) == [first.pk]
    card = owner_client.get(reverse("automations:invoice-reminders", args=[second.pk]), HTTP_HX_REQUEST="true")
    assert "a condition does not hold: the contact is tagged “VIP”" in card.content.decode()


def test_send_test_of_a_schedule_charges_nothing(owner_client):
    from invoices.models import Invoice as InvoiceModel
    automation = services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited",
        steps=[{"name": "1. Mahnung", "days": 14, "actions": [{"kind": "charge_fee", "fee": "5.00"},
                                                              {"kind": "charge_interest"}]}])
    invoice = open_invoice(-20)
    before = InvoiceModel.objects.count()
    response = owner_client.post(reverse("automations:automation-test", args=[automation.pk]), {"invoice": invoice.pk})
    assert response.status_code == 200
    assert response.content.decode().count("Nothing is charged in a test.") == 2
    assert InvoiceModel.objects.count() == before
