from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.messages import ERROR, SUCCESS
from django.urls import reverse
from django.utils import timezone, translation

from automations import portable, reminders, services
from core.dates import business_today
from automations.models import SETTINGS_FIELDS
from automations.models import Action, Automation, Event, Run, RunAction
from tests.base import make_invoice, make_outsider, make_owner, make_team_member
from tests.base import messages_with_levels as _messages
from workflows.services import create_workflow

pytestmark = pytest.mark.django_db

EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello", "sender_name": "Acme",
         "reply_to": "billing@acme.test"}


def make_automation(name="Overdue reminder", **overrides) -> Automation:
    fields = {"name": name, "trigger": "invoice_overdue", "frequency": "unlimited", "actions": [dict(EMAIL)]}
    fields.update(overrides)
    return services.create_automation(**fields)


def make_history():
    automation = make_automation()
    invoice = make_invoice()
    event = Event.objects.create(kind="invoice_sent", invoice=invoice, contact=invoice.contact,
                                 occurred_at=timezone.now())
    run = Run.objects.create(automation=automation, event=event, contact=invoice.contact, status="failed",
                             error="SMTP said no")
    result = RunAction.objects.create(run=run, position=0, kind="send_email", status="failed",
                                      idempotency_key=f"{run.pk}:0", email_to="ada@example.com")
    return event, run, result


def form_data(automation: Automation | None = None, actions: list[dict] = (), **fields) -> dict:
    """POST data of the automation form with its Action inline (prefix "actions")."""
    data = {"name": "Overdue reminder", "trigger": "invoice_overdue", "frequency": "once_per_contact"} | fields
    existing = [a for a in actions if a.get("id")]
    data |= {"actions-TOTAL_FORMS": str(len(actions)), "actions-INITIAL_FORMS": str(len(existing)),
             "actions-MIN_NUM_FORMS": "1", "actions-MAX_NUM_FORMS": "1000"}
    for i, action in enumerate(actions):
        data[f"actions-{i}-automation"] = automation.pk if automation else ""
        for name in ("id", "kind", "position", *SETTINGS_FIELDS):
            value = action.get(name)
            data[f"actions-{i}-{name}"] = "" if value is None else getattr(value, "pk", value)
        if action.get("DELETE"):
            data[f"actions-{i}-DELETE"] = "on"
    return data


def inline_errors(response) -> list[dict]:
    formset = response.context["inline_admin_formsets"][0].formset
    return [dict(form.errors) for form in formset.forms], list(formset.non_form_errors())


# --- Pages and access -------------------------------------------------------------------------


def test_automation_admin_pages_open_for_the_owner(client, owner):
    automation = make_automation()
    for url in [
        reverse("admin:automations_automation_changelist"),
        reverse("admin:automations_automation_changelist") + "?is_active__exact=0&q=Overdue",
        reverse("admin:automations_automation_add") + "?classic=1",
        reverse("admin:automations_automation_change", args=[automation.pk]),
        reverse("admin:automations_automation_delete", args=[automation.pk]),
    ]:
        assert client.get(url).status_code == 200, url


