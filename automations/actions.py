"""One class per action kind, as healthchecks has one per transport.

Each kind says which of the Action's fields it needs (`clean_settings`) and how it is carried out
for a run (`execute`). `execute` records its result in the run's RunAction row so that a second
attempt never does the work twice (see automations.dispatch).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import placeholders
from core.dates import business_today
from core.errors import DomainError
from core.fields import model_field
from core.money import format_money
from invoices import services as invoice_services
from invoices.models import Invoice
from invoices.public import public_url
from tasks.models import Task
from tasks import services as task_services
from webhooks import payloads as webhook_payloads
from webhooks import safety as webhook_safety
from webhooks import services as webhook_services
from workflows import services as workflow_services

from .errors import ActionError, ActionSkipped
from .mailer import action_texts, send_for_run
from .models import SETTINGS_FIELDS, DigestLock, Event, RunAction, RunActionStatus
from .models import Action as ActionRow

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["ACTIONS", "Action", "ActionBatch", "ActionError", "ActionSkipped"]


def digest_invoices(run, action: ActionRow) -> list[Any] | None:
    """One email per customer at a reminder step: the invoices it is about, if this run sends it
    (the first of the step's runs for the customer from one scan to get here, or the run that took
    it before and is tried again), else None (another run's email includes this invoice). Only the
    invoices still due then are listed: one paid meanwhile is left out."""
    event = run.event
    lock = {"automation_id": run.automation_id, "reminder_step_id": event.reminder_step_id, "repeat": event.repeat,
            "contact_id": run.contact_id, "action_position": action.position, "scanned_at": event.occurred_at}
    try:
        with transaction.atomic():
            DigestLock.objects.create(run=run, **lock)
    except IntegrityError:
        if not DigestLock.objects.filter(run=run, **lock).exists():
            return None
    siblings = Event.objects.filter(
        kind=event.kind, automation_id=run.automation_id, reminder_step_id=event.reminder_step_id, repeat=event.repeat,
        contact_id=run.contact_id, occurred_at=event.occurred_at,
    ).values("invoice_id")
    today = business_today(timezone.localtime(timezone.now()))
    return [invoice for invoice in Invoice.objects.filter(pk__in=siblings).select_related("contact").order_by("due_date", "number")
            if invoice.is_open and not invoice.reminders_paused_on(today)]


def run_context(run, *, now, texts: tuple[str, ...] | None = None, invoices: list[Any] | None = None) -> dict[str, str]:
    """The placeholder values for a run: plain strings in the contact's language (with `texts`,
    only those the texts use)."""
    event = run.event
    invoice = event.invoice
    return placeholders.context_for(
        contact=run.contact, invoice=invoice, plan=event.recurring or (invoice.recurring if invoice else None),
        today=business_today(now), link=(lambda: public_url(invoice)) if invoice is not None else "",
        language=run.contact.language, names=None if texts is None else placeholders.names_in(*texts),
        invoices=invoices,
    )


def _check_placeholders(action: ActionRow, add, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(action, name)
        if isinstance(value, str) and value:
            try:
                placeholders.check(value)
            except placeholders.PlaceholderError as exc:
                add(name, ValidationError(exc.message, code="placeholder"))


def _record(result, **fields) -> None:
    RunAction.objects.filter(pk=result.pk).update(updated_at=timezone.now(), status=RunActionStatus.SUCCEEDED, error="", **fields)


# A task due further out than this is a typo, and `today + timedelta(days=n)` overflows long before
# the database column does.
MAX_DUE_IN_DAYS = 3650


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value is False


def _value(action: ActionRow, name: str) -> Any:
    # Foreign keys are read by id: no query, and no DoesNotExist for a row deleted meanwhile.
    return getattr(action, model_field(action, name).attname)


class Action:
    kind: str
    label: StrOrPromise
    # Fields of the Action row this kind uses; the others must stay empty.
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    # Fields that end up in a single-line place (an email header, a list) and so cannot hold a line break.
    single_line: tuple[str, ...] = ()
    # Only in a reminder schedule's steps (it needs the overdue invoice and the step).
    schedule_only: bool = False

    @classmethod
    def clean_settings(cls, action: ActionRow) -> None:
        """Raise a ValidationError keyed by field name for every setting this kind does not accept."""
        errors: dict[str, list[ValidationError]] = {}

        def add(name: str, error: ValidationError) -> None:
            errors.setdefault(name, []).append(error)

        for name in cls.required:
            value = _value(action, name)
            if _is_empty(value) or (isinstance(value, str) and not value.strip()):
                add(name, ValidationError(_("This field is required for this action."), code="required_for_action"))
        for name in SETTINGS_FIELDS:
            if name not in cls.fields and not _is_empty(_value(action, name)):
                add(name, ValidationError(
                    _("This action does not use this field; leave it empty."), code="not_used"))
        for name in cls.single_line:
            value = _value(action, name)
            if isinstance(value, str) and ("\n" in value or "\r" in value):
                add(name, ValidationError(_("This field cannot contain line breaks."), code="line_break"))
        cls.clean_kind_settings(action, add)
        if errors:
            raise ValidationError(errors)

    @classmethod
    def clean_kind_settings(cls, action: ActionRow, add) -> None:
        """Checks of one kind beyond required/unused fields; report each with add(field, error)."""

    @classmethod
    def execute(cls, *, run, action: ActionRow, result, now) -> None:
        """Carry the action out for `run`, recording it in `result` (a RunAction) — once."""
        raise NotImplementedError

    # A kind whose work is only writes to this database can run inside one transaction with the
    # other runs of a batch (see automations.dispatch): `prepare` instead of `execute`.
    batchable: bool = False

    @classmethod
    def prepare(cls, *, run, action: ActionRow, result, now, batch: ActionBatch) -> None:
        """Like `execute`, inside the batch's transaction; the writes may wait in `batch` for its flush."""
        raise NotImplementedError


