"""When the business sends emails to its customers: business days between its sending hours.

Weekends and public holidays (the `holidays` package: the country's, and its state's when one is
set, e.g. Corpus Christi in Bavaria) are not business days. Times are the business's local time
(settings.TIME_ZONE), so "8:00" stays 8:00 across the changes to and from summer time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

from .models import BusinessProfile

# A business day is found within this many days (a country's longest run of holidays and weekend
# is far shorter); a window configured so that it is never open ends the search with an error.
SEARCH_DAYS = 30


@lru_cache(maxsize=64)
def _holidays(country: str, region: str, year: int) -> frozenset[dt.date]:
    try:
        found = holidays.country_holidays(country, subdiv=region or None, years=year)
    except NotImplementedError:  # a country the package does not know: weekends only
        return frozenset()
    return frozenset(found)


@dataclass(frozen=True)
class SendingWindow:
    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(18, 0)
    business_days_only: bool = True
    country: str = "DE"
    region: str = ""
    zone: str = "Europe/Berlin"

    @classmethod
    def of(cls, profile: BusinessProfile) -> SendingWindow:
        return cls(start=profile.send_from, end=profile.send_until, business_days_only=profile.business_days_only,
                   country=profile.country or "DE", region=profile.holiday_region, zone=settings.TIME_ZONE)

    def is_business_day(self, day: dt.date) -> bool:
        if not self.business_days_only:
            return True
        return day.weekday() < 5 and day not in _holidays(self.country, self.region, day.year)

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.zone))
        return self.is_business_day(local.date()) and self.start <= local.time() < self.end

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """`moment` if the window is open then, else when it next opens (an aware datetime)."""
        if self.is_open(moment):
            return moment
        zone = ZoneInfo(self.zone)
        local = moment.astimezone(zone)
        day = local.date()
        if local.time() >= self.start:
            day += dt.timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            if self.is_business_day(day):
                return dt.datetime.combine(day, self.start, tzinfo=zone)
            day += dt.timedelta(days=1)
        raise ValueError(f"no business day within {SEARCH_DAYS} days of {moment:%Y-%m-%d}")
