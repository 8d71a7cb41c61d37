from __future__ import annotations

import pytest

from automations import services
from automations.actions import MAX_DUE_IN_DAYS
from automations.models import Action, Automation
from automations.services import AutomationInvalid
from core.errors import DomainError
from tests.base import make_owner, make_team_member

pytestmark = pytest.mark.django_db


def email(**overrides):
    return {"kind": "send_email", "subject": "Invoice {{ invoice.number }} is overdue",
            "body": "Hello {{ contact.first_name }}", "sender_name": "Acme", "reply_to": "billing@acme.test",
            **overrides}


def task(**overrides):
    return {"kind": "create_task", "title": "Call {{ contact.name }}", "description": "", "due_in_days": 2,
            "assignee": None, **overrides}


def move(board, step="Reminded", **overrides):
    return {"kind": "move_card", "step": board.steps.get(name=step), **overrides}


def create(**overrides):
    fields = {"name": "Overdue reminder", "trigger": "invoice_overdue", "frequency": "once_per_contact_24h",
              "actions": [email()]}
    fields.update(overrides)
    return services.create_automation(**fields)


def invalid(**overrides) -> AutomationInvalid:
    with pytest.raises(AutomationInvalid) as exc:
        create(**overrides)
    assert not Automation.objects.exists()
    assert not Action.objects.exists()
    return exc.value


# --- create_automation ------------------------------------------------------------------------


def test_create_automation_saves_it_off_with_its_actions_in_order(board):
    owner = make_owner()
    automation = create(actions=[email(), task(assignee=owner), move(board)], by=owner)
    automation.refresh_from_db()
    assert (automation.is_active, automation.created_by) == (False, owner)
    actions = list(automation.actions.order_by("position"))
    assert [(a.position, a.kind) for a in actions] == [(0, "send_email"), (1, "create_task"), (2, "move_card")]
    assert actions[0].reply_to == "billing@acme.test"
    assert (actions[1].due_in_days, actions[1].assignee) == (2, owner)
    assert actions[2].step == board.steps.get(name="Reminded")


def test_create_automation_can_switch_it_on_at_once():
    assert create(is_active=True).is_active is True


def test_create_automation_takes_the_keys_of_other_kinds_when_they_are_empty():
    automation = create(actions=[email(title="", description="", due_in_days=None, assignee=None, step=None)])
    assert automation.actions.get().kind == "send_email"


def test_create_automation_trims_one_line_fields_and_keeps_texts():
    automation = create(name="  Overdue   reminder ", actions=[email(subject="  Hi  ", body="  Hello\n\n")])
    action = automation.actions.get()
    assert automation.name == "Overdue reminder"
    assert (action.subject, action.body) == ("Hi", "  Hello\n\n")


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "needs a name"),
    ("name", "x" * 201, "200"),
    ("name", None, "must be text"),
    ("trigger", "invoice_created", "not a trigger"),
    ("trigger", None, "not a trigger"),
    ("frequency", "twice", "not a frequency"),
])
def test_create_automation_refuses_bad_fields(field, value, message):
    error = invalid(**{field: value})
    assert message in error.message
    assert field in error.errors
    assert error.field == field


@pytest.mark.parametrize("actions", [[], "send_email", {"kind": "send_email"}, None])
def test_create_automation_needs_a_list_with_at_least_one_action(actions):
    error = invalid(actions=actions)
    assert "actions" in error.errors


@pytest.mark.parametrize("action, field, message", [
    ({"kind": "send_sms"}, "kind", "not an action"),
    ({"subject": "Hi"}, "kind", "not an action"),
    (email(subject=""), "subject", "required"),
    (email(subject="   "), "subject", "required"),
    (email(body=""), "body", "required"),
    (email(subject="Hi\r\nBcc: all@example.com"), "subject", "line breaks"),
    (email(sender_name="Acme\nBcc: x@example.com"), "sender_name", "line breaks"),
    (email(reply_to="not an address"), "reply_to", "valid email"),
    (email(reply_to="a@example.com, b@example.com"), "reply_to", "valid email"),
    (email(reply_to="a@example.com\nBcc: b@example.com"), "reply_to", "line breaks"),
    (email(subject="x" * 301), "subject", "300"),
    (email(body="x" * 20_001), "body", "20000"),
    (email(title="Call"), "title", "does not use"),
    (task(title=""), "title", "required"),
    (task(title="Call\nnow"), "title", "line breaks"),
    (task(due_in_days=-1), "due_in_days", "negative"),
    (task(due_in_days=MAX_DUE_IN_DAYS + 1), "due_in_days", str(MAX_DUE_IN_DAYS)),
    (task(due_in_days="soon"), "due_in_days", "integer"),
    (task(description="x" * 10_001), "description", "10000"),
    (task(assignee="staff"), "assignee", "not a valid value"),
    (task(subject="Hi"), "subject", "does not use"),
    ({"kind": "move_card"}, "step", "required"),
    ({"kind": "move_card", "step": None}, "step", "required"),
    (email(colour="red"), "__all__", "Unknown fields: colour"),
    ("send_email", "__all__", "dictionary"),
])
def test_create_automation_refuses_a_bad_action_and_names_the_field(action, field, message):
    error = invalid(actions=[email(), action])
    assert list(error.action_errors) == [1]
    assert field in error.action_errors[1]
    assert message in " ".join(error.action_errors[1][field])
    assert error.message.startswith("Action 2:")
    assert message in error.message