class ActionBatch:
    """The writes of a batch of runs, saved together by `flush` (in the caller's transaction):
    the tasks with one INSERT, the action records with one UPDATE."""

    def __init__(self, *, now) -> None:
        self.now = now
        self.tasks: list[tuple[Any, Any]] = []  # (unsaved task, its RunAction)
        self.records: list[Any] = []  # RunActions with their new fields set

    def record(self, result, **fields) -> None:
        for name, value in {"status": RunActionStatus.SUCCEEDED, "error": "", **fields}.items():
            setattr(result, name, value)
        self.records.append(result)

    def flush(self) -> None:
        if self.tasks:
            Task.objects.bulk_create([task for task, _result in self.tasks])
            for task, result in self.tasks:
                self.record(result, task=task, detail=task.title)
        if self.records:
            # One UPDATE … FROM (VALUES …) (PostgreSQL, and SQLite ≥ 3.33); `bulk_update` builds a
            # CASE per field and row, which cost more than all the rest of a batch.
            table = RunAction._meta.db_table
            rows = ", ".join(["(CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint), "
                              "CAST(%s AS text))"] * len(self.records))
            params: list[Any] = []
            for result in self.records:
                params += [result.pk, result.task_id, result.card_id, result.step_id, result.detail]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"WITH v (id, task_id, card_id, step_id, detail) AS (VALUES {rows}) "
                    f"UPDATE {table} SET status = %s, error = '', updated_at = %s, task_id = v.task_id, "
                    f"card_id = v.card_id, step_id = v.step_id, detail = v.detail FROM v WHERE {table}.id = v.id",
                    [*params, RunActionStatus.SUCCEEDED, connection.ops.adapt_datetimefield_value(timezone.now())],
                )
        self.tasks, self.records = [], []


class SendEmail(Action):
    kind = "send_email"
    label = _("Send email to customer")
    fields = ("subject", "body", "subject_de", "body_de", "sender_name", "reply_to", "digest")
    required = ("subject", "body")
    single_line = ("subject", "subject_de", "sender_name", "reply_to")

    @classmethod
    def execute(cls, *, run, action: ActionRow, result, now) -> None:
        invoices = None
        if action.digest:
            invoices = digest_invoices(run, action)
            if invoices is None:
                raise ActionSkipped(str(_("in one email with the customer's other invoices of this reminder")))
        send_for_run(run=run, action=action, result=result,
                     context=run_context(run, now=now, texts=(*action_texts(action, run.contact.language), action.sender_name),
                                         invoices=invoices))

    @classmethod
    def clean_kind_settings(cls, action: ActionRow, add) -> None:
        # The sender's name is filled in like the subject ("{{ business.name }} Billing"), so it
        # takes the same placeholders and refuses any other template syntax.
        _check_placeholders(action, add, ("subject", "body", "subject_de", "body_de", "sender_name"))
        if bool(action.subject_de) != bool(action.body_de):
            add("subject_de" if not action.subject_de else "body_de", ValidationError(
                _("Give the German email both a subject and a text, or leave both empty."), code="half_german"))

        if action.reply_to and "\n" not in action.reply_to and "\r" not in action.reply_to:
            try:
                validate_email(action.reply_to)
            except ValidationError:
                add("reply_to", ValidationError(_("Enter one valid email address."), code="invalid_reply_to"))
            else:
                if "," in action.reply_to or ";" in action.reply_to:
                    add("reply_to", ValidationError(_("Enter one valid email address."), code="invalid_reply_to"))


