"""Two workers at once on PostgreSQL: a delivery is claimed by one of them only, so each attempt
reaches the receiver once; two sweepers share the due deliveries without overlap."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.threads import run_at_once
from webhooks import services
from webhooks.models import Attempt, Delivery, DeliveryStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


@pytest.fixture(autouse=True)
def _no_wake_up(monkeypatch):
    """The deliveries wait for the workers of each test (the queue runs inline in tests)."""
    monkeypatch.setattr(services, "enqueue", lambda ids: None)


def test_two_workers_delivering_the_same_delivery_send_it_once(subscription, receiver):
    [delivery_id] = services.emit(event_type="invoice_paid", key="k", data={})
    for _ in range(5):
        results = run_at_once(*[lambda: services.deliver_one(delivery_id)] * 4)
        assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(receiver.received) == 1
    assert Attempt.objects.count() == 1
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_two_sweepers_at_once_claim_different_deliveries(subscription, receiver):
    now = timezone.now()
    ids = [services.emit(event_type="invoice_paid", key=f"k{n}", data={}, now=now)[0] for n in range(60)]
    first, second = run_at_once(lambda: services.claim_due(now, limit=40), lambda: services.claim_due(now, limit=40))
    assert not set(first) & set(second)
    assert sorted(first + second) == ids
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_two_sweepers_sending_at_once_make_each_attempt_once(subscription, receiver):
    now = timezone.now()
    for n in range(30):
        services.emit(event_type="invoice_paid", key=f"k{n}", data={}, now=now)
    results = run_at_once(lambda: services.sweep(now=now), lambda: services.sweep(now=now))
    assert sum(results) == 30
    assert len(receiver.received) == 30
    assert len({item.headers["webhook-id"] for item in receiver.received}) == 30
