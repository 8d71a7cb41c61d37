"""The bad-input catalogue: one row per bad input, through the surface a person would use.

Each row says the surface, the input, and what the person sees; `check_case` (tests/badinput/
helpers.py) asserts for every row: no 500 and no traceback, the clear message (at its field when
it belongs to one), and nothing half-saved. The HTTP rows post as the signed-in owner through the
real URLs; the admin rows post what the admin's own page would post.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core import mail
from django.core.management import call_command
from django.conf import settings
from django.test import Client, override_settings

from accounts import services as people
from accounts.roles import OWNER, TEAM_MEMBER
from automations import dispatch
from automations.models import InvoiceEmail, Run
from automations.services import resend_invoice_email, retry_invoice_email
from invoices import services
from invoices.models import Invoice
from invoices.public import make_token, revoke_public_links
from tests.automations.test_views_support import EMAIL, TASK, Builder, action_post_data, make_automation
from tests.base import PASSWORD, make_contact, make_invoice, make_owner, make_plan, make_team_member
from tasks.services import create_task
from workflows.services import create_workflow

from .helpers import Case, browser_form_data, check_case

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024
LINE = {"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}
TODAY = dt.date.today()


class Ctx:
    def __init__(self, client) -> None:
        self.owner = make_owner()
        client.force_login(self.owner)
        self.client = client

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any):
        return self.client.post(url, data or {}, follow=True, **kw)


@pytest.fixture
def ctx(client) -> Ctx:
    return Ctx(client)


# --- The pages' own forms, as the browser posts them ------------------------------------------


def sent_invoice(ctx) -> dict[str, Any]:
    return {"invoice": make_invoice(status="sent")}  # 119.00 EUR due


def pay(**fields: Any):
    def act(ctx, o):
        data = {"amount": "10.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": "", **fields}
        return ctx.post(f"/invoices/{o['invoice'].pk}/payment/", data)
    return act


def invoice_post(contact, *, line: dict[str, str] | None = None, **fields: str) -> dict[str, Any]:
    line = {**LINE, **(line or {})}
    data = {"contact": str(contact.pk), "issue_date": TODAY.isoformat(),
            "due_date": (TODAY + dt.timedelta(days=14)).isoformat(), "currency": "EUR", "notes": "",
            "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000"}
    data.update({f"items-0-{k}": v for k, v in line.items()})
    data.update(fields)
    return data


def new_invoice(*, line: dict[str, str] | None = None, **fields: str):
    def act(ctx, o):
        return ctx.post("/invoices/new/", invoice_post(o["contact"], line=line, **fields))
    return act


def a_contact(ctx) -> dict[str, Any]:
    return {"contact": make_contact()}


def contact_post(**fields: str):
    def act(ctx, o):
        return ctx.post("/invoices/contacts/new/", {"name": "Ada", "email": "", "phone": "", "company": "",
                                                   "language": "en", **fields})
    return act


def recurring_post(**fields: str):
    def act(ctx, o):
        return ctx.post("/invoices/recurring/new/", {
            "contact": str(o["contact"].pk), "description": "Support", "amount": "50.00", "tax_rate": "19",
            "currency": "EUR", "interval": "monthly", "start_date": TODAY.isoformat(), "end_date": "",
            "payment_terms_days": "14", **fields})
    return act


FORM_CASES = [
    # Amounts
    Case("payment-negative", "form", "payment amount -5", pay(amount="-5"),
         "The amount must be greater than zero.", "amount", sent_invoice),
    Case("payment-zero", "form", "payment amount 0", pay(amount="0"),
         "The amount must be greater than zero.", "amount", sent_invoice),
    Case("payment-nan", "form", "payment amount NaN", pay(amount="NaN"), "Enter a number.", "amount", sent_invoice),
    Case("payment-infinity", "form", "payment amount Infinity", pay(amount="Infinity"),
         "Enter a number.", "amount", sent_invoice),
    Case("payment-3-decimals", "form", "payment amount 10.005", pay(amount="10.005"),
         "Ensure that there are no more than 2 decimal places.", "amount", sent_invoice),
    Case("payment-huge", "form", "payment amount 10^13", pay(amount="10000000000000"),
         "Ensure that there are no more than 12 digits before the decimal point.", "amount", sent_invoice),
    Case("payment-more-than-due", "form", "payment 119.01 on 119.00 due", pay(amount="119.01"),
         "€119.01 is more than the €119.00 still due", "amount", sent_invoice),
    Case("payment-reference-crlf", "form", "payment reference with CR/LF", pay(reference="ok\r\nBcc: x@evil.test"),
         "This field cannot contain line breaks.", "reference", sent_invoice),
    Case("payment-date-nonsense", "form", "payment date 2026-02-30", pay(date="2026-02-30"),
         "Enter a valid date.", "date", sent_invoice),
    Case("invoice-line-negative-price", "form", "line unit price -1", new_invoice(line={"unit_price": "-1"}),
         "The price must be greater than zero.", "items-0-unit_price", a_contact),
    Case("invoice-line-zero-quantity", "form", "line quantity 0", new_invoice(line={"quantity": "0"}),
         "The quantity must be greater than zero.", "items-0-quantity", a_contact),
    Case("invoice-line-nan-price", "form", "line unit price NaN", new_invoice(line={"unit_price": "NaN"}),
         "Enter a number.", "items-0-unit_price", a_contact),
    Case("invoice-line-3-decimals", "form", "line unit price 9.999", new_invoice(line={"unit_price": "9.999"}),
         "Ensure that there are no more than 2 decimal places.", "items-0-unit_price", a_contact),
    Case("invoice-total-too-large", "form", "999,999,999 × 9,999,999,999.99",
         new_invoice(line={"quantity": "999999999", "unit_price": "9999999999.99", "tax_rate": "0"}),
         "The invoice total is too large.", "__all__", a_contact),
    Case("invoice-tax-over-100", "form", "line tax rate 150", new_invoice(line={"tax_rate": "150"}),
         "Ensure this value is less than or equal to 100.", "items-0-tax_rate", a_contact),
    Case("invoice-no-lines", "form", "invoice without line items",
         new_invoice(line={"description": "", "quantity": "1", "unit_price": "", "tax_rate": "0"}),
         "Add at least one line item.", None, a_contact),
    # Dates
    Case("invoice-due-before-issue", "form", "due date a day before the issue date",
         new_invoice(due_date=(TODAY - dt.timedelta(days=1)).isoformat()),
         "The due date cannot be before the issue date.", "due_date", a_contact),
    Case("invoice-date-nonsense", "form", "issue date 31.02.2026", new_invoice(issue_date="31.02.2026"),
         "Enter a valid date.", "issue_date", a_contact),
    Case("recurring-end-before-start", "form", "plan ends before it starts",
         recurring_post(end_date=(TODAY - dt.timedelta(days=1)).isoformat()),
         "The end date cannot be before the start date.", "end_date", a_contact),
    Case("recurring-amount-zero", "form", "plan amount 0", recurring_post(amount="0"),
         "The amount must be greater than zero.", "amount", a_contact),
    Case("recurring-terms-negative", "form", "payment terms -1 days", recurring_post(payment_terms_days="-1"),
         "Ensure this value is greater than or equal to 0.", "payment_terms_days", a_contact),
    Case("invoice-year-0026", "form", "issue date 0026-11-26 (a typo for 2026)",
         new_invoice(issue_date="0026-11-26", due_date="0026-12-10"),
         "Enter a date between 2000 and 2099.", "issue_date", a_contact),
    Case("payment-date-9999", "form", "payment date 9999-12-31", pay(date="9999-12-31"),
         "Enter a date between 2000 and 2099.", "date", sent_invoice),
    Case("recurring-start-years-back", "form", "plan starting five years ago (would issue 60 invoices at once)",
         recurring_post(start_date=(TODAY - dt.timedelta(days=5 * 365)).isoformat()),
         "The start date can be at most one year in the past", "start_date", a_contact),
    Case("recurring-end-9999", "form", "plan ending 9999-12-31", recurring_post(end_date="9999-12-31"),
         "Enter a date between 2000 and 2099.", "end_date", a_contact),
    # Currencies
    Case("invoice-unknown-currency", "form", "currency XYZ", new_invoice(currency="XYZ"),
         "Select a valid choice. XYZ is not one of the available choices.", "currency", a_contact),
    Case("recurring-unknown-currency", "form", "currency BTC", recurring_post(currency="BTC"),
         "Select a valid choice. BTC is not one of the available choices.", "currency", a_contact),
    Case("invoice-historic-currency", "form", "currency DEM (the Deutsche Mark, gone since 2002)",
         new_invoice(currency="DEM"), "Select a valid choice. DEM is not one of the available choices.", "currency",
         a_contact),
    Case("invoice-gold-currency", "form", "currency XAU (gold)", new_invoice(currency="XAU"),
         "Select a valid choice. XAU is not one of the available choices.", "currency", a_contact),
    Case("service-test-currency", "service", "create_invoice(currency='XTS') (the ISO test code)",
         lambda ctx, o: services.create_invoice(contact=o["contact"], currency="XTS", items=[LINE]),
         "XTS is not an ISO 4217 currency code", setup=a_contact),
    # Names and emails
    Case("contact-name-blank", "form", "name of spaces only", contact_post(name="   "),
         "This field is required.", "name"),
    Case("contact-name-line-break", "form", "name with LF", contact_post(name="Ada\nLovelace"),
         "This field cannot contain line breaks.", "name"),
    Case("contact-name-nul", "form", "name with a NUL character", contact_post(name="Ada\x00"),
         "Null characters are not allowed.", "name"),
    Case("contact-name-too-long", "form", "name of 201 characters", contact_post(name="x" * 201),
         "Ensure this value has at most 200 characters (it has 201).", "name"),
    Case("contact-name-rtl-emoji", "form", "RTL and emoji name (accepted as typed)",
         contact_post(name="مريم 🧾 O'Brien \u202eevil"), "Contact مريم 🧾 O'Brien \u202eevil created.",
         changes={"Contact": 1}),
    Case("contact-email-crlf-header", "form", "email with CR/LF and a Bcc header",
         contact_post(email="a@example.com\r\nBcc: x@evil.test"), "This field cannot contain line breaks.", "email"),
    Case("contact-email-unicode-local", "form", "email müller@example.com (non-ASCII local part)",
         contact_post(email="müller@example.com"), "Enter a valid email address.", "email"),
    Case("contact-email-idn-domain", "form", "email kunde@bücher.de (IDN domain, accepted)",
         contact_post(name="Bücher Kunde", email="kunde@bücher.de"), "Contact Bücher Kunde created.",
         changes={"Contact": 1}),
    Case("contact-vat-id-invalid", "form", "contact VAT ID ATU1234567 (wrong check digit)",
         contact_post(vat_id="ATU1234567"), "ATU1234567 is not a valid EU VAT ID", "vat_id"),
    Case("contact-country-unknown", "form", "contact country XX", contact_post(country="XX"),
         "Select a valid choice. XX is not one of the available choices.", "country"),
    # Size
    Case("invoice-notes-10001", "form", "notes of 10,001 characters", new_invoice(notes="n" * 10_001),
         "Ensure this value has at most 10000 characters (it has 10001).", "notes", a_contact),
]


def task_post(**fields: str):
    return lambda ctx, o: ctx.post("/tasks/new/", {"title": "Call Ada", "description": "", "due_date": "",
                                                   "assignee": "", "contact": "", "invoice": "", **fields})


def a_card(ctx) -> dict[str, Any]:
    from workflows.services import place_card

    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    return {"card": place_card(contact=make_contact(), step=board.steps.get(name="New"))}


TASK_AND_BOARD_CASES = [
    Case("task-title-blank", "form", "task title of spaces", task_post(title="   "), "This field is required.",
         "title"),
    Case("task-unknown-invoice", "form", "task about invoice 2026-9999 (no such invoice)",
         task_post(invoice="2026-9999"), "There is no invoice with the number “2026-9999”.", "invoice"),
    Case("task-due-nonsense", "form", "task due 31/02/2026", task_post(due_date="31/02/2026"),
         "Enter a valid date.", "due_date"),
    Case("workflow-duplicate-name", "form", "a second workflow named “Collections”",
         lambda ctx, o: ctx.post("/workflows/new/", {"name": "collections", "steps": "New\nDone"}),
         "already exists", "name", lambda ctx: {"board": create_workflow(name="Collections", steps=["New"])}),
    Case("card-move-negative-position", "http", "drag and drop to position -1 (JSON answer)",
         lambda ctx, o: ctx.client.post(f"/workflows/cards/{o['card'].pk}/move/",
                                        {"step": str(o["card"].step_id), "position": "-1"},
                                        HTTP_ACCEPT="application/json"),
         "Ensure this value is greater than or equal to 0.", setup=a_card),
    Case("card-move-unknown-step", "http", "drag and drop to a deleted column",
         lambda ctx, o: ctx.client.post(f"/workflows/cards/{o['card'].pk}/move/", {"step": "999999", "position": "0"},
                                        HTTP_ACCEPT="application/json"),
         "The column has been deleted.", setup=a_card),
]


# --- 10 MB in a field: refused before any view runs, with the friendly 400 page ----------------

TOO_LARGE = "The request was too large or not understood, so nothing was saved."


def ten_mb(url: str, field: str, extra: dict[str, str] | None = None):
    def act(ctx, o):
        return ctx.client.post(url.format(**{k: v.pk for k, v in o.items()}),
                               {**(extra or {}), field: "x" * TEN_MB})
    return act


SIZE_CASES = [
    Case("10mb-contact-name", "http", "10 MB contact name", ten_mb("/invoices/contacts/new/", "name"), TOO_LARGE),
    Case("10mb-invoice-notes", "http", "10 MB invoice notes", ten_mb("/invoices/new/", "notes"), TOO_LARGE,
         setup=a_contact),
    Case("10mb-payment-reference", "http", "10 MB payment reference",
         ten_mb("/invoices/{invoice}/payment/", "reference", {"amount": "1", "date": TODAY.isoformat()}), TOO_LARGE,
         setup=sent_invoice),
    Case("10mb-task-description", "http", "10 MB task description", ten_mb("/tasks/new/", "description",
                                                                            {"title": "Call"}), TOO_LARGE),
    Case("10mb-admin-contact-name", "admin", "10 MB name in the admin", ten_mb("/admin/invoices/contact/add/", "name"),
         TOO_LARGE),
    Case("10mb-email-body", "template", "10 MB email body in the builder",
         lambda ctx, o: ctx.client.post(o["builder"].url, {"wizard-current_step": "actions",
                                                          **action_post_data([EMAIL | {"body": "x" * TEN_MB}])}),
         TOO_LARGE, setup=lambda ctx: {"builder": Builder(ctx.client, "/automations/new/custom/")}),
    Case("10mb-import-file", "import", "10 MB JSON file",
         lambda ctx, o: ctx.post("/automations/import/", {
             "file": SimpleUploadedFile("big.json", b"[" + b" " * TEN_MB + b"]", "application/json")}),
         "The file is too large (at most 2 MB).", "file"),
]


# --- Placeholders and template syntax in the builder, the preview and the services -------------

VALID_LIST = "Valid placeholders are: {{ contact.first_name }}"
ONLY_PLACEHOLDERS = "Only placeholders like {{ contact.first_name }} are allowed"


def builder(ctx) -> dict[str, Any]:
    return {"builder": Builder(ctx.client, "/automations/new/custom/")}


def builder_action(**fields: Any):
    def act(ctx, o):
        kind = TASK if "title" in fields or "description" in fields else EMAIL
        return ctx.client.post(o["builder"].url, {"wizard-current_step": "actions",
                                                  **action_post_data([kind | fields])})
    return act


TEMPLATE_CASES = [
    Case("placeholder-unknown", "template", "{{ contact.password }} in the body",
         builder_action(body="Hi {{ contact.password }}"), "Unknown placeholder {{ contact.password }}.",
         "actions-0-body", builder),
    Case("placeholder-attribute-walk", "template", "{{ contact.__class__ }} in the subject",
         builder_action(subject="{{ contact.__class__ }}"), "Unknown placeholder {{ contact.__class__ }}.",
         "actions-0-subject", builder),
    Case("placeholder-deep-walk", "template", "{{ invoice.contact.user.password }} in the body",
         builder_action(body="{{ invoice.contact.user.password }}"),
         "Unknown placeholder {{ invoice.contact.user.password }}.", "actions-0-body", builder),
    Case("template-include", "template", "{% include 'base.html' %} in the body",
         builder_action(body="{% include 'base.html' %}"), ONLY_PLACEHOLDERS, "actions-0-body", builder),
    Case("template-load", "template", "{% load static %} in the body",
         builder_action(body="{% load static %}{% static 'x' %}"), ONLY_PLACEHOLDERS, "actions-0-body", builder),
    Case("template-debug", "template", "{% debug %} in a task title", builder_action(title="{% debug %}"),
         ONLY_PLACEHOLDERS, "actions-0-title", builder),
    Case("template-filter", "template", "{{ contact.first_name|safe }} in the body",
         builder_action(body="{{ contact.first_name|safe }}"), ONLY_PLACEHOLDERS, "actions-0-body", builder),
    Case("template-unclosed", "template", "unclosed {{ contact.first_name in the subject",
         builder_action(subject="Hi {{ contact.first_name"), ONLY_PLACEHOLDERS, "actions-0-subject", builder),
    Case("template-comment", "template", "{# comment #} in the description",
         builder_action(description="{# secret #}"), ONLY_PLACEHOLDERS, "actions-0-description", builder),
    Case("email-subject-crlf", "template", "subject with CR/LF", builder_action(subject="Hi\r\nBcc: x@evil.test"),
         "This field cannot contain line breaks.", "actions-0-subject", builder),
    Case("email-reply-to-crlf", "template", "reply-to with CR/LF and a second header",
         builder_action(reply_to="a@example.com\r\nBcc: x@evil.test"), "This field cannot contain line breaks.",
         "actions-0-reply_to", builder),
    Case("email-body-20001", "template", "email body of 20,001 characters", builder_action(body="b" * 20_001),
         "Ensure this value has at most 20000 characters (it has 20001).", "actions-0-body", builder),
    Case("preview-debug", "http", "{% debug %} in the live preview",
         lambda ctx, o: ctx.client.get("/automations/preview/", {"subject": "{% debug %}", "body": "Hi"}),
         ONLY_PLACEHOLDERS, setup=sent_invoice),
    Case("service-include", "service", "create_automation with {% include %} in the body",
         lambda ctx, o: make_automation(actions=[EMAIL | {"body": "{% include 'base.html' %}"}]),
         ONLY_PLACEHOLDERS),
    Case("service-unknown-placeholder", "service", "create_automation with {{ settings.SECRET_KEY }}",
         lambda ctx, o: make_automation(actions=[TASK | {"title": "{{ settings.SECRET_KEY }}"}]),
         "Unknown placeholder {{ settings.SECRET_KEY }}."),
]


# --- The admin's add and change pages, and its actions -----------------------------------------


def admin_post(url: str, changes: dict[str, Any], form_id: str | None = None):
    def act(ctx, o):
        target = url.format(**{k: v.pk for k, v in o.items()})
        return ctx.post(target, browser_form_data(ctx.client, target, changes, form_id=form_id))
    return act


def admin_invoice(**changes: str):
    def act(ctx, o):
        url = "/admin/invoices/invoice/add/"
        data = browser_form_data(ctx.client, url, {"contact": str(o["contact"].pk), **changes})
        data.update({"items-TOTAL_FORMS": "1", "items-0-description": "Consulting", "items-0-quantity": "1",
                     "items-0-unit_price": "100.00", "items-0-tax_rate": "19"})
        return ctx.post(url, data)
    return act


def admin_action(model: str, action: str, key: str):
    def act(ctx, o):
        return ctx.post(f"/admin/invoices/{model}/", {"action": action, "_selected_action": [str(o[key].pk)]})
    return act


def paid_invoice(ctx) -> dict[str, Any]:
    return {"invoice": make_invoice(status="paid")}


def canceled_plan(ctx) -> dict[str, Any]:
    plan = make_plan()
    services.cancel_recurring(plan=plan)
    return {"plan": plan}


ADMIN_CASES = [
    Case("admin-invoice-due-before-issue", "admin", "due date before issue date",
         admin_invoice(issue_date=TODAY.isoformat(), due_date=(TODAY - dt.timedelta(days=3)).isoformat()),
         "The due date cannot be before the issue date.", "due_date", a_contact),
    Case("admin-invoice-due-9999", "admin", "due date 9999-12-31", admin_invoice(due_date="9999-12-31"),
         "Enter a date between 2000 and 2099.", "due_date", a_contact),
    Case("admin-recurring-start-years-back", "admin", "plan starting three years ago",
         lambda ctx, o: ctx.post("/admin/invoices/recurringpayment/add/", browser_form_data(
             ctx.client, "/admin/invoices/recurringpayment/add/", {
                 "contact": str(o["contact"].pk), "description": "Support", "amount": "50",
                 "start_date": (TODAY - dt.timedelta(days=3 * 365)).isoformat()})),
         "The start date can be at most one year in the past", "start_date", a_contact),
    Case("admin-invoice-unknown-currency", "admin", "currency EURO", admin_invoice(currency="EURO"),
         "Select a valid choice. EURO is not one of the available choices.", "currency", a_contact),
    Case("admin-invoice-notes-10001", "admin", "notes of 10,001 characters", admin_invoice(notes="n" * 10_001),
         "Ensure this value has at most 10000 characters (it has 10001).", "notes", a_contact),
    Case("admin-payment-negative", "admin", "payment amount -1",
         lambda ctx, o: ctx.post("/admin/invoices/payment/add/", browser_form_data(
             ctx.client, "/admin/invoices/payment/add/", {"invoice": str(o["invoice"].pk), "amount": "-1"})),
         "Ensure this value is greater than or equal to 0.01.", "amount", sent_invoice),
    Case("admin-payment-nan", "admin", "payment amount NaN",
         lambda ctx, o: ctx.post("/admin/invoices/payment/add/", browser_form_data(
             ctx.client, "/admin/invoices/payment/add/", {"invoice": str(o["invoice"].pk), "amount": "NaN"})),
         "Enter a number.", "amount", sent_invoice),
    Case("admin-payment-on-paid", "admin", "payment on a paid invoice",
         lambda ctx, o: ctx.post("/admin/invoices/payment/add/", browser_form_data(
             ctx.client, "/admin/invoices/payment/add/", {"invoice": str(o["invoice"].pk), "amount": "1"})),
         "only sent or overdue invoices can be paid", "invoice", paid_invoice),
    Case("admin-contact-email-crlf", "admin", "email with CR/LF",
         admin_post("/admin/invoices/contact/add/", {"name": "Ada", "email": "a@example.com\r\nBcc: x@evil.test"}),
         "Enter a valid email address.", "email"),
    Case("admin-contact-name-crlf", "admin", "name with CR/LF",
         admin_post("/admin/invoices/contact/add/", {"name": "Ada\r\nLovelace"}),
         "This field cannot contain line breaks.", "name"),
    Case("admin-recurring-amount-3-decimals", "admin", "plan amount 1.005",
         admin_post("/admin/invoices/recurringpayment/add/", {"description": "Support", "amount": "1.005"}),
         "Ensure that there are no more than 2 decimal places.", "amount"),
    Case("admin-full-payment-of-paid", "admin", "“Record full payment” on a paid invoice",
         admin_action("invoice", "record_full_payment", "invoice"), "cannot be paid: it is Paid.",
         setup=paid_invoice),
    Case("admin-send-twice", "admin", "“Send” on a sent invoice", admin_action("invoice", "send_selected", "invoice"),
         "cannot be sent: it is Sent.", setup=sent_invoice),
    Case("admin-cancel-twice", "admin", "“Cancel” on a canceled plan",
         admin_action("recurringpayment", "cancel_selected", "plan"),
         "The recurring payment cannot be canceled: it is Canceled.", setup=canceled_plan),
]


# --- Service calls (integrations, scripts, commands) --------------------------------------------


def record(amount: Any):
    return lambda ctx, o: services.record_payment(invoice=o["invoice"], amount=amount)


SERVICE_CASES = [
    Case("service-payment-nan", "service", "record_payment(amount='NaN')", record("NaN"), "NaN is not an amount.",
         "amount", sent_invoice),
    Case("service-payment-snan", "service", "record_payment(amount='sNaN')", record("sNaN"),
         "sNaN is not an amount.", "amount", sent_invoice),
    Case("service-payment-float", "service", "record_payment(amount=0.1 + 0.2)", record(0.1 + 0.2),
         "Amounts can have at most two decimal places.", "amount", sent_invoice),
    Case("service-payment-negative-zero", "service", "record_payment(amount='-0')", record("-0"),
         "The amount must be greater than zero.", "amount", sent_invoice),
    Case("service-payment-huge", "service", "record_payment(amount='1e12')", record("1e12"),
         "The amount is too large.", "amount", sent_invoice),
    Case("service-payment-text", "service", "record_payment(amount='12,50')", record("12,50"),
         "12,50 is not an amount.", "amount", sent_invoice),
    Case("service-payment-on-draft", "service", "record_payment on a draft",
         record("1"), "cannot be paid: it is Draft.", setup=lambda ctx: {"invoice": make_invoice()}),
    Case("service-unknown-currency", "service", "create_invoice(currency='ABC')",
         lambda ctx, o: services.create_invoice(contact=o["contact"], items=[LINE], currency="ABC"),
         "ABC is not an ISO 4217 currency code", "currency", a_contact),
    Case("service-due-before-issue", "service", "create_invoice with the due date before the issue date",
         lambda ctx, o: services.create_invoice(contact=o["contact"], items=[LINE], issue_date=TODAY,
                                                due_date=TODAY - dt.timedelta(days=1)),
         "The due date cannot be before the issue date.", "due_date", a_contact),
    Case("service-issue-9999-no-due", "service", "create_invoice(issue_date=9999-12-31) without a due date",
         lambda ctx, o: services.create_invoice(contact=o["contact"], items=[LINE], issue_date=dt.date(9999, 12, 31)),
         "Enter a date between 2000 and 2099.", "issue_date", a_contact),
    Case("service-plan-start-year-1", "service", "create_recurring(start_date=0001-01-01)",
         lambda ctx, o: make_plan(contact=o["contact"], start_date=dt.date(1, 1, 1)),
         "Enter a date between 2000 and 2099.", "start_date", a_contact),
    Case("service-line-infinity", "service", "a line of Infinity × 1",
         lambda ctx, o: services.create_invoice(contact=o["contact"], items=[LINE | {"quantity": "Infinity"}]),
         "Line 1:", None, a_contact),
    Case("service-plan-amount-infinity", "service", "create_recurring(amount='Infinity')",
         lambda ctx, o: make_plan(contact=o["contact"], amount="Infinity"), "Infinity is not an amount.", "amount",
         a_contact),
    Case("service-contact-email-crlf", "service", "create_contact with CR/LF in the email",
         lambda ctx, o: services.create_contact(name="Ada", email="a@example.com\nBcc: x@evil.test"),
         "Enter a valid email address.", "email"),
    Case("service-contact-name-10mb", "service", "create_contact with a 10 MB name",
         lambda ctx, o: services.create_contact(name="x" * TEN_MB),
         "Ensure this value has at most 200 characters", "name"),
    Case("service-notes-10mb", "service", "create_invoice with 10 MB of notes",
         lambda ctx, o: services.create_invoice(contact=o["contact"], items=[LINE], notes="n" * TEN_MB),
         "Ensure this value has at most 10000 characters", "notes", a_contact),
    # NUL characters: PostgreSQL cannot store them (a DataError, a server error) — the forms refuse
    # them, and so must the services for every other caller.
    Case("service-contact-nul", "service", "create_contact(name='Ada\\x00')",
         lambda ctx, o: services.create_contact(name="Ada\x00"), "Null characters are not allowed.", "name"),
    Case("service-line-nul", "service", "a line item description with NUL",
         lambda ctx, o: services.create_invoice(contact=o["contact"], items=[LINE | {"description": "Work\x00"}]),
         "Line 1: Null characters are not allowed.", None, a_contact),
    Case("service-task-nul", "service", "create_task(title='Call\\x00')",
         lambda ctx, o: create_task(title="Call\x00"), "Null characters are not allowed.", "title"),
    Case("service-workflow-nul", "service", "create_workflow(name='Sales\\x00')",
         lambda ctx, o: create_workflow(name="Sales\x00", steps=["New"]), "Null characters are not allowed.", "name"),
    Case("service-automation-nul", "service", "create_automation with NUL in the email body",
         lambda ctx, o: make_automation(actions=[EMAIL | {"body": "Hi\x00"}]), "Null characters are not allowed."),
    Case("service-issue-date-other-year", "service", "a draft's issue date moved to another year",
         lambda ctx, o: services.update_draft_invoice(invoice=o["invoice"],
                                                      issue_date=o["invoice"].issue_date.replace(year=2001)),
         "its issue date must stay in", "issue_date", lambda ctx: {"invoice": make_invoice()}),
]


# --- Double submits, deleting what an automation uses, canceling plans -------------------------


def payment_posted_once(ctx) -> dict[str, Any]:
    invoice = make_invoice(status="sent")
    data = {"amount": "10.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": "",
            "nonce": "n" * 32}
    assert ctx.post(f"/invoices/{invoice.pk}/payment/", data).status_code == 200
    assert invoice.payments.count() == 1
    return {"invoice": invoice, "data": data}


def automation_with_step(ctx) -> dict[str, Any]:
    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    step = board.steps.get(name="Reminded")
    make_automation("Move when overdue", actions=[{"kind": "move_card", "step": step}])
    return {"step": step}


def automation_with_assignee(ctx) -> dict[str, Any]:
    bob = make_team_member("bob")
    make_automation("Call task", actions=[TASK | {"assignee": bob}])
    return {"user": bob}


def built_and_activated(ctx) -> dict[str, Any]:
    b = Builder(ctx.client, "/automations/new/custom/")
    b.next("name", {"name-name": "Reminder"})
    b.next("trigger", {"trigger-trigger": "invoice_overdue"})
    b.next("frequency", {"frequency-frequency": "unlimited"})
    b.next("actions", action_post_data([dict(EMAIL)]))
    assert b.activate().status_code == 302
    return {"builder": b}


def new_invoice_posted_once(ctx) -> dict[str, Any]:
    form = ctx.client.get("/invoices/new/").context["form"]
    data = invoice_post(make_contact(), nonce=form.initial["nonce"])
    assert ctx.post("/invoices/new/", data).status_code == 200
    assert Invoice.objects.count() == 1
    return {"data": data}


STATE_CASES = [
    Case("double-submit-new-invoice", "http", "the new-invoice form posted twice (a draft number each time)",
         lambda ctx, o: ctx.post("/invoices/new/", o["data"]), "This invoice has already been saved.",
         setup=new_invoice_posted_once),
    Case("double-submit-payment", "http", "the payment form posted twice",
         lambda ctx, o: ctx.post(f"/invoices/{o['invoice'].pk}/payment/", o["data"]),
         "This payment has already been recorded.", setup=payment_posted_once),
    Case("double-submit-send", "http", "Send pressed twice",
         lambda ctx, o: ctx.post(f"/invoices/{o['invoice'].pk}/send/"), "cannot be sent: it is Sent.",
         setup=sent_invoice),
    Case("double-submit-void", "http", "Void pressed twice",
         lambda ctx, o: ctx.post(f"/invoices/{o['invoice'].pk}/void/"), "cannot be voided: it is Void.",
         setup=lambda ctx: {"invoice": make_invoice(status="void")}),
    Case("double-submit-activate", "http", "Activate pressed twice in the builder",
         lambda ctx, o: ctx.client.post(o["builder"].url, {"wizard-current_step": "review", "review-activate": "on"},
                                        follow=True),
         "This automation has already been saved.", setup=built_and_activated),
    Case("delete-step-in-use", "http", "deleting a column an automation moves cards to",
         lambda ctx, o: ctx.post(f"/workflows/steps/{o['step'].pk}/delete/"),
         "is used by the automation “Move when overdue”", setup=automation_with_step),
    Case("delete-user-in-use", "admin", "deleting a user an automation assigns tasks to",
         lambda ctx, o: ctx.post(f"/admin/auth/user/{o['user'].pk}/delete/", {"post": "yes"}),
         "Action: “Call task”, action 1: Create a task", setup=automation_with_assignee),
    Case("delete-user-in-use-bulk", "admin", "deleting that user with the admin's bulk delete",
         lambda ctx, o: ctx.post("/admin/auth/user/", {"action": "delete_selected",
                                                       "_selected_action": [str(o["user"].pk)], "post": "yes"}),
         "Action: “Call task”, action 1: Create a task", setup=automation_with_assignee),
    Case("delete-step-in-use-admin", "admin", "deleting that column in the admin",
         lambda ctx, o: ctx.post(f"/admin/workflows/step/{o['step'].pk}/delete/", {"post": "yes"}),
         "is used by the automation “Move when overdue”", setup=automation_with_step),
    Case("delete-step-in-use-admin-bulk", "admin", "deleting that column with the admin's bulk delete",
         lambda ctx, o: ctx.post("/admin/workflows/step/", {"action": "delete_selected",
                                                            "_selected_action": [str(o["step"].pk)], "post": "yes"}),
         "is used by the automation “Move when overdue”", setup=automation_with_step),
    Case("delete-workflow-in-use", "http", "deleting the workflow of that column",
         lambda ctx, o: ctx.post(f"/workflows/{o['step'].workflow_id}/delete/"),
         "Move when overdue", setup=automation_with_step),
    Case("cancel-twice", "http", "Cancel pressed on a canceled plan",
         lambda ctx, o: ctx.post(f"/invoices/recurring/{o['plan'].pk}/cancel/"),
         "The recurring payment cannot be canceled: it is Canceled.", setup=canceled_plan),
    Case("start-after-cancel", "http", "Start pressed on a plan canceled before it started",
         lambda ctx, o: ctx.post(f"/invoices/recurring/{o['plan'].pk}/start/"),
         "The recurring payment cannot be started: it is Canceled.", setup=canceled_plan),
    Case("service-cancel-twice", "service", "cancel_recurring twice",
         lambda ctx, o: services.cancel_recurring(plan=o["plan"]),
         "The recurring payment cannot be canceled: it is Canceled.", setup=canceled_plan),
]


# --- Importing automations: the upload page and the command ------------------------------------


def upload(content: bytes | str):
    raw = content.encode() if isinstance(content, str) else content

    def act(ctx, o):
        return ctx.post("/automations/import/", {"file": SimpleUploadedFile("a.json", raw, "application/json")})
    return act


def command(content: str):
    def act(ctx, o):
        out = io.StringIO()
        call_command("import_automations", "-", stdin=io.StringIO(content), stdout=out)
        return out.getvalue()
    return act


GOOD = {"name": "Reminder", "trigger": "invoice_overdue", "frequency": "unlimited", "is_active": True,
        "actions": [{"kind": "send_email", "subject": "Hi", "body": "Hello", "sender_name": "", "reply_to": ""}]}


def doc(*items: dict[str, Any]) -> str:
    return json.dumps(list(items))


IMPORT_CASES = [
    Case("import-not-json", "import", "a file that is not JSON", upload("{not json"),
         "The file is not valid JSON"),
    Case("import-not-utf8", "import", "a Latin-1 file", upload("[{\"name\": \"Grüße\"}]".encode("latin-1")),
         "is not UTF-8 text (byte 14)."),
    Case("import-object-not-list", "import", "an object instead of a list", upload(json.dumps(GOOD)),
         "The file must hold a list of automations (a JSON array), not an object."),
    Case("import-deep-nesting", "import", "100,000 nested lists", upload("[" * 100_000 + "]" * 100_000),
         "Nothing was imported."),
    Case("import-unknown-trigger", "import", "trigger invoice_exploded",
         upload(doc(GOOD | {"trigger": "invoice_exploded"})), "invoice_exploded"),
    Case("import-debug-tag", "import", "{% debug %} in an email body",
         upload(doc(GOOD | {"actions": [GOOD["actions"][0] | {"body": "{% debug %}"}]})), ONLY_PLACEHOLDERS),
    Case("import-missing-step", "import", "a move_card to a workflow that does not exist",
         upload(doc(GOOD | {"actions": [{"kind": "move_card", "workflow": "Nope", "step": "Paid"}]})),
         "no workflow named 'Nope'"),
    Case("import-days-infinite", "import", "due_in_days 1e400 (infinite)",
         upload(doc(GOOD | {"actions": [{"kind": "create_task", "title": "Call", "description": "",
                                         "due_in_days": 1e400, "assignee": None}]}).replace("Infinity", "1e400")),
         "due_in_days"),
    Case("import-second-invalid", "import", "two automations, the second invalid: neither is saved",
         upload(doc(GOOD, GOOD | {"name": "Other", "frequency": "hourly"})), "hourly"),
    Case("import-nul-name", "import", "a name holding \\u0000",
         upload(doc(GOOD | {"name": "Remin\x00der"})), "automation 1: a text holds a NUL character"),
    Case("import-nul-assignee", "import", "an assignee username holding \\u0000 (looked up before saving)",
         command(doc(GOOD, GOOD | {"name": "Call", "actions": [{"kind": "create_task", "title": "Call", "description": "",
                                                                "due_in_days": 1, "assignee": "bo\x00b"}]})),
         "automation 2: a text holds a NUL character"),
    Case("command-not-json", "import", "import_automations with a truncated file", command('[{"name": '),
         "standard input is not valid JSON: Expecting value at line 1, column 11."),
    Case("command-unknown-user", "import", "import_automations with an unknown assignee",
         command(doc(GOOD | {"actions": [{"kind": "create_task", "title": "Call", "description": "",
                                          "due_in_days": 1, "assignee": "nobody"}]})), "no user named 'nobody'"),
]


# --- Defined skip reasons at run time ----------------------------------------------------------


def run_reason(ctx, o) -> str:
    dispatch.dispatch_pending()
    return Run.objects.get().reason


def sent_to_contact_without_email(ctx) -> dict[str, Any]:
    make_automation("Thanks", trigger="invoice_sent", is_active=True)
    make_invoice(status="sent", contact=make_contact(email=""))
    return {}


def sent_then_voided(ctx) -> dict[str, Any]:
    make_automation("Thanks", trigger="invoice_sent", is_active=True)
    invoice = make_invoice(status="sent")
    services.void_invoice(invoice=invoice)
    return {}


def started_then_canceled(ctx) -> dict[str, Any]:
    make_automation("Welcome", trigger="recurring_started", is_active=True)
    plan = make_plan()
    services.start_recurring(plan=plan)
    services.cancel_recurring(plan=plan)
    return {}


SKIP_CASES = [
    Case("skip-no-email-address", "job", "a sent invoice whose contact has no email address", run_reason,
         "no email address", setup=sent_to_contact_without_email, changes={"Run": 1}),
    Case("skip-voided-before-dispatch", "job", "an invoice voided before its “sent” automation ran", run_reason,
         "invoice voided", setup=sent_then_voided, changes={"Run": 1}),
    Case("skip-canceled-before-dispatch", "job", "a plan canceled before its “starts” automation ran", run_reason,
         "recurring payment already canceled", setup=started_then_canceled, changes={"Run": 1}),
]

# --- Names and addresses that are valid but unusual, all the way into the email ---------------


def email_on_send(contact_fields: dict[str, str], **action_fields: str):
    def setup(ctx) -> dict[str, Any]:
        make_automation("Thanks", trigger="invoice_sent", is_active=True, actions=[
            EMAIL | {"subject": "Invoice {{ invoice.number }} for {{ contact.name }}", "body": "Hello {{ contact.name }}",
                     **action_fields}])
        make_invoice(status="sent", contact=make_contact(**contact_fields))
        return {}
    return setup


def delivered(ctx, o) -> str:
    """The run's status and the email as it leaves (its encoded headers and the HTML part)."""
    dispatch.dispatch_pending()
    run = Run.objects.get()
    (message,) = mail.outbox
    wire = message.message()
    return (f"{run.status} | To: {wire['To']} | Reply-To: {wire['Reply-To']} | Subject: {message.subject} | "
            f"HTML: {message.alternatives[0][0]}")