class CreateTask(Action):
    kind = "create_task"
    label = _("Create a task")
    fields = ("title", "description", "due_in_days", "assignee")
    required = ("title",)
    single_line = ("title",)

    batchable = True

    @classmethod
    def _build(cls, *, run, action: ActionRow, now):
        """The run's task, checked and not yet saved."""
        context = run_context(run, now=now, texts=(action.title, action.description))
        due = business_today(now) + dt.timedelta(days=action.due_in_days) if action.due_in_days is not None else None
        # Someone who left (their account switched off) gets no new work: the task goes to the team.
        assignee = action.assignee if action.assignee is not None and action.assignee.is_active else None
        try:
            return task_services.create_task(
                title=placeholders.single_line(placeholders.render_text(action.title, context))[:300],
                description=placeholders.render_text(action.description, context),
                due_date=due, assignee=assignee, contact=run.contact, invoice=run.event.invoice, run=run,
                save=False,
            )
        except DomainError as exc:
            raise ActionError(exc.message, permanent=True) from None

    @classmethod
    def execute(cls, *, run, action: ActionRow, result, now) -> None:
        # The task and its record commit together: a second attempt finds SUCCEEDED and stops.
        with transaction.atomic():
            if RunAction.objects.select_for_update().get(pk=result.pk).status == RunActionStatus.SUCCEEDED:
                return
            task = cls._build(run=run, action=action, now=now)
            task.save()
            _record(result, task=task, detail=task.title)

    @classmethod
    def prepare(cls, *, run, action: ActionRow, result, now, batch: ActionBatch) -> None:
        batch.tasks.append((cls._build(run=run, action=action, now=now), result))

    @classmethod
    def clean_kind_settings(cls, action: ActionRow, add) -> None:
        _check_placeholders(action, add, ("title", "description"))
        days = action.due_in_days
        if isinstance(days, int) and not isinstance(days, bool):
            if days < 0:
                add("due_in_days", ValidationError(_("The number of days cannot be negative."), code="negative_days"))
            elif days > MAX_DUE_IN_DAYS:
                add("due_in_days", ValidationError(
                    _("A task can be due at most %(max)d days later."), code="too_many_days",
                    params={"max": MAX_DUE_IN_DAYS},
                ))


class MoveCard(Action):
    kind = "move_card"
    label = _("Move card on workflow")
    fields = ("step",)
    required = ("step",)

    @classmethod
    def execute(cls, *, run, action: ActionRow, result, now) -> None:
        # The move and its record commit together: a second attempt finds SUCCEEDED and stops.
        with transaction.atomic():
            if RunAction.objects.select_for_update().get(pk=result.pk).status == RunActionStatus.SUCCEEDED:
                return
            card = cls._place(run=run, action=action)
            _record(result, **cls._moved(card))

    batchable = True

    @classmethod
    def _place(cls, *, run, action: ActionRow):
        # Required for this kind, and PROTECT keeps a step with actions from being deleted.
        assert action.step is not None, "a move_card action without its step"
        try:
            return workflow_services.place_card(contact=run.contact, step=action.step)
        except DomainError as exc:
            raise ActionError(exc.message, permanent=True) from None

    @staticmethod
    def _moved(card) -> dict[str, Any]:
        """What the record keeps: the card, the step it was moved to (the card moves on later, by
        hand or by another automation) and that step's name now (the step may be renamed or deleted)."""
        return {"card": card, "step": card.step, "detail": str(card.step)}

    @classmethod
    def prepare(cls, *, run, action: ActionRow, result, now, batch: ActionBatch) -> None:
        # Moved now (the board's lock is held to the batch's commit), recorded at the flush.
        batch.record(result, **cls._moved(cls._place(run=run, action=action)))


