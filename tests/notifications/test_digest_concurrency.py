"""Two workers sending the digests at the same moment on PostgreSQL: each owner gets one email."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from notifications import services
from tests.base import make_owner
from tests.threads import run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def test_two_workers_send_each_owner_one_digest():
    for name in ("o1", "o2", "o3"):
        owner = make_owner(name)
        owner.email = f"{name}@example.com"
        owner.save()
    now = timezone.now()
    for n in range(5):
        services.notify_owners(kind="run_failed", key=f"k{n}", text=f"Run {n} failed", now=now)
    for _ in range(3):
        results = run_at_once(lambda: services.send_digests(now=now), lambda: services.send_digests(now=now))
        assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(email.to[0] for email in mail.outbox) == ["o1@example.com", "o2@example.com", "o3@example.com"]