EMAIL_CASES = [
    Case("idn-domain-delivered", "job", "kunde@bücher.de: sent to the punycode domain",
         delivered, "succeeded | To: kunde@xn--bcher-kva.de", setup=email_on_send({"email": "kunde@bücher.de"}),
         changes={"Run": 1}),
    Case("idn-reply-to-delivered", "job", "reply-to billing@bücher.de: sent punycoded",
         delivered, "Reply-To: billing@xn--bcher-kva.de", setup=email_on_send({}, reply_to="billing@bücher.de"),
         changes={"Run": 1}),
    Case("rtl-emoji-name-in-subject", "job", "an RTL name with an emoji in the subject",
         delivered, "for مريم 🧾 الأحمد | HTML: <p>Hello مريم 🧾 الأحمد</p>",
         setup=email_on_send({"name": "مريم 🧾 الأحمد"}), changes={"Run": 1}),
    Case("direction-override-kept-out-of-the-subject", "job",
         "a name with U+202E (right-to-left override): the subject reads as written",
         delivered, "for Eve fdp.exe | HTML", setup=email_on_send({"name": "Eve \u202efdp.exe"}),
         changes={"Run": 1}),
    Case("placeholder-in-a-name-stays-text", "job", "a contact named “{{ invoice.total }}” is not filled in",
         delivered, "for {{ invoice.total }} |", setup=email_on_send({"name": "{{ invoice.total }}"}),
         changes={"Run": 1}),
    Case("html-in-a-name-is-escaped", "job", "a contact named <script>… gets escaped in the HTML part",
         delivered, "Hello &lt;script&gt;alert(1)&lt;/script&gt;",
         setup=email_on_send({"name": "<script>alert(1)</script>"}), changes={"Run": 1}),
]