def _fee_key(run) -> str:
    """One charge per automation, reminder step and repetition of an invoice: a retry, or a second
    worker, finds the fee invoice made the first time (invoices.services: unique per key)."""
    event = run.event
    return f"automation-{run.automation_id}:step-{event.reminder_step_id}:{event.repeat}"


class _Charge(Action):
    """A reminder schedule's charge: an invoice of its own for the overdue invoice, sent at once."""

    schedule_only = True

    @classmethod
    def execute(cls, *, run, action: ActionRow, result, now) -> None:
        with transaction.atomic():
            if RunAction.objects.select_for_update().get(pk=result.pk).status == RunActionStatus.SUCCEEDED:
                return
            invoice = run.event.invoice
            try:
                fee_invoice = cls.charge(invoice=invoice, action=action, key=_fee_key(run), now=now)
            except DomainError as exc:
                raise ActionError(exc.message, permanent=True) from None
            if fee_invoice is None:
                raise ActionSkipped(str(_("no default interest is owed")))
            _record(result, fee_invoice=fee_invoice, detail=_("Invoice %(number)s for %(amount)s") % {
                "number": fee_invoice.number, "amount": format_money(fee_invoice.total, fee_invoice.currency)})

    @classmethod
    def charge(cls, *, invoice, action: ActionRow, key: str, now):
        raise NotImplementedError


class ChargeFee(_Charge):
    kind = "charge_fee"
    label = _("Charge a reminder fee")
    fields = ("fee",)
    required = ("fee",)

    @classmethod
    def charge(cls, *, invoice, action: ActionRow, key: str, now):
        assert action.fee is not None, "a charge_fee action without its fee"  # required for this kind
        return invoice_services.charge_reminder_fee(invoice=invoice, amount=action.fee, key=key, now=now)


class ChargeInterest(_Charge):
    kind = "charge_interest"
    label = _("Charge default interest (§ 288 BGB)")

    @classmethod
    def charge(cls, *, invoice, action: ActionRow, key: str, now):
        return invoice_services.charge_default_interest(invoice=invoice, key=key, now=now)


class CallWebhook(Action):
    """Posts the run's event to an address of the automation's own, signed with its secret: written
    into the webhooks app's outbox in the run's transaction (once per run and action: the message
    key), delivered and retried there (webhooks.services)."""

    kind = "call_webhook"
    label = _("Call a webhook")
    fields = ("webhook_url", "webhook_secret")
    required = ("webhook_url", "webhook_secret")
    single_line = ("webhook_url", "webhook_secret")

    @classmethod
    def execute(cls, *, run, action: ActionRow, result, now) -> None:
        with transaction.atomic():
            if RunAction.objects.select_for_update().get(pk=result.pk).status == RunActionStatus.SUCCEEDED:
                return
            event = run.event
            data: dict[str, Any] = {
                "automation": {"id": run.automation_id, "name": run.automation.name}, "run": {"id": run.pk},
                "contact": webhook_payloads.contact_data(run.contact)}
            if event.invoice is not None:
                data["invoice"] = webhook_payloads.invoice_data(event.invoice)
            if event.recurring is not None:
                data["recurring_payment"] = webhook_payloads.recurring_data(event.recurring)
            delivery = webhook_services.emit_to_url(
                url=action.webhook_url, secret=action.webhook_secret, event_type=event.kind, now=now,
                key=result.idempotency_key, data=data)
            _record(result, detail=_("Queued for %(url)s (%(id)s)") % {"url": action.webhook_url[:200],
                                                                       "id": delivery.webhook_id})

    @classmethod
    def clean_kind_settings(cls, action: ActionRow, add) -> None:
        if action.webhook_url:
            try:
                webhook_safety.validate_webhook_url(action.webhook_url.strip())
            except ValidationError as exc:
                add("webhook_url", exc)
        secret = action.webhook_secret
        if secret and not webhook_safety.is_valid_secret(secret):
            add("webhook_secret", ValidationError(
                _("Enter a signing secret like whsec_ followed by at least 24 bytes in base64."), code="bad_secret"))


ACTIONS: dict[str, type[Action]] = {cls.kind: cls for cls in (SendEmail, CreateTask, MoveCard, ChargeFee, ChargeInterest,
                                                              CallWebhook)}
