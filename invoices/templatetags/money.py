"""Amounts in the current language's format: {% load money %} {{ invoice.total|money:invoice.currency }}."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from django import template
from django.utils import translation

register = template.Library()


@register.filter
def money(value, currency: str = "EUR") -> str:
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format_currency(amount, currency or "EUR", locale=translation.get_language() or "en")


@register.simple_tag
def status_badge(obj) -> str:
    """<span class="badge badge-status-…">Label</span> for anything with a status and its display."""
    from django.utils.html import format_html

    return format_html('<span class="badge rounded-pill badge-status-{}">{}</span>', obj.status, obj.get_status_display())
