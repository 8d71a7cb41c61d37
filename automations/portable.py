"""Automations as portable JSON: the export, and an import that checks everything before it saves.

The format is a stable interface (DESIGN.md, "Stable interfaces"): a list of
`{"name", "trigger", "frequency", "is_active", "actions": [...]}` with the actions in order, each
`{"kind": "send_email", "subject", "body", "sender_name", "reply_to"}`,
`{"kind": "create_task", "title", "description", "due_in_days", "assignee"}` or
`{"kind": "move_card", "workflow", "step"}`. References travel by name, so a file moves between
installations: the assignee by username (null = the team), the step by its workflow's name and its
own name.

The import first checks the whole file — its shape, the names it refers to, duplicate names, name
clashes with existing automations, and every automation through the same checks as
`automations.services` — and reports every problem at once in one `ImportInvalid` (a DomainError).
Only a file without problems is saved, in one transaction, through `create_automation` /
`update_automation`: all of it or, if saving still fails, none of it.

The admin edits one reminder schedule's "steps" and "conditions" in the same shape and checks them
by the same rules (`export_schedule`, `check_schedule`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import DomainError
from workflows.models import Step, Workflow

from . import conditions, services
from .models import SETTINGS_FIELDS, Action, Automation, ReminderStep
from .triggers import SCHEDULE_TRIGGERS

AUTOMATION_KEYS: tuple[str, ...] = ("name", "trigger", "frequency", "is_active", "actions", "conditions",
                                    "schedule_from", "steps")
# `is_active` may be left out (the automation is imported switched off); the others may not. A
# reminder schedule (trigger invoice_due) has "steps" instead of "actions", and may have
# "conditions" and "schedule_from" (invoices due from that day on; null: also those due before).
REQUIRED_KEYS: tuple[str, ...] = ("name", "trigger", "frequency")
PLAIN_KEYS = ("name", "trigger", "frequency", "is_active", "actions")
SCHEDULE_KEYS = ("name", "trigger", "frequency", "is_active", "conditions", "schedule_from", "steps")
# The keys of each action kind in the file, in the order the export writes them. A kind's settings
# (automations.actions) map one to one, except the step, which travels as workflow + step names.
ACTION_KEYS: dict[str, tuple[str, ...]] = {
    "send_email": ("subject", "body", "subject_de", "body_de", "sender_name", "reply_to", "digest"),
    "create_task": ("title", "description", "due_in_days", "assignee"),
    "move_card": ("workflow", "step"),
    "charge_fee": ("fee",),
    "charge_interest": (),
    "call_webhook": ("webhook_url", "webhook_secret"),
}
_ALL_ACTION_KEYS = {key for keys in ACTION_KEYS.values() for key in keys}
# Written only when set (the German text, the digest), so the format of existing automations stays
# exactly as documented; read whenever present.
_OPTIONAL_KEYS = {"subject_de", "body_de", "digest"}
_TEXT_KEYS = ("subject", "body", "subject_de", "body_de", "sender_name", "reply_to", "title", "description",
              "webhook_url", "webhook_secret")
# The most automations one file may hold: far more than a business has, few enough that checking a
# file stays quick (each automation may hold services.MAX_ACTIONS actions).
MAX_AUTOMATIONS = 200
# Which setting of the Action a key of the file ends up in (for not reporting one mistake twice).
_SETTING_OF_KEY = {"workflow": "step"}
# What of a reminder schedule the admin's change page edits as JSON (export_schedule / check_schedule).
SCHEDULE_EDIT_KEYS = ("steps", "conditions")


class ImportInvalid(DomainError):
    """The file was not imported. `problems` lists every problem found, one sentence each, and
    `message` all of them under one line that says nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        header = ngettext(
            "Nothing was imported; %(count)d problem was found:",
            "Nothing was imported; %(count)d problems were found:",
            len(self.problems),
        ) % {"count": len(self.problems)}
        super().__init__("\n".join([header, *(f"- {problem}" for problem in self.problems)]))


@dataclass
class PlannedAutomation:
    """One automation of a checked file: what `save_import` will do with it."""

    index: int  # 1-based position in the file
    name: str
    fields: dict[str, Any]  # the keyword arguments of create_automation / update_automation
    existing: Automation | None = None  # the automation it replaces; None = a new one

    @property
    def creates(self) -> bool:
        return self.existing is None


