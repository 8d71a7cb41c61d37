from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import ERROR, SUCCESS
from django.urls import reverse
from django.utils import timezone

from automations import services
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
