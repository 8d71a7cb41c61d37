"""Automations (trigger → frequency limit → ordered actions) and their history.

`Event` is the outbox: one row per thing that happened, written in the transaction of the state
change. `Run` is one automation handling one event (unique per pair); `RunAction` is what each of
its actions did. The dispatching engine lives in `automations.services` / `automations.jobs`.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .triggers import Frequency, Trigger


class ActionKind(models.TextChoices):
    SEND_EMAIL = "send_email", _("Send email to customer")
    CREATE_TASK = "create_task", _("Create a task")
    MOVE_CARD = "move_card", _("Move card on workflow")
    # Reminder schedules only: a fee or default interest, charged as an invoice of its own.
    CHARGE_FEE = "charge_fee", _("Charge a reminder fee")
    CHARGE_INTEREST = "charge_interest", _("Charge default interest (§ 288 BGB)")
    # Posts the event, signed per Standard Webhooks, through the webhooks app's outbox.
    CALL_WEBHOOK = "call_webhook", _("Call a webhook")


# Every settings field of the Action row, whichever kind uses it (each kind says which it uses).
SETTINGS_FIELDS: tuple[str, ...] = (
    "subject", "body", "subject_de", "body_de", "sender_name", "reply_to", "digest", "title", "description",
    "due_in_days", "assignee", "step", "fee", "webhook_url", "webhook_secret",
)


@cache
def action_class(kind: str) -> Any:
    """The class that carries out an action kind (`automations.actions.ACTIONS[kind]`), looked up
    on first use, so that this module imports none of the modules that import it."""
    return import_string("automations.actions.ACTIONS")[kind]


class Automation(models.Model):
    Trigger = Trigger
    Frequency = Frequency

    name = models.CharField(_("name"), max_length=200)
    trigger = models.CharField(_("trigger"), max_length=30, choices=Trigger.choices)
    frequency = models.CharField(
        _("limit frequency"), max_length=30, choices=Frequency.choices, default=Frequency.UNLIMITED
    )
    is_active = models.BooleanField(_("active"), default=False)
    # Reminder schedules: which invoices they are for (automations.conditions), and whether invoices
    # already due before this day are left out (switched on for "new invoices only").
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    schedule_from = models.DateField(_("for invoices due from"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["trigger", "is_active"], name="automation_trigger_active_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="automation_name_not_empty"),
            models.CheckConstraint(condition=Q(trigger__in=Trigger.values), name="automation_trigger_valid"),
            models.CheckConstraint(condition=Q(frequency__in=Frequency.values), name="automation_frequency_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Action(models.Model):
    """One step of an automation. Which fields matter depends on `kind` (see automations.actions)."""

    Kind = ActionKind

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="actions", verbose_name=_("automation"))
    position = models.PositiveIntegerField(_("position"), default=0)
    kind = models.CharField(_("action"), max_length=20, choices=ActionKind.choices)
    # A reminder schedule's actions belong to one of its steps; other automations' to none.
    reminder_step = models.ForeignKey(
        "ReminderStep", on_delete=models.CASCADE, null=True, blank=True, related_name="actions",
        verbose_name=_("reminder step"),
    )
    # send_email: the English text (also for contacts of any other language) and the German one
    # (for contacts whose language is German; the English one when it is empty).
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True, max_length=20_000, validators=[MaxLengthValidator(20_000)])
    subject_de = models.CharField(_("subject (German)"), max_length=300, blank=True)
    body_de = models.TextField(_("body (German)"), blank=True, max_length=20_000, validators=[MaxLengthValidator(20_000)])
    # One email per customer listing all their invoices at this reminder step, instead of one each.
    digest = models.BooleanField(_("one email per customer"), default=False)
    sender_name = models.CharField(_("sender name"), max_length=100, blank=True)
    reply_to = models.EmailField(_("reply-to"), blank=True)
    # create_task
    title = models.CharField(_("task title"), max_length=300, blank=True)
    description = models.TextField(
        _("task description"), blank=True, max_length=10_000, validators=[MaxLengthValidator(10_000)]
    )
    due_in_days = models.PositiveIntegerField(_("due in (days)"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("assignee"), help_text=_("Leave empty to give the task to the whole team."),
    )
    # move_card
    step = models.ForeignKey(
        "workflows.Step", on_delete=models.PROTECT, null=True, blank=True, related_name="actions",
        verbose_name=_("workflow step"),
    )
    # charge_fee
    fee = models.DecimalField(_("fee"), max_digits=8, decimal_places=2, null=True, blank=True,
                              validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("10000"))])
    # call_webhook: where to post and the Standard Webhooks secret it is signed with.
    webhook_url = models.CharField(_("webhook URL"), max_length=2000, blank=True)
    webhook_secret = models.CharField(_("signing secret"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["automation", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ActionKind.values), name="action_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind="send_email") | (~Q(subject="") & ~Q(body="")),
                name="action_email_has_subject_and_body",
            ),
            models.CheckConstraint(condition=~Q(kind="create_task") | ~Q(title=""), name="action_task_has_title"),
            models.CheckConstraint(
                condition=(Q(kind="move_card") & Q(step__isnull=False)) | (~Q(kind="move_card") & Q(step__isnull=True)),
                name="action_step_only_for_move_card",
            ),
            models.CheckConstraint(
                condition=(Q(kind="charge_fee") & Q(fee__isnull=False)) | (~Q(kind="charge_fee") & Q(fee__isnull=True)),
                name="action_fee_only_for_charge_fee",
            ),
        ]

    def __str__(self) -> str:
        # Named with its automation: Django's "cannot delete, protected objects" pages (a user who
        # is an assignee, a step) list actions by this text, and the person must know which
        # automation to change.
        return _("“%(automation)s”, action %(n)d: %(kind)s") % {
            "automation": self.automation.name if self.automation_id else "", "n": self.position + 1,
            "kind": self.get_kind_display()}

    def clean(self) -> None:
        if self.kind in ActionKind.values:  # an unknown kind is reported by the field's own validation
            action_class(self.kind).clean_settings(self)


class ReminderStep(models.Model):
    """One step (level, Mahnstufe) of a reminder schedule: its day relative to the due date (−3:
    three days before, 0: on the day, 14: two weeks after) and its actions. Steps fire in order,
    never one skipped: a step waits for the one before it, then for the days between them. The last
    one may repeat every N days, at most K times, while the invoice is unpaid."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="reminder_steps",
                                   verbose_name=_("automation"))
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=100)
    days = models.IntegerField(_("days from the due date"),
                               validators=[MinValueValidator(-365), MaxValueValidator(3650)])
    repeat_every_days = models.PositiveIntegerField(_("repeat every (days)"), null=True, blank=True,
                                                    validators=[MinValueValidator(1), MaxValueValidator(365)])
    repeat_times = models.PositiveIntegerField(_("repeat at most (times)"), null=True, blank=True,
                                               validators=[MinValueValidator(1), MaxValueValidator(30)])

    class Meta:
        verbose_name = _("reminder step")
        verbose_name_plural = _("reminder steps")
        ordering = ["automation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "position"], name="reminder_step_one_per_position"),
            # "Repeat every N days, at most K times": both or neither.
            models.CheckConstraint(condition=Q(repeat_every_days__isnull=True, repeat_times__isnull=True)
                                   | Q(repeat_every_days__isnull=False, repeat_times__isnull=False),
                                   name="reminder_step_repeat_complete"),
        ]

    def __str__(self) -> str:
        return self.name


