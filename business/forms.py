"""The business profile's settings page: the profile's fields in groups, and the logo.

The form checks what the model's fields check (a valid IBAN, BIC, VAT ID and tax number, at the
field); `business.services` saves it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from core.forms import LocalizedDecimalField

from . import services
from .models import BusinessProfile
from .validators import country_choices, region_choices

# The page's sections: (heading, help, fields).
GROUPS: list[tuple[Any, Any, tuple[str, ...]]] = [
    (_("Company and address"), "",
     ("legal_name", "street", "postal_code", "city", "country", "email", "phone", "website")),
    (_("Tax"), _("An invoice must show your tax number or your VAT ID (§ 14 UStG)."),
     ("vat_id", "tax_number", "small_business", "reverse_charge")),
    (_("Bank account"), _("Printed on every invoice, with a QR code your customers can pay with in their banking app."),
     ("bank_name", "iban", "bic")),
    (_("Invoice defaults"), _("For new invoices; an invoice already sent keeps what it was sent with."),
     ("payment_terms_days", "default_tax_rate", "invoice_footer")),
    (_("Emails to customers"),
     _("Empty subject and text: the standard ones. Placeholders such as {{ invoice.number }}, "
       "{{ contact.first_name }} and {{ invoice.link }} are filled in."),
     ("sender_name", "from_email", "attach_xml", "email_subject_en", "email_body_en", "email_subject_de",
      "email_body_de")),
    (_("When emails go out"), _("Payment reminders wait for these hours."),
     ("send_from", "send_until", "business_days_only", "holiday_region")),
]


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self) -> None:
        super().__init__(format="%H:%M")


class BusinessProfileForm(forms.ModelForm):
    """Every field of the profile that `business.services.update_profile` may change."""

    default_tax_rate = LocalizedDecimalField(label=_("default tax rate (%)"), max_digits=5, decimal_places=2,
                                             min_value=0, max_value=100)
    website = forms.URLField(label=_("website"), required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = BusinessProfile
        fields = list(services.FIELDS)
        widgets = {  # noqa: RUF012 (Django's Meta)
            "invoice_footer": forms.Textarea(attrs={"rows": 3}),
            "email_body_en": forms.Textarea(attrs={"rows": 5}),
            "email_body_de": forms.Textarea(attrs={"rows": 5}),
            "phone": forms.TextInput(attrs={"type": "tel"}),
            "send_from": TimeInput(),
            "send_until": TimeInput(),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("default_tax_rate", "website"):
            model_field = BusinessProfile._meta.get_field(name)
            self.fields[name].label = capfirst(model_field.verbose_name)
            self.fields[name].help_text = model_field.help_text
        # Empty: the environment's default, which the placeholder shows.
        self.fields["payment_terms_days"].widget.attrs["placeholder"] = str(settings.DEFAULT_PAYMENT_TERMS_DAYS)
        language = (translation.get_language() or "en").split("-")[0]
        self.fields["country"] = forms.ChoiceField(
            label=self.fields["country"].label, choices=country_choices(language), initial="DE")
        country = (self.data.get("country") if self.is_bound else self.instance.country) or "DE"
        self.fields["holiday_region"] = forms.ChoiceField(
            label=self.fields["holiday_region"].label, help_text=self.fields["holiday_region"].help_text,
            choices=region_choices(country), required=False)
        for name in ("iban", "bic", "vat_id", "tax_number"):
            self.fields[name].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def groups(self) -> list[dict[str, Any]]:
        return [{"title": title, "help": help_text, "fields": [self[name] for name in names]}
                for title, help_text, names in GROUPS]

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in services.FIELDS if name in self.cleaned_data}


class LogoForm(forms.Form):
    logo = forms.FileField(
        label=_("Logo"), help_text=_("A PNG or JPEG image of at most 1 MB, printed at the top of your invoices."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )

    def clean_logo(self) -> bytes:
        upload: UploadedFile = self.cleaned_data["logo"]
        if upload.size is not None and upload.size > services.LOGO_MAX_BYTES:
            # Checked before it is read: a big upload is never held in memory.
            raise forms.ValidationError(
                _("The logo is too large (%(size)s): at most 1 MB.") % {"size": filesizeformat(upload.size)},
                code="too_large")
        return upload.read()
