"""Driving the automation builder as a person does (shared by the builder tests and the screenshots)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from automations.models import Automation

TRIGGERS = {
    "invoice_overdue": "Invoice is overdue",
    "invoice_paid": "Invoice is paid",
    "invoice_sent": "Invoice is sent",
    "recurring_started": "Recurring payment starts",
    "recurring_canceled": "Recurring payment is canceled",
}
FREQUENCIES = {
    "unlimited": "Unlimited (trigger every time)",
    "once_per_contact": "Once per contact",
    "once_per_contact_24h": "Once per contact every 24 hours",
}
ACTIONS = {
    "send_email": "Send email to customer",
    "create_task": "Create a task",
    "move_card": "Move card on workflow",
}


# --- Steps of the builder, as a person does them --------------------------------------------------


def open_builder(page, *, through_the_menus: bool = False) -> None:
    """A new custom automation: Automations → + New Automation → + Custom Automation, or (quicker,
    for the tests that are about a later step) straight to + Custom Automation's address."""
    if through_the_menus:
        page.goto(page.url_for("/automations/"))
        page.get_by_role("link", name="+ New Automation").first.click()
        expect(page.get_by_role("heading", name="+ New Automation")).to_be_visible()
        page.get_by_role("link", name="+ Custom Automation").click()
    else:
        page.goto(page.url_for("/automations/new/custom/"))
    expect(page).to_have_url(re.compile(r"/automations/builder/[\w-]+/$"))
    expect(current_step(page)).to_have_text("1. Name")


def current_step(page):
    return page.locator(".wizard-steps [aria-current=step]")


def next_step(page, expected: str) -> None:
    page.get_by_role("button", name="Next").click()
    expect(current_step(page)).to_have_text(expected)


def back(page, expected: str) -> None:
    page.get_by_role("button", name="Back").click()
    expect(current_step(page)).to_have_text(expected)


def title_input(page):
    return page.get_by_placeholder("Untitled automation")


def name_it(page, name: str) -> None:
    # "Click the title to give your automation a name."
    title_input(page).click()
    title_input(page).fill(name)
    next_step(page, "2. Trigger")


def choose_trigger(page, label: str) -> None:
    expect(page.locator(".card-header", has_text="Invoices")).to_be_visible()  # the category
    page.get_by_label(label, exact=True).check()
    next_step(page, "3. Limit frequency")


def frequency_option(page, label: str):
    return page.locator("label.choice-card").filter(has=page.locator(".fw-semibold").get_by_text(label, exact=True))


def choose_frequency(page, label: str) -> None:
    frequency_option(page, label).click()
    expect(frequency_option(page, label).locator("input[type=radio]")).to_be_checked()
    next_step(page, "4. Actions")


def add_action(page, label: str) -> int:
    """Add an action of this kind; returns its index on the page."""
    before = page.locator("[data-action-card]").count()
    page.get_by_role("button", name=label).click()
    expect(page.locator("[data-action-card]")).to_have_count(before + 1)
    card = page.locator(f"#action-{before}")
    expect(card.locator(".card-header")).to_contain_text(label)
    return before


def field(page, index: int, name: str):
    return page.locator(f"[name='actions-{index}-{name}']")


def fill_email(page, index: int, *, subject: str, body: str) -> None:
    field(page, index, "subject").fill(subject)
    field(page, index, "body").fill(body)


def fill_task(page, index: int, *, title: str, days: str, assignee: str) -> None:
    field(page, index, "title").fill(title)
    field(page, index, "due_in_days").fill(days)
    field(page, index, "assignee").select_option(label=assignee)


def fill_move(page, index: int, *, workflow: str, step: str) -> None:
    field(page, index, "workflow").select_option(label=workflow)
    field(page, index, "step").select_option(label=step)


def activate(page, name: str) -> Automation:
    expect(page.get_by_role("button", name="Activate")).to_have_count(2)
    page.get_by_role("button", name="Activate").last.click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(f"“{name}” is saved and switched on.")
    automation = Automation.objects.get(name=name)
    assert page.url.endswith(f"/automations/{automation.pk}/")
    return automation
