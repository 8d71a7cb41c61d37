from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from automations import portable, services
from automations.actions import ACTIONS
from automations.models import Action, Automation
from core.placeholders import PLACEHOLDERS
from automations.portable import ImportInvalid, export_automations, import_automations
from core.errors import DomainError
from tests.base import make_team_member
from workflows.models import Step
from workflows.services import create_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return make_team_member("maria")


def email(**overrides):
    return {"kind": "send_email", "subject": "Invoice {{ invoice.number }} is overdue",
            "body": "Hello {{ contact.first_name }}, …", "sender_name": "Acme", "reply_to": "billing@acme.test",
            **overrides}


def task(**overrides):
    return {"kind": "create_task", "title": "Call {{ contact.name }}", "description": "", "due_in_days": 2,
            "assignee": None, **overrides}


def move(**overrides):
    return {"kind": "move_card", "workflow": "Collections", "step": "Reminded", **overrides}


def automation(name="Overdue reminder", **overrides):
    return {"name": name, "trigger": "invoice_overdue", "frequency": "once_per_contact_24h", "is_active": True,
            "actions": [email()], **overrides}


def refused(data, **kwargs) -> ImportInvalid:
    before = export_automations()
    with pytest.raises(ImportInvalid) as exc:
        import_automations(data, **kwargs)
    assert export_automations() == before, "a refused import must change nothing"
    return exc.value


