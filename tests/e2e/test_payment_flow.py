"""From a payment recorded in the browser to the customer's thank-you email: the invoice is paid,
the "Invoice is paid → Send email to customer" automation runs (inline: django-q2 is in sync mode
in the tests), and its page shows the run and where the email went."""

from __future__ import annotations

import datetime as dt

from django.core import mail
from playwright.sync_api import expect

from automations.models import Run
from automations.services import create_automation
from tests.base import make_contact, make_invoice


def test_a_payment_sends_the_thank_you_email(page):
    automation = create_automation(
        name="Thank you for paying", trigger="invoice_paid", frequency="unlimited", is_active=True,
        actions=[{"kind": "send_email", "subject": "Thank you for paying {{ invoice.number }}",
                  "body": "Hello {{ contact.first_name }},\nwe received {{ invoice.amount_paid }}. Thank you!"}],
    )
    contact = make_contact(name="Grace Hopper", email="grace@navy.test")
    today = dt.date.today()
    invoice = make_invoice(contact=contact, status="sent", issue_date=today - dt.timedelta(days=3),
                           due_date=today + dt.timedelta(days=11))
    assert invoice.balance > 0
    mail.outbox.clear()

    page.goto(page.url_for(f"/invoices/{invoice.pk}/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice.number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sent")
    page.get_by_role("link", name="Record payment").click()
    form = page.locator("#record-payment")
    amount = form.get_by_label("Amount")
    expect(amount).to_have_value(f"{invoice.balance:.2f}")  # the full balance is proposed
    amount.fill(f"{invoice.balance:.2f}")
    form.get_by_label("Method").select_option(label="Bank transfer")
    form.get_by_label("Reference").fill("SEPA 4711")
    form.get_by_role("button", name="Record payment").click()

    expect(page.get_by_role("alert")).to_contain_text(f"recorded on invoice {invoice.number}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paid")
    expect(page.locator("#payments")).to_contain_text("SEPA 4711")
    expect(page.locator("#record-payment")).to_have_count(0)
    # The invoice's timeline links the run of the automation.
    timeline = page.locator("#timeline")
    expect(timeline.get_by_role("link", name="Thank you for paying")).to_be_visible()
    expect(timeline.locator(".timeline-runs")).to_contain_text("Succeeded")

    timeline.get_by_role("link", name="Thank you for paying").click()
    expect(page.get_by_role("heading", level=1, name="Thank you for paying")).to_be_visible()
    runs = page.locator("#runs + .card tbody tr")
    expect(runs).to_have_count(1)
    expect(runs).to_contain_text("Grace Hopper")
    expect(runs).to_contain_text(invoice.number)
    expect(runs).to_contain_text("Succeeded")
    expect(runs).to_contain_text("Send email to customer")
    expect(runs).to_contain_text("to grace@navy.test")

    run = Run.objects.get(automation=automation)
    assert run.status == "succeeded"
    assert run.results.get().email_to == "grace@navy.test"
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["grace@navy.test"]
    assert email.subject == f"Thank you for paying {invoice.number}"
    assert "Hello Grace," in email.body
