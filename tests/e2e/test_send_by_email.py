"""Sending an invoice by email in the browser: the draft's "Send by email" page shows the email (a
fragment the engine serves), sending it emails the customer once (inline: django-q2 is in sync
mode in the tests), and the timeline shows the email; "Resend" sends it once more. A contact
without an address is offered only "Mark as sent"."""

from __future__ import annotations

from django.core import mail
from playwright.sync_api import expect

from automations.models import InvoiceEmail
from documents.services import document_filename
from tests.base import make_contact, make_invoice


def test_send_by_email_then_resend(page):
    invoice = make_invoice(contact=make_contact(name="Grace Hopper", email="grace@navy.test"))
    mail.outbox.clear()

    page.goto(page.url_for(f"/invoices/{invoice.pk}/"))
    page.get_by_role("link", name="Send by email").click()
    preview = page.locator("#email-preview")
    expect(preview).to_contain_text("grace@navy.test")
    expect(preview).to_contain_text(f"Invoice {invoice.number} from")
    expect(preview).to_contain_text(f"Invoice {invoice.number} (PDF)")
    page.get_by_role("button", name="Send by email").click()

    expect(page.get_by_role("alert")).to_contain_text("the email to grace@navy.test is on its way")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sent")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Email to grace@navy.test")
    expect(timeline.locator(".timeline-email")).to_contain_text("Sent")
    assert [m.to for m in mail.outbox] == [["grace@navy.test"]]
    invoice.refresh_from_db()
    assert mail.outbox[0].attachments[0][0] == document_filename(invoice, "pdf")

    page.get_by_role("link", name="Resend").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Email {invoice.number} again?")
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("alert")).to_contain_text("again in a moment")
    expect(page.locator("#timeline .timeline-email")).to_have_count(2)
    assert len(mail.outbox) == 2
    assert InvoiceEmail.objects.filter(invoice=invoice).count() == 2


def test_a_contact_without_an_address_is_offered_only_mark_as_sent(page):
    invoice = make_invoice(contact=make_contact(name="Ada", email=""))

    page.goto(page.url_for(f"/invoices/{invoice.pk}/"))
    page.get_by_role("link", name="Mark as sent (no email address)").click()
    expect(page.locator(".no-email")).to_contain_text("Ada has no email address")
    expect(page.get_by_role("button", name="Send by email")).to_have_count(0)
    page.get_by_role("button", name="Mark as sent without emailing").click()
    expect(page.get_by_role("alert")).to_contain_text("no email was sent")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sent")
    assert not InvoiceEmail.objects.exists() and not mail.outbox
