"""Checks of the numbers a German/EU business prints on its invoices (python-stdnum, schwifty)."""

from __future__ import annotations

import holidays
from babel import Locale
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.de import stnr
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as StdnumError

# ISO 3166-1 alpha-2 codes of the EU member states (VAT IDs, reverse charge). Greece's VAT prefix is EL.
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


def compact(value: str) -> str:
    """Without spaces, dots, dashes and slashes, upper case: how the numbers are compared and stored."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def validate_vat_id(value: str) -> None:
    """An EU VAT identification number (USt-IdNr.), with its country prefix and check digits."""
    try:
        vat.validate(value)
    except StdnumError:
        raise ValidationError(
            _("%(value)s is not a valid EU VAT ID (for example DE136695976)."), code="invalid_vat_id",
            params={"value": value},
        ) from None


def validate_tax_number(value: str) -> None:
    """A German tax number (Steuernummer), in a state's format or the 13-digit federal one."""
    try:
        stnr.validate(value)
    except StdnumError:
        raise ValidationError(
            _("%(value)s is not a valid German tax number (for example 181/815/08155)."), code="invalid_tax_number",
            params={"value": value},
        ) from None


def validate_iban(value: str) -> None:
    try:
        IBAN(value)
    except (SchwiftyException, ValueError):
        raise ValidationError(
            _("%(value)s is not a valid IBAN (for example DE89 3704 0044 0532 0130 00)."), code="invalid_iban",
            params={"value": value},
        ) from None


def validate_bic(value: str) -> None:
    try:
        BIC(value)
    except (SchwiftyException, ValueError):
        raise ValidationError(
            _("%(value)s is not a valid BIC (8 or 11 characters, for example COBADEFFXXX)."), code="invalid_bic",
            params={"value": value},
        ) from None


def country_choices(language: str = "en") -> list[tuple[str, str]]:
    """ISO 3166-1 countries by their names in `language`, Germany and its neighbours first."""
    names = Locale.parse(language).territories
    codes = sorted(code for code in names if len(code) == 2 and code.isalpha() and code not in ("EU", "EZ", "UN", "ZZ", "XA", "XB", "QO"))
    first = ["DE", "AT", "CH"]
    return [(code, names[code]) for code in first] + sorted(
        ((code, names[code]) for code in codes if code not in first), key=lambda item: item[1])


def validate_country(value: str) -> None:
    if value not in dict(country_choices()):
        raise ValidationError(_("%(value)s is not a country code (ISO 3166, for example DE)."),
                              code="invalid_country", params={"value": value})


def region_choices(country: str = "DE") -> list[tuple[str, str]]:
    """The country's states and regions whose own holidays the package knows ("" = nationwide only)."""
    try:
        names = holidays.country_holidays(country).subdivisions
    except NotImplementedError:
        return [("", "—")]
    return [("", "—")] + [(code, code) for code in names]
