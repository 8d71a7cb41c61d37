"""The builder for reminder schedules (trigger invoice_due): steps, conditions, the German text and
its preview, the backlog question, the review and detail pages in words, the templates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from automations.models import Action, Automation, ReminderStep
from tests.automations.test_views_support import Builder
from tests.base import make_contact, make_invoice, make_owner

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()


@pytest.fixture
def owner_client(client):
    client.force_login(make_owner())
    return client


def step_post(steps: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {"schedule-TOTAL_FORMS": str(len(steps)), "schedule-INITIAL_FORMS": "0",
                            "schedule-MIN_NUM_FORMS": "0", "schedule-MAX_NUM_FORMS": "10"}
    for index, step in enumerate(steps):
        for key, value in step.items():
            if value is False or value is None:
                continue
            data[f"schedule-{index}-{key}"] = "on" if value is True else value
    return data


FRIENDLY = {"name": "Friendly reminder", "timing": "after", "days": "3",
            "subject": "Invoice {{ invoice.number }} is open", "body": "Hello {{ contact.first_name }}, please pay.",
            "subject_de": "Rechnung {{ invoice.number }} ist offen",
            "body_de": "Hallo {{ contact.first_name }}, bitte zahlen Sie {{ invoice.amount_due }}."}
MAHNUNG = {"name": "1. Mahnung", "timing": "after", "days": "14", "subject": "Reminder {{ invoice.number }}",
           "body": "Please pay {{ invoice.amount_due }}.", "fee": "5.00"}


def schedule_builder(client, steps, conditions: dict[str, Any] | None = None, name: str = "Dunning") -> Builder:
    builder = Builder(client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": name})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    assert builder.current()[0] == "schedule"  # no frequency step and no plain actions for a schedule
    builder.next("schedule", step_post(steps))
    builder.next("conditions", {f"conditions-{k}": v for k, v in (conditions or {}).items()})
    return builder


def test_the_builder_saves_a_schedule_with_levels_german_texts_fees_and_conditions(owner_client):
    builder = schedule_builder(owner_client, [FRIENDLY, MAHNUNG | {"interest": True}],
                               {"amount_due": "50", "business_customer": "yes", "currency": "eur"})
    review = builder.get().content.decode()
    assert "Friendly reminder: 3 days after the due date" in review
    assert "1. Mahnung: 14 days after the due date" in review
    assert "For invoices where the amount due is at least 50.00 and the currency is EUR and the customer is a business." in review
    response = builder.activate("on")
    automation = Automation.objects.get()
    assert response["Location"] == reverse("automations:automation-detail", args=[automation.pk])
    assert automation.trigger == "invoice_due" and automation.is_active and automation.frequency == "unlimited"
    assert automation.conditions == [{"field": "amount_due", "value": "50"}, {"field": "currency", "value": ["EUR"]},
                                     {"field": "business_customer", "value": True}]
    steps = list(automation.reminder_steps.order_by("position"))
    assert [(s.name, s.days) for s in steps] == [("Friendly reminder", 3), ("1. Mahnung", 14)]
    email = Action.objects.get(reminder_step=steps[0])
    assert (email.kind, email.subject_de, email.body_de) == (
        "send_email", FRIENDLY["subject_de"], FRIENDLY["body_de"])
    assert sorted(Action.objects.filter(reminder_step=steps[1]).values_list("kind", flat=True)) == [
        "charge_fee", "charge_interest", "send_email"]
    assert Action.objects.get(reminder_step=steps[1], kind="charge_fee").fee == Decimal("5.00")
    detail = owner_client.get(response["Location"]).content.decode()
    assert "Friendly reminder: 3 days after the due date" in detail
    assert "the customer is a business" in detail


def test_before_on_and_repeat_steps_are_saved_with_their_signs(owner_client):
    builder = schedule_builder(owner_client, [
        {"name": "Heads-up", "timing": "before", "days": "3", "subject": "Soon", "body": "Due soon"},
        {"name": "Due today", "timing": "on", "days": "", "task_title": "Call {{ contact.name }}"},
        {"name": "Overdue", "timing": "after", "days": "7", "subject": "Overdue", "body": "Pay",
         "repeat": True, "repeat_every_days": "7", "repeat_times": "3", "digest": True},
    ])
    assert "then every 7 days until paid, at most 3 times" in builder.get().content.decode()
    builder.activate("off")
    steps = list(ReminderStep.objects.order_by("position").values_list("days", "repeat_every_days", "repeat_times"))
    assert steps == [(-3, None, None), (0, None, None), (7, 7, 3)]
    assert Action.objects.get(kind="send_email", reminder_step__name="Overdue").digest is True


@pytest.mark.parametrize(("step", "field", "message"), [
    ({"days": "-2"}, "days", "Give the days as 0 or more"),
    ({"timing": "before", "days": "400"}, "days", "greater than or equal to -365"),
    ({"repeat": True, "repeat_every_days": "7", "repeat_times": "0"}, "repeat_times", "greater than or equal to 1"),
    ({"fee": "-5"}, "fee", "greater than or equal to 0.01"),
    ({"subject": "", "body": "", "subject_de": "", "body_de": ""}, None, "Give this step something to do"),
    ({"body_de": ""}, "body_de", ""),
    ({"body": "Hi {{ contact.password }}"}, "body", "Unknown placeholder {{ contact.password }}."),
])
def test_bad_steps_are_shown_at_their_field_and_nothing_is_saved(owner_client, step, field, message):
    builder = Builder(owner_client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Dunning"})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    response = builder.post("schedule", step_post([FRIENDLY | step]))
    assert response.status_code == 200
    form = response.context["wizard"]["form"].forms[0]
    errors = form.errors.get(field or "__all__")
    assert errors, form.errors
    assert message in " ".join(errors)
    assert not Automation.objects.exists()


def test_steps_out_of_order_and_a_repeat_before_the_last_step_are_refused(owner_client):
    builder = Builder(owner_client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Dunning"})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    response = builder.post("schedule", step_post([
        MAHNUNG | {"repeat": True, "repeat_every_days": "7", "repeat_times": "2"}, FRIENDLY]))
    errors = " ".join(response.context["wizard"]["form"].non_form_errors())
    assert "Step 1: only the last step can repeat." in errors
    assert "Step 2: a step comes after the one before it" in errors


def test_steps_are_added_removed_and_moved_without_losing_what_was_typed(owner_client):
    builder = Builder(owner_client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Dunning"})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    _step, formset = builder.current()
    assert len(formset.forms) == 1  # a new schedule starts with one step
    builder.post("schedule", {**step_post([FRIENDLY]), "schedule_op": "add:step"})
    _step, formset = builder.current()
    assert len(formset.forms) == 2 and formset.forms[0]["subject_de"].value() == FRIENDLY["subject_de"]
    builder.post("schedule", {**step_post([FRIENDLY, MAHNUNG]), "schedule_op": "up:1"})
    _step, formset = builder.current()
    assert [f["name"].value() for f in formset.forms] == ["1. Mahnung", "Friendly reminder"]
    builder.post("schedule", {**step_post([MAHNUNG, FRIENDLY]), "schedule_op": "remove:0"})
    _step, formset = builder.current()
    assert [f["name"].value() for f in formset.forms] == ["Friendly reminder"]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("currency", "EURO", "Give currencies as ISO codes"),
    ("amount_due", "-1", "greater than or equal to 0"),
    ("days_overdue", "5000", "is not a number of days from 0 to 3650"),
])
def test_bad_conditions_are_shown_at_their_field(owner_client, field, value, message):
    builder = Builder(owner_client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Dunning"})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    builder.next("schedule", step_post([FRIENDLY]))
    response = builder.post("conditions", {f"conditions-{field}": value})
    assert response.status_code == 200
    assert message in " ".join(response.context["wizard"]["form"].errors[field])


def test_tags_and_language_conditions_read_in_words(owner_client):
    builder = schedule_builder(owner_client, [FRIENDLY], {"language": "de", "tags": "VIP, Key account",
                                                          "not_tags": "Disputed"})
    page = builder.get().content.decode()
    assert "the contact&#x27;s language is German" in page or "the contact's language is German" in page
    assert "the contact is tagged “VIP”, “Key account”" in page
    assert "the contact is not tagged “Disputed”" in page


def test_the_german_preview_shows_the_german_text_filled_in(owner_client):
    invoice = make_invoice(status="sent", contact=make_contact(name="Ada Lovelace", language="en"))
    data = {"prefix": "schedule-0", "lang": "de", "schedule-0-subject": "Invoice {{ invoice.number }}",
            "schedule-0-body": "Hello", "schedule-0-subject_de": "Rechnung {{ invoice.number }}",
            "schedule-0-body_de": "Hallo {{ contact.first_name }}, offen: {{ invoice.amount_due }}",
            "schedule-0-preview_invoice": str(invoice.pk)}
    response = owner_client.post(reverse("automations:email-preview"), data, HTTP_HX_REQUEST="true")
    email = response.context["email"]
    assert email["subject"] == f"Rechnung {invoice.number}"
    assert "Hallo Ada, offen: 119,00" in email["text"]  # German number format, whatever the contact's language
    english = owner_client.post(reverse("automations:email-preview"), {**data, "lang": ""}, HTTP_HX_REQUEST="true")
    assert english.context["email"]["subject"] == f"Invoice {invoice.number}"
    # Without a German text, the preview shows what a German contact gets: the English one.
    fallback = owner_client.post(reverse("automations:email-preview"), {
        **data, "schedule-0-subject_de": "", "schedule-0-body_de": ""}, HTTP_HX_REQUEST="true")
    assert fallback.context["email"]["subject"] == f"Invoice {invoice.number}"


# --- The backlog question: invoices already overdue, or only new ones --------------------------


def overdue_invoice(days: int = 20):
    return make_invoice(status="sent", issue_date=TODAY - dt.timedelta(days=days + 14),
                        due_date=TODAY - dt.timedelta(days=days))


@pytest.mark.parametrize(("answer", "schedule_from"), [("new", TODAY), ("all", None)])
def test_activating_asks_about_the_overdue_invoices_shows_their_count_and_keeps_the_answer(owner_client, answer,
                                                                                           schedule_from):
    overdue_invoice(), overdue_invoice(30)
    make_invoice(status="sent", due_date=TODAY + dt.timedelta(days=5))  # not yet past the first step
    builder = schedule_builder(owner_client, [FRIENDLY])
    page = builder.get().content.decode()
    assert "When you activate it, 2 open invoices are already past the first step." in page
    builder.post("review", {"review-activate": "on", "review-backlog": answer})
    automation = Automation.objects.get()
    assert automation.is_active and automation.schedule_from == schedule_from


def test_the_backlog_answer_decides_what_the_scan_reminds(owner_client):
    from automations import reminders
    from automations.models import Event
    old = overdue_invoice()
    schedule_builder(owner_client, [FRIENDLY], name="New only").post(
        "review", {"review-activate": "on", "review-backlog": "new"})
    schedule_builder(owner_client, [FRIENDLY], name="With backlog").post(
        "review", {"review-activate": "on", "review-backlog": "all"})
    reminders.scan()
    assert list(Event.objects.filter(invoice=old, kind="invoice_due").values_list("automation__name", flat=True)) == [
        "With backlog"]


def test_switching_a_schedule_on_asks_first_then_keeps_the_answer(owner_client):
    from automations import services
    overdue_invoice()
    automation = services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", is_active=False,
        steps=[{"name": "Friendly", "days": 3, "actions": [{"kind": "create_task", "title": "Call"}]}])
    url = reverse("automations:automation-switch", args=[automation.pk])
    question = owner_client.post(url, {"active": "1"})
    assert question.status_code == 200
    assert "1 open invoice is already past the schedule&#x27;s first step" in question.content.decode() or \
        "1 open invoice is already past the schedule's first step" in question.content.decode()
    automation.refresh_from_db()
    assert not automation.is_active  # nothing changes before the answer
    owner_client.post(url, {"active": "1", "backlog": "all"})
    automation.refresh_from_db()
    assert automation.is_active and automation.schedule_from is None
    owner_client.post(url, {"active": "0"})  # switching off asks nothing
    owner_client.post(url, {"active": "1", "backlog": "new"})
    automation.refresh_from_db()
    assert automation.is_active and automation.schedule_from == TODAY


def test_a_plain_automation_switches_on_without_the_question(owner_client):
    from automations import services
    automation = services.create_automation(name="Paid", trigger="invoice_paid", frequency="unlimited",
                                            actions=[{"kind": "create_task", "title": "Thank"}])
    response = owner_client.post(reverse("automations:automation-switch", args=[automation.pk]), {"active": "1"})
    assert response.status_code == 302
    automation.refresh_from_db()
    assert automation.is_active


# --- Editing a saved schedule, and the templates ------------------------------------------------


def test_editing_a_schedule_shows_its_steps_and_conditions_and_saves_changes(owner_client):
    builder = schedule_builder(owner_client, [FRIENDLY, MAHNUNG], {"amount_due": "10", "tags": "VIP"})
    builder.activate("on")
    automation = Automation.objects.get()
    edit = Builder(owner_client, reverse("automations:automation-edit", args=[automation.pk]))
    edit.next("name", {"name-name": "Dunning"})
    edit.next("trigger", {"trigger-trigger": "invoice_due"})
    _step, formset = edit.current()
    assert [f["name"].value() for f in formset.forms] == ["Friendly reminder", "1. Mahnung"]
    assert str(formset.forms[1]["fee"].value()) == "5.00"
    assert formset.forms[0]["body_de"].value() == FRIENDLY["body_de"]
    edit.next("schedule", step_post([FRIENDLY, MAHNUNG | {"fee": "7.50"}]))
    _step, form = edit.current()
    assert form["amount_due"].value() in ("10", Decimal("10"))
    assert form["tags"].value() == "VIP"
    edit.next("conditions", {"conditions-amount_due": "10", "conditions-tags": "VIP"})
    assert "When you activate it" not in edit.get().content.decode()  # it is on already: no question
    edit.activate("on")
    assert Action.objects.get(kind="charge_fee").fee == Decimal("7.50")
    automation.refresh_from_db()
    assert automation.schedule_from == TODAY  # kept from the first activation


def test_a_schedule_the_builder_cannot_show_is_refused_with_a_message(owner_client):
    from automations import services
    automation = services.create_automation(
        name="Two emails", trigger="invoice_due", frequency="unlimited",
        steps=[{"name": "Friendly", "days": 3, "actions": [
            {"kind": "create_task", "title": "Call"}, {"kind": "create_task", "title": "Call again"}]}])
    response = owner_client.get(reverse("automations:automation-edit", args=[automation.pk]), follow=True)
    assert "Change it in the admin or by exporting and importing it." in response.content.decode()


@pytest.mark.parametrize("slug", ["friendly-reminder", "mahnwesen", "due-in-3-days"])
def test_each_schedule_template_goes_through_the_builder_unchanged(owner_client, slug):
    builder = Builder(owner_client, reverse("automations:automation-template", args=[slug]))
    for step in ("name", "trigger", "schedule", "conditions"):
        current, form = builder.current()
        assert current == step
        data = builder.client.get(builder.url).context["wizard"]["form"]
        response = builder.post(step, _post_of(data))
        assert response.status_code == 302, getattr(response, "context", None) and response.context["wizard"]["form"].errors
    assert builder.activate("off").status_code == 302
    assert Automation.objects.get().trigger == "invoice_due"


def _post_of(form) -> dict[str, Any]:
    """What a shown step posts when Next is pressed without changing anything."""
    if hasattr(form, "forms"):
        return step_post([{name: f[name].value() for name in f.fields} for f in form.forms])
    return {f"{form.prefix}-{name}": "" if form[name].value() is None else form[name].value() for name in form.fields}


def test_the_mahnwesen_template_has_three_levels_with_fee_and_interest(owner_client):
    builder = Builder(owner_client, reverse("automations:automation-template", args=["mahnwesen"]))
    builder.post("name", {"wizard_goto_step": "schedule", "name-name": "Mahnwesen"})
    _step, formset = builder.current()
    rows = [(f["days"].value(), f["fee"].value(), f["interest"].value()) for f in formset.forms]
    assert [(str(days), str(fee) if fee else None, bool(interest)) for days, fee, interest in rows] == [
        ("3", None, False), ("14", "5.00", False), ("28", None, True)]
    assert all(f["subject_de"].value() and f["subject"].value() for f in formset.forms)
    # The English text in English and the German one in German, whatever the owner's language.
    assert formset.forms[1]["subject"].value() == "First reminder: invoice {{ invoice.number }}"
    assert formset.forms[1]["subject_de"].value() == "1. Mahnung: Rechnung {{ invoice.number }}"
    assert "Verzugszinsen (§ 288 BGB)" in formset.forms[2]["body_de"].value()


def test_the_builder_speaks_german(owner_client):
    owner_client.cookies["django_language"] = "de"
    builder = Builder(owner_client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Mahnwesen"})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    page = builder.get().content.decode()
    assert "Ablauf" in page and "Betreff (Deutsch)" in page and "Stufe hinzufügen" in page
    assert "Tage nach Fälligkeit" in page


def test_answering_the_switch_question_twice_switches_on_once_and_keeps_the_first_answer(owner_client):
    from automations import services
    automation = services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", is_active=False,
        steps=[{"name": "Friendly", "days": 3, "actions": [{"kind": "create_task", "title": "Call"}]}])
    url = reverse("automations:automation-switch", args=[automation.pk])
    owner_client.post(url, {"active": "1", "backlog": "all"})
    # The same form sent again (a second tab, a double click): refused, the answer stays.
    second = owner_client.post(url, {"active": "1", "backlog": "new"}, follow=True)
    assert "is already on" in second.content.decode()
    automation.refresh_from_db()
    assert automation.is_active and automation.schedule_from is None


# --- A step that moves the customer's card and gives a task to one person ----------------------


@time_machine.travel(dt.datetime(2026, 6, 15, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")), tick=False)  # a Monday
def test_a_step_can_move_the_card_and_assign_its_task_and_the_scan_does_both(owner_client,
                                                                           django_capture_on_commit_callbacks):
    from automations import reminders
    from automations.dispatch import dispatch_pending
    from tasks.models import Task
    from tests.base import make_team_member
    from workflows.models import Card
    from workflows.services import create_workflow

    board = create_workflow(name="Collections", steps=["New", "Reminded", "Lawyer"])
    reminded = board.steps.get(name="Reminded")
    sam = make_team_member("sam")
    builder = schedule_builder(owner_client, [FRIENDLY | {"move_to": str(reminded.pk), "task_title": "Call them",
                                                          "task_assignee": str(sam.pk)}])
    review = builder.get().content.decode()
    assert "Collections" in review and "Reminded" in review and "sam" in review
    builder.post("review", {"review-activate": "on", "review-backlog": "all"})
    automation = Automation.objects.get()
    step = automation.reminder_steps.get()
    assert {(a.kind, a.step_id, a.assignee_id) for a in step.actions.all()} == {
        ("send_email", None, None), ("move_card", reminded.pk, None), ("create_task", None, sam.pk)}

    # Opened again in the builder, the step shows both (before, such a schedule was refused).
    edit = Builder(owner_client, reverse("automations:automation-edit", args=[automation.pk]))
    edit.next("name", {"name-name": "Dunning"})
    edit.next("trigger", {"trigger-trigger": "invoice_due"})
    _step, formset = edit.current()
    assert str(formset.forms[0]["move_to"].value()) == str(reminded.pk)
    assert str(formset.forms[0]["task_assignee"].value()) == str(sam.pk)

    contact = make_contact(name="Ada Lovelace")
    today = dt.date(2026, 6, 15)
    invoice = make_invoice(contact=contact, status="sent", issue_date=today - dt.timedelta(days=30),
                           due_date=today - dt.timedelta(days=5))
    reminders.scan()
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_pending()
    assert Card.objects.get(workflow=board, contact=contact).step == reminded
    task = Task.objects.get()
    assert task.title == "Call them" and task.assignee == sam and task.invoice == invoice


def test_a_card_move_to_a_step_deleted_meanwhile_is_shown_at_its_field(owner_client):
    from workflows.services import create_workflow

    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    reminded = board.steps.get(name="Reminded")
    builder = Builder(owner_client, reverse("automations:automation-custom"))
    builder.next("name", {"name-name": "Dunning"})
    builder.next("trigger", {"trigger-trigger": "invoice_due"})
    pk = reminded.pk
    reminded.delete()
    response = builder.post("schedule", step_post([FRIENDLY | {"move_to": str(pk)}]))
    assert response.status_code == 200
    forms, _non_form = response.context["wizard"]["form"].errors, None
    assert "move_to" in forms[0], forms
