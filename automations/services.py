"""Creating, changing, switching and deleting automations.

Everything is validated before anything is written, and an automation is saved with all its
actions or not at all. The actions' settings are checked by their kind
(`automations.actions.ACTIONS[kind].clean_settings`, through `Action.full_clean`), the same check
the admin's forms run, so there is one set of rules whoever saves.

Dispatching events to automations (the engine) is not here yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, messages_by_field
from core.fields import model_field
from core.validators import reject_null_characters
from workflows.models import Step

from .actions import ACTIONS
from . import dispatch
from .models import SETTINGS_FIELDS, Action, ActionKind, Automation, Run, RunAction, RunActionStatus, RunStatus
from .triggers import Frequency, Trigger

# Strings that are one line are trimmed; texts (body, description) are kept as written.
_TRIMMED = ("subject", "sender_name", "reply_to", "title")

# The most actions one automation may have, whoever saves it (the builder, the admin, an import).
MAX_ACTIONS = 20


def too_many_actions(count: int) -> str:
    return _("An automation can have at most %(max)d actions; this one has %(count)d.") % {
        "max": MAX_ACTIONS, "count": count}


class AutomationInvalid(DomainError):
    """The automation or some of its actions are not valid.

    `errors` holds the automation's own field errors, `action_errors[i]` those of the i-th action
    (0-based, as given), both as {field: [message, …]}, for forms that show them next to the field.
    """

    def __init__(self, errors: dict[str, list[str]], action_errors: dict[int, dict[str, list[str]]]) -> None:
        self.errors = errors
        self.action_errors = action_errors
        parts = [_describe(Automation, field, messages) for field, messages in errors.items()]
        order = [NON_FIELD_ERRORS, "kind", *SETTINGS_FIELDS]
        for index, fields in sorted(action_errors.items()):
            details = " ".join(
                _describe(Action, field, messages)
                for field, messages in sorted(fields.items(), key=lambda item: order.index(item[0])
                                              if item[0] in order else len(order))
            )
            parts.append(_("Action %(n)d: %(details)s") % {"n": index + 1, "details": details})
        named = list(errors) + (["actions"] if action_errors else [])
        super().__init__(" ".join(parts), field=named[0] if len(named) == 1 else None)


def _describe(model: type[models.Model], field: str, messages: list[str]) -> str:
    text = " ".join(str(m) for m in messages)
    if field == NON_FIELD_ERRORS:
        return text
    try:
        label = str(model_field(model, field).verbose_name)
    except Exception:
        label = field
    return f"{label[:1].upper()}{label[1:]}: {text}"


# --- Validation -------------------------------------------------------------------------------


def _build_automation(automation: Automation, *, name: Any, trigger: Any, frequency: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str):
        errors["name"] = [_("The name must be text.")]
    else:
        automation.name = " ".join(name.split())
        if not automation.name:
            errors["name"] = [_("An automation needs a name.")]
    if trigger not in Trigger.values:
        errors["trigger"] = [_("“%(value)s” is not a trigger; choose one of: %(choices)s.") % {
            "value": trigger, "choices": ", ".join(Trigger.values)}]
    else:
        automation.trigger = trigger
    if frequency not in Frequency.values:
        errors["frequency"] = [_("“%(value)s” is not a frequency limit; choose one of: %(choices)s.") % {
            "value": frequency, "choices": ", ".join(Frequency.values)}]
    else:
        automation.frequency = frequency
    try:
        reject_null_characters(automation, exclude=["created_by", *errors])
        automation.full_clean(exclude=["created_by", *errors], validate_constraints=False)
    except ValidationError as exc:
        for field, messages in messages_by_field(exc).items():
            errors.setdefault(field, messages)
    return errors


def build_action(data: Mapping[str, Any], *, position: int = 0) -> tuple[Action, dict[str, list[str]]]:
    """An unsaved Action from one action dict, and its errors by field (empty when it is valid).

    The dict has `kind` and that kind's fields (send_email: subject, body, sender_name, reply_to;
    create_task: title, description, due_in_days, assignee (a User or None); move_card: step
    (a Step)). Fields of other kinds may be present only when empty.
    """
    action = Action(position=position)
    if not isinstance(data, Mapping):
        return action, {NON_FIELD_ERRORS: [_("An action must be a dictionary with a “kind”.")]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - {"kind", *SETTINGS_FIELDS})
    if unknown:
        errors[NON_FIELD_ERRORS] = [_("Unknown fields: %(fields)s.") % {"fields": ", ".join(map(str, unknown))}]
    kind = data.get("kind")
    if kind not in ACTIONS:
        errors["kind"] = [_("“%(value)s” is not an action; choose one of: %(choices)s.") % {
            "value": kind, "choices": ", ".join(ActionKind.values)}]
        return action, errors
    action.kind = kind
    for name in SETTINGS_FIELDS:
        value = data.get(name)
        if value is None and not model_field(Action, name).null:
            value = ""
        if name in _TRIMMED and isinstance(value, str):
            value = value.strip()
        try:
            setattr(action, name, value)
        except (TypeError, ValueError):  # e.g. a username where a User is expected
            errors[name] = [_("“%(value)s” is not a valid value here.") % {"value": value}]
    for name in ("assignee", "step"):
        related = data.get(name)
        if related is not None and name not in errors and related.pk is None:
            errors[name] = [_("Save it before using it in an automation.")]
    field_errors: dict[str, list[str]] = {}
    try:
        reject_null_characters(action, exclude=["automation", *errors])
        action.clean_fields(exclude=["automation", *errors])
    except ValidationError as exc:
        field_errors = messages_by_field(exc)
    # The kind's own messages say more than the field's generic ones, so they win per field.
    try:
        action.clean()
    except ValidationError as exc:
        field_errors.update(messages_by_field(exc))
    for field, messages in field_errors.items():
        errors.setdefault(field, messages)
    return action, errors


def _build_actions(actions: Any) -> tuple[list[Action], dict[int, dict[str, list[str]]], list[str]]:
    if isinstance(actions, (str, bytes, Mapping)) or not isinstance(actions, Iterable):
        return [], {}, [_("Give the actions as a list.")]
    actions = list(actions)
    if len(actions) > MAX_ACTIONS:
        return [], {}, [too_many_actions(len(actions))]
    built, action_errors = [], {}
    for position, data in enumerate(actions):
        action, errors = build_action(data, position=position)
        built.append(action)
        if errors:
            action_errors[position] = errors
    if not built:
        return [], {}, [_("An automation needs at least one action.")]
    return built, action_errors, []


def _lock_referenced_steps(actions: Sequence[Action]) -> None:
    # A step deleted between our check and our commit would leave a dangling action: hold a lock
    # that conflicts with delete_step's FOR UPDATE until we commit (in id order: no deadlocks).
    step_ids = sorted({a.step_id for a in actions if a.step_id})
    if not step_ids:
        return
    found = set(Step.objects.select_for_update(no_key=True).filter(pk__in=step_ids).order_by("pk")
                .values_list("pk", flat=True))
    missing = [i for i, a in enumerate(actions) if a.step_id and a.step_id not in found]
    if missing:
        raise AutomationInvalid({}, {i: {"step": [_("This step has been deleted.")]} for i in missing})


def _save(automation: Automation, actions: list[Action], *, replace: bool) -> None:
    _lock_referenced_steps(actions)
    automation.save()
    if replace:
        automation.actions.all().delete()
    for position, action in enumerate(actions):
        action.automation = automation
        action.position = position
    Action.objects.bulk_create(actions)


def _integrity_error() -> DomainError:
    # Only a user or step deleted at this very moment gets here; nothing was saved.
    return DomainError(_("The automation could not be saved: a user or workflow step it uses was just "
                         "deleted. Check the actions and save again."))


# --- Services ---------------------------------------------------------------------------------


def create_automation(
    *,
    name: str,
    trigger: str,
    frequency: str,
    actions: list[dict],
    is_active: bool = False,
    by=None,
) -> Automation:
    """A new automation with its actions in the order given; all saved, or nothing and
    `AutomationInvalid` (a DomainError) saying what is wrong."""
    automation = Automation(is_active=bool(is_active), created_by=by)
    errors = _build_automation(automation, name=name, trigger=trigger, frequency=frequency)
    built, action_errors, list_errors = _build_actions(actions)
    if list_errors:
        errors["actions"] = list_errors
    if errors or action_errors:
        raise AutomationInvalid(errors, action_errors)
    try:
        with transaction.atomic():
            _save(automation, built, replace=False)
    except IntegrityError:
        raise _integrity_error() from None
    return automation


_KEEP: Any = object()


def _update_locked(automation: Automation, *, name: Any, trigger: Any, frequency: Any, actions: Any,
                   is_active: Any) -> Automation:
    locked = Automation.objects.select_for_update().filter(pk=automation.pk).first()
    if locked is None:
        raise DomainError(_("The automation “%(name)s” has been deleted.") % {"name": automation.name})
    errors = _build_automation(
        locked,
        name=locked.name if name is _KEEP else name,
        trigger=locked.trigger if trigger is _KEEP else trigger,
        frequency=locked.frequency if frequency is _KEEP else frequency,
    )
    if is_active is not _KEEP:
        locked.is_active = bool(is_active)
    built: list[Action] = []
    action_errors: dict[int, dict[str, list[str]]] = {}
    list_errors: list[str] = []
    if actions is not _KEEP:
        built, action_errors, list_errors = _build_actions(actions)
    if list_errors:
        errors["actions"] = list_errors
    if errors or action_errors:
        raise AutomationInvalid(errors, action_errors)
    if actions is _KEEP:
        locked.save()
    else:
        _save(locked, built, replace=True)
    return locked


def update_automation(
    *,
    automation: Automation,
    name: str = _KEEP,
    trigger: str = _KEEP,
    frequency: str = _KEEP,
    actions: list[dict] = _KEEP,
    is_active: bool = _KEEP,
    by=None,
) -> Automation:
    """Change an automation; what is not given stays. `actions`, when given, replaces all actions
    (validated like create_automation's; all saved, or nothing)."""
    try:
        with transaction.atomic():
            locked = _update_locked(automation, name=name, trigger=trigger, frequency=frequency, actions=actions,
                                    is_active=is_active)
    except IntegrityError:
        raise _integrity_error() from None
    for field in Automation._meta.concrete_fields:
        setattr(automation, field.attname, getattr(locked, field.attname))
    return automation


def set_automation_active(
    *, automation: Automation, active: bool, by=None, now: dt.datetime | None = None
) -> Automation:
    """Switch an automation on or off. Switching it to the state it is in is refused, so two
    people pressing the same button at once get one success and one clear message."""
    now = now or timezone.now()
    active = bool(active)
    with transaction.atomic():
        if active and not Action.objects.filter(automation_id=automation.pk).exists():
            raise DomainError(_("The automation “%(name)s” has no actions; add one before switching it on.") % {
                "name": automation.name})
        changed = Automation.objects.filter(pk=automation.pk, is_active=not active).update(
            is_active=active, updated_at=now
        )
        if changed != 1:
            current = Automation.objects.filter(pk=automation.pk).values_list("is_active", flat=True).first()
            if current is None:
                raise DomainError(_("The automation “%(name)s” has been deleted.") % {"name": automation.name})
            message = (_("The automation “%(name)s” is already on.") if current
                       else _("The automation “%(name)s” is already off."))
            raise DomainError(message % {"name": automation.name})
    automation.is_active = active
    automation.updated_at = now
    return automation


def delete_automation(*, automation: Automation, by=None) -> None:
    """Delete an automation with its actions and its run history."""
    with transaction.atomic():
        deleted, _counts = Automation.objects.filter(pk=automation.pk).delete()
        if not deleted:
            raise DomainError(_("The automation “%(name)s” has already been deleted.") % {"name": automation.name})


def retry_run(*, run: Run, by=None) -> Run:
    """failed → pending, with its failed or uncertain actions to be done again; executed at once
    by the queue. Actions that succeeded are not repeated. An email whose delivery was `unknown`
    is sent again: retrying is the person's decision that it did not arrive."""
    with transaction.atomic():
        changed = Run.objects.filter(pk=run.pk, status=RunStatus.FAILED).update(
            status=RunStatus.PENDING, attempts=0, next_attempt_at=None, locked_until=None, error="", finished_at=None
        )
        if changed != 1:
            current = Run.objects.filter(pk=run.pk).values_list("status", flat=True).first()
            raise DomainError(_("Only a failed run can be retried; this one is %(status)s.") % {
                "status": RunStatus(current).label if current else _("deleted")})
        RunAction.objects.filter(run=run, status__in=[RunActionStatus.FAILED, RunActionStatus.UNKNOWN]).update(
            status=RunActionStatus.PENDING, error="")
        transaction.on_commit(lambda: dispatch.enqueue_runs([run.pk]))
    run.refresh_from_db()
    return run
