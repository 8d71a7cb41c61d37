"""Email and task placeholders: a small whitelist, checked on save, rendered from plain strings."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail

from core import placeholders
from automations.mailer import build_message
from automations.models import Action, Automation
from core.placeholders import PLACEHOLDERS, PlaceholderError, check, context_for, render_html, render_text, single_line
from automations.services import AutomationInvalid, create_automation
from invoices import services
from tests.base import make_contact, make_invoice, make_plan

pytestmark = pytest.mark.django_db

TODAY = dt.date(2030, 3, 20)
ALL = "\n".join(f"{name}=[{{{{ {name} }}}}]" for name in PLACEHOLDERS)

REFUSED = [
    '{% include "x" %}',
    "{% load %}",
    "{% load static %}",
    "{% debug %}",
    "{% if invoice.number %}x{% endif %}",
    "{{ contact.__class__ }}",
    "{{ contact.first_name.__class__.__mro__ }}",
    "{{ invoice.contact.invoices }}",
    "{{ invoice.contact.invoices.all }}",
    "{{ settings.SECRET_KEY }}",
    "Hello {{ contact.first_name",
    "Hello {{ contact.first_name }",
    "Hello contact.first_name }}",
    "{{ contact.first_name|upper }}",
    "{{ contact.first_name }} {{",
    "{{}}",
    "{# a comment #}",
    "{{ {{ contact.first_name }} }}",
]


def valid_names_listed(message: str) -> bool:
    return all("{{ %s }}" % name in message for name in PLACEHOLDERS)


def recurring_invoice():
    """A real invoice issued by a real plan: every placeholder has a value."""
    plan = make_plan(amount=Decimal("50.00"), description="Monthly support", start_date=dt.date.today(),
                     contact=make_contact(name="Ada Lovelace", email="ada@example.com", company="Analytical Ltd"))
    services.start_recurring(plan=plan)
    plan.refresh_from_db()
    return plan.invoices.get(), plan


def test_every_placeholder_renders_for_a_real_invoice_and_plan():
    invoice, plan = recurring_invoice()
    context = context_for(contact=invoice.contact, invoice=invoice, plan=plan, today=TODAY, link="https://x.test/i/t/")
    assert set(context) == set(PLACEHOLDERS)
    assert all(isinstance(v, str) and v for v in context.values()), context
    rendered = render_text(ALL, context)
    assert "{{" not in rendered and "[]" not in rendered
    assert f"invoice.number=[{invoice.number}]" in rendered
    assert "contact.first_name=[Ada]" in rendered and "contact.last_name=[Lovelace]" in rendered
    assert "recurring.amount=[€50.00]" in rendered and "recurring.description=[Monthly support]" in rendered
    assert f"invoice.days_overdue=[{(TODAY - invoice.due_date).days}]" in rendered


def test_every_placeholder_reaches_a_real_email(django_capture_on_commit_callbacks):
    create_automation(name="All of them", trigger="invoice_sent", frequency="unlimited", is_active=True, actions=[
        {"kind": "send_email", "subject": "{{ invoice.number }}", "body": ALL, "sender_name": "", "reply_to": ""}])
    with django_capture_on_commit_callbacks(execute=True):
        invoice, _plan = recurring_invoice()
    # The plan's invoice is emailed too (automations.delivery); this is the automation's email.
    (message,) = [m for m in mail.outbox if m.tags == ["automation"]]
    values = dict(re.findall(r"^([a-z_.]+)=\[(.*)\]$", message.body, re.M))
    assert set(values) == set(PLACEHOLDERS)
    assert all(values.values()), values
    assert values["invoice.number"] == invoice.number
    assert values["invoice.link"].startswith("http") and "/i/" in values["invoice.link"]


def test_unknown_names_are_listed_with_the_valid_ones():
    with pytest.raises(PlaceholderError) as caught:
        check("Hi {{ contact.nickname }}, {{ invoice.secret }} and {{ contact.first_name }}")
    message = caught.value.message
    assert "{{ contact.nickname }}" in message and "{{ invoice.secret }}" in message
    assert "Unknown placeholder" in message and valid_names_listed(message)


@pytest.mark.parametrize("text", REFUSED)
def test_template_syntax_other_than_known_placeholders_is_refused(text):
    with pytest.raises(PlaceholderError) as caught:
        check(text)
    assert valid_names_listed(caught.value.message)


@pytest.mark.parametrize("text", ["", "No placeholders at all.", "Hi {{contact.first_name}}, {{  invoice.number  }}",
                                  "Prices in {curly} braces; 50% off; a # sign", ALL])
def test_known_placeholders_and_plain_text_pass(text):
    check(text)


@pytest.mark.parametrize("text", REFUSED)
@pytest.mark.parametrize("field", ["subject", "body"])
def test_create_automation_refuses_them_listing_the_valid_names(field, text):
    email = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello",
             "sender_name": "", "reply_to": ""}
    with pytest.raises(AutomationInvalid) as caught:
        create_automation(name="Bad", trigger="invoice_sent", frequency="unlimited",
                          actions=[{**email, field: text}])
    errors = caught.value.action_errors[0][field]
    assert any(valid_names_listed(e) for e in errors), errors
    assert valid_names_listed(str(caught.value))
    assert not Automation.objects.exists() and not Action.objects.exists()


def test_task_texts_are_checked_too():
    with pytest.raises(AutomationInvalid) as caught:
        create_automation(name="Bad task", trigger="invoice_paid", frequency="unlimited", actions=[
            {"kind": "create_task", "title": "Call {{ contact.phone }}", "description": "{% debug %}",
             "due_in_days": 1, "assignee": None}])
    errors = caught.value.action_errors[0]
    assert "{{ contact.phone }}" in " ".join(errors["title"])
    assert valid_names_listed(" ".join(errors["description"]))


def test_html_part_escapes_values_and_text():
    context = {"contact.name": '<img src=x onerror="alert(1)">', "invoice.number": "R&D-1"}
    html = render_html("Hi {{ contact.name }} <b>{{ invoice.number }}</b>\n\nBye & thanks", context)
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "R&amp;D-1" in html and "Bye &amp; thanks" in html
    assert html.startswith("<p>") and html.count("<p>") == 2
    # The text part is left as written.
    assert render_text("Hi {{ contact.name }}", context) == 'Hi <img src=x onerror="alert(1)">'


@pytest.mark.parametrize("value", ["Eve\r\nBcc: spy@evil.test", "Eve\nBcc: spy@evil.test", "Eve\rBcc: spy@evil.test",
                                   "Eve\u2028Bcc: spy@evil.test", "Eve\x85Bcc: spy@evil.test", "Eve\x0bBcc: spy@evil.test"])
def test_line_breaks_in_values_never_reach_the_subject_header(value):
    contact = make_contact(email="eve@example.com")
    action = Action(kind="send_email", subject="Invoice {{ invoice.number }} for {{ contact.name }}", body="Hi",
                    sender_name="Acme\r\nX-Evil: 1")
    context = {"invoice.number": "2030-0001", "contact.name": value}
    message = build_message(action=action, contact=contact, context=context, language="en", run_id=1, key="k", to="eve@example.com")
    assert message.subject == "Invoice 2030-0001 for Eve Bcc: spy@evil.test"
    assert single_line(value) == "Eve Bcc: spy@evil.test"
    raw = message.message().as_bytes()
    headers = raw.split(b"\n\n", 1)[0].splitlines()
    assert not [h for h in headers if h.startswith((b"Bcc:", b"X-Evil:"))], headers
    assert message.from_email.startswith("Acme X-Evil: 1 <") or message.from_email.startswith('"Acme X-Evil: 1" <')


def test_a_line_break_in_the_subject_itself_is_refused():
    with pytest.raises(AutomationInvalid) as caught:
        create_automation(name="Bad", trigger="invoice_sent", frequency="unlimited", actions=[
            {"kind": "send_email", "subject": "Hi\r\nBcc: spy@evil.test", "body": "x", "sender_name": "", "reply_to": ""}])
    assert "line breaks" in " ".join(caught.value.action_errors[0]["subject"])


def test_german_contacts_get_german_dates_and_money():
    contact = make_contact(name="Jörg Müller", language="de")
    invoice = make_invoice(contact=contact, issue_date=dt.date(2030, 3, 1), due_date=dt.date(2030, 3, 15), items=[
        {"description": "Beratung", "quantity": "1", "unit_price": "1037453.70", "tax_rate": "19"}])
    context = context_for(contact=contact, invoice=invoice, today=TODAY, language="de")
    assert context["invoice.issue_date"] == "01.03.2030"
    assert context["invoice.due_date"] == "15.03.2030"
    assert context["invoice.total"] == "1.234.569,90\xa0€"
    assert context["invoice.amount_due"] == "1.234.569,90\xa0€"
    assert context["invoice.days_overdue"] == "5"

    english = context_for(contact=contact, invoice=invoice, today=TODAY, language="en")
    assert english["invoice.due_date"] == "03/15/2030"
    assert english["invoice.total"] == "€1,234,569.90"

    plan = make_plan(contact=contact, amount=Decimal("49.90"), currency="CHF", start_date=dt.date(2030, 4, 1))
    services.start_recurring(plan=plan, now=dt.datetime(2030, 4, 1, 9, tzinfo=dt.timezone.utc))
    plan.refresh_from_db()
    german = context_for(contact=contact, plan=plan, today=TODAY, language="de")
    assert german["recurring.amount"] == "49,90\xa0CHF"
    assert german["recurring.next_date"] == "01.05.2030"


def test_a_german_email_is_formatted_in_german(django_capture_on_commit_callbacks):
    create_automation(name="Rechnung", trigger="invoice_sent", frequency="unlimited", is_active=True, actions=[
        {"kind": "send_email", "subject": "Rechnung {{ invoice.number }} fällig am {{ invoice.due_date }}",
         "body": "Hallo {{ contact.first_name }}, bitte zahlen Sie {{ invoice.amount_due }}.", "sender_name": "",
         "reply_to": ""}])
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(status="sent", due_date=dt.date(2030, 3, 5),
                               contact=make_contact(name="Jörg Müller", email="joerg@example.com", language="de"))
    (message,) = mail.outbox
    assert message.subject == f"Rechnung {invoice.number} fällig am 05.03.2030"
    assert message.body == "Hallo Jörg, bitte zahlen Sie 119,00\xa0€."
    assert placeholders.single_line(message.subject) == message.subject
