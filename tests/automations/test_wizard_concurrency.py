"""A double-clicked Activate: two requests of the same builder at the same moment save one
automation (real concurrent transactions, so PostgreSQL only)."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from automations import services
from automations.models import Automation
from tests.automations.test_views_support import EMAIL, Builder, action_post_data, stub_urls  # noqa: F401
from tests.base import make_owner


@pytest.mark.django_db(transaction=True)
def test_two_activates_at_the_same_moment_save_one_automation(postgres_only, monkeypatch):
    user = make_owner()
    first = Client()
    first.force_login(user)
    builder = Builder(first, "/automations/new/custom/")
    builder.next("name", {"name-name": "Double click"})
    builder.next("trigger", {"trigger-trigger": "invoice_paid"})
    builder.next("frequency", {"frequency-frequency": "unlimited"})
    builder.next("actions", action_post_data([dict(EMAIL)]))
    second = Client()
    second.cookies[settings.SESSION_COOKIE_NAME] = first.cookies[settings.SESSION_COOKIE_NAME].value

    # Saving is slow, so both requests have read the session before the first one commits.
    original = services.create_automation

    def slow_create(**kwargs):
        time.sleep(0.5)
        return original(**kwargs)

    monkeypatch.setattr(services, "create_automation", slow_create)
    barrier = threading.Barrier(2)
    responses = []

    def press(client: Client) -> None:
        try:
            barrier.wait(timeout=10)
            responses.append(client.post(builder.url, {"wizard-current_step": "review", "review-activate": "on"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(client,)) for client in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Automation.objects.count() == 1
    automation = Automation.objects.get()
    assert sorted(r.status_code for r in responses) == [302, 302]
    assert {r["Location"] for r in responses} == {f"/automations/{automation.pk}/"}