# --- Export -----------------------------------------------------------------------------------


def export_automations(queryset: QuerySet[Automation] | None = None) -> list[dict[str, Any]]:
    """The automations (all of them by default, in name order) as the JSON-ready portable format."""
    if queryset is None:
        queryset = Automation.objects.all()
    queryset = queryset.prefetch_related(Prefetch(
        "actions", queryset=Action.objects.select_related("assignee", "step__workflow").order_by("position", "pk"),
    ), Prefetch("reminder_steps", queryset=ReminderStep.objects.order_by("position")))
    return [_export_automation(automation) for automation in queryset]


def _export_automation(automation: Automation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": automation.name, "trigger": automation.trigger, "frequency": automation.frequency,
        "is_active": automation.is_active,
    }
    if automation.trigger not in SCHEDULE_TRIGGERS:
        data["actions"] = [_export_action(action) for action in automation.actions.all()]
        return data
    data["conditions"] = automation.conditions
    data["schedule_from"] = automation.schedule_from.isoformat() if automation.schedule_from else None
    by_step: dict[int | None, list[Action]] = {}
    for action in automation.actions.all():
        by_step.setdefault(action.reminder_step_id, []).append(action)
    data["steps"] = [
        {"name": step.name, "days": step.days, "repeat_every_days": step.repeat_every_days,
         "repeat_times": step.repeat_times, "actions": [_export_action(action) for action in by_step.get(step.pk, [])]}
        for step in automation.reminder_steps.all()
    ]
    return data


def export_schedule(automation: Automation) -> dict[str, Any]:
    """A reminder schedule's steps and conditions, exactly as the export writes them."""
    data = _export_automation(automation)
    return {key: data[key] for key in SCHEDULE_EDIT_KEYS}


def _export_action(action: Action) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": action.kind}
    for key in ACTION_KEYS[action.kind]:
        if key == "assignee":
            data[key] = action.assignee.get_username() if action.assignee is not None else None
        elif key == "workflow":
            data[key] = action.step.workflow.name
        elif key == "step":
            data[key] = action.step.name
        elif key == "fee":
            data[key] = str(action.fee) if action.fee is not None else None
        elif key in _OPTIONAL_KEYS:
            if getattr(action, key):
                data[key] = getattr(action, key)
        else:
            data[key] = getattr(action, key)
    return data


# --- Import -----------------------------------------------------------------------------------


def import_automations(data: Any, *, by=None, replace: bool = False) -> list[Automation]:
    """Import a parsed file (a list of automation dicts): every automation saved, in file order, or
    nothing and `ImportInvalid` listing every problem.

    An automation whose name is already taken is refused, unless `replace`: then the existing
    automation of that name is updated (its actions replaced; its run history kept)."""
    return save_import(validate_import(data, replace=replace), by=by)


def validate_import(data: Any, *, replace: bool = False) -> list[PlannedAutomation]:
    """Check a parsed file without saving anything: what importing it would do, or `ImportInvalid`."""
    problems: list[str] = []
    planned = _check_file(data, problems)
    problems.extend(_duplicate_names(planned))
    problems.extend(_name_clashes(planned, replace=replace))
    if problems:
        raise ImportInvalid(problems)
    return planned


def _check_file(data: Any, problems: list[str]) -> list[PlannedAutomation]:
    """Each automation of the file checked on its own (not yet against the others' names or the
    database's), its problems added to `problems`; a file that cannot be checked raises ImportInvalid."""
    if not isinstance(data, list):
        raise ImportInvalid([_("The file must hold a list of automations (a JSON array), not %(type)s.") % {
            "type": _json_type(data)}])
    if len(data) > MAX_AUTOMATIONS:
        raise ImportInvalid([_("The file holds %(count)d automations; at most %(max)d can be imported at once. "
                               "Split it into smaller files.") % {"count": len(data), "max": MAX_AUTOMATIONS}])
    holding_nul = [index for index, item in enumerate(data, start=1) if _holds_nul(item)]
    if holding_nul:
        # Checked first: PostgreSQL cannot even look a name holding NUL up (a DataError).
        raise ImportInvalid([_("%(where)s: a text holds a NUL character (\\u0000), which cannot be stored; "
                               "remove it.") % {"where": _where(index, None)} for index in holding_nul])
    references = _References(data)
    planned = [_check_automation(index, item, references, problems) for index, item in enumerate(data, start=1)]
    return [item for item in planned if item is not None]


