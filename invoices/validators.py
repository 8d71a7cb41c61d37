from __future__ import annotations

import datetime as dt
from functools import lru_cache

from babel import Locale
from babel.numbers import get_territory_currencies, list_currencies
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    """The ISO 4217 currencies in use: legal tender of some country today, as Babel (CLDR) knows it.
    Not the historic ones (DEM, FRF), the funds and units of account (XDR, CLF), precious metals (XAU,
    XAG) or the test codes (XTS, XXX), which ISO 4217 lists too but nobody invoices in."""
    today = dt.date.today()
    codes: set[str] = set()
    for territory in Locale.parse("en").territories:
        if len(territory) == 2 and territory.isalpha():
            codes.update(get_territory_currencies(territory, today, tender=True))
    return frozenset(codes & set(list_currencies()))


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
