"""Contacts, invoices, their line items and payments, and recurring payment plans.

Statuses are changed only by `invoices.services`; the models hold data, the database constraints
that keep it sane, and the arithmetic (`Invoice.compute_totals`) in one place.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import quantize_money
from core.validators import validate_no_line_breaks

from .validators import validate_currency

MONEY = {"max_digits": 14, "decimal_places": 2}


class Language(models.TextChoices):
    EN = "en", _("English")
    DE = "de", _("German")


class Contact(models.Model):
    name = models.CharField(_("name"), max_length=200, validators=[validate_no_line_breaks])
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True, validators=[validate_no_line_breaks])
    company = models.CharField(_("company"), max_length=200, blank=True, validators=[validate_no_line_breaks])
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.EN,
        help_text=_("The language of the emails this contact receives."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["email"])]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="contact_name_not_empty"),
            # An address with a line break could inject headers into an email.
            models.CheckConstraint(
                condition=~Q(email__contains="\n") & ~Q(email__contains="\r"),
                name="contact_email_single_line",
            ),
            models.CheckConstraint(condition=Q(language__in=Language.values), name="contact_language_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0] if self.name else ""

    @property
    def last_name(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


class InvoiceSequence(models.Model):
    """The last invoice number handed out per year; bumped atomically (see services.next_numbers)."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice number sequence")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    PAID = "paid", _("Paid")
    OVERDUE = "overdue", _("Overdue")
    VOID = "void", _("Void")