def check_schedule(automation: Automation, data: Any) -> dict[str, Any]:
    """A reminder schedule's steps and conditions as `export_schedule` gives them, edited (in the
    admin), checked by the import's rules as this automation of a file: the `steps` and `conditions`
    for services.update_automation, or ImportInvalid. Its problems name the step and the action, not
    the automation (it is this one)."""
    if not isinstance(data, Mapping):
        raise ImportInvalid([_('Give an object with "steps" and "conditions", not %(type)s.') % {
            "type": _json_type(data)}])
    unknown = [key for key in data if key not in SCHEDULE_EDIT_KEYS]
    if unknown:
        raise ImportInvalid([_('Unknown keys %(keys)s; give "steps" and "conditions" only.') % {
            "keys": _quoted(unknown)}])
    item = {key: value for key, value in _export_automation(automation).items() if key not in SCHEDULE_EDIT_KEYS}
    item.update(data)
    problems: list[str] = []
    try:
        planned = _check_file([item], problems)
    except ImportInvalid as exc:
        problems = exc.problems
    if problems:
        raise ImportInvalid([_without_where(problem, automation.name) for problem in problems])
    return {key: planned[0].fields[key] for key in SCHEDULE_EDIT_KEYS}


def _without_where(problem: str, name: str) -> str:
    """A problem of the only automation checked without "automation 1 (…)" before it."""
    for where in (_where(1, name), _where(1, None)):
        for separator in (": ", ", "):
            if problem.startswith(where + separator):
                rest = problem[len(where) + len(separator):]
                return rest[:1].upper() + rest[1:]
    return problem


def _holds_nul(value: Any) -> bool:
    """Whether any key or text anywhere in `value` holds a NUL character (without recursion: the
    file's nesting is as deep as its author made it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def save_import(planned: list[PlannedAutomation], *, by=None) -> list[Automation]:
    """Save what `validate_import` planned, in one transaction: all, or nothing and `ImportInvalid`."""
    problems: list[str] = []
    saved: list[Automation] = []
    try:
        with transaction.atomic():
            # Someone may have created an automation of the same name since the file was checked.
            problems.extend(_name_clashes([item for item in planned if item.creates], replace=False))
            for item in planned:
                where = _where(item.index, item.name)
                try:
                    if item.existing is not None:
                        automation = services.update_automation(automation=item.existing, **item.fields, by=by)
                    else:
                        automation = services.create_automation(**item.fields, by=by)
                except services.AutomationInvalid as exc:
                    problems.extend(_service_problems(item.index, item.name, exc.errors, exc.action_errors))
                except DomainError as exc:
                    problems.append(f"{where}: {exc.message}")
                else:
                    saved.append(automation)
            if problems:
                raise ImportInvalid(problems)  # rolls back what was saved
    except IntegrityError:
        # A deferred foreign key failed at commit: a user or step was deleted meanwhile.
        raise ImportInvalid([_("A user or workflow step the file uses was deleted while it was being imported. "
                               "Check the file and import it again.")]) from None
    return saved


# --- Checking one automation ------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return _("an object")
    if isinstance(value, str):
        return _("text")
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, (int, float)):
        return _("a number")
    if value is None:
        return _("null")
    return _("a list")


def _normalized_name(name: Any) -> str | None:
    # As automations.services stores it.
    return " ".join(name.split()) if isinstance(name, str) else None


def _where(index: int, name: Any, action: int | None = None, *, step: int | None = None) -> str:
    name = _normalized_name(name)
    if name:
        where = _('automation %(n)d ("%(name)s")') % {"n": index, "name": name}
    else:
        where = _("automation %(n)d") % {"n": index}
    if step is not None:
        where = _("%(automation)s, step %(n)d") % {"automation": where, "n": step}
    if action is not None:
        where = _("%(automation)s, action %(n)d") % {"automation": where, "n": action}
    return where


def _quoted(keys: Iterable[Any]) -> str:
    return ", ".join(f'"{key}"' for key in keys)


def _all_actions(item: Any) -> list[Any]:
    """The actions of an automation of the file, its steps' included (whatever their shape)."""
    if not isinstance(item, Mapping):
        return []
    actions = list(item["actions"]) if isinstance(item.get("actions"), list) else []
    steps = item.get("steps")
    for step in steps if isinstance(steps, list) else ():
        if isinstance(step, Mapping) and isinstance(step.get("actions"), list):
            actions.extend(step["actions"])
    return actions


