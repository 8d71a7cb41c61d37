"""Forms of the bank pages: the upload, a line's confirmation, and a bank's CSV mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from core.forms import LocalizedDecimalField, SubmitOnceMixin
from invoices.forms import NoLineBreaksMixin
from invoices.models import Invoice, InvoiceKind

from .matching import number_key
from .models import CsvMapping, StatementFormat
from .parsing import MAPPED, MAX_BYTES, column_number


class UploadForm(SubmitOnceMixin, forms.Form):
    file = forms.FileField(label=_("Statement file"),
                           help_text=_("CAMT.053 (XML) or CSV, as your bank's online banking exports it; at most "
                                       "%(limit)d MB.") % {"limit": MAX_BYTES // 1024 // 1024})
    format = forms.ChoiceField(label=_("Format"), choices=StatementFormat.choices, initial=StatementFormat.CAMT053,
                               widget=forms.RadioSelect)
    mapping = forms.ModelChoiceField(label=_("Bank (for CSV)"), queryset=CsvMapping.objects.all(), required=False,
                                     help_text=_("How this bank's CSV reads; not needed for CAMT.053."))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s MB; statements of at most %(limit)d MB can be imported. Export a shorter "
                  "period.") % {"size": f"{upload.size / 1024 / 1024:.1f}", "limit": MAX_BYTES // 1024 // 1024})
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("format") == StatementFormat.CSV and not cleaned.get("mapping") and "mapping" not in self.errors:
            self.add_error("mapping", _("Choose the bank's CSV mapping."))
        return cleaned


class ConfirmForm(forms.Form):
    """A line's confirmation with another invoice or amount than suggested (both optional)."""

    invoice = forms.CharField(label=_("Invoice number"), max_length=40, required=False)
    # Typed as people type it ("119,00" in German), like the invoices' amounts.
    amount = LocalizedDecimalField(
        label=_("Amount to record"), max_digits=14, decimal_places=2, required=False,
        # Not min_value: its message shows the limit as Python writes it ("0.01", in German too).
        validators=[MinValueValidator(Decimal("0.01"), message=_("The amount must be greater than zero."))])

    def clean_invoice(self) -> Invoice | None:
        text = self.cleaned_data["invoice"].strip()
        if not text:
            return None
        invoice = Invoice.objects.filter(number=text, kind=InvoiceKind.INVOICE).first()
        if invoice is None:
            key = number_key(text)
            if key is not None:
                invoice = Invoice.objects.filter(number=f"{key[0]}-{key[1]:04d}", kind=InvoiceKind.INVOICE).first()
        if invoice is None:
            raise forms.ValidationError(_("There is no invoice %(number)s.") % {"number": text})
        return invoice


MAX_COLUMN = 1000


class MappingForm(SubmitOnceMixin, NoLineBreaksMixin, forms.ModelForm):
    class Meta:
        model = CsvMapping
        fields = ["name", "delimiter", "decimal_comma", "date_format", "encoding", "header_row", "date_column",  # noqa: RUF012
                  "value_date_column", "amount_column", "currency_column", "payer_column", "iban_column",
                  "text_column", "reference_column"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in MAPPED:
            number = column_number(cleaned.get(name) or "")
            if number is not None and not 1 <= number <= MAX_COLUMN:
                self.add_error(name, _("Columns are counted from 1 (at most %(max)d).") % {"max": MAX_COLUMN})
        return cleaned
