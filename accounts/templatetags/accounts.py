from __future__ import annotations

import datetime as dt
import math

from django import template

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> int:
    """A lockout's length in whole minutes, rounded up (15 for 0:15:00, 1 for 0:00:20)."""
    if not value:
        return 0
    return max(1, math.ceil(value.total_seconds() / 60))
