"""Reading and changing the business profile (one row, created on first use).

`get_profile()` is what everything else reads: the invoices' defaults (payment terms, tax rate),
the seller printed on invoices, the sender of emails. `missing_for_invoices()` names what the law
asks for on an invoice that the profile does not have yet: sending is refused until it is there.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from core import placeholders
from core.errors import DomainError, validate
from core.fields import model_field

from .models import BusinessProfile
from .validators import compact

# What update_profile may change (the logo has its own service).
FIELDS = (
    "legal_name", "street", "postal_code", "city", "country", "email", "phone", "website", "vat_id", "tax_number",
    "bank_name", "iban", "bic", "invoice_footer", "payment_terms_days", "default_tax_rate", "sender_name",
    "from_email", "small_business", "reverse_charge", "attach_xml", "send_from", "send_until", "business_days_only",
    "holiday_region", "email_subject_en", "email_body_en",
    "email_subject_de", "email_body_de",
)
TRIMMED = tuple(name for name in FIELDS if name not in ("invoice_footer", "email_body_en", "email_body_de",
                                                          "payment_terms_days", "default_tax_rate", "small_business",
                                                          "reverse_charge", "attach_xml", "send_from", "send_until",
                                                          "business_days_only"))
# The customer emails' texts: placeholders as the automations' emails have them, checked alike.
EMAIL_TEXTS = ("email_subject_en", "email_body_en", "email_subject_de", "email_body_de")
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_PIXELS = 4000
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


def get_profile() -> BusinessProfile:
    """The profile, created empty (with the environment's defaults behind it) on first use."""
    profile = BusinessProfile.objects.filter(pk=1).first()
    if profile is None:
        try:
            with transaction.atomic():
                profile = BusinessProfile.objects.create(pk=1)
        except IntegrityError:  # created by someone else at the same moment
            profile = BusinessProfile.objects.get(pk=1)
    return profile


def update_profile(*, by: Any = None, **fields: Any) -> BusinessProfile:
    """Change the given fields (all checked first: nothing is saved if one is wrong)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"update_profile() cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        get_profile()
        profile = BusinessProfile.objects.select_for_update().get(pk=1)
        for name, value in fields.items():
            if name in TRIMMED and isinstance(value, str):
                value = value.strip()
            if name in ("vat_id", "iban", "bic") and isinstance(value, str):
                value = compact(value)
            if name == "country" and isinstance(value, str):
                value = value.upper()
            setattr(profile, name, value)
        for name in EMAIL_TEXTS:
            if name in fields:
                _check_placeholders(name, getattr(profile, name))
        validate(profile, exclude=["logo", "logo_type"])
        profile.save()
    return profile


def _check_placeholders(name: str, text: str) -> None:
    """A misspelt placeholder would be left empty in every customer's email, an unclosed one sent
    as it is: refused at the field, with the valid placeholders named."""
    try:
        placeholders.check(text or "")
    except placeholders.PlaceholderError as exc:
        raise DomainError(exc.message, field=name) from None


def set_logo(*, data: bytes, by: Any = None) -> BusinessProfile:
    """A PNG or JPEG of at most 1 MB and 4000 × 4000 pixels, checked by opening it (not by its name)."""
    if len(data) > LOGO_MAX_BYTES:
        raise DomainError(_("The logo is too large: at most 1 MB."), field="logo")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, (width, height) = image.format, image.size
    except Image.DecompressionBombError:  # a header claiming more pixels than Pillow opens at all
        raise DomainError(_("The logo is too large: at most %(max)d × %(max)d pixels.") % {"max": LOGO_MAX_PIXELS},
                          field="logo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError(_("The logo must be a PNG or JPEG image."), field="logo") from None
    if kind not in LOGO_FORMATS:
        raise DomainError(_("The logo must be a PNG or JPEG image."), field="logo")
    if width > LOGO_MAX_PIXELS or height > LOGO_MAX_PIXELS:
        raise DomainError(_("The logo is too large: at most %(max)d × %(max)d pixels.") % {"max": LOGO_MAX_PIXELS},
                          field="logo")
    get_profile()
    BusinessProfile.objects.filter(pk=1).update(logo=data, logo_type=LOGO_FORMATS[kind])
    return get_profile()


def remove_logo(*, by: Any = None) -> BusinessProfile:
    get_profile()
    BusinessProfile.objects.filter(pk=1).update(logo=b"", logo_type="")
    return get_profile()


# --- What the rest of the product reads -------------------------------------------------------


def seller_name(profile: BusinessProfile) -> str:
    return profile.legal_name or settings.BUSINESS_NAME


def payment_terms_days(profile: BusinessProfile | None = None) -> int:
    profile = profile or get_profile()
    return settings.DEFAULT_PAYMENT_TERMS_DAYS if profile.payment_terms_days is None else profile.payment_terms_days


def default_tax_rate(profile: BusinessProfile | None = None) -> Decimal:
    profile = profile or get_profile()
    return Decimal("0") if profile.small_business else profile.default_tax_rate


def sender(profile: BusinessProfile | None = None) -> tuple[str, str]:
    """(name, address) of the business's emails."""
    profile = profile or get_profile()
    return (profile.sender_name or seller_name(profile)), (profile.from_email or settings.DEFAULT_FROM_EMAIL)


def missing_for_invoices(profile: BusinessProfile | None = None) -> list[str]:
    """The labels of the profile fields an invoice must show (§ 14 UStG) that are still empty."""
    profile = profile or get_profile()
    missing = [str(model_field(BusinessProfile, name).verbose_name)
               for name in ("legal_name", "street", "postal_code", "city", "country") if not getattr(profile, name)]
    if not profile.vat_id and not profile.tax_number:
        missing.append(_("tax number or VAT ID"))
    return missing


def snapshot(profile: BusinessProfile | None = None) -> dict[str, Any]:
    """The seller as an invoice keeps it when it is sent (a later change of the profile does not
    change an invoice already sent)."""
    profile = profile or get_profile()
    return {
        "name": seller_name(profile), "street": profile.street, "postal_code": profile.postal_code,
        "city": profile.city, "country": profile.country, "email": profile.email, "phone": profile.phone,
        "website": profile.website, "vat_id": profile.vat_id, "tax_number": profile.tax_number,
        "bank_name": profile.bank_name, "iban": profile.iban, "bic": profile.bic, "footer": profile.invoice_footer,
        "small_business": profile.small_business,
    }