class _References:
    """The users and workflows the file names, each looked up once."""

    def __init__(self, data: list[Any]) -> None:
        usernames: set[str] = set()
        workflow_names: set[str] = set()
        for item in data:
            for action in _all_actions(item):
                if isinstance(action, Mapping):
                    if isinstance(action.get("assignee"), str):
                        usernames.add(action["assignee"])
                    if isinstance(action.get("workflow"), str):
                        workflow_names.add(action["workflow"])
        User = get_user_model()
        self.users = {
            user.get_username(): user
            for user in User._default_manager.filter(**{f"{User.USERNAME_FIELD}__in": usernames})
        } if usernames else {}
        self.workflows = {
            workflow.name: workflow
            for workflow in Workflow.objects.filter(name__in=workflow_names).prefetch_related("steps")
        } if workflow_names else {}


def _check_automation(index: int, item: Any, references: _References,
                      problems: list[str]) -> PlannedAutomation | None:
    if not isinstance(item, Mapping):
        problems.append(_('%(where)s: an automation must be an object with "name", "trigger", "frequency", '
                          '"is_active" and "actions", not %(type)s.') % {
            "where": _where(index, None), "type": _json_type(item)})
        return None
    name = item.get("name")
    where = _where(index, name)
    reported: set[str] = set()
    unknown = [key for key in item if key not in AUTOMATION_KEYS]
    if unknown:
        keys = SCHEDULE_KEYS if item.get("trigger") in SCHEDULE_TRIGGERS else PLAIN_KEYS
        problems.append(_("%(where)s: unknown keys %(keys)s; an automation has %(allowed)s.") % {
            "where": where, "keys": _quoted(unknown), "allowed": _quoted(keys)})
    for key in REQUIRED_KEYS:
        if key not in item:
            problems.append(_('%(where)s: "%(key)s" is missing.') % {"where": where, "key": key})
            reported.add(key)
    is_active = item.get("is_active", False)
    if not isinstance(is_active, bool):
        problems.append(_('%(where)s: "is_active" must be true or false.') % {"where": where})
    # The automation's own fields, checked by the services' rules.
    errors = services._build_automation(
        Automation(), name=name, trigger=item.get("trigger"), frequency=item.get("frequency"),
    )
    for field, messages in errors.items():
        if field not in reported:
            problems.append(f"{where}: {services._describe(Automation, field, messages)}")

    schedule = item.get("trigger") in SCHEDULE_TRIGGERS
    fields: dict[str, Any] = {"name": name, "trigger": item.get("trigger"), "frequency": item.get("frequency"),
                              "is_active": is_active}
    if schedule:
        if "actions" in item:
            problems.append(_('%(where)s: a reminder schedule has "steps", each with its actions, not "actions".') % {
                "where": where})
        if "steps" not in item:
            problems.append(_('%(where)s: "%(key)s" is missing.') % {"where": where, "key": "steps"})
        fields["steps"] = _check_steps(index, name, item.get("steps"), references, problems) if "steps" in item else []
        fields["conditions"] = item.get("conditions") or []
        try:
            conditions.clean(fields["conditions"])
        except conditions.ConditionError as exc:
            # As automations.services would refuse it (and _service_problems report it) on saving.
            problems.append(f"{where}: {services._describe(Automation, 'conditions', [str(exc)])}")
        schedule_from = item.get("schedule_from")
        if schedule_from is not None:
            try:
                fields["schedule_from"] = dt.date.fromisoformat(schedule_from) if isinstance(schedule_from, str) else None
                if fields["schedule_from"] is None:
                    raise ValueError
            except ValueError:
                problems.append(_('%(where)s: "schedule_from" must be a date (YYYY-MM-DD) or null.') % {"where": where})
        else:
            fields["schedule_from"] = None
    else:
        for key in ("steps", "conditions", "schedule_from"):
            if item.get(key):
                problems.append(_('%(where)s: "%(key)s" belongs to reminder schedules (trigger invoice_due) only.') % {
                    "where": where, "key": key})
        if "actions" not in item:
            problems.append(_('%(where)s: "%(key)s" is missing.') % {"where": where, "key": "actions"})
        fields["actions"] = _check_actions(index, name, item.get("actions"), references, problems, where=where) \
            if "actions" in item else []
    return PlannedAutomation(index=index, name=_normalized_name(name) or "", fields=fields)


