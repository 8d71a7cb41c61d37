"""Forms of the invoice pages. They check input and show errors at their fields; every change of
state is made by `invoices.services`, whose DomainError the views put back on the form
(`core.forms.add_domain_error`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from babel.core import UnknownLocaleError
from babel.numbers import get_currency_name
from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from business import services as business
from business.validators import compact, country_choices
from core.dates import business_today
from core.forms import LocalizedDecimalField, SubmitOnceMixin

from .models import Contact, Interval, PaymentMethod, TaxTreatment
from .validators import currency_codes, validate_business_date

# The currencies a business in the euro area invoices in most, first in the list.
COMMON_CURRENCIES = ["EUR", "USD", "GBP", "CHF", "PLN", "CZK", "SEK", "DKK", "NOK", "JPY", "CNY", "CAD", "AUD"]
LINE_BREAK_ERROR = _("This field cannot contain line breaks.")
# The <datalist> of the tags there are, which the contact form's tag field suggests from.
KNOWN_TAGS_ID = "known-tags"


def currency_choices() -> list[tuple[str, str]]:
    """The common currencies first (EUR, USD, GBP, CHF, …), then every other one in use, by code, named in
    the current language."""
    locale = translation.get_language() or "en"

    def label(code: str) -> str:
        try:
            return f"{code} — {get_currency_name(code, locale=locale.replace('-', '_'))}"
        except (UnknownLocaleError, ValueError):
            return code

    common = [c for c in COMMON_CURRENCIES if c in currency_codes()]
    others = sorted(currency_codes() - set(common))
    return [(code, label(code)) for code in common + others]


class DateInput(forms.DateInput):
    """The browser's date picker; the value is always ISO (yyyy-mm-dd), whatever the language."""

    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class NoLineBreaksMixin:
    """Refuse CR/LF in single-line fields before Django strips them away silently."""

    multiline_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # type: ignore[misc]
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            if name in self.multiline_fields or not isinstance(field, forms.CharField):
                continue
            raw = self.data.get(self.add_prefix(name), "")  # type: ignore[attr-defined]
            if isinstance(raw, str) and ("\n" in raw or "\r" in raw):
                self.add_error(name, LINE_BREAK_ERROR)  # type: ignore[attr-defined]
        return cleaned


# --- Contacts ---------------------------------------------------------------------------------


class ContactForm(SubmitOnceMixin, NoLineBreaksMixin, forms.ModelForm):
    """The contact's details; the model's validators check them (a valid email address, VAT ID, …)."""

    class Meta:
        model = Contact
        fields = ["name", "email", "phone", "company", "language", "street", "postal_code", "city", "country",  # noqa: RUF012
                  "vat_id", "is_business"]
        widgets = {  # noqa: RUF012
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel"}),
            "vat_id": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }

    # The tag names as typed; invoices.services.clean_tag_names checks them (length, how many).
    tags = forms.CharField(
        label=_("Tags"), required=False,
        widget=forms.TextInput(attrs={"list": KNOWN_TAGS_ID, "autocomplete": "off"}),
        help_text=_("Separate tags with commas; schedules can be limited to tagged contacts."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = (translation.get_language() or "en").split("-")[0]
        # Empty (a form of an older page, a script) means the model's default, Germany.
        self.fields["country"] = forms.ChoiceField(label=self.fields["country"].label,
                                                   choices=country_choices(language), initial="DE", required=False)
        if self.instance.pk and not self.is_bound:
            self.initial["tags"] = ", ".join(tag.name for tag in self.instance.tags.all())

    def clean_country(self) -> str:
        return self.cleaned_data.get("country") or "DE"

    def clean_vat_id(self) -> str:
        return compact(self.cleaned_data.get("vat_id") or "")

    def details(self) -> dict[str, Any]:
        """What `invoices.services.create_contact` / `update_contact` take."""
        return {**{name: self.cleaned_data[name] for name in self.Meta.fields},
                "tags": (self.cleaned_data.get("tags") or "").split(",")}


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)


# --- Invoices ---------------------------------------------------------------------------------


class InvoiceForm(SubmitOnceMixin, forms.Form):
    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.all(), empty_label=_("Choose a contact…"),
    )
    issue_date = forms.DateField(label=_("Issue date"), widget=DateInput(), validators=[validate_business_date])
    due_date = forms.DateField(label=_("Due date"), widget=DateInput(), validators=[validate_business_date])
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices)
    # Leistungsdatum (§ 14 UStG): a day, or a period from service_date to service_end.
    service_date = forms.DateField(
        label=_("Service date"), required=False, widget=DateInput(), validators=[validate_business_date],
        help_text=_("The day of the delivery or service, or the first day of a service period. Empty: the issue date."))
    service_end = forms.DateField(
        label=_("End of the service period"), required=False, widget=DateInput(), validators=[validate_business_date],
        help_text=_("Only for a period, e.g. a month of support."))
    tax_treatment = forms.ChoiceField(
        label=_("VAT"), required=False,
        choices=[("", _("Automatic (from your business profile and the customer)")), *TaxTreatment.choices],
        help_text=_("Small business (§ 19 UStG) and reverse charge invoices carry no VAT on their lines."))
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Printed on the invoice, below the line items."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        issue, due = cleaned.get("issue_date"), cleaned.get("due_date")
        if issue and due and due < issue:
            self.add_error("due_date", _("The due date cannot be before the issue date."))
        start, end = cleaned.get("service_date"), cleaned.get("service_end")
        if end and not start:
            self.add_error("service_date", _("A service period needs its first day too."))
        elif start and end and end < start:
            self.add_error("service_end", _("The service period cannot end before it starts."))
        return cleaned

    def invoice_fields(self) -> dict[str, Any]:
        """What `invoices.services.create_invoice` / `update_draft_invoice` take (no contact-less VAT
        treatment: empty lets the service decide)."""
        data = self.cleaned_data
        fields = {name: data[name] for name in ("contact", "issue_date", "due_date", "currency", "notes",
                                                  "service_date", "service_end")}
        fields["tax_treatment"] = data["tax_treatment"] or None
        return fields