def write(tmp_path: Path, data, name="automations.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


# --- Export -----------------------------------------------------------------------------------


def test_export_writes_the_documented_shape_with_actions_in_order(board, staff):
    services.create_automation(
        name="Overdue reminder", trigger="invoice_overdue", frequency="once_per_contact_24h", is_active=True,
        actions=[email(), task(assignee=staff), {"kind": "move_card", "step": board.steps.get(name="Reminded")}],
    )
    assert export_automations() == [{
        "name": "Overdue reminder", "trigger": "invoice_overdue", "frequency": "once_per_contact_24h",
        "is_active": True,
        "actions": [
            {"kind": "send_email", "subject": "Invoice {{ invoice.number }} is overdue",
             "body": "Hello {{ contact.first_name }}, …", "sender_name": "Acme", "reply_to": "billing@acme.test"},
            {"kind": "create_task", "title": "Call {{ contact.name }}", "description": "", "due_in_days": 2,
             "assignee": "maria"},
            {"kind": "move_card", "workflow": "Collections", "step": "Reminded"},
        ],
    }]


def test_export_of_a_queryset_contains_only_those_automations():
    import_automations([automation("A"), automation("B")])
    assert [a["name"] for a in export_automations(Automation.objects.filter(name="B"))] == ["B"]


def test_export_command_writes_utf8_json_to_stdout_or_a_file(tmp_path):
    import_automations([automation("Mahnung für Müller", actions=[email(subject="Überfällig: {{ invoice.number }}")])])
    printed = run("export_automations")
    assert "Mahnung für Müller" in printed and '\n  {\n    "name"' in printed  # not \u-escaped, indent 2
    assert json.loads(printed) == export_automations()

    path = tmp_path / "out.json"
    assert "Exported 1 automation" in run("export_automations", "--output", str(path), "--indent", "0")
    text = path.read_bytes().decode("utf-8")
    assert "Überfällig" in text and text.count("\n") == 1
    assert json.loads(text) == export_automations()


def test_export_command_warns_about_names_an_import_would_refuse():
    services.create_automation(name="Twin", trigger="invoice_paid", frequency="unlimited", actions=[email()])
    services.create_automation(name="Twin", trigger="invoice_sent", frequency="unlimited", actions=[email()])
    err = io.StringIO()
    call_command("export_automations", stdout=io.StringIO(), stderr=err)
    assert "2 automations are named 'Twin'" in err.getvalue()


def test_the_file_format_has_a_key_for_every_setting_of_every_action_kind():
    for kind, action_class in ACTIONS.items():
        settings_of_keys = tuple(key for key in portable.ACTION_KEYS[kind] if key != "workflow")
        assert settings_of_keys == action_class.fields, kind


# --- Round trip -------------------------------------------------------------------------------


def test_round_trip_export_delete_import_export_is_identical(tmp_path, board, staff):
    create_workflow(name="Sales", steps=["Lead", "Won"])
    import_automations([
        automation("Overdue reminder", actions=[
            email(body="Hallo {{ contact.first_name }},\n\nbitte zahlen Sie {{ invoice.amount_due }}.\n"),
            task(assignee="maria", description="Notes\nmore notes", due_in_days=0),
            move(),
        ]),
        automation("Paid: thank you", trigger="invoice_paid", frequency="unlimited", is_active=False,
                   actions=[task(due_in_days=None), move(workflow="Sales", step="Won"), email(sender_name="", reply_to="")]),
        automation("Recurring canceled", trigger="recurring_canceled", frequency="once_per_contact",
                   actions=[task(title="Ask why", assignee=None)]),
    ])
    first = tmp_path / "first.json"
    run("export_automations", "--output", str(first))
    for existing in Automation.objects.all():
        services.delete_automation(automation=existing)
    assert not Action.objects.exists()

    assert "Imported 3 automations: 3 created, 0 updated." in run("import_automations", str(first))

    second = tmp_path / "second.json"
    run("export_automations", "--output", str(second))
    assert second.read_bytes() == first.read_bytes()
    kinds = [a["kind"] for item in json.loads(first.read_text("utf-8")) for a in item["actions"]]
    assert set(kinds) == {"send_email", "create_task", "move_card"}
    assert Action.objects.get(kind="create_task", assignee__isnull=False).assignee == staff
    assert Action.objects.filter(kind="move_card", step=board.steps.get(name="Reminded")).exists()


def test_import_of_the_design_example(board, staff):
    # DESIGN.md, "Stable interfaces", with the assignee placeholder text replaced by a real username.
    example = """
    [{"name": "Overdue reminder", "trigger": "invoice_overdue", "frequency": "once_per_contact_24h",
      "is_active": true,
      "actions": [
        {"kind": "send_email", "subject": "Invoice {{ invoice.number }} is overdue",
         "body": "Hello {{ contact.first_name }}, …", "sender_name": "Acme", "reply_to": "billing@acme.test"},
        {"kind": "create_task", "title": "Call {{ contact.name }}", "description": "", "due_in_days": 2,
         "assignee": "maria"},
        {"kind": "move_card", "workflow": "Collections", "step": "Reminded"}]}]
    """
    owner = make_team_member("boss")
    [imported] = import_automations(json.loads(example), by=owner)
    imported.refresh_from_db()
    assert (imported.name, imported.trigger, imported.frequency, imported.is_active, imported.created_by) == (
        "Overdue reminder", "invoice_overdue", "once_per_contact_24h", True, owner)
    actions = list(imported.actions.order_by("position"))
    assert [a.kind for a in actions] == ["send_email", "create_task", "move_card"]
    assert (actions[0].subject, actions[0].reply_to) == ("Invoice {{ invoice.number }} is overdue", "billing@acme.test")
    assert (actions[1].assignee, actions[1].due_in_days) == (staff, 2)
    assert actions[2].step == board.steps.get(name="Reminded")
    assert export_automations() == json.loads(example)


def test_is_active_may_be_left_out_and_then_the_automation_is_off():
    data = automation()
    del data["is_active"]
    [imported] = import_automations([data])
    assert imported.is_active is False


def test_an_empty_list_imports_nothing():
    assert import_automations([]) == []


# --- All or nothing ---------------------------------------------------------------------------


def test_import_saves_nothing_when_the_third_of_three_automations_is_invalid(tmp_path):
    data = [automation("First"), automation("Second"), automation("Third", trigger="invoice_lost")]
    error = refused(data)
    assert error.problems == [
        'automation 3 ("Third"): Trigger: “invoice_lost” is not a trigger; choose one of: invoice_overdue, '
        "invoice_paid, invoice_sent, recurring_started, recurring_canceled, invoice_due."
    ]
    assert isinstance(error, DomainError)
    assert error.message.startswith("Nothing was imported; 1 problem was found:\n- automation 3")
    with pytest.raises(CommandError, match=r'automation 3 \("Third"\): Trigger'):
        run("import_automations", write(tmp_path, data))
    assert not Automation.objects.exists()


def test_import_reports_the_problems_of_every_automation_at_once(board):
    error = refused([
        automation("One", frequency="hourly", actions=[move(workflow="Colections")]),
        "not an automation",
        automation("Three", extra=1, actions=[email(subject="")]),
    ])
    assert error.problems == [
        'automation 1 ("One"): Limit frequency: “hourly” is not a frequency limit; choose one of: unlimited, '
        "once_per_contact, once_per_contact_24h.",
        "automation 1 (\"One\"), action 1: no workflow named 'Colections' (the workflows are: 'Collections')",
        'automation 2: an automation must be an object with "name", "trigger", "frequency", "is_active" and '
        '"actions", not text.',
        'automation 3 ("Three"): unknown keys "extra"; an automation has "name", "trigger", "frequency", '
        '"is_active", "actions".',
        'automation 3 ("Three"), action 1: Subject: This field is required for this action.',
    ]


def test_the_check_reports_a_schedules_wrong_conditions_with_the_other_problems(tmp_path):
    # Checked before saving (a dry run finds them too), in the words saving would use.
    schedule = {"name": "Dunning", "trigger": "invoice_due", "frequency": "unlimited",
                "steps": [{"name": "Friendly", "days": 3, "actions": [task()]}]}
    data = [schedule | {"conditions": [{"field": "colour", "value": "red"}]},
            schedule | {"name": "Dunning 2", "conditions": [{"field": ["amount_due"], "value": 1}]},
            automation("Three", actions=[email(subject="")])]
    with pytest.raises(ImportInvalid) as exc:
        portable.validate_import(data)
    choices = "amount_due, days_overdue, currency, business_customer, language, tag, not_tag"
    assert exc.value.problems == [
        f'automation 1 ("Dunning"): Conditions: Condition 1: “colour” is not a condition; choose one of: {choices}.',
        f'automation 2 ("Dunning 2"): Conditions: Condition 1: “[\'amount_due\']” is not a condition; choose one '
        f"of: {choices}.",
        'automation 3 ("Three"), action 1: Subject: This field is required for this action.',
    ]
    with pytest.raises(CommandError, match="Condition 1: “colour” is not a condition"):
        run("import_automations", write(tmp_path, data), "--dry-run")
    assert not Automation.objects.exists()


def test_nothing_is_kept_when_saving_fails_after_the_check(board):
    planned = portable.validate_import([automation("First"), automation("Second", actions=[move()])])
    Step.objects.filter(name="Reminded").delete()  # deleted between the check and the save
    with pytest.raises(ImportInvalid) as exc:
        portable.save_import(planned)
    [problem] = exc.value.problems
    assert problem.startswith('automation 2 ("Second"), action 1: Workflow step: ')
    assert not Automation.objects.exists()


def test_nothing_is_kept_when_a_later_automation_fails_to_save(monkeypatch):
    real = services.create_automation
    calls = []

    def failing_second(**kwargs):
        calls.append(kwargs["name"])
        if len(calls) == 2:
            raise DomainError("The database said no.")
        return real(**kwargs)

    monkeypatch.setattr(services, "create_automation", failing_second)
    error = refused([automation("First"), automation("Second"), automation("Third")])
    assert error.problems == ['automation 2 ("Second"): The database said no.']
    assert calls == ["First", "Second", "Third"]


# --- What the check refuses -------------------------------------------------------------------


def test_malformed_json_is_a_command_error_with_line_and_column(tmp_path):
    path = write(tmp_path, '[{"name": "A",\n  "trigger": }]')
    with pytest.raises(CommandError, match=r"is not valid JSON: Expecting value at line 2, column 14"):
        run("import_automations", path)


def test_malformed_json_on_the_command_line_prints_no_traceback(tmp_path):
    path = write(tmp_path, "[{]")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    result = subprocess.run([sys.executable, "manage.py", "import_automations", path], cwd=settings.BASE_DIR,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is not valid JSON" in result.stderr and "line 1, column 3" in result.stderr


def test_a_file_that_is_not_utf8_or_not_there_is_a_command_error(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"name": "Mahnung für"}]'.encode("latin-1"))
    with pytest.raises(CommandError, match="is not UTF-8"):
        run("import_automations", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_automations", str(tmp_path / "missing.json"))


@pytest.mark.parametrize("data, kind", [({"name": "A"}, "an object"), ("automations", "text"), (None, "null"),
                                        (3, "a number")])
def test_a_top_level_that_is_not_a_list_is_refused(data, kind):
    assert refused(data).problems == [
        f"The file must hold a list of automations (a JSON array), not {kind}."]


def test_wrong_top_level_type_through_the_command(tmp_path):
    with pytest.raises(CommandError, match=r"must hold a list of automations \(a JSON array\), not an object"):
        run("import_automations", write(tmp_path, automation()))


def test_an_unknown_trigger_is_refused_with_the_valid_ones():
    [problem] = refused([automation(trigger="invoice_lost")]).problems
    assert problem.startswith('automation 1 ("Overdue reminder"): Trigger: “invoice_lost” is not a trigger')
    assert "invoice_overdue, invoice_paid, invoice_sent, recurring_started, recurring_canceled" in problem


def test_an_unknown_placeholder_is_refused_and_the_valid_ones_listed():
    [problem] = refused([automation(actions=[email(body="Hello {{ contact.nmae }}")])]).problems
    assert problem.startswith('automation 1 ("Overdue reminder"), action 1: Body: Unknown placeholder '
                              "{{ contact.nmae }}. Valid placeholders are: ")
    assert all("{{ %s }}" % name in problem for name in PLACEHOLDERS)


def test_a_template_tag_is_refused():
    [problem] = refused([automation(actions=[task(description='{% include "secrets.txt" %}')])]).problems
    assert problem.startswith('automation 1 ("Overdue reminder"), action 1: Task description: Only placeholders')


def test_an_unknown_username_is_refused(staff):
    assert refused([automation(actions=[email(), task(assignee="marla")])]).problems == [
        "automation 1 (\"Overdue reminder\"), action 2: no user named 'marla'"]


def test_an_unknown_workflow_is_refused(board):
    assert refused([automation(actions=[move(workflow="Colections")])]).problems == [
        "automation 1 (\"Overdue reminder\"), action 1: no workflow named 'Colections' "
        "(the workflows are: 'Collections')"]


def test_an_unknown_step_is_refused_and_the_steps_listed(board):
    assert refused([automation(actions=[move(step="Remindet")])]).problems == [
        "automation 1 (\"Overdue reminder\"), action 1: the workflow 'Collections' has no step named 'Remindet'; "
        "its steps are: 'New', 'Reminded', 'Paid'"]


def test_a_step_of_another_workflow_is_refused(board):
    create_workflow(name="Sales", steps=["Lead", "Won"])
    assert refused([automation(actions=[move(step="Won")])]).problems == [
        "automation 1 (\"Overdue reminder\"), action 1: the workflow 'Collections' has no step named 'Won'; "
        "its steps are: 'New', 'Reminded', 'Paid' ('Won' is a step of 'Sales')"]


def test_a_move_card_without_workflow_or_step_is_refused(board):
    assert refused([automation(actions=[{"kind": "move_card", "step": "Reminded"}])]).problems == [
        'automation 1 ("Overdue reminder"), action 1: a move_card action needs a "workflow" and a "step" '
        "(their names)."]


def test_a_negative_due_in_days_is_refused():
    assert refused([automation(actions=[task(due_in_days=-1)])]).problems == [
        'automation 1 ("Overdue reminder"), action 1: Due in (days): The number of days cannot be negative.']


@pytest.mark.parametrize("value", ["2", 2.5, True])
def test_a_due_in_days_that_is_not_a_whole_number_is_refused(value):
    assert refused([automation(actions=[task(due_in_days=value)])]).problems == [
        'automation 1 ("Overdue reminder"), action 1: "due_in_days" must be a whole number of days, or null.']


def test_wrong_types_and_unknown_keys_of_actions_are_refused(board):
    problems = refused([automation(is_active="yes", actions=[
        email(subject=5, colour="red"), {"kind": ["send_email"]}, task(step="Reminded"), [], {"kind": "call"},
    ])]).problems
    assert problems == [
        'automation 1 ("Overdue reminder"): "is_active" must be true or false.',
        'automation 1 ("Overdue reminder"), action 1: unknown keys "colour".',
        'automation 1 ("Overdue reminder"), action 1: "subject" must be text.',
        'automation 1 ("Overdue reminder"), action 2: "kind" must be one of "send_email", "create_task", '
        '"move_card", "charge_fee", "charge_interest", "call_webhook".',
        'automation 1 ("Overdue reminder"), action 3: a create_task action does not use "step"; it takes '
        '"title", "description", "due_in_days", "assignee".',
        'automation 1 ("Overdue reminder"), action 4: an action must be an object with a "kind", not a list.',
        'automation 1 ("Overdue reminder"), action 5: Action: “call” is not an action; choose one of: '
        "send_email, create_task, move_card, charge_fee, charge_interest, call_webhook.",
    ]


def test_missing_keys_and_empty_action_lists_are_refused():
    problems = refused([{"name": "A", "actions": []}, {"trigger": "invoice_paid", "frequency": "unlimited",
                                                       "actions": "email"}]).problems
    assert problems == [
        'automation 1 ("A"): "trigger" is missing.',
        'automation 1 ("A"): "frequency" is missing.',
        'automation 1 ("A"): An automation needs at least one action.',
        'automation 2: "name" is missing.',
        "automation 2: Give the actions as a list.",
    ]


def test_the_keys_of_other_kinds_are_accepted_when_empty():
    [imported] = import_automations([automation(actions=[email(assignee=None, step="", due_in_days=None)])])
    assert imported.actions.get().kind == "send_email"


def test_duplicate_names_in_the_file_are_refused():
    assert refused([automation("Reminder"), automation("Thanks"), automation(" Reminder ")]).problems == [
        'automation 3 ("Reminder"): automation 1 has the same name; names must differ.']


# --- Existing automations of the same name -----------------------------------------------------


def test_a_name_that_exists_already_is_refused_without_replace(tmp_path):
    import_automations([automation("Reminder"), automation("Thanks")])
    data = [automation("New one"), automation("Reminder", frequency="unlimited")]
    assert refused(data).problems == [
        "automation 2 (\"Reminder\"): an automation named 'Reminder' already exists; rename it in the file, "
        "or import with replace (--replace) to update the existing one."]
    with pytest.raises(CommandError, match="an automation named 'Reminder' already exists"):
        run("import_automations", write(tmp_path, data))
    assert not Automation.objects.filter(name="New one").exists()


def test_replace_updates_the_automation_of_the_same_name(tmp_path, board):
    [reminder, thanks] = import_automations([automation("Reminder"), automation("Thanks", is_active=False)])
    data = [automation("New one"), automation("Reminder", frequency="unlimited", is_active=False,
                                                 actions=[move(), task(title="Follow up")])]
    printed = run("import_automations", write(tmp_path, data), "--replace")
    assert "Imported 2 automations: 1 created, 1 updated." in printed
    assert "created: New one" in printed and "updated: Reminder" in printed
    updated = Automation.objects.get(name="Reminder")
    assert updated.pk == reminder.pk
    assert (updated.frequency, updated.is_active) == ("unlimited", False)
    assert [a.kind for a in updated.actions.order_by("position")] == ["move_card", "create_task"]
    assert Automation.objects.filter(name="Thanks").get().pk == thanks.pk
    assert Automation.objects.count() == 3


def test_replace_refuses_a_name_that_several_automations_have():
    for trigger in ("invoice_paid", "invoice_sent"):
        services.create_automation(name="Twin", trigger=trigger, frequency="unlimited", actions=[email()])
    assert refused([automation("Twin")], replace=True).problems == [
        "automation 1 (\"Twin\"): 2 automations are named 'Twin', so it is not clear which one to replace; "
        "rename all but one of them first."]


# --- Dry run and standard input ---------------------------------------------------------------


def test_dry_run_checks_and_says_what_would_happen_but_saves_nothing(tmp_path):
    import_automations([automation("Reminder")])
    before = export_automations()
    data = [automation("New one"), automation("Reminder", frequency="unlimited")]
    printed = run("import_automations", write(tmp_path, data), "--replace", "--dry-run")
    assert "Dry run: the file is valid; nothing was saved. Importing it would create 1 and update 1" in printed
    assert "would create: New one" in printed and "would update: Reminder" in printed
    assert export_automations() == before

    with pytest.raises(CommandError, match="already exists"):
        run("import_automations", write(tmp_path, data), "--dry-run")
    assert export_automations() == before


def test_import_reads_standard_input_for_a_dash(monkeypatch):
    text = json.dumps([automation("Mahnung für Müller")], ensure_ascii=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="ascii"))
    assert "Imported 1 automation: 1 created, 0 updated." in run("import_automations", "-")
    assert Automation.objects.get().name == "Mahnung für Müller"


def test_malformed_json_on_standard_input_names_standard_input():
    with pytest.raises(CommandError, match="standard input is not valid JSON: .* at line 1, column 2"):
        run("import_automations", "-", stdin=io.StringIO("[,]"))


def test_import_does_not_change_the_data_it_was_given(board, staff):
    data = [automation(actions=[email(), task(assignee="maria"), move()])]
    original = copy.deepcopy(data)
    import_automations(data)
    assert data == original