def _check_actions(index: int, name: Any, data: Any, references: _References, problems: list[str], *,
                   where: str, step: int | None = None) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    if not isinstance(data, list):
        problems.append(f"{where}: {_('Give the actions as a list.')}")
        return actions
    if not data:
        problems.append(f"{where}: {_('An automation needs at least one action.')}")
    elif len(data) > services.MAX_ACTIONS:
        problems.append(f"{where}: {services.too_many_actions(len(data))}")
        return actions  # not each of thousands of actions checked and reported
    for position, action_data in enumerate(data, start=1):
        action_where = _where(index, name, position, step=step)
        action, action_problems = _check_action(action_data, references, position=position - 1)
        problems.extend(f"{action_where}: {problem}" for problem in action_problems)
        actions.append(action)
    return actions


def _check_steps(index: int, name: Any, data: Any, references: _References,
                 problems: list[str]) -> list[dict[str, Any]]:
    """A reminder schedule's steps as automations.services takes them, their actions resolved, and
    the problems of each step (the service's own rules: order, repeats, limits)."""
    where = _where(index, name)
    list_problems = services.check_steps_list(data)
    if list_problems:
        problems.extend(f"{where}: {problem}" for problem in list_problems)
        return []
    steps: list[dict[str, Any]] = []
    previous = None
    for number, step_data in enumerate(data, start=1):
        step, step_problems = services.check_step(step_data, index=number - 1, count=len(data), previous=previous)
        previous = step
        problems.extend(f"{where}: {problem}" for problem in step_problems)
        if not isinstance(step_data, Mapping):
            continue
        planned = {key: value for key, value in step_data.items() if key != "actions"}
        planned["actions"] = _check_actions(index, name, step_data.get("actions"), references, problems,
                                            where=_where(index, name, step=number), step=number)
        steps.append(planned)
    return steps


def _check_action(data: Any, references: _References, *, position: int) -> tuple[dict[str, Any], list[str]]:
    """The action as automations.services takes it (names resolved to rows), and its problems."""
    if not isinstance(data, Mapping):
        return {}, [_('an action must be an object with a "kind", not %(type)s.') % {"type": _json_type(data)}]
    problems: list[str] = []
    reported: set[str] = set()  # settings already reported here: the services' message would repeat it

    def problem(key: str | None, message: str) -> None:
        problems.append(message)
        if key is not None:
            reported.add(_SETTING_OF_KEY.get(key, key))

    kind = data.get("kind")
    if kind is not None and not isinstance(kind, str):
        problem("kind", _('"kind" must be one of %(kinds)s.') % {"kinds": _quoted(ACTION_KEYS)})
        kind = None
    allowed = ACTION_KEYS.get(kind) if kind is not None else None
    unknown = [key for key in data if key != "kind" and key not in _ALL_ACTION_KEYS]
    if unknown:
        problem(None, _("unknown keys %(keys)s.") % {"keys": _quoted(unknown)})
    resolved: dict[str, Any] = {"kind": kind}
    if allowed is not None:
        # The keys of other kinds are tolerated while empty, as the services tolerate their fields.
        unused = [key for key in data if key in _ALL_ACTION_KEYS and key not in allowed and data[key] not in (None, "")]
        if unused:
            problem(None, _("a %(kind)s action does not use %(keys)s; it takes %(allowed)s.") % {
                "kind": kind, "keys": _quoted(unused), "allowed": _quoted(allowed)})
        for key in allowed:
            value = data.get(key)
            if key in _TEXT_KEYS:
                if value is not None and not isinstance(value, str):
                    problem(key, _('"%(key)s" must be text.') % {"key": key})
                else:
                    resolved[key] = value
            elif key == "due_in_days":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    problem(key, _('"due_in_days" must be a whole number of days, or null.'))
                else:
                    resolved[key] = value
            elif key == "assignee":
                resolved[key] = _resolve_assignee(value, references, problem)
            elif key == "digest":
                if value is not None and not isinstance(value, bool):
                    problem(key, _('"digest" must be true or false.'))
                else:
                    resolved[key] = bool(value)
            elif key == "fee":
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    problem(key, _('"fee" must be an amount, for example "5.00".'))
                else:
                    try:
                        resolved[key] = Decimal(str(value))
                    except InvalidOperation:
                        problem(key, _('"fee" must be an amount, for example "5.00".'))
        if kind == "move_card":
            resolved["step"] = _resolve_step(data.get("workflow"), data.get("step"), references, problem)
    # The action itself, checked by the services' rules: kind, required fields, placeholders, limits.
    _action, errors = services.build_action(resolved, position=position)
    order = [NON_FIELD_ERRORS, "kind", *SETTINGS_FIELDS]
    for field, messages in sorted(errors.items(), key=lambda e: order.index(e[0]) if e[0] in order else len(order)):
        if field not in reported:
            problems.append(services._describe(Action, field, messages))
    return resolved, problems


