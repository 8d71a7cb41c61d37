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
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.money import quantize_money
from core.validators import validate_no_line_breaks

from business.validators import validate_country, validate_vat_id

from .validators import validate_currency

MONEY = {"max_digits": 14, "decimal_places": 2}


class Language(models.TextChoices):
    EN = "en", _("English")
    DE = "de", _("German")


class Tag(models.Model):
    """A label on contacts ("VIP", "Kulanz"): reminder schedules can be for tagged contacts only, or
    leave them out."""

    name = models.CharField(_("name"), max_length=50, unique=True, validators=[validate_no_line_breaks])

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    name = models.CharField(_("name"), max_length=200, validators=[validate_no_line_breaks])
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True, validators=[validate_no_line_breaks])
    company = models.CharField(_("company"), max_length=200, blank=True, validators=[validate_no_line_breaks])
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.EN,
        help_text=_("The language of the emails this contact receives."),
    )
    street = models.CharField(_("street and number"), max_length=200, blank=True, validators=[validate_no_line_breaks])
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True, validators=[validate_no_line_breaks])
    city = models.CharField(_("city"), max_length=100, blank=True, validators=[validate_no_line_breaks])
    country = models.CharField(_("country"), max_length=2, default="DE", validators=[validate_country])
    vat_id = models.CharField(_("VAT ID"), max_length=20, blank=True, validators=[validate_vat_id],
                              help_text=_("The customer's EU VAT ID; needed for reverse charge."))
    is_business = models.BooleanField(
        _("business customer"), default=False,
        help_text=_("A company rather than a consumer: gets the e-invoice, and reverse charge in other EU countries."))
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    # Mahnstopp: no payment reminders while paused (until the day given, or until resumed).
    reminders_paused = models.BooleanField(_("reminders paused"), default=False)
    reminders_paused_until = models.DateField(_("reminders paused until"), null=True, blank=True)
    reminders_pause_reason = models.CharField(_("why reminders are paused"), max_length=300, blank=True,
                                              validators=[validate_no_line_breaks])
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

    def reminders_paused_on(self, day: dt.date) -> bool:
        return self.reminders_paused and (self.reminders_paused_until is None or self.reminders_paused_until >= day)

    @property
    def has_address(self) -> bool:
        return bool(self.street and self.postal_code and self.city and self.country)

    def snapshot(self) -> dict:
        """The buyer as an invoice keeps it when it is sent."""
        return {"name": self.name, "company": self.company, "email": self.email, "street": self.street,
                "postal_code": self.postal_code, "city": self.city, "country": self.country, "vat_id": self.vat_id,
                "is_business": self.is_business}

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0] if self.name else ""

    @property
    def last_name(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


def tag_key(name: str) -> str:
    """What makes two tag names the same tag: case and runs of spaces do not count ("vip" is "VIP")."""
    return " ".join(name.split()).casefold()


def tag_ids_named(names: list[str] | tuple[str, ...]) -> list[int]:
    """The ids of the tags named so (see tag_key). Compared in Python (there are few tags): SQLite's
    case-insensitive match knows only ASCII letters, so "übersee" would not be the tag "Übersee" there."""
    wanted = {tag_key(name) for name in names}
    return [pk for pk, name in Tag.objects.values_list("pk", "name") if tag_key(name) in wanted]


def tagged(contacts: QuerySet[Contact], name: str) -> QuerySet[Contact]:
    """The contacts with the tag `name`, in any case ("vip" finds "VIP"), as the contact form matches
    tags; runs of spaces count as one."""
    return contacts.filter(Exists(Contact.tags.through.objects.filter(
        contact_id=OuterRef("pk"), tag_id__in=tag_ids_named([name]))))


class InvoiceSequence(models.Model):
    """The last invoice number handed out per year; bumped atomically (see services.next_numbers)."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice number sequence")


class CreditNoteSequence(models.Model):
    """The last credit note number handed out per year ("ST-2026-0001"): a series of its own."""

    year = models.PositiveIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("credit note number sequence")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")
    PAID = "paid", _("Paid")
    OVERDUE = "overdue", _("Overdue")
    VOID = "void", _("Void")
    # A credit note is issued, never paid or overdue (see InvoiceKind).
    ISSUED = "issued", _("Issued")


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    # Stornorechnung: cancels a sent invoice, which stays as it was (void), with its own numbers.
    CREDIT_NOTE = "credit_note", _("Credit note")


class TaxTreatment(models.TextChoices):
    STANDARD = "standard", _("VAT as on the lines")
    # § 19 UStG: no VAT at all, and the invoice says why.
    SMALL_BUSINESS = "small_business", _("Small business (§ 19 UStG): no VAT")
    # EU business customer in another member state: the customer accounts for the VAT.
    REVERSE_CHARGE = "reverse_charge", _("Reverse charge: the customer accounts for the VAT")


class Invoice(models.Model):
    Status = InvoiceStatus
    Kind = InvoiceKind

    number = models.CharField(_("number"), max_length=20, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    # A fee invoice's overdue invoice (reminder fee, default interest: never added to the invoice
    # itself), and which charge it is: unique per invoice, so a charge is never made twice.
    fee_for = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="fee_invoices",
        verbose_name=_("fees for"),
    )
    fee_key = models.CharField(_("charge"), max_length=100, blank=True, editable=False)
    # Mahnstopp: no payment reminders while paused (until the day given, or until resumed).
    reminders_paused = models.BooleanField(_("reminders paused"), default=False)
    reminders_paused_until = models.DateField(_("reminders paused until"), null=True, blank=True)
    reminders_pause_reason = models.CharField(_("why reminders are paused"), max_length=300, blank=True,
                                              validators=[validate_no_line_breaks])

    # A credit note's invoice (PROTECT: an invoice with a credit note can never be deleted).
    credit_for = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_note",
        verbose_name=_("credit note for"),
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("contact"))
    status = models.CharField(_("status"), max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    # Leistungsdatum: the day the goods were delivered or the service done, or the first day of a
    # service period that ends on service_end. Empty means "the issue date", which the invoice says.
    service_date = models.DateField(_("service date"), null=True, blank=True)
    service_end = models.DateField(_("end of the service period"), null=True, blank=True)
    tax_treatment = models.CharField(_("VAT"), max_length=20, choices=TaxTreatment.choices,
                                     default=TaxTreatment.STANDARD)
    # The seller (business profile) and the buyer (contact) as they were when the invoice was sent:
    # the document stays the same whatever changes later. Empty on drafts.
    seller = models.JSONField(_("seller"), default=dict, blank=True, editable=False)
    buyer = models.JSONField(_("buyer"), default=dict, blank=True, editable=False)
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
            # The API's list ordered by due date (?ordering=due_date), read in index order too.
            models.Index(fields=["due_date", "number"], name="invoice_due_order_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(due_date__gte=F("issue_date")), name="invoice_due_not_before_issue"),
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="invoice_kind_valid"),
            models.CheckConstraint(condition=Q(tax_treatment__in=TaxTreatment.values), name="invoice_tax_treatment_valid"),
            # Only credit notes are "issued", and a credit note is never anything else but draft.
            models.CheckConstraint(
                condition=(Q(kind="credit_note") & Q(credit_for__isnull=False) & Q(status__in=["issued", "draft"]))
                | (Q(kind="invoice") & Q(credit_for__isnull=True) & ~Q(status="issued")),
                name="invoice_credit_note_shape",
            ),
            models.CheckConstraint(
                condition=Q(service_end__isnull=True) | (Q(service_date__isnull=False) & Q(service_end__gte=F("service_date"))),
                name="invoice_service_period_in_order",
            ),
            models.UniqueConstraint(fields=["fee_for", "fee_key"], condition=Q(fee_for__isnull=False),
                                    name="invoice_one_fee_per_charge"),
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
        if self.service_end and not self.service_date:
            raise ValidationError({"service_date": _("A service period needs its first day too.")})
        if self.service_end and self.service_date and self.service_end < self.service_date:
            raise ValidationError({"service_end": _("The service period cannot end before it starts.")})

    def reminders_paused_on(self, day: dt.date) -> bool:
        """Paused itself, or its contact is (a pause ends after its until-day)."""
        own = self.reminders_paused and (self.reminders_paused_until is None or self.reminders_paused_until >= day)
        return own or self.contact.reminders_paused_on(day)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def is_partly_paid(self) -> bool:
        return self.is_open and 0 < self.amount_paid < self.total

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


class BaseRate(models.Model):
    """The base rate (Basiszinssatz, § 247 BGB) from a day on: default interest is this plus 5 or 9
    points (invoices.interest). The Bundesbank publishes it for 1 January and 1 July; the owner adds
    a row when it changes."""

    valid_from = models.DateField(_("valid from"), unique=True)
    rate = models.DecimalField(_("base rate (%)"), max_digits=5, decimal_places=2,
                               validators=[MinValueValidator(Decimal("-10")), MaxValueValidator(Decimal("20"))])

    class Meta:
        verbose_name = _("base interest rate")
        verbose_name_plural = _("base interest rates")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.rate} % ({self.valid_from})"


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
