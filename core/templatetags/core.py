"""{% load core %}: amounts and status badges, the same on every page.

{{ invoice.total|money:invoice.currency }}   {% status_badge invoice %}
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from core.money import format_money
from core.status import tone

register = template.Library()


@register.filter
def money(value: Any, currency: str = "EUR") -> str:
    return format_money(value, currency)


@register.simple_tag
def status_badge(obj: Any) -> str:
    """<span class="badge …">Label</span> for anything with a `status` and its display."""
    return format_html('<span class="badge rounded-pill text-bg-{} badge-status-{}">{}</span>',
                       tone(obj.status), obj.status, obj.get_status_display())