def test_create_automation_refuses_a_step_that_is_no_longer_there(board):
    action = move(board)
    action["step"].delete()
    error = invalid(actions=[action])
    assert "step" in error.action_errors[0]


def test_create_automation_refuses_a_move_card_that_also_sets_email_fields(board):
    error = invalid(actions=[move(board, subject="Hi")])
    assert "subject" in error.action_errors[0]


def test_create_automation_reports_every_problem_at_once():
    error = invalid(name="", trigger="nope", actions=[email(subject=""), task(title="")])
    assert set(error.errors) == {"name", "trigger"}
    assert set(error.action_errors) == {0, 1}
    assert error.field is None


def test_an_automation_error_is_a_domain_error():
    with pytest.raises(DomainError):
        create(name="")


# --- update_automation ------------------------------------------------------------------------


def test_update_automation_replaces_the_actions(board):
    automation = create(actions=[email(), task()])
    old_ids = set(automation.actions.values_list("pk", flat=True))
    services.update_automation(automation=automation, actions=[move(board), email(subject="New")])
    actions = list(automation.actions.order_by("position"))
    assert [(a.position, a.kind) for a in actions] == [(0, "move_card"), (1, "send_email")]
    assert actions[1].subject == "New"
    assert not Action.objects.filter(pk__in=old_ids).exists()


def test_update_automation_changes_only_what_is_given():
    automation = create(actions=[email()])
    services.update_automation(automation=automation, name="Renamed", frequency="unlimited")
    automation.refresh_from_db()
    assert (automation.name, automation.trigger, automation.frequency) == ("Renamed", "invoice_overdue", "unlimited")
    assert automation.actions.count() == 1


def test_update_automation_with_a_bad_action_keeps_everything_as_it_was():
    automation = create(actions=[email(), task()])
    before = list(automation.actions.values_list("pk", "kind", "subject"))
    with pytest.raises(AutomationInvalid) as exc:
        services.update_automation(automation=automation, name="Renamed", actions=[email(body="")])
    assert "body" in exc.value.action_errors[0]
    automation.refresh_from_db()
    assert automation.name == "Overdue reminder"
    assert list(automation.actions.values_list("pk", "kind", "subject")) == before


def test_update_automation_refuses_an_empty_action_list_and_a_bad_trigger():
    automation = create()
    with pytest.raises(AutomationInvalid):
        services.update_automation(automation=automation, actions=[])
    with pytest.raises(AutomationInvalid):
        services.update_automation(automation=automation, trigger="whenever")
    assert automation.actions.count() == 1


def test_update_automation_of_a_deleted_automation_is_refused():
    automation = create()
    Automation.objects.filter(pk=automation.pk).delete()
    with pytest.raises(DomainError, match="deleted"):
        services.update_automation(automation=automation, name="Again")


def test_update_automation_can_switch_it():
    automation = create()
    services.update_automation(automation=automation, is_active=True)
    assert Automation.objects.get(pk=automation.pk).is_active


# --- switching and deleting -------------------------------------------------------------------


def test_set_automation_active_switches_on_and_off():
    automation = create()
    services.set_automation_active(automation=automation, active=True, by=make_team_member())
    assert Automation.objects.get(pk=automation.pk).is_active
    services.set_automation_active(automation=automation, active=False)
    assert not Automation.objects.get(pk=automation.pk).is_active


def test_switching_on_an_automation_that_is_on_is_refused():
    automation = create(is_active=True)
    with pytest.raises(DomainError, match="already on"):
        services.set_automation_active(automation=automation, active=True)


def test_switching_off_an_automation_that_is_off_is_refused():
    automation = create()
    with pytest.raises(DomainError, match="already off"):
        services.set_automation_active(automation=automation, active=False)


def test_switching_on_an_automation_without_actions_is_refused():
    automation = create()
    Action.objects.filter(automation=automation).delete()
    with pytest.raises(DomainError, match="no actions"):
        services.set_automation_active(automation=automation, active=True)
    assert not Automation.objects.get(pk=automation.pk).is_active


def test_switching_a_deleted_automation_is_refused():
    automation = create()
    Automation.objects.filter(pk=automation.pk).delete()
    with pytest.raises(DomainError, match="deleted"):
        services.set_automation_active(automation=automation, active=False)


def test_delete_automation_deletes_its_actions():
    automation = create(actions=[email(), task()])
    services.delete_automation(automation=automation)
    assert not Automation.objects.exists()
    assert not Action.objects.exists()
    with pytest.raises(DomainError, match="already been deleted"):
        services.delete_automation(automation=automation)


def test_an_assignee_of_a_task_action_cannot_be_deleted_silently():
    staff = make_team_member()
    create(actions=[task(assignee=staff)])
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        staff.delete()