# --- The same rules through every door: builder, admin, import, services ----------------------


def admin_automation(actions: list[dict[str, Any]], **fields: str):
    """The admin's own add page (the classic form, with its Action inline), filled in and posted."""
    def act(ctx, o):
        url = "/admin/automations/automation/add/?classic=1"
        data = browser_form_data(ctx.client, url, {"name": "Reminder", "trigger": "invoice_overdue",
                                                   "frequency": "unlimited", **fields}, form_id="automation_form")
        data["actions-TOTAL_FORMS"] = str(len(actions))
        for index, action in enumerate(actions):
            data.update({f"actions-{index}-{name}": value for name, value in action.items()})
        return ctx.post(url, data)
    return act


def many_actions(count: int) -> list[dict[str, Any]]:
    return [{"kind": "create_task", "title": f"Call {n}", "description": "", "due_in_days": 1, "assignee": None}
            for n in range(count)]


TOO_MANY = "An automation can have at most 20 actions; this one has 21."

DOOR_CASES = [
    # Placeholders in the sender's name: filled in when sent, so checked like the subject everywhere.
    Case("sender-name-tag-builder", "template", "{% debug %} as the sender name in the builder",
         builder_action(sender_name="{% debug %}"), ONLY_PLACEHOLDERS, "actions-0-sender_name", builder),
    Case("sender-name-unknown-admin", "admin", "{{ contact.password }} as the sender name in the admin",
         admin_automation([{"kind": "send_email", "subject": "Hi", "body": "Hello",
                            "sender_name": "{{ contact.password }}"}]),
         "Unknown placeholder {{ contact.password }}.", "actions-0-sender_name"),
    Case("sender-name-unknown-import", "import", "{{ settings.SECRET_KEY }} as the sender name in a file",
         upload(doc(GOOD | {"actions": [GOOD["actions"][0] | {"sender_name": "{{ settings.SECRET_KEY }}"}]})),
         "Unknown placeholder {{ settings.SECRET_KEY }}."),
    Case("sender-name-unclosed-service", "service", "create_automation with an unclosed {{ in the sender name",
         lambda ctx, o: make_automation(actions=[EMAIL | {"sender_name": "Acme {{ business.name"}]),
         ONLY_PLACEHOLDERS),
    Case("sender-name-tag-preview", "http", "{% include %} as the sender name in the live preview",
         lambda ctx, o: ctx.client.get("/automations/preview/", {"subject": "Hi", "body": "Hi",
                                                                 "sender_name": "{% include 'base.html' %}"}),
         ONLY_PLACEHOLDERS, setup=sent_invoice),
    # At most 20 actions, whoever saves.
    Case("import-5000-actions", "import", "an automation with 5,000 actions in a file",
         upload(doc(GOOD | {"actions": many_actions(5000)})),
         "An automation can have at most 20 actions; this one has 5000."),
    Case("admin-21-actions", "admin", "21 actions in the admin's inline",
         admin_automation([{**a, "due_in_days": "1", "assignee": ""} for a in many_actions(21)]), TOO_MANY),
    Case("service-21-actions", "service", "create_automation with 21 actions",
         lambda ctx, o: make_automation(actions=many_actions(21)), TOO_MANY, "actions"),
    Case("builder-21-actions", "template", "21 actions posted to the builder's actions step",
         lambda ctx, o: ctx.client.post(o["builder"].url, {"wizard-current_step": "actions",
                                                          **action_post_data([dict(TASK)] * 21)}),
         TOO_MANY, setup=builder),
    Case("import-201-automations", "import", "a file of 201 automations",
         upload(doc(*[GOOD | {"name": f"Reminder {n}"} for n in range(201)])),
         "The file holds 201 automations; at most 200 can be imported at once. Split it into smaller files."),
    Case("import-name-201", "import", "an automation name of 201 characters",
         upload(doc(GOOD | {"name": "n" * 201})), "Ensure this value has at most 200 characters (it has 201)."),
    Case("admin-name-201", "admin", "an automation name of 201 characters in the admin",
         admin_automation([{"kind": "send_email", "subject": "Hi", "body": "Hello"}], name="n" * 201),
         "Ensure this value has at most 200 characters (it has 201).", "name"),
    Case("builder-name-201", "template", "an automation name of 201 characters in the builder",
         lambda ctx, o: ctx.client.post(o["builder"].url, {"wizard-current_step": "name", "name-name": "n" * 201}),
         "Ensure this value has at most 200 characters (it has 201).", "name-name", builder),
    Case("import-body-20001", "import", "an email body of 20,001 characters in a file",
         upload(doc(GOOD | {"actions": [GOOD["actions"][0] | {"body": "b" * 20_001}]})),
         "Ensure this value has at most 20000 characters (it has 20001)."),
    Case("admin-body-20001", "admin", "an email body of 20,001 characters in the admin",
         admin_automation([{"kind": "send_email", "subject": "Hi", "body": "b" * 20_001}]),
         "Ensure this value has at most 20000 characters (it has 20001).", "actions-0-body"),
]


