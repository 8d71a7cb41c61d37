"""Login throttling (django-axes): wrong passwords lock out one user name from one address for a while."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
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


# --- Behind a proxy: the client's address, as the trusted proxies wrote it ----------------------

PROXY = "10.0.0.2"


def log_in_through_proxy(client, username, password, forwarded_for):
    """A login as the proxy passes it on: from the proxy's address, the client in X-Forwarded-For."""
    return client.post(reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_one_clients_failures_do_not_lock_out_another(client):
    owner = make_owner("boss")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in_through_proxy(client, owner.username, "wrong", "198.51.100.66")
    assert log_in_through_proxy(client, owner.username, PASSWORD, "198.51.100.66").status_code == 429
    # The owner at another address, behind the same proxy, still gets in.
    assert log_in_through_proxy(client, owner.username, PASSWORD, "203.0.113.7").status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_an_address_the_client_prepends_to_x_forwarded_for_does_not_pick_the_address(client):
    owner = make_owner("boss")
    # The attacker claims a new address on every try; the proxy appends the real one.
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in_through_proxy(client, owner.username, "wrong", f"192.0.2.{n + 1}, 198.51.100.66")
    assert log_in_through_proxy(client, owner.username, PASSWORD, "198.51.100.66").status_code == 429
    # Claiming to be the owner's address locks nobody else out either.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in_through_proxy(client, owner.username, "wrong", "203.0.113.7, 198.51.100.66")
    assert log_in_through_proxy(client, owner.username, PASSWORD, "203.0.113.7").status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_with_two_proxies_the_address_the_outer_proxy_saw_counts(client):
    owner = make_owner("boss")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in_through_proxy(client, owner.username, "wrong", "1.2.3.4, 198.51.100.66, 10.0.0.1")
    assert log_in_through_proxy(client, owner.username, PASSWORD, "198.51.100.66, 10.0.0.1").status_code == 429
    assert log_in_through_proxy(client, owner.username, PASSWORD, "203.0.113.7, 10.0.0.1").status_code == 302


def test_without_a_proxy_the_header_is_ignored(client):
    """Reached directly, a client could otherwise send any X-Forwarded-For and never be locked out."""
    owner = make_owner("boss")
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": owner.username, "password": "wrong"},
                    REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
    assert log_in(client, owner.username, PASSWORD, address="198.51.100.66").status_code == 429


def test_the_trusted_proxy_count_follows_behind_https_proxy():
    from tests.config.test_settings import import_settings

    code = "print(s.TRUSTED_PROXY_COUNT)"
    assert import_settings(code, BEHIND_HTTPS_PROXY="true").stdout.split() == ["1"]
    assert import_settings(code, BEHIND_HTTPS_PROXY="false").stdout.split() == ["0"]
    assert import_settings(code, BEHIND_HTTPS_PROXY="true", TRUSTED_PROXY_COUNT="2").stdout.split() == ["2"]
    refused = import_settings(code, TRUSTED_PROXY_COUNT="-1")
    assert refused.returncode != 0 and "TRUSTED_PROXY_COUNT must be 0 or more" in refused.stderr
