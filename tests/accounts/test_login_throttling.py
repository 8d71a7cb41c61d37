"""Login throttling (django-axes): wrong passwords lock out one user name from one address for a while."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from tests.base import PASSWORD, make_owner, make_team_member

pytestmark = pytest.mark.django_db


def log_in(client, username, password, url=None, address="203.0.113.7"):
    return client.post(url or reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=address)


def test_after_the_failure_limit_even_the_right_password_is_refused_until_the_cooloff_ends(client):
    owner = make_owner("boss")
    start = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = log_in(client, owner.username, "wrong")
            assert response.status_code == 200 and "correct username and password" in response.content.decode()
        response = log_in(client, owner.username, "wrong")
        assert response.status_code == 429
        page = response.content.decode()
        assert "Too many failed logins" in page and "Try again in 15 minutes" in page
        response = log_in(client, owner.username, PASSWORD)
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session
        # The admin's login page is throttled too.
        assert log_in(client, owner.username, PASSWORD, url=reverse("admin:login")).status_code == 429

        traveller.move_to(start + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
        response = log_in(client, owner.username, PASSWORD)
        assert response.status_code == 302 and response["Location"] == reverse("dashboard")


def test_a_lockout_touches_neither_other_people_nor_the_same_person_elsewhere(client):
    owner, member = make_owner("boss"), make_team_member("sam")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, owner.username, "wrong")
    assert log_in(client, owner.username, PASSWORD).status_code == 429
    # Someone else from the same address, and the owner from home, still get in.
    assert log_in(client, member.username, PASSWORD).status_code == 302
    client.logout()
    assert log_in(client, owner.username, PASSWORD, address="198.51.100.20").status_code == 302


def test_a_successful_login_resets_the_count(client):
    owner = make_owner("boss")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, owner.username, "wrong")
    assert log_in(client, owner.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, owner.username, "wrong").status_code == 200
    assert log_in(client, owner.username, PASSWORD).status_code == 302
