from __future__ import annotations

from functools import lru_cache

from babel.numbers import list_currencies
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    """ISO 4217 codes as Babel (CLDR) knows them."""
    return frozenset(list_currencies())


def validate_currency(value: str) -> None:
    if value not in currency_codes():
        raise ValidationError(
            _("%(value)s is not an ISO 4217 currency code (for example EUR, USD, CHF)."),
            code="invalid_currency", params={"value": value},
        )


def validate_no_line_breaks(value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ValidationError(_("This field cannot contain line breaks."), code="line_break")
