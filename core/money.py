"""Amounts as people read them: in the current language's format (1.234,56 € in German)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_currency
from django.utils import translation

CENT = Decimal("0.01")


def quantize_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def sum_to_cents(value: Any) -> Decimal:
    """A sum from the database as cents (SQLite adds decimals as binary floats)."""
    return Decimal(value or 0).quantize(CENT)


def format_money(value: Any, currency: str = "EUR") -> str:
    """`value` in `currency`, formatted for the active language; "" for nothing."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format_currency(amount, currency or "EUR", locale=translation.get_language() or "en")
