"""The automation builder: every step, Back/Next, bad input at its field, editing, stale edits,
double submits, templates, and the admin's way in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations import services
from automations.forms import PLAIN_TRIGGERS
from automations.models import Automation
from automations.triggers import Frequency, Trigger
from core.errors import DomainError
from tests.automations.test_views_support import (  # noqa: F401 (fixtures)
    EMAIL, TASK, Builder, action_post_data, build, errors_of, make_automation, post_data_of, rows_of,
    stub_urls,
)
from tests.base import make_invoice, make_outsider, make_owner, make_team_member, messages_of
from workflows.services import create_workflow, delete_step

pytestmark = pytest.mark.django_db

CUSTOM = "/automations/new/custom/"


# --- Starting -----------------------------------------------------------------------------------


def test_the_chooser_offers_a_custom_automation_and_the_templates(client, owner):
    page = client.get(reverse("automations:automation-new")).content.decode()
    assert "+ Custom Automation" in page and 'href="/automations/new/custom/"' in page
    for title in ("Overdue reminder email", "Thank-you email on payment", "Follow-up task when overdue",
                  "Move card to “Paid” when paid"):
        assert title in page


def test_a_custom_automation_starts_at_the_name_with_a_click_to_rename_title(client, owner):
    builder = Builder(client, CUSTOM)
    response = builder.get()
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "name"
    page = response.content.decode()
    assert 'class="form-control title-input' in page and 'name="name-name"' in page
    assert "Click the title above to give your automation a name." in page
    for title in ("Name", "Trigger", "Limit frequency", "Actions", "Review"):
        assert title in page


def test_the_trigger_step_lists_the_invoice_triggers_and_the_reminder_schedule_under_invoices(client, owner):
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Reminder"})
    page = builder.get().content.decode()
    assert "Invoices" in page
    for value, label in [*PLAIN_TRIGGERS, ("invoice_due", "Payment reminders (before and after the due date)")]:
        assert f'value="{value}"' in page and str(label) in page
    assert page.count('type="radio"') == 6


def test_the_frequency_step_explains_each_option(client, owner):
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Reminder"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    page = builder.get().content.decode()
    assert "Limit frequency" in page
    for label in ("Unlimited (trigger every time)", "Once per contact", "Once per contact every 24 hours",
                  "Your action runs every time it is triggered.", "Your action runs only once for each contact.",
                  "Your action runs at most once for each contact within 24 hours."):
        assert label in page


# --- The whole way through ----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", [value for value, _label in PLAIN_TRIGGERS])
def test_building_an_automation_for_each_trigger_saves_it_switched_on(client, owner, trigger):
    _builder, response = build(client, name=f"On {trigger}", trigger=trigger, frequency="once_per_contact_24h")
    automation = Automation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("automations:automation-detail", args=[automation.pk])
    assert (automation.name, automation.trigger, automation.frequency, automation.is_active, automation.created_by) == (
        f"On {trigger}", trigger, "once_per_contact_24h", True, owner)
    assert list(automation.actions.values_list("kind", "subject")) == [("send_email", EMAIL["subject"])]
    assert "is saved and switched on" in messages_of(response)[0]


@pytest.mark.parametrize("frequency", Frequency.values)
def test_each_frequency_limit_is_saved(client, owner, frequency):
    build(client, frequency=frequency)
    assert Automation.objects.get().frequency == frequency


def test_an_email_action_is_saved_with_all_its_settings(client, owner):
    build(client, actions=[EMAIL | {"sender_name": "Acme Billing", "reply_to": "billing@acme.test"}])
    action = Automation.objects.get().actions.get()
    assert (action.kind, action.subject, action.body, action.sender_name, action.reply_to) == (
        "send_email", EMAIL["subject"], EMAIL["body"], "Acme Billing", "billing@acme.test")


def test_a_task_action_is_saved_for_a_person_or_for_the_team(client, owner):
    staff = make_team_member()
    build(client, actions=[TASK | {"assignee": staff}, TASK | {"title": "Team task", "due_in_days": ""}])
    person, team = Automation.objects.get().actions.order_by("position")
    assert (person.kind, person.title, person.description, person.due_in_days, person.assignee) == (
        "create_task", TASK["title"], TASK["description"], 2, staff)
    assert (team.title, team.due_in_days, team.assignee) == ("Team task", None, None)


def test_a_move_card_action_is_saved_with_its_step(client, owner):
    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    reminded = board.steps.get(name="Reminded")
    build(client, actions=[{"kind": "move_card", "workflow": board, "step": reminded}])
    action = Automation.objects.get().actions.get()
    assert (action.kind, action.step) == ("move_card", reminded)


def test_save_as_draft_saves_it_switched_off(client, owner):
    _builder, response = build(client, activate="off")
    automation = Automation.objects.get()
    assert not automation.is_active
    assert "saved as a draft" in messages_of(response)[0]


def test_actions_can_be_added_removed_and_moved(client, owner):
    board = create_workflow(name="Collections", steps=["Paid"])
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Three things"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    builder.next("frequency", {"frequency-frequency": "unlimited"})

    def press(operation: str, rows=None) -> list[str]:
        rows = rows_of(builder.current()[1]) if rows is None else rows
        assert builder.post("actions", {**action_post_data(rows), "actions_op": operation}).status_code == 302
        step, formset = builder.current()
        assert step == "actions"
        return [form.kind_value for form in formset.forms]

    assert press("add:send_email") == ["send_email"]
    assert press("add:create_task", [EMAIL]) == ["send_email", "create_task"]
    assert press("add:move_card", [EMAIL, TASK]) == ["send_email", "create_task", "move_card"]
    rows = [EMAIL, TASK, {"kind": "move_card", "workflow": board.pk, "step": board.steps.get().pk}]
    assert press("up:2", rows) == ["send_email", "move_card", "create_task"]
    assert press("down:0") == ["move_card", "send_email", "create_task"]
    # What was typed travels with its action.
    assert builder.current()[1].forms[1]["subject"].value() == EMAIL["subject"]
    assert press("up:0") == ["move_card", "send_email", "create_task"]  # the first stays first
    assert press("remove:2") == ["move_card", "send_email"]
    builder.next("actions", post_data_of(builder.current()[1]))
    assert builder.activate().status_code == 302
    assert list(Automation.objects.get().actions.values_list("position", "kind")) == [(0, "move_card"), (1, "send_email")]


def test_an_added_action_is_shown_without_errors_until_next_is_pressed(client, owner):
    builder = Builder(client, CUSTOM)
    builder.post("actions", {**action_post_data([]), "actions_op": "add:send_email"})
    response = builder.get()
    assert response.context["wizard"]["steps"].current == "actions"
    assert "is-invalid" not in response.content.decode()
    response = builder.post("actions", action_post_data([{"kind": "send_email"}]))
    assert response.status_code == 200
    errors, _ = errors_of(response)
    assert "required for this action" in " ".join(errors[0]["subject"])


def test_the_actions_step_offers_placeholders_and_a_preview_for_a_real_invoice(client, owner):
    invoice = make_invoice(status="sent")
    builder = Builder(client, CUSTOM)
    builder.post("actions", {**action_post_data([]), "actions_op": "add:send_email"})
    page = builder.get().content.decode()
    assert 'data-insert-placeholder="contact.first_name"' in page
    assert "{{ invoice.number }}" in page
    assert 'hx-post="/automations/preview/"' in page
    assert f'<option value="{invoice.pk}">{invoice.number}' in page


# --- Back and Next keep what was entered ------------------------------------------------------


def test_back_keeps_what_was_entered_on_both_steps(client, owner):
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Reminder"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    # On the frequency step: choose one, then go Back without pressing Next.
    response = builder.post("frequency", {"frequency-frequency": "once_per_contact", "wizard_goto_step": "trigger"})
    assert response.status_code == 302
    step, form = builder.current()
    assert (step, form["trigger"].value()) == ("trigger", "invoice_paid")
    builder.post("trigger", {"trigger-trigger": "invoice_paid", "wizard_goto_step": "name"})
    step, form = builder.current()
    assert (step, form["name"].value()) == ("name", "Reminder")
    builder.next("name", {"name-name": "Reminder"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    step, form = builder.current()
    assert (step, form["frequency"].value()) == ("frequency", "once_per_contact")


def test_back_keeps_an_unfinished_action(client, owner):
    builder = Builder(client, CUSTOM)
    builder.post("actions", {**action_post_data([{"kind": "send_email", "subject": "Half-written"}]),
                             "wizard_goto_step": "frequency"})
    builder.post("frequency", {"frequency-frequency": "unlimited", "wizard_goto_step": "actions"})
    step, form = builder.current()
    assert step == "actions"
    assert form.forms[0]["subject"].value() == "Half-written"


def test_a_reload_shows_the_current_step_again(client, owner):
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Reminder"})
    assert builder.current()[0] == "trigger"
    assert builder.current()[0] == "trigger"


def test_two_builders_in_one_session_do_not_mix(client, owner):
    first, second = Builder(client, CUSTOM), Builder(client, CUSTOM)
    first.next("name", {"name-name": "First"})
    second.next("name", {"name-name": "Second"})
    first.post("trigger", {"wizard_goto_step": "name"})
    assert first.current()[1]["name"].value() == "First"


# --- Bad input: a clear message at the field, nothing saved -----------------------------------


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused_at_the_name(client, owner, name):
    builder = Builder(client, CUSTOM)
    response = builder.post("name", {"name-name": name})
    assert response.status_code == 200
    assert errors_of(response) == {"name": ["An automation needs a name."]}
    assert 'class="form-control title-input is-invalid"' in response.content.decode()


@pytest.mark.parametrize("value", ["", "invoice_exploded"])
def test_a_missing_or_unknown_trigger_is_refused_at_the_trigger(client, owner, value):
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Reminder"})
    response = builder.post("trigger", {"trigger-trigger": value})
    assert response.status_code == 200
    assert list(errors_of(response)) == ["trigger"]


def test_no_action_is_refused(client, owner):
    builder = Builder(client, CUSTOM)
    response = builder.post("actions", action_post_data([]))
    assert response.status_code == 200
    assert errors_of(response) == ([], ["An automation needs at least one action."])
    assert "An automation needs at least one action." in response.content.decode()


def test_a_placeholder_typo_is_refused_at_its_field_with_the_valid_names(client, owner):
    builder = Builder(client, CUSTOM)
    response = builder.post("actions", action_post_data([EMAIL | {"body": "Hello {{ contact.frist_name }}"}]))
    assert response.status_code == 200
    errors, _ = errors_of(response)
    message = " ".join(errors[0]["body"])
    assert "Unknown placeholder {{ contact.frist_name }}" in message
    assert "{{ contact.first_name }}" in message and "{{ invoice.amount_due }}" in message
    assert set(errors[0]) == {"body"}


def test_template_tags_in_a_text_are_refused(client, owner):
    builder = Builder(client, CUSTOM)
    response = builder.post("actions", action_post_data([TASK | {"title": "{% debug %}"}]))
    errors, _ = errors_of(response)
    assert "Only placeholders like" in " ".join(errors[0]["title"])


def test_a_step_of_another_workflow_is_refused_at_the_step(client, owner):
    collections = create_workflow(name="Collections", steps=["Reminded"])
    sales = create_workflow(name="Sales", steps=["Won"])
    builder = Builder(client, CUSTOM)
    response = builder.post("actions", action_post_data([
        {"kind": "move_card", "workflow": collections, "step": sales.steps.get()}]))
    assert response.status_code == 200
    errors, _ = errors_of(response)
    assert errors[0] == {"step": ["The step “Won” belongs to the workflow “Sales”, not to “Collections”. "
                                  "Choose a step of “Collections”."]}


def test_a_move_card_action_needs_a_workflow_and_a_step(client, owner):
    board = create_workflow(name="Collections", steps=["Reminded"])
    builder = Builder(client, CUSTOM)
    errors, _ = errors_of(builder.post("actions", action_post_data([{"kind": "move_card"}])))
    assert list(errors[0]) == ["workflow"]
    errors, _ = errors_of(builder.post("actions", action_post_data([{"kind": "move_card", "workflow": board}])))
    assert "required for this action" in " ".join(errors[0]["step"])


def test_a_task_due_in_minus_three_days_is_refused_at_the_days(client, owner):
    builder = Builder(client, CUSTOM)
    response = builder.post("actions", action_post_data([TASK | {"due_in_days": "-3"}]))
    assert response.status_code == 200
    errors, _ = errors_of(response)
    assert errors[0] == {"due_in_days": ["The number of days cannot be negative."]}


@pytest.mark.parametrize("field,value,expected", [
    ("reply_to", "not an address", "Enter one valid email address."),
    ("reply_to", "a@example.com, b@example.com", "Enter one valid email address."),
    ("subject", "", "This field is required for this action."),
    ("subject", "Line\nbreak", "This field cannot contain line breaks."),
])
def test_bad_email_settings_are_refused_at_their_field(client, owner, field, value, expected):
    builder = Builder(client, CUSTOM)
    errors, _ = errors_of(builder.post("actions", action_post_data([EMAIL | {field: value}])))
    assert expected in errors[0][field]


def test_a_due_date_that_is_not_a_number_is_refused_not_a_server_error(client, owner):
    builder = Builder(client, CUSTOM)
    errors, _ = errors_of(builder.post("actions", action_post_data([TASK | {"due_in_days": "soon"}])))
    assert list(errors[0]) == ["due_in_days"]


def test_a_tampered_post_is_a_bad_request_not_a_server_error(client, owner):
    builder = Builder(client, CUSTOM)
    assert client.post(builder.url, {"name-name": "No management form"}).status_code == 400
    assert builder.post("bogus", {"bogus-name": "x"}).status_code == 400
    assert builder.post("bogus", {"wizard_goto_step": "review"}).status_code == 400
    response = builder.post("actions", {"actions-0-kind": "send_email", "actions_op": "up:999"})
    assert response.status_code == 302
    response = builder.post("actions", {"actions-TOTAL_FORMS": "many"})
    assert response.status_code == 200


def test_an_invalid_step_left_with_back_sends_activate_back_to_it(client, owner):
    builder = Builder(client, CUSTOM)
    builder.post("name", {"name-name": "", "wizard_goto_step": "review"})
    response = builder.activate()
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "name"
    assert not Automation.objects.exists()


def test_a_step_deleted_before_activate_is_reported_at_the_step(client, owner):
    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    reminded = board.steps.get(name="Reminded")
    builder = Builder(client, CUSTOM)
    builder.next("name", {"name-name": "Move"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    builder.next("frequency", {"frequency-frequency": "unlimited"})
    builder.next("actions", action_post_data([{"kind": "move_card", "workflow": board, "step": reminded}]))
    delete_step(step=reminded)
    response = builder.activate()
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "actions"
    errors, _ = errors_of(response)
    assert "step" in errors[0]
    assert not Automation.objects.exists()


def test_errors_of_the_services_are_shown_at_their_fields(client, owner, monkeypatch):
    def refuse(**kwargs):
        raise services.AutomationInvalid({}, {0: {"subject": ["The subject is wrong."], "kind": ["Odd kind."]}})

    monkeypatch.setattr(services, "create_automation", refuse)
    _builder, response = build(client)
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "actions"
    errors, _ = errors_of(response)
    assert errors[0] == {"subject": ["The subject is wrong."], "__all__": ["Odd kind."]}

    def refuse_name(**kwargs):
        raise services.AutomationInvalid({"name": ["That name is odd."]}, {})

    monkeypatch.setattr(services, "create_automation", refuse_name)
    _builder, response = build(client)
    assert response.context["wizard"]["steps"].current == "name"
    assert errors_of(response) == {"name": ["That name is odd."]}
    assert not Automation.objects.exists()


def test_a_refusal_while_saving_is_shown_on_the_review(client, owner, monkeypatch):
    def refuse(**kwargs):
        raise DomainError("The step was just deleted.")

    monkeypatch.setattr(services, "create_automation", refuse)
    _builder, response = build(client)
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "review"
    assert "The step was just deleted." in response.content.decode()


def test_review_without_a_choice_asks_for_one(client, owner):
    _builder, response = build(client, activate="")
    assert response.status_code == 200
    assert "Choose “Activate” or “Save as draft (off)”." in response.content.decode()
    assert not Automation.objects.exists()


# --- Saving once ------------------------------------------------------------------------------


def test_activate_pressed_twice_saves_one_automation(client, owner):
    builder, first = build(client)
    second = builder.activate()
    assert Automation.objects.count() == 1
    automation = Automation.objects.get()
    assert second.status_code == 302
    assert second["Location"] == reverse("automations:automation-detail", args=[automation.pk])
    assert "This automation has already been saved." in messages_of(second)


def test_an_unknown_builder_sends_the_person_to_start_again(client, owner):
    response = client.get(reverse("automations:automation-wizard", args=["x" * 16]))
    assert response.status_code == 302 and response["Location"] == reverse("automations:automation-new")
    assert client.post(reverse("automations:automation-wizard", args=["bad id!"])).status_code in (302, 404)


# --- Editing ----------------------------------------------------------------------------------


def test_editing_goes_through_the_same_steps_prefilled(client, owner):
    board = create_workflow(name="Collections", steps=["Reminded"])
    step = board.steps.get()
    automation = make_automation(frequency="once_per_contact",
                                 actions=[dict(EMAIL), TASK | {"assignee": owner},
                                          {"kind": "move_card", "step": step}])
    builder = Builder(client, reverse("automations:automation-edit", args=[automation.pk]))
    step_name, form = builder.current()
    assert (step_name, form["name"].value()) == ("name", "Overdue reminder")
    builder.next("name", {"name-name": "Renamed"})
    assert builder.current()[1]["trigger"].value() == "invoice_overdue"
    builder.next("trigger", {"trigger-trigger": "invoice_overdue"})
    assert builder.current()[1]["frequency"].value() == "once_per_contact"
    builder.next("frequency", {"frequency-frequency": "once_per_contact"})
    _step, formset = builder.current()
    rows = rows_of(formset)
    assert [(r["kind"], r.get("subject"), str(r.get("assignee") or ""), str(r.get("step") or "")) for r in rows] == [
        ("send_email", EMAIL["subject"], "", ""), ("create_task", "", str(owner.pk), ""),
        ("move_card", "", "", str(step.pk))]
    assert rows[2]["workflow"] in (board.pk, str(board.pk))
    builder.next("actions", action_post_data(rows[:2]))
    response = builder.activate("off")
    assert response.status_code == 302
    automation.refresh_from_db()
    assert (automation.name, automation.is_active, Automation.objects.count()) == ("Renamed", False, 1)
    assert list(automation.actions.values_list("kind", flat=True)) == ["send_email", "create_task"]


def test_a_stale_edit_is_refused_and_overwrites_nothing(client, owner):
    automation = make_automation()
    builder = Builder(client, reverse("automations:automation-edit", args=[automation.pk]))
    builder.next("name", {"name-name": "Mine"})
    # Meanwhile, in another tab:
    services.update_automation(automation=Automation.objects.get(pk=automation.pk), name="Theirs")
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    builder.next("frequency", {"frequency-frequency": "unlimited"})
    builder.next("actions", action_post_data([TASK]))
    response = builder.activate()
    assert response.status_code == 200
    page = response.content.decode()
    assert "changed elsewhere" in page and "Nothing was saved" in page
    assert reverse("automations:automation-edit", args=[automation.pk]) in page
    automation.refresh_from_db()
    assert (automation.name, automation.trigger, automation.is_active) == ("Theirs", "invoice_overdue", False)
    assert list(automation.actions.values_list("kind", flat=True)) == ["send_email"]


def test_editing_an_automation_deleted_meanwhile_saves_nothing(client, owner):
    automation = make_automation()
    builder = Builder(client, reverse("automations:automation-edit", args=[automation.pk]))
    services.delete_automation(automation=automation)
    builder.post("name", {"name-name": "Mine", "wizard_goto_step": "review"})
    response = builder.activate()
    assert response.status_code == 200
    assert "deleted" in response.content.decode()
    assert not Automation.objects.exists()


def test_editing_an_unknown_automation_is_not_found(client, owner):
    assert client.get(reverse("automations:automation-edit", args=[999])).status_code == 404


# --- Templates --------------------------------------------------------------------------------


def walk_to_review(builder) -> None:
    """Press Next on every step without changing what it shows."""
    for step in ("name", "trigger", "frequency", "actions"):
        current, form = builder.current()
        assert current == step
        builder.next(step, post_data_of(form))


@pytest.mark.parametrize("slug,trigger,kinds", [
    ("overdue-reminder", "invoice_overdue", ["send_email"]),
    ("thank-you", "invoice_paid", ["send_email"]),
    ("overdue-task", "invoice_overdue", ["create_task"]),
    ("welcome-recurring", "recurring_started", ["send_email"]),
])
def test_a_template_prefills_every_step_and_saves_as_is(client, owner, slug, trigger, kinds):
    builder = Builder(client, reverse("automations:automation-template", args=[slug]))
    assert builder.current()[1]["name"].value()
    walk_to_review(builder)
    response = builder.activate()
    assert response.status_code == 302
    automation = Automation.objects.get()
    assert automation.trigger == trigger and automation.is_active
    assert list(automation.actions.values_list("kind", flat=True)) == kinds


def test_the_move_card_template_prefills_a_step_named_paid(client, owner):
    create_workflow(name="Aaa", steps=["Open"])
    board = create_workflow(name="Sales", steps=["Open", "Paid"])
    paid = board.steps.get(name="Paid")
    builder = Builder(client, reverse("automations:automation-template", args=["paid-move-card"]))
    walk_to_review(builder)
    assert builder.activate().status_code == 302
    automation = Automation.objects.get()
    assert (automation.name, automation.trigger) == ("Move card to “Paid” when paid", "invoice_paid")
    assert automation.actions.get().step == paid


def test_the_move_card_template_without_a_paid_step_asks_for_the_workflow(client, owner):
    builder = Builder(client, reverse("automations:automation-template", args=["paid-move-card"]))
    builder.post("name", {"name-name": "Move", "wizard_goto_step": "review"})
    response = builder.activate()
    assert response.status_code == 200
    assert response.context["wizard"]["steps"].current == "actions"
    errors, _ = errors_of(response)
    assert list(errors[0]) == ["workflow"]
    assert not Automation.objects.exists()


def test_an_unknown_template_is_not_found(client, owner):
    assert client.get(reverse("automations:automation-template", args=["nope"])).status_code == 404


# --- Who may ------------------------------------------------------------------------------------


def test_the_admins_add_automation_button_opens_the_builder(client):
    client.force_login(make_owner("boss"))
    page = client.get(reverse("admin:automations_automation_changelist")).content.decode()
    assert f'href="{CUSTOM}" class="addlink"' in page
    builder = Builder(client, CUSTOM)
    assert builder.get().status_code == 200
    automation = make_automation()
    page = client.get(reverse("admin:automations_automation_change", args=[automation.pk])).content.decode()
    assert reverse("automations:automation-edit", args=[automation.pk]) in page


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for url in (CUSTOM, reverse("automations:automation-new"),
                reverse("automations:automation-wizard", args=["x" * 16])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


@pytest.mark.parametrize("make_user", [make_outsider, make_team_member], ids=["no role", "team member"])
def test_only_an_owner_may_build_an_automation(client, make_user):
    client.force_login(make_user())
    for url in (CUSTOM, reverse("automations:automation-new"), reverse("automations:automation-wizard", args=["x" * 16])):
        response = client.get(url)
        assert response.status_code == 403, url
    response = client.post(CUSTOM, {"wizard_step": "trigger"})
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    assert Automation.objects.count() == 0
    client.force_login(make_owner("boss"))
    build(client)
    assert Automation.objects.count() == 1