# --- Logins behind the proxy: the client cannot pick the address it is counted by --------------


def spoofed_logins(ctx, o) -> str:
    """Wrong passwords from one client behind the proxy, each claiming another address in
    X-Forwarded-For (the proxy appends the real one); then the owner logs in from elsewhere."""
    def log_in(password: str, forwarded_for: str) -> int:
        return Client().post("/login/", {"username": ctx.owner.username, "password": password},
                             REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    with override_settings(TRUSTED_PROXY_COUNT=1):
        for n in range(settings.AXES_FAILURE_LIMIT):
            log_in("wrong", f"192.0.2.{n + 1}, 198.51.100.66")
        return f"attacker: {log_in(PASSWORD, '192.0.2.99, 198.51.100.66')}, owner: {log_in(PASSWORD, '203.0.113.7')}"


LOGIN_CASES = [
    Case("login-spoofed-forwarded-for", "http",
         "wrong passwords behind the proxy, each with a new X-Forwarded-For; the owner elsewhere",
         spoofed_logins, "attacker: 429, owner: 302"),
]


# --- People and roles: the last owner stays ----------------------------------------------------

LAST_OWNER = "owner is the last active owner"


def own_change(**changes: Any):
    return admin_post("/admin/auth/user/{me}/change/", changes, form_id="user_form")


def me(ctx) -> dict[str, Any]:
    return {"me": ctx.owner}


def only_a_superuser(ctx) -> dict[str, Any]:
    """A superuser without the Owner role, who is the only owner once ctx's owner leaves the role."""
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    ctx.owner.groups.clear()
    ctx.client.force_login(root)
    return {"me": root}


def owner_role(ctx) -> dict[str, Any]:
    return {"role": Group.objects.get(name=OWNER)}


PEOPLE_CASES = [
    Case("last-owner-deactivates-self", "admin", "the only owner unticks their own “Active”",
         own_change(is_active=None), LAST_OWNER + " and cannot be deactivated", "is_active", me),
    Case("last-owner-drops-staff", "admin", "the only owner unticks their own “Staff status”",
         own_change(is_staff=None), LAST_OWNER + " and cannot lose the Owner role", "is_staff", me),
    Case("last-owner-leaves-role", "admin", "the only owner swaps their Owner role for Team member",
         lambda ctx, o: own_change(groups=str(Group.objects.get(name=TEAM_MEMBER).pk))(ctx, o),
         LAST_OWNER + " and cannot lose the Owner role", "groups", me),
    Case("last-superuser-drops-superuser", "admin", "the only superuser (no Owner role) unticks “Superuser status”",
         own_change(is_superuser=None), "root is the last active owner and cannot lose", "is_superuser",
         only_a_superuser),
    Case("last-owner-delete-view", "admin", "the only owner deletes themselves (delete page, confirmed)",
         lambda ctx, o: ctx.post(f"/admin/auth/user/{o['me'].pk}/delete/", {"post": "yes"}),
         LAST_OWNER + " and cannot be deleted", setup=me),
    Case("last-owner-delete-selected", "admin", "“Delete selected users” with the only owner among them",
         lambda ctx, o: ctx.post("/admin/auth/user/", {"action": "delete_selected", "post": "yes",
                                                       "_selected_action": [str(o["me"].pk), str(o["sam"].pk)]}),
         LAST_OWNER + " and cannot be deleted", setup=lambda ctx: {"me": ctx.owner, "sam": make_team_member("sam")}),
    Case("owner-role-renamed", "admin", "the Owner role renamed in the Group admin",
         admin_post("/admin/auth/group/{role}/change/", {"name": "Chef"}, form_id="group_form"),
         LAST_OWNER + " and cannot lose the Owner role", "name", owner_role),
    Case("owner-role-deleted", "admin", "the Owner role deleted in the Group admin",
         lambda ctx, o: ctx.post(f"/admin/auth/group/{o['role'].pk}/delete/", {"post": "yes"}),
         LAST_OWNER + " and cannot lose the Owner role", setup=owner_role),
    Case("service-delete-last-owner", "service", "delete_people with the only owner",
         lambda ctx, o: people.delete_people(users=[o["me"]]), LAST_OWNER + " and cannot be deleted", setup=me),
]


# --- The ESP tracking webhooks, with the right secret and a body the ESP never sends -------------

WEBHOOK_SECRET = "tracker:s3cret-webhook-pass"
UNREADABLE = "webhook post could not be read"


def webhook(esp: str, body: bytes):
    def act(ctx, o):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}):
            return ctx.client.post(f"/anymail/{esp}/tracking/", body, content_type="application/json",
                                   HTTP_AUTHORIZATION="Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode())
    return act


WEBHOOK_CASES = [
    Case("webhook-truncated-json", "http", "Postmark webhook: truncated JSON",
         webhook("postmark", b'{"RecordType": "Deliv'), UNREADABLE),
    Case("webhook-list-of-numbers", "http", "SendGrid webhook: [1,2]", webhook("sendgrid", b"[1,2]"), UNREADABLE),
    Case("webhook-empty-body", "http", "Brevo webhook: an empty body", webhook("brevo", b""), UNREADABLE),
    Case("webhook-invalid-utf8", "http", "SparkPost webhook: invalid UTF-8", webhook("sparkpost", b'[{"a": "\xff"}]'),
         UNREADABLE),
    Case("webhook-deep-nesting", "http", "Mailjet webhook: 50,000 nested lists",
         webhook("mailjet", b"[" * 50_000 + b"]" * 50_000), UNREADABLE),
    Case("webhook-empty-object", "http", "Resend webhook: {}", webhook("resend", b"{}"), UNREADABLE),
]


# --- Bank statements: files that are not what they claim, rows a bank never writes -------------

from banking import services as banking  # noqa: E402
from banking.models import CsvMapping  # noqa: E402
from tests.banking.support import DB_MARCH, camt, credit, read as bank_file  # noqa: E402

NOT_CAMT = "This is not a CAMT.053 bank statement."
DB_HEADER = "Buchungstag;Wert;Umsatzart;Begünstigter / Auftraggeber;Verwendungszweck;IBAN;Betrag;Währung\n"
DB_ROW = "02.03.2026;02.03.2026;Gutschrift;Ada;RE 2026-0001;DE02120300000000202051;119,00;EUR\n"


def bank_mapping(ctx, **fields: Any) -> dict[str, Any]:
    mapping = CsvMapping.objects.create(**{
        "name": "Deutsche Bank", "date_column": "Buchungstag", "value_date_column": "Wert", "amount_column": "Betrag",
        "currency_column": "Währung", "payer_column": "Begünstigter / Auftraggeber", "iban_column": "IBAN",
        "text_column": "Verwendungszweck", **fields})
    return {"mapping": mapping}


def statement_upload(content: bytes | str, *, format: str = "camt053", name: str = "statement.xml"):
    raw = content.encode("cp1252") if isinstance(content, str) else content

    def act(ctx, o):
        data = {"file": SimpleUploadedFile(name, raw), "format": format}
        if "mapping" in o:
            data["mapping"] = str(o["mapping"].pk)
        return ctx.post("/bank/upload/", data)
    return act


def csv_upload(content: bytes | str):
    return statement_upload(content, format="csv", name="statement.csv")


BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;'
        b'&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>&lol3;</Stmt>'
        b'</BkToCstmrStmt></Document>')
