"""{% load core %}: amounts and status badges, the same on every page.

{{ invoice.total|money:invoice.currency }}   {% status_badge invoice %}
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, format_html_join

from core.forms import format_amount
from core.money import format_money
from core.status import badges

register = template.Library()


@register.filter
def money(value: Any, currency: str = "EUR") -> str:
    return format_money(value, currency)


@register.filter
def amount_input(value: Any) -> str:
    """A form value for a text field of an amount: a number in the person's format ("1.234,5" in
    German), what they typed as they typed it."""
    if value is None:
        return ""
    return value if isinstance(value, str) else format_amount(value)


@register.simple_tag
def status_badge(obj: Any) -> str:
    """<span class="badge …">Label</span> for anything with a `status` and its display, and the
    badges beside it (an invoice's "Partly paid", core.status.EXTRA_BADGES)."""
    return format_html_join(" ", '<span class="badge rounded-pill text-bg-{} badge-status-{}">{}</span>',
                            ((badge_tone, key, label) for key, label, badge_tone in badges(obj)))
