"""Full-page screenshots of the main pages at 1280 px and at a phone's 390 px, in
tests/e2e/screenshots/ (not committed), for a person to look at after a change of the UI.

The data is a small business as the services make it: invoices in every status (one with a long
company name and several lines), recurring payments, automations that have run, tasks, a board.
Each page is also checked for the things a screenshot would show as broken: a page wider than
the phone's screen, or a navigation bar on two lines.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from automations.services import create_automation
from invoices import services as invoices
from invoices.public import make_token
from tasks.services import create_task
from tests.base import make_contact, make_invoice, make_plan
from workflows.services import create_workflow, place_card

from .conftest import PHONE, resize, screenshots
from .wizard import add_action, choose_frequency, choose_trigger, fill_email, fill_move, fill_task, name_it, next_step

TODAY = dt.date.today()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def business(db, owner):
    """A small business with a bit of everything; returns the objects the pages are about."""
    collections = create_workflow(name="Collections", steps=["New", "Reminded", "Promised to pay", "Paid"])
    new, reminded, _promised, paid = collections.steps.order_by("position")
    create_automation(
        name="Thank you for paying", trigger="invoice_paid", frequency="unlimited", is_active=True,
        actions=[{"kind": "send_email", "subject": "Thank you for paying {{ invoice.number }}",
                  "body": "Hello {{ contact.first_name }}, we received your payment. Thank you!"},
                 {"kind": "move_card", "step": paid}],
    )
    overdue_reminder = create_automation(
        name="Overdue reminder", trigger="invoice_overdue", frequency="once_per_contact_24h", is_active=True,
        actions=[{"kind": "send_email", "subject": "Invoice {{ invoice.number }} is overdue",
                  "body": "Hello {{ contact.first_name }},\n\nthe invoice {{ invoice.number }} of "
                          "{{ invoice.amount_due }} was due on {{ invoice.due_date }}.\n{{ invoice.link }}"},
                 {"kind": "create_task", "title": "Call {{ contact.name }} about {{ invoice.number }}",
                  "due_in_days": 2, "assignee": owner},
                 {"kind": "move_card", "step": reminded}],
    )
    create_automation(
        name="Welcome new subscribers", trigger="recurring_started", frequency="once_per_contact", is_active=False,
        actions=[{"kind": "send_email", "subject": "Welcome, {{ contact.first_name }}",
                  "body": "Your {{ recurring.description }} starts on {{ recurring.next_date }}."}],
    )

    grace = make_contact(name="Grace Hopper", email="grace@navy.test", company="US Navy", phone="+1 555 0100")
    alan = make_contact(name="Alan Turing", email="alan@bletchley.test", company="Bletchley Park")
    ada = make_contact(name="Ada Lovelace", email="ada@analytical.test", company="Analytical Engines GmbH",
                       language="de")
    katherine = make_contact(name="Katherine Johnson", email="katherine@nasa.test", company="NASA")
    margaret = make_contact(name="Margaret Hamilton", email="", company="")
    max_ = make_contact(name="Maximilian Müller-Lüdenscheidt", email="m.mueller-luedenscheidt@sanitaer-heizung.test",
                        company="Müller-Lüdenscheidt Sanitär- und Heizungstechnik GmbH & Co. KG", language="de")

    lines = [
        {"description": "Website redesign, phase 2: templates, responsive layouts and accessibility review",
         "quantity": "24", "unit_price": "95.00", "tax_rate": "19"},
        {"description": "Hosting (12 months)", "quantity": "1", "unit_price": "240.00", "tax_rate": "19"},
        {"description": "Domain", "quantity": "2", "unit_price": "14.90", "tax_rate": "19"},
    ]
    make_invoice(contact=ada, issue_date=TODAY, due_date=days(14), notes="Draft for the next phase.")
    sent = make_invoice(contact=grace, status="sent", issue_date=days(-4), due_date=days(10))
    overdue = make_invoice(contact=alan, status="overdue", items=lines, issue_date=days(-40), due_date=days(-20))
    make_invoice(contact=katherine, status="paid", issue_date=days(-12), due_date=days(2))
    make_invoice(contact=margaret, status="void", issue_date=days(-30), due_date=days(-16))
    partly = make_invoice(contact=max_, status="sent", items=lines, issue_date=days(-6), due_date=days(8))
    invoices.record_payment(invoice=partly, amount=Decimal("1000.00"), date=TODAY, method="bank_transfer",
                            reference="SEPA 2024-118")
    for n in range(3):
        make_invoice(contact=grace, status="paid", issue_date=days(-60 - 30 * n), due_date=days(-46 - 30 * n))

    plan = make_plan(contact=grace, description="Monthly support", amount=Decimal("149.00"), start_date=TODAY)
    invoices.start_recurring(plan=plan)
    make_plan(contact=ada, description="Yearly maintenance", amount=Decimal("480.00"), interval="yearly",
              start_date=days(20))
    canceled = make_plan(contact=katherine, description="Newsletter hosting", amount=Decimal("9.90"),
                         start_date=days(-90))
    invoices.start_recurring(plan=canceled)
    invoices.cancel_recurring(plan=canceled)

    place_card(contact=grace, step=new)
    place_card(contact=max_, step=new)
    create_task(title="Send Ada the offer for phase 3", description="With the new hourly rate.", assignee=owner,
                contact=ada, due_date=days(3))
    create_task(title="Check the bank statement", due_date=days(-2))
    return {"sent": sent, "overdue": overdue, "partly": partly, "plan": plan, "workflow": collections,
            "automation": overdue_reminder}


def layout_problems(page, name: str) -> list[str]:
    """What the screenshots are looked at for: nothing wider than the screen, one line of navigation."""
    problems = []
    screen = page.viewport_size["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > screen:
        problems.append(f"{name} is {width} px wide on a {screen} px screen")
    nav = page.locator("nav.navbar")
    if nav.count() and nav.bounding_box()["height"] > 70:
        problems.append(f"the navigation bar of {name} is on more than one line at {screen} px")
    return problems


class Camera:
    """Takes the screenshots and collects the layout problems, to report them all at the end."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems: list[str] = []

    def shoot(self, name: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        self.problems += layout_problems(page, name)
        screenshots(page, name)
        desktop = page.viewport_size
        resize(page, PHONE)
        self.problems += layout_problems(page, name)
        resize(page, desktop)

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def test_screenshots_of_the_main_pages(page, business):
    pages = [
        ("dashboard", "/"),
        ("invoice-list", "/invoices/"),
        ("invoice-detail", f"/invoices/{business['overdue'].pk}/"),
        ("invoice-detail-partly-paid", f"/invoices/{business['partly'].pk}/"),
        ("invoice-form", "/invoices/new/"),
        ("contacts", "/invoices/contacts/"),
        ("contact-detail", f"/invoices/contacts/{business['overdue'].contact_id}/"),
        ("recurring", "/invoices/recurring/"),
        ("recurring-detail", f"/invoices/recurring/{business['plan'].pk}/"),
        ("automations", "/automations/"),
        ("automation-chooser", "/automations/new/"),
        ("automation-detail", f"/automations/{business['automation'].pk}/"),
        ("tasks", "/tasks/?tab=all"),
        ("workflows", "/workflows/"),
        ("workflow-board", f"/workflows/{business['workflow'].pk}/"),
        ("business-profile", "/settings/business/"),
    ]
    camera = Camera(page)
    for name, path in pages:
        page.goto(page.url_for(path))
        if name == "dashboard":
            expect(page.locator("canvas").first).to_be_visible()
        camera.shoot(name)
    camera.check()


def test_screenshots_of_the_builder(page, business):
    camera = Camera(page)
    shoot = camera.shoot
    page.goto(page.url_for("/automations/new/custom/"))
    shoot("wizard-1-name")
    name_it(page, "Overdue: remind, call, move")
    shoot("wizard-2-trigger")
    choose_trigger(page, "Invoice is overdue")
    shoot("wizard-3-frequency")
    choose_frequency(page, "Once per contact every 24 hours")
    email = add_action(page, "Send email to customer")
    fill_email(page, email, subject="Invoice {{ invoice.number }} is overdue",
               body="Hello {{ contact.first_name }},\n\nthe amount of {{ invoice.amount_due }} was due on "
                    "{{ invoice.due_date }}.\n\n{{ invoice.link }}")
    task = add_action(page, "Create a task")
    fill_task(page, task, title="Call {{ contact.name }}", days="2", assignee="The whole team")
    move = add_action(page, "Move card on workflow")
    fill_move(page, move, workflow="Collections", step="Reminded")
    page.get_by_label("Preview for invoice").select_option(index=1)
    expect(page.locator("[data-preview-subject]")).to_contain_text("is overdue")
    shoot("wizard-4-actions")
    next_step(page, "5. Review")
    shoot("wizard-5-review")
    camera.check()


def test_screenshots_of_the_customer_and_login_pages(anonymous_page, business):
    page = anonymous_page
    camera = Camera(page)
    page.goto(page.url_for(reverse("invoice-public", args=[make_token(business["partly"])])))
    expect(page.get_by_role("heading", level=2)).to_contain_text(business["partly"].number)
    camera.shoot("public-invoice")
    page.goto(page.url_for("/automations/"))
    expect(page).to_have_url(page.url_for("/login/?next=/automations/"))
    expect(page.get_by_role("button", name="Log in").or_(page.get_by_role("button", name="Sign in"))).to_be_visible()
    camera.shoot("login")
    camera.check()


def test_screenshots_of_the_empty_pages(page):
    """A new business: every list says what belongs there and how to start."""
    camera = Camera(page)
    for name, path in [("dashboard", "/"), ("invoice-list", "/invoices/"), ("contacts", "/invoices/contacts/"),
                       ("recurring", "/invoices/recurring/"), ("automations", "/automations/"),
                       ("tasks", "/tasks/"), ("workflows", "/workflows/")]:
        page.goto(page.url_for(path))
        text = page.locator("main").inner_text()
        if not re.search(r"\b(No|Nothing)\b", text):
            camera.problems.append(f"the empty {name} page does not say that it is empty: {text!r}")
        camera.shoot(f"empty-{name}")
    camera.check()
