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


# Dates outside these years are typing mistakes (0026 for 2026, 9999 for "never"), and near the
# ends of Python's calendar the payment terms or the next period overflow it.
FIRST_YEAR, LAST_YEAR = 2000, 2099


def validate_business_date(value) -> None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(
            _("Enter a date between %(first)d and %(last)d."), code="date_out_of_range",
            params={"first": FIRST_YEAR, "last": LAST_YEAR},
        )
