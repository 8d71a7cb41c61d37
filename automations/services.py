"""Creating, changing, switching and deleting automations.

Everything is validated before anything is written, and an automation is saved with all its
actions or not at all. The actions' settings are checked by their kind
(`automations.actions.ACTIONS[kind].clean_settings`, through `Action.full_clean`), the same check
the admin's forms run, so there is one set of rules whoever saves.

Invoice emails asked for by a person: "Resend" (a new email) and "Retry" (a failed one again).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.dates import business_today
from core.errors import DomainError, messages_by_field
from core.fields import model_field
from core.validators import reject_null_characters
from invoices.models import Invoice, InvoiceStatus
from workflows.models import Step

from .actions import ACTIONS
from . import conditions, delivery, dispatch
from .models import (
    SETTINGS_FIELDS,
    Action,
    ActionKind,
    Automation,
    InvoiceEmail,
    InvoiceEmailKind,
    InvoiceEmailStatus,
    ReminderStep,
    Run,
    RunAction,
    RunActionStatus,
    RunStatus,
)
from .triggers import SCHEDULE_TRIGGERS, Frequency, Trigger

# "Not given: keep it as it is" (update_automation), or "not given: the default" (create_automation).
_KEEP: Any = object()

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
            value = model_field(Action, name).get_default()
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


def _build_actions(actions: Any, *, schedule: bool = False) -> tuple[list[Action], dict[int, dict[str, list[str]]], list[str]]:
    if isinstance(actions, (str, bytes, Mapping)) or not isinstance(actions, Iterable):
        return [], {}, [_("Give the actions as a list.")]
    actions = list(actions)
    if len(actions) > MAX_ACTIONS:
        return [], {}, [too_many_actions(len(actions))]
    built, action_errors = [], {}
    for position, data in enumerate(actions):
        action, errors = build_action(data, position=position)
        if not schedule and action.kind in ACTIONS and ACTIONS[action.kind].schedule_only:
            errors.setdefault("kind", []).append(_("Only a reminder schedule's steps can charge fees or interest."))
        if not schedule and action.digest:
            errors.setdefault("digest", []).append(
                _("Only a reminder schedule's emails can collect a customer's invoices in one email."))
        built.append(action)
        if errors:
            action_errors[position] = errors
    if not built:
        return [], {}, [_("An automation needs at least one action.")]
    return built, action_errors, []


# The most steps a reminder schedule has (Invoice Ninja 3 + 1, Zoho up to 30, German practice 3).
MAX_STEPS = 10
STEP_KEYS = ("name", "days", "repeat_every_days", "repeat_times", "actions")


def check_steps_list(steps: Any) -> list[str]:
    """The problems of the steps list as a whole (not of each step)."""
    if isinstance(steps, (str, bytes, Mapping)) or not isinstance(steps, Iterable):
        return [_("Give the steps as a list.")]
    steps = list(steps)
    if not steps:
        return [_("A reminder schedule needs at least one step.")]
    if len(steps) > MAX_STEPS:
        return [_("A reminder schedule can have at most %(max)d steps; this one has %(count)d.") % {
            "max": MAX_STEPS, "count": len(steps)}]
    return []


def check_step(data: Any, *, index: int, count: int, previous: ReminderStep | None) -> tuple[ReminderStep, list[str]]:
    """One step of a reminder schedule (index 0-based of `count`) from its dict, without its actions,
    and its problems, one sentence each: its fields, its order after `previous`, its repeats."""
    where = _("Step %(n)d") % {"n": index + 1}
    step = ReminderStep(position=index)
    if not isinstance(data, Mapping):
        return step, [_("%(where)s: a step must be a dictionary with a name, days and actions.") % {"where": where}]
    problems = []
    unknown = sorted(set(data) - set(STEP_KEYS))
    if unknown:
        problems.append(_("%(where)s: unknown fields %(fields)s.") % {"where": where, "fields": ", ".join(map(str, unknown))})
    name = data.get("name")
    step.name = " ".join(name.split()) if isinstance(name, str) else ""
    step.repeat_every_days, step.repeat_times = data.get("repeat_every_days"), data.get("repeat_times")
    days = data.get("days")
    if isinstance(days, bool) or not isinstance(days, int):
        problems.append(_("%(where)s: give the days from the due date as a whole number (−3: three days before, "
                          "0: on the due date, 14: two weeks after).") % {"where": where})
    else:
        step.days = days
    try:
        reject_null_characters(step, exclude=["automation"])
        step.clean_fields(exclude=["automation", "days"] if step.days is None else ["automation"])
    except ValidationError as exc:
        problems.extend(f"{where}: {_describe(ReminderStep, field, messages)}"
                        for field, messages in messages_by_field(exc).items())
    if (step.repeat_every_days is None) != (step.repeat_times is None):
        problems.append(_("%(where)s: to repeat, give both every how many days and at most how many times.") % {
            "where": where})
    if step.repeat_every_days is not None and index != count - 1:
        problems.append(_("%(where)s: only the last step can repeat.") % {"where": where})
    if previous is not None and previous.days is not None and step.days is not None and step.days <= previous.days:
        problems.append(_("%(where)s: a step comes after the one before it: give it more days from the due date "
                          "than %(days)d.") % {"where": where, "days": previous.days})
    return step, problems


def _build_steps(steps: Any) -> tuple[list[tuple[ReminderStep, list[Action]]], list[str]]:
    """A reminder schedule's steps (each with its actions) and the problems, one sentence each."""
    problems = check_steps_list(steps)
    if problems:
        return [], problems
    steps = list(steps)
    built: list[tuple[ReminderStep, list[Action]]] = []
    order = [NON_FIELD_ERRORS, "kind", *SETTINGS_FIELDS]
    for index, data in enumerate(steps):
        step, step_problems = check_step(data, index=index, count=len(steps), previous=built[-1][0] if built else None)
        problems.extend(step_problems)
        where = _("Step %(n)d") % {"n": index + 1}
        actions, action_errors, list_errors = _build_actions(
            data.get("actions") if isinstance(data, Mapping) else None, schedule=True)
        problems.extend(f"{where}: {message}" for message in list_errors)
        for position, fields in sorted(action_errors.items()):
            details = " ".join(_describe(Action, field, messages) for field, messages in
                               sorted(fields.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
            problems.append(_("%(where)s, action %(n)d: %(details)s") % {"where": where, "n": position + 1, "details": details})
        built.append((step, actions))
    return built, problems


def _build_schedule(automation: Automation, *, actions: Any, steps: Any, conditions_: Any,
                    errors: dict[str, list[str]]) -> tuple[list[Action], dict[int, dict[str, list[str]]],
                                                           list[tuple[ReminderStep, list[Action]]]]:
    """The automation's actions (or, for a reminder schedule, its steps) and conditions, with their
    problems added to `errors` / returned as action errors."""
    schedule = automation.trigger in SCHEDULE_TRIGGERS
    built_actions: list[Action] = []
    action_errors: dict[int, dict[str, list[str]]] = {}
    built_steps: list[tuple[ReminderStep, list[Action]]] = []
    if schedule:
        if actions:
            errors["actions"] = [_("A reminder schedule's actions belong to its steps.")]
        built_steps, problems = _build_steps(steps)
        if problems:
            errors["steps"] = problems
    else:
        if steps:
            errors["steps"] = [_("Only a reminder schedule has steps; this trigger runs its actions once.")]
        built_actions, action_errors, list_errors = _build_actions(actions)
        if list_errors:
            errors["actions"] = list_errors
    try:
        automation.conditions = conditions.clean(conditions_)
    except conditions.ConditionError as exc:
        errors["conditions"] = [str(exc)]
    if automation.conditions and not schedule:
        errors["conditions"] = [_("Only a reminder schedule has conditions.")]
    return built_actions, action_errors, built_steps


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


def _save(automation: Automation, actions: list[Action], *, replace: bool,
          steps: Sequence[tuple[ReminderStep, list[Action]]] = ()) -> None:
    _lock_referenced_steps([*actions, *(action for _step, step_actions in steps for action in step_actions)])
    automation.save()
    if replace:
        automation.actions.all().delete()
        automation.reminder_steps.all().delete()
    for position, action in enumerate(actions):
        action.automation = automation
        action.position = position
    Action.objects.bulk_create(actions)
    for position, (step, step_actions) in enumerate(steps):
        step.automation, step.position = automation, position
        step.save()
        for action_position, action in enumerate(step_actions):
            action.automation, action.reminder_step, action.position = automation, step, action_position
        Action.objects.bulk_create(step_actions)


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
    actions: list[dict] = (),  # type: ignore[assignment]
    is_active: bool = False,
    steps: list[dict] | None = None,
    conditions: list[dict] | None = None,
    include_backlog: bool = False,
    schedule_from: dt.date | None = _KEEP,
    by=None,
    now: dt.datetime | None = None,
) -> Automation:
    """A new automation with its actions in the order given (a reminder schedule: with its steps,
    each with its actions, and its conditions); all saved, or nothing and `AutomationInvalid` (a
    DomainError) saying what is wrong. A reminder schedule created switched on is for invoices due
    from today on, unless `include_backlog`."""
    automation = Automation(is_active=bool(is_active), created_by=by)
    errors = _build_automation(automation, name=name, trigger=trigger, frequency=frequency)
    built, action_errors, built_steps = _build_schedule(automation, actions=actions, steps=steps,
                                                        conditions_=conditions, errors=errors)
    if errors or action_errors:
        raise AutomationInvalid(errors, action_errors)
    if schedule_from is not _KEEP:
        automation.schedule_from = schedule_from
    elif automation.is_active and automation.trigger in SCHEDULE_TRIGGERS and not include_backlog:
        automation.schedule_from = business_today(now)
    try:
        with transaction.atomic():
            _save(automation, built, replace=False, steps=built_steps)
    except IntegrityError:
        raise _integrity_error() from None
    return automation


def _update_locked(automation: Automation, *, name: Any, trigger: Any, frequency: Any, actions: Any,
                   is_active: Any, steps: Any = _KEEP, conditions_: Any = _KEEP,
                   schedule_from: Any = _KEEP) -> Automation:
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
    if schedule_from is not _KEEP:
        locked.schedule_from = schedule_from
    built: list[Action] = []
    action_errors: dict[int, dict[str, list[str]]] = {}
    built_steps: list[tuple[ReminderStep, list[Action]]] = []
    replace = actions is not _KEEP or steps is not _KEEP
    if replace or conditions_ is not _KEEP:
        built, action_errors, built_steps = _build_schedule(
            locked, actions=[] if actions is _KEEP else actions, steps=[] if steps is _KEEP else steps,
            conditions_=locked.conditions if conditions_ is _KEEP else conditions_, errors=errors)
        if not replace:  # only the conditions change: the actions and steps stay as they are
            errors.pop("actions", None)
            errors.pop("steps", None)
            action_errors = {}
    if errors or action_errors:
        raise AutomationInvalid(errors, action_errors)
    if replace:
        _save(locked, built, replace=True, steps=built_steps)
    else:
        locked.save()
    return locked


def update_automation(
    *,
    automation: Automation,
    name: str = _KEEP,
    trigger: str = _KEEP,
    frequency: str = _KEEP,
    actions: list[dict] = _KEEP,
    is_active: bool = _KEEP,
    steps: list[dict] = _KEEP,
    conditions: list[dict] = _KEEP,
    schedule_from: dt.date | None = _KEEP,
    by=None,
) -> Automation:
    """Change an automation; what is not given stays. `actions` (or a reminder schedule's `steps`),
    when given, replaces all of them (validated like create_automation's; all saved, or nothing)."""
    try:
        with transaction.atomic():
            locked = _update_locked(automation, name=name, trigger=trigger, frequency=frequency, actions=actions,
                                    is_active=is_active, steps=steps, conditions_=conditions,
                                    schedule_from=schedule_from)
    except IntegrityError:
        raise _integrity_error() from None
    for field in Automation._meta.concrete_fields:
        setattr(automation, field.attname, getattr(locked, field.attname))
    return automation


def set_automation_active(
    *, automation: Automation, active: bool, include_backlog: bool = False, by=None, now: dt.datetime | None = None
) -> Automation:
    """Switch an automation on or off. Switching it to the state it is in is refused, so two
    people pressing the same button at once get one success and one clear message. A reminder
    schedule switched on is for the invoices due from today on, or with `include_backlog` also for
    those already due (automations.reminders.backlog counts them)."""
    now = now or timezone.now()
    active = bool(active)
    changes: dict[str, Any] = {}
    if active and automation.trigger in SCHEDULE_TRIGGERS:
        changes["schedule_from"] = None if include_backlog else business_today(now)
    with transaction.atomic():
        if active and not Action.objects.filter(automation_id=automation.pk).exists():
            raise DomainError(_("The automation “%(name)s” has no actions; add one before switching it on.") % {
                "name": automation.name})
        changed = Automation.objects.filter(pk=automation.pk, is_active=not active).update(
            is_active=active, updated_at=now, **changes
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
    for name, value in changes.items():
        setattr(automation, name, value)
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


# --- Invoice emails ---------------------------------------------------------------------------

# What can be emailed again: an invoice the customer has (sent, overdue, paid) and a credit note.
RESENDABLE = (InvoiceStatus.SENT, InvoiceStatus.OVERDUE, InvoiceStatus.PAID, InvoiceStatus.ISSUED)


def resend_invoice_email(*, invoice: Invoice, by=None) -> InvoiceEmail:
    """Email the invoice (or credit note) to its contact once more: a new email of its own, sent
    by a worker like the first. Only ever asked for by a person; nothing sends it again by itself."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("contact").filter(pk=invoice.pk).first()
        if locked is None or locked.status not in RESENDABLE:
            current = InvoiceStatus(locked.status).label if locked else _("deleted")
            raise DomainError(_("Invoice %(number)s cannot be emailed again: it is %(status)s.") % {
                "number": invoice.number, "status": current})
        if not (locked.contact.email or "").strip():
            raise DomainError(_("%(contact)s has no email address; add one to the contact first.") % {
                "contact": locked.contact.name})
        return delivery.queue_email(invoice=locked, kind=InvoiceEmailKind.RESEND, by=by,
                                    key=f"invoice-{locked.pk}-resend-{uuid.uuid4().hex}")


def retry_invoice_email(*, email: InvoiceEmail, by=None) -> InvoiceEmail:
    """failed → pending: the same email (its Message-ID too) is tried again at once by a worker."""
    with transaction.atomic():
        changed = InvoiceEmail.objects.filter(pk=email.pk, status=InvoiceEmailStatus.FAILED).update(
            status=InvoiceEmailStatus.PENDING, attempts=0, next_attempt_at=None, locked_until=None, error="",
            finished_at=None)
        if changed != 1:
            current = InvoiceEmail.objects.filter(pk=email.pk).values_list("status", flat=True).first()
            raise DomainError(_("Only an email that failed can be tried again; this one is %(status)s.") % {
                "status": InvoiceEmailStatus(current).label if current else _("deleted")})
        transaction.on_commit(partial(delivery.enqueue, [email.pk]), robust=True)
    email.refresh_from_db()
    return email