EXTERNAL = (b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&x;</Id>'
            b'</Stmt></BkToCstmrStmt></Document>')
CAMT_054 = (b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
            b'<BkToCstmrDbtCdtNtfctn/></Document>')


def bank_line(ctx, *, amount: str = "119.00", currency: str = "EUR") -> dict[str, Any]:
    invoice = make_invoice(status="sent", currency=currency)  # 119.00 due
    statement = banking.upload_statement(file_name="s.xml", format="camt053", content=camt(
        credit(amount, f"RE {invoice.number}", ref=f"R-{invoice.pk}") + (
            '<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
            f'<BookgDt><Dt>2026-03-11</Dt></BookgDt><AcctSvcrRef>D-{invoice.pk}</AcctSvcrRef></Ntry>')))
    return {"invoice": invoice, "line": statement.transactions.get(is_credit=True),
            "debit": statement.transactions.get(is_credit=False)}


def recorded_line(ctx) -> dict[str, Any]:
    objects = bank_line(ctx)
    banking.confirm_transaction(line=objects["line"])
    return objects


def confirm_line(**fields: str):
    def act(ctx, o):
        return ctx.post(f"/bank/lines/{o['line'].pk}/confirm/", fields)
    return act


def mapping_post(**fields: str):
    def act(ctx, o):
        return ctx.post("/bank/mappings/new/", {
            "name": "Sparkasse", "delimiter": ";", "decimal_comma": "on", "date_format": "%d.%m.%Y", "encoding": "auto",
            "header_row": "0", "date_column": "Buchungstag", "amount_column": "Betrag", "text_column": "Verwendungszweck",
            **fields})
    return act


