"""The business's calendar: what "today" is in its time zone (settings.TIME_ZONE)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def business_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in the business time zone (settings.TIME_ZONE); `now` for a moved clock."""
    return timezone.localdate(now or timezone.now())
