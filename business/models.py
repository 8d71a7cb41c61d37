"""The business profile: one row, the seller on every invoice.

Empty fields fall back to the environment's defaults where one exists (BUSINESS_NAME,
DEFAULT_FROM_EMAIL, DEFAULT_PAYMENT_TERMS_DAYS), so a new installation works before anyone has
filled the profile in; invoices can be sent only once the fields the law asks for are there
(see business.services.missing_for_invoices).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.validators import validate_no_line_breaks

from .validators import (
    region_choices,
    validate_bic,
    validate_country,
    validate_iban,
    validate_tax_number,
    validate_vat_id,
)

ONE_LINE = [validate_no_line_breaks]


# Callables, not time values: Django's check warns about a fixed time default (fields.W161) when
# it runs within 10 seconds of that time of day, which failed `check --deploy` at 18:00:0x.
def default_send_from() -> dt.time:
    return dt.time(8, 0)


def default_send_until() -> dt.time:
    return dt.time(18, 0)


class BusinessProfile(models.Model):
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True, validators=ONE_LINE,
                                  help_text=_("As registered, e.g. “Müller Design GmbH”."))
    street = models.CharField(_("street and number"), max_length=200, blank=True, validators=ONE_LINE)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True, validators=ONE_LINE)
    city = models.CharField(_("city"), max_length=100, blank=True, validators=ONE_LINE)
    country = models.CharField(_("country"), max_length=2, default="DE", validators=[validate_country])
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True, validators=ONE_LINE)
    website = models.URLField(_("website"), blank=True)
    vat_id = models.CharField(_("VAT ID"), max_length=20, blank=True, validators=[validate_vat_id],
                              help_text=_("Your EU VAT identification number (USt-IdNr.), e.g. DE136695976."))
    tax_number = models.CharField(_("tax number"), max_length=30, blank=True, validators=[validate_tax_number],
                                  help_text=_("Your tax number from the tax office (Steuernummer), e.g. 181/815/08155."))
    bank_name = models.CharField(_("bank"), max_length=100, blank=True, validators=ONE_LINE)
    iban = models.CharField(_("IBAN"), max_length=42, blank=True, validators=[validate_iban])
    bic = models.CharField(_("BIC"), max_length=11, blank=True, validators=[validate_bic])
    # The logo lives in the database, not on a disk: every web server and worker of a scaled-out
    # site sees the same one. PNG or JPEG, checked when it is uploaded (business.services).
    logo = models.BinaryField(_("logo"), blank=True, default=b"", editable=False)
    logo_type = models.CharField(_("logo type"), max_length=20, blank=True, editable=False)
    invoice_footer = models.TextField(_("invoice footer"), blank=True, max_length=1000,
                                      validators=[MaxLengthValidator(1000)],
                                      help_text=_("Printed at the bottom of every invoice, e.g. your managing director "
                                                  "and commercial register."))
    payment_terms_days = models.PositiveIntegerField(
        _("payment terms (days)"), null=True, blank=True, validators=[MaxValueValidator(365)],
        help_text=_("Days from the issue date to the due date of new invoices."))
    default_tax_rate = models.DecimalField(
        _("default tax rate (%)"), max_digits=5, decimal_places=2, default=Decimal("19"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Filled in on every new line item."))
    sender_name = models.CharField(_("sender name"), max_length=100, blank=True, validators=ONE_LINE,
                                   help_text=_("The name your customers see as the sender of your emails."))
    from_email = models.EmailField(_("sender address"), blank=True,
                                   help_text=_("The address your emails come from (your mail service must allow it)."))
    small_business = models.BooleanField(
        _("small business (§ 19 UStG)"), default=False,
        help_text=_("No VAT on your invoices; the legal sentence is printed on them."))
    reverse_charge = models.BooleanField(
        _("reverse charge for EU business customers"), default=False,
        help_text=_("Invoices to business customers in other EU countries carry no VAT; the customer's VAT ID is "
                    "required and the legal sentence is printed."))
    attach_xml = models.BooleanField(
        _("attach the e-invoice (XML) for business customers"), default=True,
        help_text=_("The e-invoice (XRechnung) goes with the email to business customers; the PDF always holds it too."))
    # When emails to customers go out (automations' reminders; see business.calendar).
    send_from = models.TimeField(_("send emails from"), default=default_send_from)
    send_until = models.TimeField(_("send emails until"), default=default_send_until)
    business_days_only = models.BooleanField(
        _("on business days only"), default=True,
        help_text=_("No emails to customers on weekends and public holidays; they wait for the next business day."))
    holiday_region = models.CharField(
        _("state for public holidays"), max_length=10, blank=True,
        help_text=_("Your state's own holidays count too (e.g. BY for Bavaria); empty: nationwide holidays only."))
    email_subject_en = models.CharField(_("email subject (English)"), max_length=300, blank=True, validators=ONE_LINE)
    email_body_en = models.TextField(_("email text (English)"), blank=True, max_length=5000,
                                     validators=[MaxLengthValidator(5000)])
    email_subject_de = models.CharField(_("email subject (German)"), max_length=300, blank=True, validators=ONE_LINE)
    email_body_de = models.TextField(_("email text (German)"), blank=True, max_length=5000,
                                     validators=[MaxLengthValidator(5000)])
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("business profile")
        verbose_name_plural = _("business profile")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="business_profile_is_one_row"),
            models.CheckConstraint(condition=models.Q(send_until__gt=models.F("send_from")),
                                   name="business_profile_send_window_in_order"),
        ]

    def clean(self) -> None:
        if self.send_from and self.send_until and self.send_until <= self.send_from:
            raise ValidationError({"send_until": _("The end of the sending hours must be after their start.")})
        if self.holiday_region and self.holiday_region not in dict(region_choices(self.country or "DE")):
            raise ValidationError({"holiday_region": _("%(value)s is not a state or region of this country.") % {
                "value": self.holiday_region}})

    def __str__(self) -> str:
        return self.legal_name or str(_("Business profile"))
