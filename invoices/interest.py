"""Default interest under § 288 BGB, computed from the invoice's balance day by day.

Interest runs from the day after the due date (§ 286 (2) no. 1 BGB: a date fixed by the calendar
puts the debtor in default without a reminder) at the base rate (Basiszinssatz, § 247 BGB, changed
on 1 January and 1 July: the `BaseRate` table) plus 5 percentage points, or 9 for a business
customer (§ 288 (2)). A business customer also owes a flat 40 EUR once per claim (§ 288 (5)).
The balance is what was still due on each day (payments count from their date); the days are
counted exactly and the year has 365 days. Every part is rounded to cents once, at the end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
CONSUMER_POINTS = Decimal("5")
BUSINESS_POINTS = Decimal("9")
FLAT_FEE = Decimal("40.00")
YEAR_DAYS = Decimal("365")


@dataclass(frozen=True)
class InterestPeriod:
    start: dt.date  # first day that counts
    end: dt.date  # last day that counts
    balance: Decimal
    rate: Decimal  # percent per year: base rate + points

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def amount(self) -> Decimal:
        return (self.balance * self.rate / 100 * self.days / YEAR_DAYS).quantize(CENT, rounding=ROUND_HALF_UP)


def interest_periods(
    *,
    total: Decimal,
    payments: list[tuple[dt.date, Decimal]],
    start: dt.date,
    end: dt.date,
    base_rates: list[tuple[dt.date, Decimal]],
    business: bool,
) -> list[InterestPeriod]:
    """The stretches of days from `start` to `end` (both counted) with one balance and one rate.

    `payments` are (date, amount) of the invoice (a payment counts from its own day on); `base_rates`
    are (valid from, percent) in any order. Days before the first known base rate use it anyway.
    """
    if end < start:
        return []
    points = BUSINESS_POINTS if business else CONSUMER_POINTS
    rates = sorted(base_rates)
    cuts = {start, end + dt.timedelta(days=1)}
    cuts |= {day for day, _rate in rates if start < day <= end}
    cuts |= {day for day, _amount in payments if start < day <= end}
    bounds = sorted(cuts)
    periods = []
    for first, following in zip(bounds, bounds[1:]):
        paid = sum((amount for day, amount in payments if day <= first), Decimal("0"))
        balance = total - paid
        if balance <= 0:
            continue
        base = next((rate for day, rate in reversed(rates) if day <= first), rates[0][1] if rates else Decimal("0"))
        periods.append(InterestPeriod(start=first, end=following - dt.timedelta(days=1), balance=balance,
                                      rate=base + points))
    return periods