BANK_CASES = [
    Case("bank-not-xml", "import", "a text file uploaded as CAMT.053", statement_upload(b"Kontoauszug\nMaerz 2026\n"),
         NOT_CAMT + " The XML cannot be read at line 1.", "file"),
    Case("bank-camt-054", "import", "a CAMT.054 notification instead of a statement", statement_upload(CAMT_054),
         NOT_CAMT + " It is “camt.054.001.08”. Export the statement as CAMT.053 or CSV.", "file"),
    Case("bank-xml-bomb", "import", "an XML bomb (nested entities, billion laughs)", statement_upload(BOMB),
         NOT_CAMT + " It declares a document type (DTD), which bank statements never do.", "file"),
    Case("bank-xml-external-entity", "import", "an external entity reading /etc/passwd", statement_upload(EXTERNAL),
         NOT_CAMT + " It declares a document type (DTD), which bank statements never do.", "file"),
    Case("bank-oversize", "import", "a statement of 20 MB and one byte",
         statement_upload(b"<" + b"x" * (20 * 1024 * 1024)),
         "The file is 20.0 MB; statements of at most 20 MB can be imported. Export a shorter period.", "file"),
    Case("bank-empty-file", "import", "an empty file", statement_upload(b""), "The submitted file is empty.", "file"),
    Case("bank-camt-amount-3-decimals", "import", "a CAMT entry of 119.005 EUR",
         statement_upload(camt(credit("119.005", "RE 2026-0001"))),
         "The file was not imported: Line 4: the entry has no readable amount.", "file"),
    Case("bank-camt-no-booking-date", "import", "a CAMT entry without a booking date",
         statement_upload(camt(credit("10.00", "x").replace("<BookgDt><Dt>2026-03-10</Dt></BookgDt>", ""))),
         "The file was not imported: Line 4: the entry has no readable booking date.", "file"),
    Case("bank-csv-without-mapping", "import", "a CSV without choosing the bank",
         csv_upload(DB_HEADER + DB_ROW), "Choose the bank's CSV mapping.", "mapping"),
    Case("bank-csv-wrong-delimiter", "import", "a semicolon CSV read with a comma mapping",
         csv_upload(bank_file(DB_MARCH)),
         "No line with the columns “Buchungstag”, “Betrag” was found. Are the delimiter (“,”) and the column names "
         "of the mapping right?", "file", lambda ctx: bank_mapping(ctx, delimiter=",")),
    Case("bank-csv-bad-amount", "import", "an amount of 12,3x on line 3",
         csv_upload("Umsätze\n" + DB_HEADER + DB_ROW.replace("119,00", "12,3x")),
         "The file was not imported: Line 3: “12,3x” is not an amount.", "file", bank_mapping),
    Case("bank-csv-bad-date", "import", "a booking date of 31.02.2026 on line 2",
         csv_upload(DB_HEADER + DB_ROW.replace("02.03.2026;02.03", "31.02.2026;02.03")),
         "The file was not imported: Line 2: “31.02.2026” is not a date like 31.12.2026.", "file", bank_mapping),
    Case("bank-csv-many-bad-lines", "import", "seven bad amounts",
         csv_upload(DB_HEADER + DB_ROW.replace("119,00", "x") * 7),
         "Line 6: “x” is not an amount. … and 2 more.", "file", bank_mapping),
    Case("bank-csv-short-line", "import", "a transaction line with 3 of 8 columns",
         csv_upload(DB_HEADER + "02.03.2026;02.03.2026;Gutschrift\n"),
         "The file was not imported: Line 2: it has 3 columns; the headings have 8.", "file", bank_mapping),
    Case("bank-csv-latin1-read-as-utf8", "import", "a Latin-1 file with the mapping saying UTF-8",
         csv_upload(bank_file(DB_MARCH)),
         "Line 1: the byte 0xE4 is not UTF-8 text. Choose the file's encoding in the bank's mapping.", "file",
         lambda ctx: bank_mapping(ctx, encoding="utf-8")),
    Case("bank-csv-unknown-bytes", "import", "bytes that are neither UTF-8 nor Windows-1252 (0x81)",
         csv_upload(DB_HEADER.encode() + b"\x81\x8d;x\n"),
         "Line 2: the byte 0x81 is neither UTF-8 nor Windows-1252 text.", "file", bank_mapping),
    Case("bank-csv-binary", "import", "a binary file uploaded as CSV", csv_upload(b"PK\x03\x04\x00\x00binary"),
         "This is not a CSV file: it holds binary data (zero bytes). Export the statement as CSV text.", "file",
         bank_mapping),
    Case("bank-confirm-more-than-line", "http", "record 200.00 from a line of 119.00",
         confirm_line(amount="200.00"), "The line brought in €119.00; no more than that can be recorded from it.",
         setup=bank_line, changes={"BankTransaction": 0}),
    Case("bank-confirm-unknown-invoice", "http", "record a line on invoice 2099-9999",
         confirm_line(invoice="2099-9999"), "There is no invoice 2099-9999.", setup=bank_line),
    Case("bank-confirm-other-currency", "http", "a EUR line recorded on a USD invoice",
         lambda ctx, o: confirm_line(invoice=o["invoice"].number)(ctx, o), "is in USD; this line is in EUR.",
         setup=lambda ctx: bank_line(ctx, currency="USD"), changes={"BankTransaction": 0}),
    Case("bank-confirm-overpay", "http", "a line of 150.00 recorded on 119.00 due with the amount typed in",
         confirm_line(amount="150.00"), "€150.00 is more than the €119.00 still due on invoice",
         setup=lambda ctx: bank_line(ctx, amount="150.00"), changes={"BankTransaction": 0}),
    Case("bank-confirm-twice", "http", "a recorded line confirmed again (Back and submit)", confirm_line(),
         "This line is recorded already.", setup=recorded_line),
    Case("bank-confirm-money-out", "service", "a line of money out recorded as a payment",
         lambda ctx, o: banking.confirm_transaction(line=o["debit"], invoice=o["invoice"]),
         "Money out is not a payment of an invoice.", setup=bank_line),
    Case("bank-mapping-header-row-1001", "form", "a CSV mapping with the headings on line 1001",
         mapping_post(header_row="1001"), "Ensure this value is less than or equal to 1000.", "header_row"),
    Case("bank-mapping-name-crlf", "form", "a CSV mapping named with CR/LF",
         mapping_post(name="Spar\r\nkasse"), "This field cannot contain line breaks.", "name"),
]