class Invoice(models.Model):
    Status = InvoiceStatus

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("contact"))
    status = models.CharField(_("status"), max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    # TextField's max_length only sizes the form widget: the validator makes full_clean enforce it.
    notes = models.TextField(_("notes"), blank=True, max_length=10_000, validators=[MaxLengthValidator(10_000)])
    # Cached sums, written only by services (recalculate_invoice, record_payment) so lists,
    # the dashboard and the overdue scan can filter and add up in SQL.
    subtotal = models.DecimalField(_("subtotal"), **MONEY, default=Decimal("0"))
    tax_total = models.DecimalField(_("tax"), **MONEY, default=Decimal("0"))
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"))
    amount_paid = models.DecimalField(_("amount paid"), **MONEY, default=Decimal("0"))
    recurring = models.ForeignKey(
        "RecurringPayment", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices",
        verbose_name=_("recurring payment"),
    )
    period_start = models.DateField(_("period start"), null=True, blank=True)
    # Part of every signed public link; raising it revokes the links given out so far.
    public_link_version = models.PositiveIntegerField(_("public link version"), default=0, editable=False)
    # The services' clock (`now=`), so an invoice created with a past moment (imported, the demo)
    # is not "created" after it was sent.
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("overdue since"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-number"]
        indexes = [
            # The overdue scan reads only sent invoices by due date.
            models.Index(fields=["due_date"], condition=Q(status="sent"), name="invoice_sent_due_idx"),
            models.Index(fields=["status", "due_date"], name="invoice_status_due_idx"),
            models.Index(fields=["contact", "status"], name="invoice_contact_status_idx"),
            # The invoice list's order (newest first), so page 1 of a million is an index read.
            models.Index(fields=["-issue_date", "-number"], name="invoice_list_order_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(due_date__gte=F("issue_date")), name="invoice_due_not_before_issue"),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_not_negative"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_paid_not_negative"),
            models.CheckConstraint(condition=Q(amount_paid__lte=F("total")), name="invoice_no_overpayment"),
            # Rounded: SQLite adds decimals as binary floats (779.90 + 148.18 != 928.08 there).
            models.CheckConstraint(condition=Q(total=Round(F("subtotal") + F("tax_total"), 2)), name="invoice_total_adds_up"),
            # One invoice per period of a recurring plan, however often the scheduler runs.
            models.UniqueConstraint(
                fields=["recurring", "period_start"], condition=Q(recurring__isnull=False),
                name="invoice_one_per_recurring_period",
            ),
        ]

    def __str__(self) -> str:
        return self.number or str(_("New invoice"))

    def clean(self) -> None:
        if self.issue_date and self.due_date and self.due_date < self.issue_date:
            raise ValidationError({"due_date": _("The due date cannot be before the issue date.")})

    @property
    def balance(self) -> Decimal:
        """What is still owed: the total less what has been paid."""
        return self.total - self.amount_paid

    amount_due = balance

    @property
    def is_open(self) -> bool:
        return self.status in (InvoiceStatus.SENT, InvoiceStatus.OVERDUE)

    def days_overdue(self, today: dt.date) -> int:
        return max(0, (today - self.due_date).days)

    def compute_totals(self, items=None) -> tuple[Decimal, Decimal, Decimal]:
        """(subtotal, tax, total) from the line items: the one place the arithmetic lives.

        Each line's net and tax are rounded to cents before adding up, as printed invoices show them.
        """
        items = list(self.items.all()) if items is None else list(items)
        subtotal = sum((item.net_amount for item in items), Decimal("0"))
        tax = sum((item.tax_amount for item in items), Decimal("0"))
        return subtotal, tax, subtotal + tax


class LineItem(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items", verbose_name=_("invoice"))
    position = models.PositiveIntegerField(_("position"), default=0)
    description = models.CharField(_("description"), max_length=500)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=3, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.001"))],
    )
    unit_price = models.DecimalField(
        _("unit price"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))]
    )
    tax_rate = models.DecimalField(
        _("tax rate (%)"), max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )

    class Meta:
        verbose_name = _("line item")
        verbose_name_plural = _("line items")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="lineitem_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="lineitem_price_positive"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="lineitem_tax_rate_range"),
            models.CheckConstraint(condition=~Q(description=""), name="lineitem_description_not_empty"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def net_amount(self) -> Decimal:
        return quantize_money((self.quantity or 0) * (self.unit_price or 0))

    @property
    def tax_amount(self) -> Decimal:
        return quantize_money(self.net_amount * (self.tax_rate or 0) / 100)


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CARD = "card", _("Card")
    CASH = "cash", _("Cash")
    OTHER = "other", _("Other")


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments", verbose_name=_("invoice"))
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    date = models.DateField(_("date"))
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.BANK_TRANSFER)
    reference = models.CharField(_("reference"), max_length=200, blank=True, validators=[validate_no_line_breaks])
    created_at = models.DateTimeField(_("recorded"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-date", "-pk"]
        # The dashboard adds up the payments of this month.
        indexes = [models.Index(fields=["date"], name="payment_date_idx")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.invoice.currency} · {self.invoice.number}"


class Interval(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    YEARLY = "yearly", _("Yearly")


class RecurringStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    ACTIVE = "active", _("Active")
    CANCELED = "canceled", _("Canceled")
    ENDED = "ended", _("Ended")


class RecurringPayment(models.Model):
    """A plan that issues one invoice per period (week, month, year) while it is active."""

    Status = RecurringStatus

    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="recurring_payments", verbose_name=_("contact")
    )
    description = models.CharField(_("description"), max_length=500)
    amount = models.DecimalField(_("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    tax_rate = models.DecimalField(
        _("tax rate (%)"), max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    interval = models.CharField(_("interval"), max_length=10, choices=Interval.choices, default=Interval.MONTHLY)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True, help_text=_("Leave empty to run until canceled."))
    payment_terms_days = models.PositiveIntegerField(
        _("payment terms (days)"), default=14, help_text=_("Each invoice is due this many days after it is issued.")
    )
    status = models.CharField(_("status"), max_length=10, choices=RecurringStatus.choices, default=RecurringStatus.SCHEDULED)
    # The start of the next period to invoice; advanced by issue_recurring_invoices.
    next_date = models.DateField(_("next invoice"), null=True, blank=True)
    periods_issued = models.PositiveIntegerField(_("invoices issued"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("canceled"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("recurring payment")
        verbose_name_plural = _("recurring payments")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_date"], name="recurring_status_next_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recurring_amount_positive"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0) & Q(tax_rate__lte=100), name="recurring_tax_rate_range"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="recurring_end_not_before_start",
            ),
            models.CheckConstraint(condition=Q(status__in=RecurringStatus.values), name="recurring_status_valid"),
            models.CheckConstraint(condition=Q(interval__in=Interval.values), name="recurring_interval_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.description} · {self.contact.name}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The end date cannot be before the start date.")})