def test_history_pages_open_for_the_owner_read_only(client, owner):
    event, run, result = make_history()
    for name, obj in [("event", event), ("run", run), ("runaction", result)]:
        assert client.get(reverse(f"admin:automations_{name}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:automations_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.get(reverse(f"admin:automations_{name}_add")).status_code == 403
        assert client.post(reverse(f"admin:automations_{name}_change", args=[obj.pk]), {}).status_code == 403
    assert client.get(reverse("admin:automations_event_changelist") + "?dispatched=no").status_code == 200
    assert "SMTP said no" in client.get(reverse("admin:automations_run_change", args=[run.pk])).content.decode()


def test_only_owners_may_delete_history(client):
    event, run, result = make_history()
    client.force_login(make_team_member())
    for name, obj in [("event", event), ("run", run), ("runaction", result)]:
        assert client.get(reverse(f"admin:automations_{name}_change", args=[obj.pk])).status_code == 200
        assert client.post(reverse(f"admin:automations_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert RunAction.objects.exists()
    client.force_login(make_owner())
    assert client.post(reverse("admin:automations_runaction_delete", args=[result.pk]), {"post": "yes"}).status_code == 302
    assert not RunAction.objects.exists()


@pytest.mark.parametrize("name", ["automation", "event", "run", "runaction"])
def test_outsider_is_sent_to_the_admin_login(client, name):
    client.force_login(make_outsider())
    response = client.get(reverse(f"admin:automations_{name}_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_team_member_sees_automations_in_the_admin_but_cannot_change_them(client):
    automation = make_automation()
    client.force_login(make_team_member())
    page = client.get(reverse("admin:automations_automation_changelist"))
    assert page.status_code == 200 and automation.name in page.content.decode()
    assert reverse("automations:automation-custom") not in page.content.decode()
    assert client.get(reverse("admin:automations_automation_add") + "?classic=1").status_code == 403
    client.post(reverse("admin:automations_automation_changelist"),
                {"action": "switch_on" if not automation.is_active else "switch_off",
                 "_selected_action": [automation.pk]})
    was_active = automation.is_active
    automation.refresh_from_db()
    assert automation.is_active == was_active
    client.force_login(make_owner("boss"))
    assert client.get(reverse("admin:automations_automation_add") + "?classic=1").status_code == 200


def test_add_automation_in_the_admin_opens_the_builder(client, owner):
    response = client.get(reverse("admin:automations_automation_add"))
    assert response.status_code == 302
    assert response["Location"] == reverse("automations:automation-new")
    page = client.get(response["Location"]).content.decode()
    assert "+ Custom Automation" in page


# --- Adding and changing through the services -------------------------------------------------


def test_adding_an_automation_saves_it_off_with_its_actions_in_position_order(client, owner):
    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    reminded = board.steps.get(name="Reminded")
    data = form_data(actions=[
        {"kind": "move_card", "step": reminded, "position": "1"},
        EMAIL | {"position": "0"},
        {"kind": "create_task", "title": "Call", "due_in_days": "2", "assignee": owner},  # no position: last
    ], is_active="on")
    response = client.post(reverse("admin:automations_automation_add"), data)
    assert response.status_code == 302, inline_errors(response)
    automation = Automation.objects.get()
    assert (automation.name, automation.frequency, automation.is_active, automation.created_by) == (
        "Overdue reminder", "once_per_contact", False, owner)
    assert list(automation.actions.values_list("position", "kind")) == [
        (0, "send_email"), (1, "move_card"), (2, "create_task")]


def test_adding_an_email_action_without_subject_shows_the_error_at_the_subject(client, owner):
    response = client.post(reverse("admin:automations_automation_add"), form_data(actions=[EMAIL | {"subject": ""}]))
    assert response.status_code == 200
    errors, _ = inline_errors(response)
    assert "required for this action" in " ".join(errors[0]["subject"])
    assert not Automation.objects.exists()


def test_fields_of_another_kind_show_an_error_at_that_field(client, owner):
    response = client.post(reverse("admin:automations_automation_add"),
                           form_data(actions=[EMAIL | {"title": "Call", "due_in_days": "3"}]))
    assert response.status_code == 200
    errors, _ = inline_errors(response)
    assert set(errors[0]) == {"title", "due_in_days"}


def test_a_move_card_action_without_step_shows_the_error_at_the_step(client, owner):
    response = client.post(reverse("admin:automations_automation_add"), form_data(actions=[{"kind": "move_card"}]))
    errors, _ = inline_errors(response)
    assert "step" in errors[0]


def test_an_unknown_kind_is_a_form_error_not_a_server_error(client, owner):
    response = client.post(reverse("admin:automations_automation_add"), form_data(actions=[EMAIL | {"kind": "fax"}]))
    assert response.status_code == 200
    errors, _ = inline_errors(response)
    assert "kind" in errors[0]


def test_an_automation_without_actions_is_refused(client, owner):
    response = client.post(reverse("admin:automations_automation_add"), form_data(actions=[]))
    assert response.status_code == 200
    assert Automation.objects.count() == 0


def test_changing_an_automation_replaces_its_actions(client, owner):
    automation = make_automation(actions=[dict(EMAIL), {"kind": "create_task", "title": "Call"}])
    email_action, task_action = automation.actions.order_by("position")
    data = form_data(automation, name="Renamed", actions=[
        EMAIL | {"id": email_action.pk, "position": "0", "subject": "Changed"},
        {"id": task_action.pk, "kind": "create_task", "title": "Call", "position": "1", "DELETE": True},
    ])
    response = client.post(reverse("admin:automations_automation_change", args=[automation.pk]), data)
    assert response.status_code == 302, inline_errors(response)
    automation.refresh_from_db()
    assert automation.name == "Renamed"
    assert list(automation.actions.values_list("kind", "subject")) == [("send_email", "Changed")]


def test_deleting_every_action_of_an_automation_is_refused(client, owner):
    automation = make_automation()
    action = automation.actions.get()
    data = form_data(automation, actions=[EMAIL | {"id": action.pk, "position": "0", "DELETE": True}])
    response = client.post(reverse("admin:automations_automation_change", args=[automation.pk]), data)
    assert response.status_code == 200
    assert Action.objects.filter(pk=action.pk).exists()


def test_the_admin_form_cannot_switch_an_automation_on(client, owner):
    automation = make_automation()
    action = automation.actions.get()
    data = form_data(automation, actions=[EMAIL | {"id": action.pk, "position": "0"}], is_active="on")
    response = client.post(reverse("admin:automations_automation_change", args=[automation.pk]), data)
    assert response.status_code == 302
    assert not Automation.objects.get(pk=automation.pk).is_active


def test_a_domain_error_while_saving_becomes_a_message(client, owner, monkeypatch):
    def refuse(**kwargs):
        raise services.DomainError("The step was just deleted.")

    monkeypatch.setattr(services, "create_automation", refuse)
    url = reverse("admin:automations_automation_add")
    response = client.post(url, form_data(actions=[dict(EMAIL)]))
    assert response.status_code == 302
    assert _messages(response) == [(ERROR, "The step was just deleted.")]
    assert not Automation.objects.exists()


def test_deleting_an_automation_in_the_admin(client, owner):
    automation = make_automation()
    response = client.post(reverse("admin:automations_automation_delete", args=[automation.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Automation.objects.exists()


# --- Switch on / off --------------------------------------------------------------------------


def _run_action(client, action, automations):
    return client.post(reverse("admin:automations_automation_changelist"),
                       {"action": action, "_selected_action": [a.pk for a in automations]}, follow=True)


def test_switch_on_action_switches_on_and_reports_those_already_on(client, owner):
    off, on = make_automation("Off one"), make_automation("On one", is_active=True)
    response = _run_action(client, "switch_on", [off, on])
    assert response.status_code == 200
    assert Automation.objects.get(pk=off.pk).is_active
    messages = _messages(response)
    assert (SUCCESS, "1 automation switched on.") in messages
    assert (ERROR, "The automation “On one” is already on.") in messages


def test_switch_off_action_switches_off_and_reports_those_already_off(client, owner):
    off, on = make_automation("Off one"), make_automation("On one", is_active=True)
    response = _run_action(client, "switch_off", [off, on])
    assert not Automation.objects.get(pk=on.pk).is_active
    messages = _messages(response)
    assert (SUCCESS, "1 automation switched off.") in messages
    assert (ERROR, "The automation “Off one” is already off.") in messages


def test_switching_on_a_reminder_schedule_in_the_admin_asks_about_the_invoices_already_overdue(client, owner):
    today = business_today()
    dunning = services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", is_active=False,
        steps=[{"name": "Reminder", "days": 3, "actions": [{"kind": "create_task", "title": "Call"}]}])
    plain = make_automation("Plain")
    for days_late in (10, 20):
        make_invoice(status="sent", issue_date=today - dt.timedelta(days=40),
                     due_date=today - dt.timedelta(days=days_late))
    question = client.post(reverse("admin:automations_automation_changelist"),
                           {"action": "switch_on", "_selected_action": [dunning.pk, plain.pk]})
    assert question.status_code == 200
    page = question.content.decode()
    assert "“Dunning”: 2 open invoices already past the first step" in page
    assert "Also the 2 overdue invoices" in page and "Plain" not in page
    dunning.refresh_from_db()
    plain.refresh_from_db()
    assert not dunning.is_active and not plain.is_active, "nothing is switched on before the answer"

    answer = client.post(reverse("admin:automations_automation_changelist"),
                         {"action": "switch_on", "_selected_action": [dunning.pk, plain.pk], "backlog": "all"},
                         follow=True)
    assert (SUCCESS, "2 automations switched on.") in _messages(answer)
    dunning.refresh_from_db()
    assert dunning.is_active and dunning.schedule_from is None, "the overdue invoices enter the schedule"

    services.set_automation_active(automation=dunning, active=False)
    client.post(reverse("admin:automations_automation_changelist"),
                {"action": "switch_on", "_selected_action": [dunning.pk], "backlog": "new"})
    dunning.refresh_from_db()
    assert dunning.is_active and dunning.schedule_from == today, "only invoices due from today on"


def test_saving_a_stale_change_page_again_shows_an_error_not_a_server_error(client, owner):
    automation = make_automation()
    action = automation.actions.get()
    data = form_data(automation, actions=[EMAIL | {"id": action.pk, "position": "0", "subject": "First"}])
    url = reverse("admin:automations_automation_change", args=[automation.pk])
    assert client.post(url, data).status_code == 302
    response = client.post(url, data | {"actions-0-subject": "Second"})  # the action was replaced meanwhile
    assert response.status_code == 200
    assert automation.actions.get().subject == "First"


def test_the_read_only_page_offers_a_team_member_no_edit_in_the_builder(client):
    automation = make_automation()
    url = reverse("admin:automations_automation_change", args=[automation.pk])
    client.force_login(make_team_member())
    page = client.get(url)
    assert page.status_code == 200
    assert "Edit in the builder" not in page.content.decode()
    # The link it used to show leads to a 403 for them.
    assert client.get(reverse("automations:automation-edit", args=[automation.pk])).status_code == 403
    client.force_login(make_owner("boss"))
    page = client.get(url).content.decode()
    assert "Edit in the builder" in page and reverse("automations:automation-edit", args=[automation.pk]) in page


# --- A reminder schedule's steps and conditions as JSON -------------------------------------------

DUE = dt.date(2026, 6, 10)  # a Wednesday


def task_step(name: str, days: int, **repeat) -> dict:
    return {"name": name, "days": days, **repeat, "actions": [{"kind": "create_task", "title": f"{name}: call"}]}


def make_schedule() -> Automation:
    return services.create_automation(
        name="Dunning", trigger="invoice_due", frequency="unlimited", is_active=True, include_backlog=True,
        steps=[task_step("Friendly", 3)], conditions=[{"field": "amount_due", "value": "10.00"}])


def shown_form_data(response) -> dict:
    """The POST data of the change page as shown (what a browser sends when saving it unedited)."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else value
    return data


def change_schedule(client, automation: Automation, edit=None, **fields):
    """Open the schedule's change page, edit its JSON (`edit` gets the parsed JSON and returns the
    new one or a text), and save."""
    url = reverse("admin:automations_automation_change", args=[automation.pk])
    data = shown_form_data(client.get(url)) | fields
    if edit is not None:
        edited = edit(json.loads(data["schedule_json"]))
        data["schedule_json"] = edited if isinstance(edited, str) else json.dumps(edited, indent=2)
    return client.post(url, data)


def steps_of(automation: Automation) -> list[tuple[int, str, int]]:
    return list(automation.reminder_steps.order_by("position").values_list("pk", "name", "days"))


def test_the_change_page_of_a_schedule_shows_its_steps_and_conditions_as_the_export_writes_them(client, owner):
    automation = make_schedule()
    page = client.get(reverse("admin:automations_automation_change", args=[automation.pk]))
    shown = page.context["adminform"].form["schedule_json"].value()
    exported = next(item for item in portable.export_automations() if item["name"] == "Dunning")
    assert shown == json.dumps({"steps": exported["steps"], "conditions": exported["conditions"]},
                               indent=2, ensure_ascii=False)
    html = page.content.decode()
    assert "Steps and conditions (JSON)" in html and "&quot;days&quot;: 3" in html
    assert "3 days after the due date" in html, "the steps in words below"
    assert "Edit in the builder" in html


def test_changing_a_step_and_adding_one_in_the_admin_changes_what_the_schedule_sends(client, owner):
    automation = make_schedule()
    invoice = make_invoice(status="sent", issue_date=DUE - dt.timedelta(days=14), due_date=DUE, currency="EUR")

    def edit(data):
        data["steps"][0]["days"] = 5
        data["steps"].append(task_step("1. Mahnung", 14, repeat_every_days=7, repeat_times=2))
        return data

    response = change_schedule(client, automation, edit)
    assert response.status_code == 302, response.context["adminform"].form.errors
    steps = list(automation.reminder_steps.order_by("position"))
    assert reminders.steps_summary(steps) == [
        "Friendly: 5 days after the due date",
        "1. Mahnung: 14 days after the due date; then every 7 days until paid, at most 2 times"]
    assert automation.reminder_steps.get(name="1. Mahnung").actions.get().title == "1. Mahnung: call"
    with time_machine.travel(dt.datetime.combine(DUE, dt.time(10), tzinfo=dt.timezone.utc), tick=False):
        upcoming = reminders.forecast(today=DUE, days=30, automation=automation)
    assert [(item.step.name, item.day) for item in upcoming if item.invoice == invoice] == [
        ("Friendly", DUE + dt.timedelta(days=5)), ("1. Mahnung", DUE + dt.timedelta(days=14)),
        ("1. Mahnung", DUE + dt.timedelta(days=21)), ("1. Mahnung", DUE + dt.timedelta(days=28))]
    entry = LogEntry.objects.get(object_id=str(automation.pk))
    assert entry.get_change_message() == "Changed steps and conditions."
    with translation.override("de"):
        assert entry.get_change_message() == "Stufen und Bedingungen geändert."


def test_conditions_are_changed_in_the_same_field(client, owner):
    automation = make_schedule()

    def edit(data):
        data["conditions"] = [{"field": "days_overdue", "value": 30}]
        return data

    assert change_schedule(client, automation, edit).status_code == 302
    automation.refresh_from_db()
    assert automation.conditions == [{"field": "days_overdue", "value": 30}]
    assert [name for _pk, name, _days in steps_of(automation)] == ["Friendly"]


def test_invalid_json_is_an_error_at_the_field_saying_where(client, owner):
    automation = make_schedule()
    before = steps_of(automation)
    response = change_schedule(client, automation, lambda data: '{\n  "steps": [\n    {"name": "Friendly",}\n  ]\n}')
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["schedule_json"] == [
        "This is not valid JSON: Expecting property name enclosed in double quotes at line 3, column 25."]
    assert '{&quot;name&quot;: &quot;Friendly&quot;,}' in response.content.decode(), "the text as typed"
    assert steps_of(automation) == before
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("edit, error", [
    (lambda data: data | {"steps": [{**data["steps"][0], "actions": []}]},
     "Step 1: An automation needs at least one action."),
    (lambda data: data | {"steps": [data["steps"][0], task_step("Second", 2)]},
     "Step 2: a step comes after the one before it: give it more days from the due date than 3."),
    (lambda data: data | {"steps": [{**data["steps"][0], "days": "3"}]},
     "Step 1: give the days from the due date as a whole number (−3: three days before, 0: on the due date, "
     "14: two weeks after)."),
    (lambda data: data | {"steps": [{**data["steps"][0], "actions": [
        {"kind": "move_card", "workflow": "Collections", "step": "Paid"}]}]},
     "Step 1, action 1: the workflow 'Collections' has no step named 'Paid'; its steps are: 'New', 'Reminded'"),
    (lambda data: data | {"conditions": [{"field": "colour", "value": "red"}]},
     "Conditions: Condition 1: “colour” is not a condition; choose one of: amount_due, days_overdue, currency, "
     "business_customer, language, tag, not_tag."),
    (lambda data: data | {"conditions": [{"field": ["amount_due"], "value": 1}]},
     "Conditions: Condition 1: “['amount_due']” is not a condition; choose one of: amount_due, days_overdue, "
     "currency, business_customer, language, tag, not_tag."),
    (lambda data: {"steps": data["steps"]},
     None),  # no conditions: the schedule is for every invoice, as in a file
    (lambda data: {"conditions": []},
     '"steps" is missing.'),
    (lambda data: data | {"name": "Renamed"},
     'Unknown keys "name"; give "steps" and "conditions" only.'),
    (lambda data: [data],
     'Give an object with "steps" and "conditions", not a list.'),
    (lambda data: "",
     'Give an object with "steps" and "conditions", not null.'),
])
def test_a_wrong_schedule_is_an_error_at_the_field_in_the_imports_words_and_nothing_is_saved(
        client, owner, edit, error):
    create_workflow(name="Collections", steps=["New", "Reminded"])
    automation = make_schedule()
    before, conditions_before = steps_of(automation), automation.conditions
    response = change_schedule(client, automation, edit)
    automation.refresh_from_db()
    if error is None:
        assert response.status_code == 302 and automation.conditions == []
        return
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["schedule_json"]
    assert error in errors
    assert steps_of(automation) == before and automation.conditions == conditions_before
    assert not LogEntry.objects.exists()
    edited = edit(portable.export_schedule(automation))
    if isinstance(edited, dict) and set(edited) <= {"steps", "conditions"}:
        # The import says the same of this schedule in a file.
        item = {key: value for key, value in portable.export_automations()[0].items()
                if key not in ("steps", "conditions")} | edited
        with pytest.raises(portable.ImportInvalid) as refused:
            portable.import_automations([item | {"name": "Other"}])
        assert any(problem.endswith(error[1:]) for problem in refused.value.problems), refused.value.problems


def test_a_schedule_left_as_it_is_keeps_its_steps(client, owner):
    automation = make_schedule()
    before = steps_of(automation)
    # Saved as shown, and saved with the same values written differently (spacing, key order).
    assert change_schedule(client, automation).status_code == 302
    assert change_schedule(client, automation, lambda data: json.dumps(
        {"conditions": data["conditions"], "steps": data["steps"]}), name="Dunning 2").status_code == 302
    automation.refresh_from_db()
    assert automation.name == "Dunning 2" and steps_of(automation) == before, "the same steps, not replaced"
    assert [entry.get_change_message() for entry in LogEntry.objects.order_by("pk")] == [
        "No fields changed.", "Changed Name."]


def test_a_team_member_sees_a_schedule_read_only_and_cannot_change_it(client):
    automation = make_schedule()
    url = reverse("admin:automations_automation_change", args=[automation.pk])
    client.force_login(make_owner("boss"))
    data = shown_form_data(client.get(url))
    data["schedule_json"] = data["schedule_json"].replace('"days": 3', '"days": 9')
    client.force_login(make_team_member())
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "3 days after the due date" in html
    assert "schedule_json" not in html and "Steps and conditions (JSON)" not in html
    assert client.post(url, data).status_code == 403
    assert [days for _pk, _name, days in steps_of(automation)] == [3]


def test_the_change_page_of_a_schedule_in_german(client, owner):
    automation = make_schedule()
    url = reverse("admin:automations_automation_change", args=[automation.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="de")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Stufen und Bedingungen (JSON)" in html and "Im Editor bearbeiten" in html
    data = shown_form_data(page)
    data["schedule_json"] = data["schedule_json"].replace('"days": 3', '"days": "drei"')
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["schedule_json"]
    assert error.startswith("Stufe 1: ")
