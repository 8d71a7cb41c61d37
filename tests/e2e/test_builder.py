"""The automation builder in the browser, step by step as the help article has it:
Automations → + New Automation → + Custom Automation → name → trigger (Invoices) → Limit frequency
→ action(s) → review → Activate."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from automations.models import Automation
from tests.base import make_contact, make_invoice
from workflows.services import create_workflow

from .wizard import (
    ACTIONS, FREQUENCIES, TRIGGERS, activate, add_action, back, choose_frequency, choose_trigger, current_step,
    field, fill_email, fill_move, fill_task, frequency_option, name_it, next_step, open_builder, title_input,
)


@pytest.fixture
def boards(db):
    collections = create_workflow(name="Collections", steps=["New", "Reminded", "Paid"])
    onboarding = create_workflow(name="Onboarding", steps=["Welcome", "Active"])
    return collections, onboarding


# --- Every trigger, every action -----------------------------------------------------------------

CASES = [
    ("invoice_overdue", "once_per_contact_24h", ["send_email"]),
    ("invoice_paid", "unlimited", ["create_task"]),
    ("invoice_sent", "once_per_contact", ["move_card"]),
    ("recurring_started", "unlimited", ["send_email", "create_task"]),
    ("recurring_canceled", "once_per_contact_24h", ["move_card", "send_email", "create_task"]),
]


@pytest.mark.parametrize(("trigger", "frequency", "kinds"), CASES, ids=[case[0] for case in CASES])
def test_build_and_activate_an_automation(page, boards, owner, trigger, frequency, kinds):
    name = f"When {TRIGGERS[trigger].lower()}"
    open_builder(page, through_the_menus=trigger == "invoice_overdue")
    name_it(page, name)
    choose_trigger(page, TRIGGERS[trigger])
    choose_frequency(page, FREQUENCIES[frequency])
    expect(page.get_by_text(f"When “{TRIGGERS[trigger]}”, do this, in this order:")).to_be_visible()
    for kind in kinds:
        index = add_action(page, ACTIONS[kind])
        if kind == "send_email":
            fill_email(page, index, subject="Invoice {{ invoice.number }}",
                       body="Hello {{ contact.first_name }},\nthe amount due is {{ invoice.amount_due }}.")
        elif kind == "create_task":
            fill_task(page, index, title="Call {{ contact.name }}", days="3", assignee="owner")
        else:
            fill_move(page, index, workflow="Collections", step="Reminded")
    next_step(page, "5. Review")

    review = page.locator(".card", has=page.get_by_role("heading", name="Review"))
    expect(review).to_contain_text(name)
    expect(review).to_contain_text(TRIGGERS[trigger])
    expect(review).to_contain_text(FREQUENCIES[frequency])
    for kind in kinds:
        expect(review).to_contain_text(ACTIONS[kind])
    automation = activate(page, name)

    assert automation.is_active
    assert automation.trigger == trigger
    assert automation.frequency == frequency
    actions = list(automation.actions.order_by("position"))
    assert [action.kind for action in actions] == kinds
    for action in actions:
        if action.kind == "send_email":
            assert action.subject == "Invoice {{ invoice.number }}"
            assert action.body.startswith("Hello {{ contact.first_name }},")
        elif action.kind == "create_task":
            assert (action.title, action.due_in_days, action.assignee) == ("Call {{ contact.name }}", 3, owner)
        else:
            assert (action.step.workflow.name, action.step.name) == ("Collections", "Reminded")
    # The detail page says the same.
    summary = page.locator(".card", has=page.get_by_role("heading", name="Summary"))
    expect(summary).to_contain_text(TRIGGERS[trigger])
    expect(summary).to_contain_text(FREQUENCIES[frequency])
    expect(page.get_by_role("switch", name=f"“{name}” is on; switch it off")).to_be_checked()
    page.goto(page.url_for("/automations/"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    expect(row).to_contain_text(TRIGGERS[trigger])
    expect(row.get_by_role("switch")).to_be_checked()


# --- Back and next ----------------------------------------------------------------------------


def test_back_and_next_keep_what_was_entered(page, boards):
    open_builder(page, through_the_menus=True)
    name_it(page, "Thank you for paying")
    choose_trigger(page, "Invoice is paid")
    choose_frequency(page, "Once per contact")
    index = add_action(page, "Send email to customer")
    fill_email(page, index, subject="Thanks for {{ invoice.number }}", body="Half-written")

    back(page, "3. Limit frequency")
    expect(frequency_option(page, "Once per contact").locator("input")).to_be_checked()
    back(page, "2. Trigger")
    expect(page.get_by_label("Invoice is paid", exact=True)).to_be_checked()
    back(page, "1. Name")
    expect(title_input(page)).to_have_value("Thank you for paying")

    title_input(page).fill("Thank you for paying!")
    next_step(page, "2. Trigger")
    expect(page.get_by_label("Invoice is paid", exact=True)).to_be_checked()
    next_step(page, "3. Limit frequency")
    expect(frequency_option(page, "Once per contact").locator("input")).to_be_checked()
    next_step(page, "4. Actions")
    expect(field(page, 0, "subject")).to_have_value("Thanks for {{ invoice.number }}")
    expect(field(page, 0, "body")).to_have_value("Half-written")
    # The name typed last is the one shown in the header.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank you for paying!")

    # A step link jumps back as well, and keeps the action too.
    page.locator(".wizard-steps").get_by_role("button", name="2. Trigger").click()
    expect(current_step(page)).to_have_text("2. Trigger")
    page.locator(".wizard-steps").get_by_role("button", name="4. Actions").click()
    expect(field(page, 0, "body")).to_have_value("Half-written")


# --- The email action: placeholders and preview -------------------------------------------------


def _to_actions_step(page, name: str = "Overdue reminder") -> int:
    open_builder(page)
    name_it(page, name)
    choose_trigger(page, "Invoice is overdue")
    choose_frequency(page, "Once per contact every 24 hours")
    return add_action(page, "Send email to customer")


def test_a_placeholder_typo_is_a_field_error_listing_the_valid_names(page):
    index = _to_actions_step(page)
    fill_email(page, index, subject="Invoice {{ invoice.number }}", body="Hello {{ contact.frist_name }}")
    page.get_by_role("button", name="Next").click()

    expect(current_step(page)).to_have_text("4. Actions")
    expect(page.get_by_role("alert").first).to_contain_text("Please correct the marked fields.")
    body = field(page, index, "body")
    expect(body).to_have_class(re.compile(r"\bis-invalid\b"))
    error = page.locator(f"#div_id_actions-{index}-body .invalid-feedback")
    expect(error).to_contain_text("Unknown placeholder {{ contact.frist_name }}")
    for valid in ("{{ contact.first_name }}", "{{ invoice.number }}", "{{ invoice.amount_due }}",
                  "{{ invoice.due_date }}", "{{ invoice.link }}"):
        expect(error).to_contain_text(valid)
    # What was typed is kept, so the typo can be fixed in place.
    expect(body).to_have_value("Hello {{ contact.frist_name }}")
    body.fill("Hello {{ contact.first_name }}")
    next_step(page, "5. Review")
    assert not Automation.objects.exists()


def test_the_placeholder_picker_inserts_at_the_cursor(page):
    index = _to_actions_step(page)
    body = field(page, index, "body")
    body.fill("Dear ,\nyour invoice is overdue.")
    body.click()
    page.keyboard.press("Control+Home")
    for _ in range(len("Dear ")):
        page.keyboard.press("ArrowRight")

    card = page.locator(f"#action-{index}")
    card.get_by_role("button", name="Insert placeholder").first.click()
    item = card.locator("[data-insert-placeholder='contact.first_name']").first
    expect(item).to_be_visible()
    item.click()
    expect(body).to_have_value("Dear {{ contact.first_name }},\nyour invoice is overdue.")
    # The cursor stays after the placeholder: typing goes on from there.
    page.keyboard.type("!")
    expect(body).to_have_value("Dear {{ contact.first_name }}!,\nyour invoice is overdue.")

    # The subject is a target too, the field last used wins.
    subject = field(page, index, "subject")
    subject.fill("Invoice  is overdue")
    subject.click()
    page.keyboard.press("End")
    for _ in range(len(" is overdue")):
        page.keyboard.press("ArrowLeft")
    card.get_by_role("button", name="Insert placeholder").first.click()
    card.locator("[data-insert-placeholder='invoice.number']").first.click()
    expect(subject).to_have_value("Invoice {{ invoice.number }} is overdue")


def test_the_live_preview_renders_for_the_chosen_invoice(page):
    today = dt.date.today()
    grace = make_invoice(contact=make_contact(name="Grace Hopper", email="grace@navy.test"),
                         issue_date=today - dt.timedelta(days=2), due_date=today + dt.timedelta(days=12))
    alan = make_invoice(contact=make_contact(name="Alan Turing", email="alan@bletchley.test"),
                        issue_date=today - dt.timedelta(days=1), due_date=today + dt.timedelta(days=13))
    index = _to_actions_step(page)
    fill_email(page, index, subject="Invoice {{ invoice.number }} for {{ contact.name }}",
               body="Hello {{ contact.first_name }}, you owe {{ invoice.amount_due }}.")
    preview = page.locator(f"#preview-actions-{index}")
    chooser = page.get_by_label("Preview for invoice")

    chooser.select_option(label=f"{grace.number} · Grace Hopper")
    expect(preview.locator("[data-preview-subject]")).to_have_text(f"Invoice {grace.number} for Grace Hopper")
    expect(preview.locator("[data-preview-html]")).to_contain_text("Hello Grace, you owe")
    expect(preview).to_contain_text("grace@navy.test")

    chooser.select_option(label=f"{alan.number} · Alan Turing")
    expect(preview.locator("[data-preview-subject]")).to_have_text(f"Invoice {alan.number} for Alan Turing")
    expect(preview.locator("[data-preview-html]")).to_contain_text("Hello Alan, you owe")

    # Typing updates it; a typo is explained instead of rendered.
    field(page, index, "subject").fill("Invoice {{ invoice.nmber }}")
    expect(preview).to_contain_text("The email cannot be previewed yet")
    expect(preview).to_contain_text("Unknown placeholder {{ invoice.nmber }}")


def test_the_step_choice_depends_on_the_workflow(page, boards):
    open_builder(page)
    name_it(page, "Move to reminded")
    choose_trigger(page, "Invoice is overdue")
    choose_frequency(page, "Unlimited (trigger every time)")
    index = add_action(page, "Move card on workflow")
    workflow, step = field(page, index, "workflow"), field(page, index, "step")

    def offered() -> list[str]:
        return step.evaluate("s => Array.from(s.options).filter(o => !o.hidden && !o.disabled && o.value)"
                             ".map(o => o.textContent.trim())")

    workflow.select_option(label="Collections")
    assert offered() == ["New", "Reminded", "Paid"]
    step.select_option(label="Reminded")
    expect(step.locator("option:checked")).to_have_text("Reminded")

    workflow.select_option(label="Onboarding")
    assert offered() == ["Welcome", "Active"]
    expect(step).to_have_value("")  # "Reminded" is not a step of Onboarding
    step.select_option(label="Active")

    next_step(page, "5. Review")
    expect(page.locator(".card", has=page.get_by_role("heading", name="Review"))).to_contain_text("Onboarding")
    # Back on the step, the choice is kept and the other workflow's steps are still hidden.
    page.locator(".wizard-steps").get_by_role("button", name="4. Actions").click()
    expect(workflow.locator("option:checked")).to_have_text("Onboarding")
    expect(step.locator("option:checked")).to_have_text("Active")
    assert offered() == ["Welcome", "Active"]
    next_step(page, "5. Review")
    automation = activate(page, "Move to reminded")
    action = automation.actions.get()
    assert (action.step.workflow.name, action.step.name) == ("Onboarding", "Active")