def _resolve_assignee(value: Any, references: _References, problem) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problem("assignee", _('"assignee" must be a username, or null for the team.'))
        return None
    user = references.users.get(value)
    if user is None:
        problem("assignee", _("no user named '%(name)s'") % {"name": value})
    return user


def _resolve_step(workflow_name: Any, step_name: Any, references: _References, problem) -> Step | None:
    if workflow_name in (None, "") or step_name in (None, ""):
        problem("step", _('a move_card action needs a "workflow" and a "step" (their names).'))
        return None
    if not isinstance(workflow_name, str) or not isinstance(step_name, str):
        problem("step", _('"workflow" and "step" must be names (text).'))
        return None
    workflow = references.workflows.get(workflow_name)
    if workflow is None:
        names = list(Workflow.objects.order_by("name").values_list("name", flat=True)[:21])
        message = _("no workflow named '%(name)s'") % {"name": workflow_name}
        if names:
            message += _(" (the workflows are: %(names)s)") % {
                "names": ", ".join(f"'{n}'" for n in names[:20]) + (", …" if len(names) > 20 else "")}
        problem("workflow", message)
        return None
    steps = list(workflow.steps.all())
    for step in steps:
        if step.name == step_name:
            return step
    message = _("the workflow '%(workflow)s' has no step named '%(step)s'; its steps are: %(steps)s") % {
        "workflow": workflow.name, "step": step_name, "steps": ", ".join(f"'{s.name}'" for s in steps)}
    elsewhere = sorted(Step.objects.filter(name=step_name).exclude(workflow=workflow)
                       .values_list("workflow__name", flat=True))
    if elsewhere:
        message += _(" ('%(step)s' is a step of %(workflows)s)") % {
            "step": step_name, "workflows": ", ".join(f"'{n}'" for n in elsewhere)}
    problem("step", message)
    return None


def _service_problems(index: int, name: str, errors: dict[str, list[str]],
                      action_errors: dict[int, dict[str, list[str]]]) -> list[str]:
    where = _where(index, name)
    problems = [f"{where}: {services._describe(Automation, field, messages)}" for field, messages in errors.items()]
    for position, fields in sorted(action_errors.items()):
        action_where = _where(index, name, position + 1)
        problems.extend(f"{action_where}: {services._describe(Action, field, messages)}"
                        for field, messages in fields.items())
    return problems


def _duplicate_names(planned: list[PlannedAutomation]) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for item in planned:
        if not item.name:
            continue
        if item.name in first:
            problems.append(_("%(where)s: automation %(first)d has the same name; names must differ.") % {
                "where": _where(item.index, item.name), "first": first[item.name]})
        else:
            first[item.name] = item.index
    return problems


def _name_clashes(planned: list[PlannedAutomation], *, replace: bool) -> list[str]:
    """Sets `existing` of each automation `replace` updates; the problems of the others."""
    names = {item.name for item in planned if item.name}
    existing: dict[str, list[Automation]] = {}
    for automation in Automation.objects.filter(name__in=names).order_by("pk") if names else ():
        existing.setdefault(automation.name, []).append(automation)
    problems = []
    for item in planned:
        same = existing.get(item.name, [])
        if not same:
            continue
        where = _where(item.index, item.name)
        if not replace:
            problems.append(_("%(where)s: an automation named '%(name)s' already exists; rename it in the file, "
                              "or import with replace (--replace) to update the existing one.") % {
                "where": where, "name": item.name})
        elif len(same) > 1:
            problems.append(_("%(where)s: %(count)d automations are named '%(name)s', so it is not clear which one "
                              "to replace; rename all but one of them first.") % {
                "where": where, "count": len(same), "name": item.name})
        else:
            item.existing = same[0]
    return problems

