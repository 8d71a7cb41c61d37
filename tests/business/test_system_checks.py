"""The system checks stay clean whatever the time of day CI runs them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import checks

from business.models import BusinessProfile


@pytest.mark.parametrize("hour", [8, 18])
def test_no_fixed_default_warning_at_the_sending_hours_edges(hour):
    # Django warns about a fixed time default (fields.W161) when the check runs within 10 s of it:
    # `check --deploy` failed in CI at 18:00:0x.
    # Django compares with the time of day in UTC.
    moment = dt.datetime(2026, 12, 3, hour, 0, 3, tzinfo=dt.timezone.utc)
    with time_machine.travel(moment, tick=False):
        found = [m for name in ("send_from", "send_until")
                 for m in BusinessProfile._meta.get_field(name).check() if m.level >= checks.WARNING]
    assert found == []
