"""Bank statements, their lines, and the CSV column mappings the owner keeps per bank.

A statement's lines are matched to open invoices when it is imported; a person confirms a line,
and only then is a payment recorded (invoices.services.record_payment). Statuses change only in
banking.services.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.validators import validate_no_line_breaks
from invoices.models import MONEY, Invoice, Payment


class StatementFormat(models.TextChoices):
    CAMT053 = "camt053", _("CAMT.053 (XML)")
    CSV = "csv", _("CSV")


class Delimiter(models.TextChoices):
    SEMICOLON = ";", _("Semicolon ;")
    COMMA = ",", _("Comma ,")
    TAB = "\t", _("Tab")


class Encoding(models.TextChoices):
    AUTO = "auto", _("Detect (UTF-8 or Windows-1252)")
    UTF8 = "utf-8", _("UTF-8")
    CP1252 = "cp1252", _("Windows-1252 (Latin-1 with €)")
    LATIN1 = "iso-8859-1", _("ISO-8859-1 (Latin-1)")
    LATIN9 = "iso-8859-15", _("ISO-8859-15 (Latin-9)")


class DateFormat(models.TextChoices):
    DMY = "%d.%m.%Y", "31.12.2026"
    DMY_SHORT = "%d.%m.%y", "31.12.26"
    ISO = "%Y-%m-%d", "2026-12-31"
    DMY_SLASH = "%d/%m/%Y", "31/12/2026"
    MDY_SLASH = "%m/%d/%Y", "12/31/2026"


COLUMN_HELP = _("The column's heading as the file has it (“Buchungstag”), or its number counted from 1.")


class CsvMapping(models.Model):
    """How one bank's CSV export reads: delimiter, number and date format, encoding, and which
    column holds what. The owner saves one per bank and picks it on every upload."""

    name = models.CharField(_("bank"), max_length=100, unique=True, validators=[validate_no_line_breaks])
    delimiter = models.CharField(_("delimiter"), max_length=1, choices=Delimiter.choices, default=Delimiter.SEMICOLON)
    decimal_comma = models.BooleanField(_("decimal comma"), default=True,
                                        help_text=_("Amounts are written 1.234,56 (German) rather than 1,234.56."))
    date_format = models.CharField(_("date format"), max_length=10, choices=DateFormat.choices, default=DateFormat.DMY)
    encoding = models.CharField(_("encoding"), max_length=12, choices=Encoding.choices, default=Encoding.AUTO)
    header_row = models.PositiveIntegerField(
        _("header row"), default=0, validators=[MaxValueValidator(1000)],
        help_text=_("The line the column headings are on, counted from 1; 0 finds it (the first line that has "
                    "the date and amount columns). Lines above it (account, period, balance) are skipped."))
    date_column = models.CharField(_("booking date column"), max_length=100, help_text=COLUMN_HELP)
    value_date_column = models.CharField(_("value date column"), max_length=100, blank=True, help_text=COLUMN_HELP)
    amount_column = models.CharField(_("amount column"), max_length=100,
                                     help_text=_("Money in is positive, money out negative."))
    currency_column = models.CharField(_("currency column"), max_length=100, blank=True,
                                       help_text=_("Empty: every amount is in the default currency."))
    payer_column = models.CharField(_("payer column"), max_length=100, blank=True, help_text=COLUMN_HELP)
    iban_column = models.CharField(_("payer IBAN column"), max_length=100, blank=True, help_text=COLUMN_HELP)
    text_column = models.CharField(_("remittance text column"), max_length=100, help_text=COLUMN_HELP)
    reference_column = models.CharField(
        _("bank reference column"), max_length=100, blank=True,
        help_text=_("A column with a reference the bank gives each transaction once. Empty: the line's date, "
                    "amount, payer and text identify it."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("CSV mapping")
        verbose_name_plural = _("CSV mappings")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="csvmapping_name_not_empty"),
            models.CheckConstraint(condition=Q(delimiter__in=Delimiter.values), name="csvmapping_delimiter_valid"),
            models.CheckConstraint(condition=Q(encoding__in=Encoding.values), name="csvmapping_encoding_valid"),
            models.CheckConstraint(condition=Q(date_format__in=DateFormat.values), name="csvmapping_date_format_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class StatementStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Reading")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


class BankStatement(models.Model):
    """One uploaded file. Small files are read in the request; large ones by a worker, which
    reports its `progress` (0–100) for the page's progress bar."""

    Status = StatementStatus

    file_name = models.CharField(_("file"), max_length=255)
    format = models.CharField(_("format"), max_length=10, choices=StatementFormat.choices)
    mapping = models.ForeignKey(CsvMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("CSV mapping"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # The file while a worker has yet to read it; emptied once it is read.
    content = models.BinaryField(_("content"), default=b"", editable=False)
    status = models.CharField(_("status"), max_length=10, choices=StatementStatus.choices, default=StatementStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    error = models.TextField(_("error"), blank=True)
    account_iban = models.CharField(_("account IBAN"), max_length=34, blank=True)
    period_start = models.DateField(_("from"), null=True, blank=True)
    period_end = models.DateField(_("to"), null=True, blank=True)
    lines_total = models.PositiveIntegerField(_("lines"), default=0)
    lines_new = models.PositiveIntegerField(_("new lines"), default=0)
    lines_known = models.PositiveIntegerField(_("already imported"), default=0)
    lines_debit = models.PositiveIntegerField(_("money out"), default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    finished_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-uploaded_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=StatementStatus.values), name="statement_status_valid"),
            models.CheckConstraint(condition=Q(format__in=StatementFormat.values), name="statement_format_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="statement_progress_percent"),
        ]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_busy(self) -> bool:
        return self.status in (StatementStatus.QUEUED, StatementStatus.PROCESSING)


class TransactionStatus(models.TextChoices):
    NEW = "new", _("No match")
    SUGGESTED = "suggested", _("Suggested")
    CONFIRMED = "confirmed", _("Recorded")
    IGNORED = "ignored", _("Ignored")


OPEN_LINE_STATUSES = (TransactionStatus.NEW, TransactionStatus.SUGGESTED)


class MatchKind(models.TextChoices):
    NONE = "", _("None")
    EXACT = "exact", _("Exact")
    PARTIAL = "partial", _("Partial payment")
    OVER = "over", _("Overpayment")
    PROBABLE = "probable", _("Probable")
    WEAK = "weak", _("Weak")


class BankTransaction(models.Model):
    """One line of a statement: money in (or out, shown and ignored).

    `key` is unique across all statements: the bank's own reference for the transaction where the
    file has one, else a hash of what identifies the line (see banking.parsing). A line imported
    again, from the same file or an overlapping statement, finds its key taken and is not stored
    twice, so it can never be recorded twice.
    """

    Status = TransactionStatus

    statement = models.ForeignKey(BankStatement, on_delete=models.CASCADE, related_name="transactions",
                                  verbose_name=_("statement"))
    key = models.CharField(_("key"), max_length=64, unique=True)
    bank_reference = models.CharField(_("bank reference"), max_length=140, blank=True)
    line = models.PositiveIntegerField(_("line in the file"), default=0)
    booking_date = models.DateField(_("booking date"))
    value_date = models.DateField(_("value date"), null=True, blank=True)
    is_credit = models.BooleanField(_("money in"), default=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3)
    payer_name = models.CharField(_("payer"), max_length=200, blank=True)
    payer_iban = models.CharField(_("payer IBAN"), max_length=34, blank=True)
    remittance = models.TextField(_("remittance text"), blank=True, max_length=2000)
    status = models.CharField(_("status"), max_length=10, choices=TransactionStatus.choices, default=TransactionStatus.NEW)
    invoice = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("suggested invoice"))
    match_kind = models.CharField(_("match"), max_length=10, choices=MatchKind.choices, default="", blank=True)
    confidence = models.PositiveSmallIntegerField(_("confidence"), default=0)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    # Other open invoices the line might pay, best first: [invoice id, …].
    candidates = models.JSONField(_("other candidates"), default=list, blank=True)
    # A refusal of the last attempt to record it (the invoice was paid meanwhile, …), shown on the line.
    error = models.CharField(_("error"), max_length=500, blank=True)
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="bank_transaction",
                                   verbose_name=_("payment"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank transaction")
        verbose_name_plural = _("bank transactions")
        ordering = ["statement", "line", "pk"]
        indexes = [models.Index(fields=["statement", "status"], name="banktx_statement_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TransactionStatus.values), name="banktx_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="banktx_amount_positive"),
            models.CheckConstraint(condition=Q(confidence__lte=100), name="banktx_confidence_percent"),
            # Recorded exactly when it has its payment; money out is never recorded.
            models.CheckConstraint(
                condition=(Q(status="confirmed") & Q(payment__isnull=False) & Q(is_credit=True))
                | (~Q(status="confirmed") & Q(payment__isnull=True)),
                name="banktx_confirmed_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booking_date} {self.amount} {self.currency} {self.payer_name}".strip()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LINE_STATUSES
