"""A reminder schedule in the browser: from the Mahnwesen template through the builder (schedule,
live German preview, conditions, the backlog question), then the invoice page's reminders card and
its pause (Mahnstopp)."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from automations.models import Automation
from tests.base import make_contact, make_invoice

from .wizard import next_step


def test_build_the_mahnwesen_schedule_preview_it_in_german_and_pause_an_invoice(page, owner):
    today = dt.date.today()
    contact = make_contact(name="Greta Gruber", language="de")
    invoice = make_invoice(status="sent", contact=contact, issue_date=today - dt.timedelta(days=30),
                           due_date=today - dt.timedelta(days=20))

    page.goto(page.url_for("/automations/new/template/mahnwesen/"))
    expect(page).to_have_url(re.compile(r"/automations/builder/[\w-]+/$"))
    next_step(page, "2. Trigger")
    expect(page.get_by_label("Payment reminders (before and after the due date)", exact=True)).to_be_checked()
    next_step(page, "3. Schedule")
    expect(page.locator("[data-action-card]")).to_have_count(3)
    # The live German preview fills the German text in from a real invoice.
    second = page.locator("#step-1")
    second.locator("[name='schedule-1-preview_invoice']").select_option(str(invoice.pk))
    expect(second.locator("#preview-de-schedule-1")).to_contain_text(f"1. Mahnung: Rechnung {invoice.number}")
    expect(second.locator("#preview-schedule-1")).to_contain_text(f"First reminder: invoice {invoice.number}")
    page.locator("[name='schedule-1-fee']").fill("7.50")
    next_step(page, "4. Conditions")
    page.get_by_label("Amount due is at least").fill("10")
    next_step(page, "5. Review")
    review = page.locator(".card", has=page.get_by_role("heading", name="Review"))
    expect(review).to_contain_text("1st reminder: 14 days after the due date")
    expect(review).to_contain_text("For invoices where the amount due is at least 10.00 and the currency is EUR.")
    expect(review.locator("[data-backlog-question]")).to_contain_text("1 open invoice is already past the first step")
    page.get_by_label("Also the invoices already overdue", exact=False).check()
    page.get_by_role("button", name="Activate").last.click()
    expect(page.get_by_role("alert")).to_contain_text("is saved and switched on.")
    automation = Automation.objects.get()
    assert automation.is_active and automation.schedule_from is None
    expect(page.locator("[data-conditions]")).to_contain_text("the amount due is at least 10.00")

    # The invoice page loads the reminders card (by URL name) and pauses the reminders.
    page.goto(page.url_for(f"/invoices/{invoice.pk}/"))
    card = page.locator("#reminders")
    expect(card).to_contain_text("Next: Friendly reminder on")
    card.get_by_text("Pause reminders (Mahnstopp)").click()
    card.get_by_label("Reason").fill("Customer disputes the amount")
    card.get_by_role("button", name="Pause reminders").click()
    expect(page.get_by_role("alert").first).to_contain_text("Payment reminders are paused.")
    card = page.locator("#reminders")
    expect(card.locator("[data-pause-state]")).to_contain_text("Customer disputes the amount")
    expect(card).to_contain_text("No reminder will go out: reminders for this invoice are paused")
    card.get_by_role("button", name="Resume reminders").click()
    expect(page.locator("#reminders")).to_contain_text("Next: Friendly reminder on")