class ReminderState(models.Model):
    """How far a reminder schedule has come for one invoice: the last step it fired (and how often
    that step repeated), for the due date it was fired for. A changed due date starts it again.
    The scan moves it on in the transaction that writes the step's event (automations.reminders)."""

    # Written only by the scan, from rows it has just read, and deleted with their automation or
    # invoice by Django: no foreign keys in the database (each was checked at commit for every row
    # the scan writes), and no index of its own for the automation (the unique constraint's leads
    # with it).
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+", db_index=False,
                                   db_constraint=False)
    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    due_date = models.DateField()
    position = models.PositiveIntegerField()
    repeats = models.PositiveIntegerField(default=0)
    fired_at = models.DateTimeField()

    class Meta:
        verbose_name = _("reminder progress")
        constraints = [models.UniqueConstraint(fields=["automation", "invoice"], name="reminder_state_one_per_invoice")]


class Event(models.Model):
    """The outbox: written in the same transaction as the state change it records."""

    kind = models.CharField(_("trigger"), max_length=30, choices=Trigger.choices)
    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="events",
        verbose_name=_("invoice"),
    )
    # Indexed only where set (a partial index below): most events are about invoices.
    recurring = models.ForeignKey(
        "invoices.RecurringPayment", on_delete=models.PROTECT, null=True, blank=True, related_name="events",
        verbose_name=_("recurring payment"), db_index=False,
    )
    # Always the invoice's or the plan's contact, copied by the outbox receiver in the same statement
    # that reads it, so no foreign key or index of its own in the database: both were checked and
    # written for every row of the overdue scan's bulk insert (about 0.8 s per 100,000 events) and
    # no query looks events up by contact. Django still protects a contact that has events.
    contact = models.ForeignKey(
        "invoices.Contact", on_delete=models.PROTECT, related_name="events", verbose_name=_("contact"),
        db_constraint=False, db_index=False,
    )
    # A reminder step's event is for one automation and one of its steps (`repeat`: the how-manieth
    # repetition of a repeating last step, 0 for its first time); other events for every automation
    # of their trigger.
    # No foreign keys in the database for these two (Django still cascades and nulls them on
    # delete): each was checked, at commit, for every row of the reminder scan's bulk insert.
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                   db_index=False, db_constraint=False, verbose_name=_("automation"))
    reminder_step = models.ForeignKey(ReminderStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                      db_index=False, db_constraint=False, verbose_name=_("reminder step"))
    repeat = models.PositiveIntegerField(_("repetition"), default=0, db_default=0)
    # Makes an event that must happen once (an invoice overdue for a due date) unique: see the
    # constraint below.
    key = models.CharField(_("key"), max_length=100, null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred"))
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        # By id, which follows time: no index on occurred_at to maintain on the overdue scan's
        # bulk insert (each index is paid for 100,000 times there).
        ordering = ["-pk"]
        indexes = [
            # The sweeper looks only at events not yet dispatched.
            models.Index(fields=["occurred_at"], condition=Q(dispatched_at__isnull=True), name="event_undispatched_idx"),
            models.Index(fields=["recurring"], condition=Q(recurring__isnull=False), name="event_recurring_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=Trigger.values), name="event_kind_valid"),
            models.CheckConstraint(
                condition=Q(invoice__isnull=False) | Q(recurring__isnull=False), name="event_has_subject"
            ),
            # A constraint rather than unique=True: on PostgreSQL that would add a second index on
            # key (varchar_pattern_ops, for LIKE) that no query uses and that the overdue scan's
            # bulk insert paid for on every row.
            models.UniqueConstraint(fields=["key"], name="event_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.invoice or self.recurring}"


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class LeasedWork(models.Model):
    """Work a queue task carries out at least once and records so that it is done once: an
    automation's run, an invoice's email. A worker takes a lease on the row and counts the attempt
    before it starts (automations.dispatch.claim), a temporary failure waits for its backoff, and
    the sweeper hands out again what a dead worker left behind."""

    reason = models.CharField(_("reason"), max_length=300, blank=True, help_text=_("Why it was skipped."))
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # The lease of the worker carrying it out; an expired lease means that worker died.
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # When a temporary failure may be tried again (backoff).
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        abstract = True


class Run(LeasedWork):
    Status = RunStatus

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs", verbose_name=_("automation"))
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="runs", verbose_name=_("event"))
    contact = models.ForeignKey("invoices.Contact", on_delete=models.PROTECT, related_name="+", verbose_name=_("contact"))
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["automation", "contact", "status"], name="run_automation_contact_idx"),
            # The sweeper looks only at pending runs.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="run_pending_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["automation", "event"], name="run_one_per_automation_event"),
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="run_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.automation.name} · {self.event}"


class RunActionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SUCCEEDED = "succeeded", _("Done")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (may have been sent)")


class DeliveryStatus(models.TextChoices):
    """What the ESP's tracking webhook says happened to an email: anymail's event types
    (anymail.signals.EventType), named for people. A type anymail adds later shows as it is."""

    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")
    DEFERRED = "deferred", _("Deferred")
    DELIVERED = "delivered", _("Delivered")
    AUTORESPONDED = "autoresponded", _("Auto-reply received")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Link clicked")
    COMPLAINED = "complained", _("Marked as spam")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNKNOWN = "unknown", _("Unknown")


class RunAction(models.Model):
    Status = RunActionStatus

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results", verbose_name=_("run"))
    action = models.ForeignKey(Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("action"))
    position = models.PositiveIntegerField(_("position"))
    kind = models.CharField(_("action"), max_length=20, choices=ActionKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=RunActionStatus.choices, default=RunActionStatus.PENDING)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    task = models.ForeignKey("tasks.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("task"))
    card = models.ForeignKey("workflows.Card", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("card"))
    # Where the action moved the card: the card itself moves on (dragged by a person, moved by
    # another automation). `detail` keeps the step's name of that moment, for a step deleted since.
    step = models.ForeignKey("workflows.Step", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name=_("moved to step"))
    fee_invoice = models.ForeignKey("invoices.Invoice", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("fee invoice"))
    email_to = models.EmailField(_("sent to"), blank=True)
    message_id = models.CharField(_("message id"), max_length=300, blank=True)
    email_status = models.CharField(_("delivery status"), max_length=30, blank=True, choices=DeliveryStatus.choices)
    detail = models.TextField(_("detail"), blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("action result")
        verbose_name_plural = _("action results")
        ordering = ["run", "position"]
        indexes = [models.Index(fields=["message_id"], name="runaction_message_idx")]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="runaction_one_per_run_position"),
            models.CheckConstraint(condition=Q(status__in=RunActionStatus.values), name="runaction_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_status_display()}"


class ContactGate(models.Model):
    """The frequency limit's memory: which run last passed for an (automation, contact).

    Decided by one atomic upsert (see automations.dispatch.pass_gate): a "once per contact" run
    passes only by inserting the row, a "24 hours" run only by replacing one older than 24 hours.
    The row always exists once a run passed, so the database serialises two workers on it.
    """

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("invoices.Contact", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    passed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("frequency limit record")
        constraints = [models.UniqueConstraint(fields=["automation", "contact"], name="gate_one_per_automation_contact")]


class DigestLock(models.Model):
    """Which run sends the one email to a customer about all their invoices at a reminder step (an
    email action with `digest`): the first of the step's runs for that customer from one scan
    takes it (unique), the others are skipped as included in that email."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+")
    reminder_step = models.ForeignKey(ReminderStep, on_delete=models.CASCADE, related_name="+")
    repeat = models.PositiveIntegerField(default=0)
    contact = models.ForeignKey("invoices.Contact", on_delete=models.CASCADE, related_name="+")
    action_position = models.PositiveIntegerField()
    scanned_at = models.DateTimeField()  # the scan's moment: its events' occurred_at
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["automation", "reminder_step", "repeat", "contact", "action_position", "scanned_at"],
            name="digest_one_email_per_customer")]


class DispatchFlag(models.Model):
    """One row (pk=1): whether a dispatch task is already waiting in the queue."""

    requested = models.BooleanField(default=False)
    requested_at = models.DateTimeField(null=True, blank=True)


class InvoiceEmailKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    RESEND = "resend", _("Sent again")


class InvoiceEmailStatus(models.TextChoices):
    """The same values as an action's email (RunActionStatus): one ledger serves both
    (automations.mailer.send_recorded)."""

    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SUCCEEDED = "succeeded", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (may have been sent)")


class InvoiceEmail(LeasedWork):
    """An invoice (or credit note) emailed to its contact: the outbox row of one email, written in
    the transaction that sent the invoice (or voided it, or asked to send it again), carried out by
    a queue task (automations.delivery) and its own ledger: `pending → sending → succeeded`; a
    `sending` found by a later attempt becomes `unknown` and is never sent again by itself."""

    Kind = InvoiceEmailKind
    Status = InvoiceEmailStatus

    invoice = models.ForeignKey("invoices.Invoice", on_delete=models.PROTECT, related_name="emails",
                                verbose_name=_("invoice"))
    kind = models.CharField(_("kind"), max_length=12, choices=InvoiceEmailKind.choices, default=InvoiceEmailKind.INVOICE)
    status = models.CharField(_("status"), max_length=10, choices=InvoiceEmailStatus.choices,
                              default=InvoiceEmailStatus.PENDING)
    # The contact's address when the email was asked for (empty: it is skipped).
    email_to = models.EmailField(_("sent to"), blank=True)
    # Fixes the email's Message-ID and the ESPs' idempotency key: one email, however often handed over.
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    message_id = models.CharField(_("message id"), max_length=300, blank=True)
    email_status = models.CharField(_("delivery status"), max_length=30, blank=True, choices=DeliveryStatus.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("asked for by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice email")
        verbose_name_plural = _("invoice emails")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["message_id"], name="invoiceemail_message_idx"),
            # The sweeper looks only at emails not finished.
            models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "sending"]),
                         name="invoiceemail_open_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=InvoiceEmailStatus.values), name="invoiceemail_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceEmailKind.values), name="invoiceemail_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.email_to or '—'} · {self.get_status_display()}"


class EmailEvent(models.Model):
    """A delivery event of an automation's or an invoice's email, from the ESP's tracking webhook (anymail)."""

    result = models.ForeignKey(RunAction, on_delete=models.CASCADE, null=True, blank=True, related_name="email_events",
                               verbose_name=_("action result"))
    invoice_email = models.ForeignKey(InvoiceEmail, on_delete=models.CASCADE, null=True, blank=True,
                                      related_name="email_events", verbose_name=_("invoice email"))
    message_id = models.CharField(_("message id"), max_length=300, db_index=True)
    event_id = models.CharField(_("event id"), max_length=300, unique=True)
    event_type = models.CharField(_("event"), max_length=30, choices=DeliveryStatus.choices)
    timestamp = models.DateTimeField(_("time"), null=True, blank=True)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    description = models.TextField(_("description"), blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("email event")
        verbose_name_plural = _("email events")
        ordering = ["-timestamp", "-pk"]

    def __str__(self) -> str:
        return f"{self.event_type} · {self.recipient}"
