"""When emails to customers may go out: business days between the sending hours, in the business's
time zone (Europe/Berlin), across weekends, public holidays of the country and the state, and both
changes of summer time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from business.calendar import SendingWindow
from business.services import update_profile
from core.errors import DomainError

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.timezone.utc


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


WINDOW = SendingWindow(start=dt.time(8), end=dt.time(18), country="DE", region="BE", zone="Europe/Berlin")


@pytest.mark.parametrize("moment, opens", [
    (berlin(2026, 6, 10, 9, 30), berlin(2026, 6, 10, 9, 30)),   # a Wednesday morning: now
    (berlin(2026, 6, 10, 7, 59), berlin(2026, 6, 10, 8, 0)),    # before the hours: at 8:00 that day
    (berlin(2026, 6, 10, 18, 0), berlin(2026, 6, 11, 8, 0)),    # 18:00 is closed: the next morning
    (berlin(2026, 6, 12, 20, 0), berlin(2026, 6, 15, 8, 0)),    # Friday evening: Monday
    (berlin(2026, 6, 13, 11, 0), berlin(2026, 6, 15, 8, 0)),    # Saturday: Monday
    (berlin(2026, 4, 2, 19, 0), berlin(2026, 4, 7, 8, 0)),      # Easter: Good Friday and Easter Monday
    (berlin(2026, 12, 24, 18, 30), berlin(2026, 12, 28, 8, 0)),  # Christmas, then the weekend
])
def test_the_window_opens_on_the_next_business_morning(moment, opens):
    assert WINDOW.next_open(moment) == opens


def test_a_state_holiday_counts_only_in_that_state():
    corpus_christi = berlin(2026, 6, 4, 10, 0)  # a holiday in Bavaria, not in Berlin
    assert WINDOW.is_open(corpus_christi)
    bavaria = SendingWindow(country="DE", region="BY")
    assert not bavaria.is_open(corpus_christi)
    assert bavaria.next_open(corpus_christi) == berlin(2026, 6, 5, 8, 0)


@pytest.mark.parametrize("utc_moment, opens_utc", [
    # Spring forward on Sunday 29 March 2026: Monday 8:00 in Berlin is 06:00 UTC (summer time).
    (dt.datetime(2026, 3, 27, 17, 30, tzinfo=UTC), dt.datetime(2026, 3, 30, 6, 0, tzinfo=UTC)),
    # Fall back on Sunday 25 October 2026: Monday 8:00 in Berlin is 07:00 UTC (winter time).
    (dt.datetime(2026, 10, 23, 16, 30, tzinfo=UTC), dt.datetime(2026, 10, 26, 7, 0, tzinfo=UTC)),
])
def test_the_hours_stay_local_across_the_changes_of_summer_time(utc_moment, opens_utc):
    assert WINDOW.next_open(utc_moment) == opens_utc


def test_17_59_is_open_and_the_window_holds_local_time_on_a_changeover_day():
    assert WINDOW.is_open(berlin(2026, 10, 26, 17, 59))
    # 7:30 UTC on the Monday after the change is 8:30 in Berlin (winter time): open.
    assert WINDOW.is_open(dt.datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    assert not WINDOW.is_open(dt.datetime(2026, 10, 26, 6, 30, tzinfo=UTC))


def test_without_business_days_only_every_day_counts_but_the_hours_still_do():
    every_day = SendingWindow(business_days_only=False)
    assert every_day.is_open(berlin(2026, 12, 25, 12, 0))
    assert every_day.next_open(berlin(2026, 12, 25, 19, 0)) == berlin(2026, 12, 26, 8, 0)


@pytest.mark.django_db
def test_the_profile_refuses_hours_that_end_before_they_start_and_unknown_states():
    with pytest.raises(DomainError, match="after their start"):
        update_profile(send_from=dt.time(18), send_until=dt.time(8))
    with pytest.raises(DomainError, match="XX is not a state"):
        update_profile(holiday_region="XX")
    profile = update_profile(send_from=dt.time(9), send_until=dt.time(17), holiday_region="BY")
    assert SendingWindow.of(profile) == SendingWindow(start=dt.time(9), end=dt.time(17), region="BY")