# --- Emailing invoices: Send by email, Resend, Retry ------------------------------------------------


def resent_once(ctx) -> dict[str, Any]:
    invoice = make_invoice(status="sent")
    url = f"/automations/invoices/{invoice.pk}/resend/"
    nonce = ctx.client.get(url).context["form"].initial["nonce"]
    assert ctx.post(url, {"nonce": nonce}).status_code == 200
    assert InvoiceEmail.objects.filter(invoice=invoice).count() == 1
    return {"url": url, "nonce": nonce}


def email_waiting(ctx) -> dict[str, Any]:
    invoice = make_invoice()
    services.send_invoice(invoice=invoice, deliver=True)  # its task runs after a commit that never comes here
    return {"email": InvoiceEmail.objects.get(invoice=invoice)}


INVOICE_EMAIL_CASES = [
    Case("service-resend-draft", "service", "resend_invoice_email of a draft",
         lambda ctx, o: resend_invoice_email(invoice=o["invoice"]), "cannot be emailed again: it is Draft.",
         setup=lambda ctx: {"invoice": make_invoice()}),
    Case("service-resend-without-address", "service", "resend_invoice_email to a contact without an email address",
         lambda ctx, o: resend_invoice_email(invoice=o["invoice"]),
         "has no email address; add one to the contact first.",
         setup=lambda ctx: {"invoice": make_invoice(status="sent", contact=make_contact(email=""))}),
    Case("service-retry-email-not-failed", "service", "retry_invoice_email of an email still waiting",
         lambda ctx, o: retry_invoice_email(email=o["email"]),
         "Only an email that failed can be tried again; this one is Pending.", setup=email_waiting),
    Case("http-resend-void-invoice", "http", "Resend posted for a voided invoice (a page left open)",
         lambda ctx, o: ctx.post(f"/automations/invoices/{o['invoice'].pk}/resend/", {"nonce": "n" * 32}),
         "cannot be emailed again: it is Void.", setup=lambda ctx: {"invoice": make_invoice(status="void")}),
    Case("double-submit-resend", "http", "the Resend form posted twice",
         lambda ctx, o: ctx.post(o["url"], {"nonce": o["nonce"]}), "This email has already been sent again.",
         setup=resent_once),
    Case("admin-email-sent-invoice", "admin", "“Send by email” on a sent invoice",
         admin_action("invoice", "email_selected", "invoice"), "cannot be sent: it is Sent.", setup=sent_invoice),
]

# --- Document downloads: links a customer mangles or keeps too long, ids that do not exist -------

NOTHING_HERE = "There is nothing at this address."


def a_draft(ctx) -> dict[str, Any]:
    return {"invoice": make_invoice(status="draft")}


def revoked_link() -> dict[str, Any]:
    invoice = make_invoice(status="sent")
    token = make_token(invoice)
    revoke_public_links(invoice=invoice)
    return {"invoice": invoice, "token": token}


def tampered(token: str) -> str:
    return token[:-1] + ("B" if token.endswith("A") else "A")


def public_pdf(token) -> Any:
    return lambda ctx, o: ctx.client.get(f"/i/{token(o)}/pdf/")


DOCUMENT_CASES = [
    Case("public-pdf-tampered-token", "http", "the public PDF link with one character changed",
         public_pdf(lambda o: tampered(make_token(o["invoice"]))), NOTHING_HERE, setup=sent_invoice),
    Case("public-pdf-garbage-token", "http", "the public PDF link with a made-up token",
         public_pdf(lambda o: "not-a-token"), NOTHING_HERE),
    Case("public-pdf-revoked", "http", "the public PDF link after the links were revoked",
         lambda ctx, o: ctx.client.get(f"/i/{o['token']}/pdf/"), NOTHING_HERE,
         setup=lambda ctx: revoked_link()),
    Case("public-pdf-draft", "http", "a public PDF link made for a draft",
         public_pdf(lambda o: make_token(o["invoice"])), NOTHING_HERE, setup=a_draft),
    Case("pdf-unknown-invoice", "http", "the PDF of an invoice id that does not exist",
         lambda ctx, o: ctx.client.get("/documents/invoices/999999/pdf/"), NOTHING_HERE),
    Case("xml-unknown-invoice", "http", "the XRechnung of an invoice id that does not exist",
         lambda ctx, o: ctx.client.get("/documents/invoices/999999/xrechnung/"), NOTHING_HERE),
]

# --- The business profile: the settings page and its logo -------------------------------------------


def profile_post(**changes: str):
    def act(ctx, o):
        from tests.conftest import BUSINESS

        data = {**{k: str(v) for k, v in BUSINESS.items()}, "payment_terms_days": "14", "default_tax_rate": "19",
                "send_from": "08:00", "send_until": "18:00", "holiday_region": "", **changes}
        return ctx.post("/settings/business/", data)
    return act


def logo_post(name: str, content: bytes, content_type: str = "image/png"):
    return lambda ctx, o: ctx.post("/settings/business/logo/",
                                   {"logo": SimpleUploadedFile(name, content, content_type)})


BUSINESS_CASES = [
    Case("profile-iban-check-digits", "form", "IBAN DE89 3704 0044 0532 0130 01 (a wrong check digit)",
         profile_post(iban="DE89 3704 0044 0532 0130 01"), "is not a valid IBAN", "iban"),
    Case("profile-vat-id-invalid", "form", "VAT ID DE123456789 (fails its check digit)",
         profile_post(vat_id="DE123456789"), "DE123456789 is not a valid EU VAT ID", "vat_id"),
    Case("profile-terms-negative", "form", "payment terms of -5 days", profile_post(payment_terms_days="-5"),
         "Ensure this value is greater than or equal to 0.", "payment_terms_days"),
    Case("profile-tax-rate-text", "form", "default tax rate “neunzehn”", profile_post(default_tax_rate="neunzehn"),
         "Enter a number.", "default_tax_rate"),
    Case("profile-logo-too-big", "form", "a logo of 3 MB", logo_post("logo.png", b"\x89PNG" + b"0" * (3 * 1024 * 1024)),
         "The logo is too large (3.0\xa0MB): at most 1 MB.", "logo"),
    Case("profile-logo-not-an-image", "form", "a PDF uploaded as the logo (named .png)",
         logo_post("logo.png", b"%PDF-1.7\n%fake"), "The logo must be a PNG or JPEG image.", "logo"),
    Case("profile-logo-gif", "form", "a GIF as the logo", logo_post("logo.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
                                                                   "image/gif"),
         "The logo must be a PNG or JPEG image.", "logo"),
]