class LineItemForm(NoLineBreaksMixin, forms.Form):
    description = forms.CharField(label=_("Description"), max_length=500)
    quantity = LocalizedDecimalField(
        label=_("Quantity"), max_digits=12, decimal_places=3, initial=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.001"), message=_("The quantity must be greater than zero."))],
    )
    unit_price = LocalizedDecimalField(
        label=_("Unit price"), max_digits=14, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), message=_("The price must be greater than zero."))],
    )
    tax_rate = LocalizedDecimalField(
        label=_("Tax rate (%)"), max_digits=5, decimal_places=2, initial=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )

    def __init__(self, *args: Any, default_tax_rate: Decimal | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if default_tax_rate is not None:
            # New lines start with the business profile's rate (19 % in Germany), not 0.
            self.fields["tax_rate"].initial = default_tax_rate.normalize()

    def has_changed(self) -> bool:
        """A new row is a line once it has a description or a price: its prefilled quantity and tax
        rate, even changed, do not make an empty row a line (nor an error)."""
        if self.empty_permitted and self.is_bound and not any(
                str(self.data.get(self.add_prefix(name), "")).strip() for name in ("description", "unit_price")):
            return False
        return super().has_changed()

    def item(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {k: data[k] for k in ("description", "quantity", "unit_price", "tax_rate")}


class BaseLineItemFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.items():
            raise forms.ValidationError(_("Add at least one line item."), code="no_items")

    def kept_forms(self) -> list[LineItemForm]:
        """The rows to save: existing ones and filled-in new ones, less those marked for removal."""
        initial = self.initial_form_count()
        return [
            f for i, f in enumerate(self.forms)
            if (i < initial or f.has_changed()) and not self._should_delete_form(f)
        ]

    def items(self) -> list[dict[str, Any]]:
        return [f.item() for f in self.kept_forms() if hasattr(f, "cleaned_data")]


def line_item_formset(*, data: Any = None, initial: list[dict[str, Any]] | None = None) -> BaseLineItemFormSet:
    """The line items of an invoice form: its rows, and one blank row when there are none. A new
    row's tax rate is the business profile's default."""
    formset_class = forms.formset_factory(
        LineItemForm, formset=BaseLineItemFormSet, extra=0 if initial else 1, can_delete=True,
        max_num=200, validate_max=True,
    )
    return formset_class(data=data, initial=initial, prefix="items",
                         form_kwargs={"default_tax_rate": business.default_tax_rate()})


def invoice_initial(*, today: dt.date) -> dict[str, Any]:
    """A new invoice: issued today, due after the business profile's payment terms."""
    return {
        "issue_date": today,
        "due_date": today + dt.timedelta(days=business.payment_terms_days()),
        "currency": settings.DEFAULT_CURRENCY,
    }


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.CharField(required=False)
    contact = forms.IntegerField(required=False, min_value=1)


class PaymentForm(SubmitOnceMixin, NoLineBreaksMixin, forms.Form):
    amount = LocalizedDecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), message=_("The amount must be greater than zero."))],
    )
    date = forms.DateField(label=_("Date"), widget=DateInput(), validators=[validate_business_date])
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
    reference = forms.CharField(label=_("Reference"), required=False, max_length=200)


# --- Recurring payments -----------------------------------------------------------------------

MAX_DAYS_BACK = 366


def check_plan_start(start: dt.date) -> dt.date:
    """A new plan's start date. Starting a plan issues (and sends) the invoice of every period
    since its start date at once: a start date years back would send hundreds of invoices in one
    request."""
    if start < business_today() - dt.timedelta(days=MAX_DAYS_BACK):
        raise forms.ValidationError(
            _("The start date can be at most one year in the past: starting the plan issues an invoice for "
              "every period since then."), code="too_far_back")
    return start


class RecurringForm(SubmitOnceMixin, NoLineBreaksMixin, forms.Form):
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.objects.all(), empty_label=_("Choose a contact…"))
    description = forms.CharField(label=_("Description"), max_length=500,
                                  help_text=_("The line on every invoice this plan issues."))
    amount = LocalizedDecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"), message=_("The amount must be greater than zero."))],
        help_text=_("Net amount per period, before tax."),
    )
    tax_rate = LocalizedDecimalField(
        label=_("Tax rate (%)"), max_digits=5, decimal_places=2, initial=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices)
    interval = forms.ChoiceField(label=_("Interval"), choices=Interval.choices, initial=Interval.MONTHLY)
    start_date = forms.DateField(label=_("Start date"), widget=DateInput(), validators=[validate_business_date])
    end_date = forms.DateField(label=_("End date"), required=False, widget=DateInput(),
                               validators=[validate_business_date], help_text=_("Leave empty to run until canceled."))
    payment_terms_days = forms.IntegerField(
        label=_("Payment terms (days)"), min_value=0, max_value=365,
        help_text=_("Each invoice is due this many days after it is issued."),
    )

    def clean_start_date(self) -> dt.date:
        return check_plan_start(self.cleaned_data["start_date"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date cannot be before the start date."))
        return cleaned