# --- Outgoing webhooks: addresses a subscription may not post to -------------------------------


def subscription_post(url: str, **fields: Any):
    def act(ctx, o):
        return ctx.post("/webhooks/new/", {"url": url, "event_types": ["invoice_paid"], "is_active": "on", **fields})
    return act


OUTGOING_WEBHOOK_CASES = [
    Case("subscription-not-a-url", "form", "a webhook URL that is no address", subscription_post("not a url"),
         "Enter a full web address that starts with https:// or http://.", "url"),
    Case("subscription-ftp", "form", "a webhook URL with the ftp scheme", subscription_post("ftp://93.184.215.14/in"),
         "Enter a full web address that starts with https:// or http://.", "url"),
    Case("subscription-file", "form", "a webhook URL file:///etc/passwd", subscription_post("file:///etc/passwd"),
         "Enter a full web address that starts with https:// or http://.", "url"),
    Case("subscription-loopback", "form", "a webhook to http://127.0.0.1:8000/",
         subscription_post("http://127.0.0.1:8000/admin/"), "leads to a private or local network (127.0.0.1)", "url"),
    Case("subscription-metadata", "form", "a webhook to the cloud metadata address 169.254.169.254",
         subscription_post("http://169.254.169.254/latest/meta-data/"), "leads to a private or local network", "url"),
    Case("subscription-private", "form", "a webhook to 10.0.0.1", subscription_post("https://10.0.0.1/hook"),
         "leads to a private or local network", "url"),
    Case("subscription-localhost-name", "form", "a webhook to localhost",
         subscription_post("http://localhost/hook"), "leads to a private or local network", "url"),
    Case("subscription-too-long", "form", "a webhook URL of 2,100 characters",
         subscription_post("https://93.184.215.14/" + "a" * 2100), "at most 2000 characters", "url"),
    Case("subscription-credentials", "form", "a webhook URL with a user name and password",
         subscription_post("https://user:secret@93.184.215.14/"), "cannot contain a user name or password", "url"),
    Case("subscription-no-events", "form", "a webhook with no event chosen",
         subscription_post("https://93.184.215.14/hook", event_types=[]), "This field is required.", "event_types"),
    Case("subscription-unknown-event", "form", "a webhook for an event that does not exist",
         subscription_post("https://93.184.215.14/hook", event_types=["invoice_exploded"]),
         "Select a valid choice. invoice_exploded is not one of the available choices.", "event_types"),
]


# --- Reminder schedules: the builder's steps and conditions, an import, the services, a pause ----


def schedule_builder(ctx) -> dict[str, Any]:
    b = Builder(ctx.client, "/automations/new/custom/")
    b.next("name", {"name-name": "Dunning"})
    b.next("trigger", {"trigger-trigger": "invoice_due"})
    return {"builder": b}


def schedule_step(**fields: str):
    step = {"name": "Friendly", "timing": "after", "days": "3", "subject": "Hi", "body": "Hello", **fields}

    def act(ctx, o):
        data = {"wizard-current_step": "schedule", "schedule-TOTAL_FORMS": "1", "schedule-INITIAL_FORMS": "0",
                "schedule-MIN_NUM_FORMS": "0", "schedule-MAX_NUM_FORMS": "10",
                **{f"schedule-0-{key}": value for key, value in step.items()}}
        return ctx.client.post(o["builder"].url, data)
    return act


def schedule_conditions(**fields: str):
    def act(ctx, o):
        o["builder"].next("schedule", {
            "schedule-TOTAL_FORMS": "1", "schedule-INITIAL_FORMS": "0", "schedule-MIN_NUM_FORMS": "0",
            "schedule-MAX_NUM_FORMS": "10", "schedule-0-name": "Friendly", "schedule-0-timing": "after",
            "schedule-0-days": "3", "schedule-0-subject": "Hi", "schedule-0-body": "Hello"})
        return ctx.client.post(o["builder"].url, {"wizard-current_step": "conditions",
                                                  **{f"conditions-{k}": v for k, v in fields.items()}})
    return act


SCHEDULE = {"name": "Dunning", "trigger": "invoice_due", "frequency": "unlimited", "is_active": False,
            "steps": [{"name": "Friendly", "days": 3, "actions": [{"kind": "create_task", "title": "Call"}]}]}


def schedule_doc(step: dict[str, Any] | None = None, **fields: Any) -> str:
    return doc(SCHEDULE | {"steps": [SCHEDULE["steps"][0] | (step or {})]} | fields)


def pause_invoice(**data: str):
    def act(ctx, o):
        return ctx.post(f"/automations/invoices/{o['invoice'].pk}/reminders/pause/", data)
    return act


REMINDER_CASES = [
    Case("schedule-days-negative", "template", "−2 days after the due date in the builder",
         schedule_step(days="-2"), "Give the days as 0 or more", "schedule-0-days", schedule_builder),
    Case("schedule-days-too-many-before", "template", "400 days before the due date in the builder",
         schedule_step(timing="before", days="400"), "greater than or equal to -365", "schedule-0-days",
         schedule_builder),
    Case("schedule-days-text", "template", "“three” days in the builder", schedule_step(days="three"),
         "Enter a whole number.", "schedule-0-days", schedule_builder),
    Case("schedule-repeat-zero-times", "template", "repeat at most 0 times (K=0) in the builder",
         schedule_step(repeat="on", repeat_every_days="7", repeat_times="0"), "greater than or equal to 1",
         "schedule-0-repeat_times", schedule_builder),
    Case("schedule-fee-negative", "template", "a reminder fee of −5 in the builder", schedule_step(fee="-5"),
         "greater than or equal to 0.01", "schedule-0-fee", schedule_builder),
    Case("schedule-step-empty", "template", "a step without email, task, fee or interest in the builder",
         schedule_step(subject="", body=""), "Give this step something to do", "schedule-0-__all__", schedule_builder),
    Case("schedule-currency-unknown", "template", "currency “EURO” as a condition in the builder",
         schedule_conditions(currency="EURO"), "Give currencies as ISO codes", "conditions-currency", schedule_builder),
    Case("import-schedule-days-text", "import", "a step with days “three” in a file", upload(schedule_doc({"days": "three"})),
         "give the days from the due date as a whole number"),
    Case("import-schedule-repeat-zero", "import", "a step repeating at most 0 times in a file",
         upload(schedule_doc({"repeat_every_days": 7, "repeat_times": 0})), "greater than or equal to 1"),
    Case("import-schedule-fee-negative", "import", "a reminder fee of −5 in a file",
         upload(schedule_doc({"actions": [{"kind": "charge_fee", "fee": "-5"}]})), "greater than or equal to 0.01"),
    Case("import-schedule-unknown-condition", "import", "an unknown condition “colour” in a file",
         upload(schedule_doc(conditions=[{"field": "colour", "value": "red"}])), "“colour” is not a condition"),
    Case("service-schedule-fee-negative", "service", "create_automation with a reminder fee of −5",
         lambda ctx, o: make_automation(trigger="invoice_due", actions=[], steps=[
             {"name": "Friendly", "days": 3, "actions": [{"kind": "charge_fee", "fee": "-5"}]}]),
         "greater than or equal to 0.01"),
    Case("service-schedule-unknown-condition", "service", "create_automation with an unknown condition",
         lambda ctx, o: make_automation(trigger="invoice_due", actions=[], steps=SCHEDULE["steps"],
                                        conditions=[{"field": "colour", "value": "red"}]),
         "“colour” is not a condition", "conditions"),
    Case("pause-no-reason", "http", "pausing reminders without a reason", pause_invoice(reason=" "),
         "Say why the reminders are paused", setup=sent_invoice),
    Case("pause-until-past", "http", "pausing reminders until yesterday",
         pause_invoice(reason="Dispute", until=(TODAY - dt.timedelta(days=1)).isoformat()),
         "The pause cannot end in the past.", setup=sent_invoice),
]


CATALOGUE = (FORM_CASES + INVOICE_EMAIL_CASES + TASK_AND_BOARD_CASES + SIZE_CASES + TEMPLATE_CASES + ADMIN_CASES
             + SERVICE_CASES + STATE_CASES + IMPORT_CASES + SKIP_CASES + EMAIL_CASES + WEBHOOK_CASES + PEOPLE_CASES
             + DOOR_CASES + LOGIN_CASES + BANK_CASES + DOCUMENT_CASES + BUSINESS_CASES + OUTGOING_WEBHOOK_CASES
             + REMINDER_CASES)


@pytest.mark.parametrize("case", CATALOGUE, ids=str)
def test_bad_input_is_refused_clearly_and_saves_nothing(ctx, case):
    check_case(case, ctx)


def test_the_catalogue_covers_every_surface_with_at_least_sixty_rows():
    surfaces = {case.surface for case in CATALOGUE}
    assert surfaces == {"form", "http", "admin", "service", "import", "template", "job"}
    assert len(CATALOGUE) >= 60
    assert len({case.id for case in CATALOGUE}) == len(CATALOGUE)


def test_the_checker_notices_a_message_at_the_wrong_field_and_a_half_saved_row(ctx):
    from dataclasses import replace

    from core.errors import DomainError

    with pytest.raises(AssertionError, match="not at date"):
        check_case(replace(FORM_CASES[0], field="date"), ctx)

    def half_saved(ctx, o):
        make_contact(name="Half")
        raise DomainError("Refused.")

    with pytest.raises(AssertionError, match="Contact changed"):
        check_case(Case("half", "service", "a refusal after a save", half_saved, "Refused."), ctx)
