"""Outgoing webhooks end to end against a real receiver on loopback: what is sent, how it is
signed (checked with the standardwebhooks library on the receiver's side), retries, the log,
redelivery, switching a failing subscription off, and that each attempt is made once."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from invoices import services as invoice_services
from notifications.models import Notification
from tests.base import make_invoice, make_owner
from webhooks import services
from webhooks.models import Attempt, Delivery, DeliveryStatus, Message, Subscription

pytestmark = pytest.mark.django_db


def pay(invoice, amount=None):
    return invoice_services.record_payment(invoice=invoice, amount=amount or invoice.balance)


def test_a_paid_invoice_is_posted_signed_and_the_receiver_verifies_it(subscription, receiver,
                                                                         django_capture_on_commit_callbacks):
    invoice = make_invoice(status="sent")
    receiver.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice)
    types = sorted(json.loads(item.body)["type"] for item in receiver.received)
    assert types == ["invoice_paid", "payment_recorded"]
    for item in receiver.received:
        assert item.path == "/hooks/invoices?x=1"
        payload = receiver.verify(item)  # raises if the signature is wrong
        assert payload["data"]["invoice"]["number"] == invoice.number
        assert item.headers["webhook-id"].startswith("msg_")
        assert item.headers["webhook-signature"].startswith("v1,")
    paid = next(json.loads(i.body) for i in receiver.received if json.loads(i.body)["type"] == "invoice_paid")
    assert paid["data"]["invoice"]["status"] == "paid"
    assert paid["data"]["invoice"]["amount_due"] == "0.00"
    assert set(Delivery.objects.filter(message__event_type__in=["invoice_paid", "payment_recorded"])
               .values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    attempt = Attempt.objects.filter(delivery__message__event_type="invoice_paid").get()
    assert attempt.response_code == 200 and attempt.response_body == "ok"


def test_a_wrong_secret_fails_the_receivers_check(subscription, receiver, django_capture_on_commit_callbacks):
    receiver.secret = "whsec_" + "A" * 43
    invoice = make_invoice(status="sent")
    receiver.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice)
    assert receiver.received and all(isinstance(item.verified, Exception) for item in receiver.received)


def test_only_subscribed_events_are_sent_and_nothing_is_written_without_subscribers(receiver, db):
    invoice = make_invoice(status="sent")
    pay(invoice)
    assert not Message.objects.exists()
    Subscription.objects.create(url=receiver.url, event_types=["invoice_sent"])
    pay(make_invoice(status="sent"))
    assert list(Message.objects.values_list("event_type", flat=True)) == ["invoice_sent"]


def test_a_switched_off_subscription_gets_nothing(subscription, receiver):
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False)
    make_invoice(status="sent")
    assert not Delivery.objects.exists()


def test_the_same_event_twice_is_one_message_and_one_delivery(subscription):
    now = timezone.now()
    for _ in range(2):
        services.emit(event_type="invoice_paid", key="invoice_paid:1", data={"a": 1}, now=now)
    assert Message.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_a_failed_attempt_is_retried_after_the_backoff_with_the_same_webhook_id(subscription, receiver):
    receiver.answers = [(500, "boom"), (503, "")]
    now = timezone.now()
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={"n": 1}, now=now)
    assert services.deliver_one(delivery_id, now=now) == DeliveryStatus.PENDING
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.next_attempt_at == now + dt.timedelta(seconds=30)
    assert delivery.response_code == 500
    # Not due yet: nothing is sent.
    assert services.sweep(now=now + dt.timedelta(seconds=10)) == 0
    assert services.sweep(now=now + dt.timedelta(seconds=31)) == 1
    assert Delivery.objects.get(pk=delivery_id).next_attempt_at == now + dt.timedelta(seconds=31 + 120)
    assert services.sweep(now=now + dt.timedelta(seconds=200)) == 1
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.SUCCEEDED
    assert len({item.headers["webhook-id"] for item in receiver.received}) == 1
    assert len(receiver.received) == 3
    assert list(Attempt.objects.filter(delivery_id=delivery_id).order_by("number").values_list("response_code", flat=True)) == [500, 503, 200]


def test_a_delivery_gives_up_after_a_day(subscription, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER = 1000
    receiver.answers = [(500, "")] * 50
    now = timezone.now()
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={}, now=now)
    clock = now
    services.deliver_one(delivery_id, now=clock)
    for _ in range(40):
        delivery = Delivery.objects.get(pk=delivery_id)
        if delivery.status != DeliveryStatus.PENDING:
            break
        clock = delivery.next_attempt_at
        services.sweep(now=clock)
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert clock - now <= dt.timedelta(days=1)
    assert clock - now >= dt.timedelta(hours=12)
    assert 5 <= delivery.attempts <= 12


def test_a_redirect_is_not_followed_and_counts_as_a_failure(subscription, receiver):
    receiver.answers = [(302, "")]
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    assert services.deliver_one(delivery_id) == DeliveryStatus.PENDING
    assert len(receiver.received) == 1
    assert "302" in Delivery.objects.get(pk=delivery_id).error


def test_the_log_keeps_only_the_start_of_a_long_answer(subscription, receiver):
    receiver.answers = [(200, "x" * 50_000)]
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    services.deliver_one(delivery_id)
    assert len(Attempt.objects.get().response_body) == 1000


def test_a_slow_receiver_times_out_and_is_retried(subscription, receiver, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    receiver.delay = 2
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    assert services.deliver_one(delivery_id) == DeliveryStatus.PENDING
    attempt = Attempt.objects.get()
    assert attempt.response_code is None and "timed out" in attempt.error.lower()


def test_nobody_listening_is_a_failure_with_its_error(subscription, receiver):
    Subscription.objects.filter(pk=subscription.pk).update(url="http://127.0.0.1:9/nothing")
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    assert services.deliver_one(delivery_id) == DeliveryStatus.PENDING
    assert "Connection" in Attempt.objects.get().error


def test_a_delivery_is_not_sent_twice_by_two_claims(subscription, receiver):
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    assert services.deliver_one(delivery_id) == DeliveryStatus.SUCCEEDED
    assert services.deliver_one(delivery_id) is None
    assert services.sweep(now=timezone.now() + dt.timedelta(hours=1)) == 0
    assert len(receiver.received) == 1


def test_a_worker_that_died_mid_send_leaves_it_to_the_sweeper_with_the_same_id(subscription, receiver):
    now = timezone.now()
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={}, now=now)
    assert services.claim([delivery_id], now) == [delivery_id]  # the worker claims, then dies
    assert services.sweep(now=now + dt.timedelta(seconds=30)) == 0  # its lease still holds
    assert services.sweep(now=now + services.LEASE + dt.timedelta(seconds=1)) == 1
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert receiver.received[0].headers["webhook-id"] == delivery.webhook_id


def test_redeliver_sends_again_with_the_same_webhook_id(subscription, receiver, django_capture_on_commit_callbacks):
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    services.deliver_one(delivery_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.redeliver(delivery=Delivery.objects.get(pk=delivery_id))
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert Attempt.objects.filter(delivery_id=delivery_id).count() == 2


def test_a_subscription_failing_again_and_again_is_switched_off_and_the_owners_told(subscription, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER = 3
    owner = make_owner("boss")
    receiver.answers = [(500, "")] * 10
    now = timezone.now()
    ids = [services.emit(event_type="invoice_paid", key=f"k{n}", data={}, now=now)[0] for n in range(4)]
    for delivery_id in ids[:3]:
        services.deliver_one(delivery_id, now=now)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert "3" in subscription.disabled_reason
    [note] = Notification.objects.filter(user=owner)
    assert note.kind == "webhook_disabled" and subscription.url in note.text
    # What is still waiting is not sent to a switched-off address.
    assert services.deliver_one(ids[3], now=now) == DeliveryStatus.FAILED
    assert len(receiver.received) == 3
    # A fourth failure reported again (another worker) does not tell the owners twice.
    services._count_failure(subscription, now=now)
    assert Notification.objects.filter(user=owner).count() == 1


def test_a_success_resets_the_failures_in_a_row(subscription, receiver):
    receiver.answers = [(500, "")]
    for key in ("a", "b"):
        [delivery_id] = services.emit(event_type="invoice_paid", key=key, data={})
        services.deliver_one(delivery_id)
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_a_partial_payment_sends_payment_recorded_only(subscription, receiver, django_capture_on_commit_callbacks):
    invoice = make_invoice(status="sent")
    receiver.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice, Decimal("10.00"))
    [item] = receiver.received
    payload = receiver.verify(item)
    assert payload["type"] == "payment_recorded" and payload["data"]["payment"]["amount"] == "10.00"


def test_an_overdue_scan_sends_one_message_per_invoice(receiver, db):
    Subscription.objects.create(url=receiver.url, event_types=["invoice_overdue"])
    today = dt.date.today()
    invoices = [make_invoice(status="sent", issue_date=today - dt.timedelta(days=30),
                             due_date=today - dt.timedelta(days=5)) for _ in range(3)]
    invoice_services.mark_overdue()
    invoice_services.mark_overdue()
    assert sorted(Message.objects.values_list("key", flat=True)) == sorted(
        f"invoice_overdue:{i.pk}:{i.due_date.isoformat()}" for i in invoices)
    assert Delivery.objects.count() == 3


def test_a_test_event_goes_to_that_subscription_only(subscription, receiver, django_capture_on_commit_callbacks):
    other = Subscription.objects.create(url=receiver.url, event_types=["invoice_paid"])
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.send_test(subscription=subscription)
    assert delivery.subscription == subscription
    [item] = receiver.received
    assert receiver.verify(item)["type"] == "test"
    assert not other.deliveries.exists()


def test_a_webhook_deleted_while_its_delivery_is_claimed_sends_nothing(subscription, receiver):
    now = timezone.now()
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={}, now=now)
    assert services.claim([delivery_id], now) == [delivery_id]
    subscription.delete()
    assert services.send_claimed(delivery_id, now=now) == DeliveryStatus.FAILED
    assert not receiver.received


def test_an_address_with_letters_beyond_ascii_in_its_path_is_delivered(receiver, db):
    """The form takes https://hooks.example.com/rechnungen/größe (a valid URL), but http.client sends
    the request line as ASCII: every attempt failed with "'ascii' codec can't encode …" until the
    webhook was switched off. The path goes out percent-encoded (UTF-8), as a browser sends it."""
    base = receiver.url.split("/hooks/")[0]
    subscription = Subscription.objects.create(url=base + "/rechnungen/größe?q=ä&x=1",
                                               event_types=["invoice_paid"])
    receiver.secret = subscription.secret
    [delivery_id] = services.emit(event_type="invoice_paid", key="k1", data={})
    assert services.deliver_one(delivery_id) == DeliveryStatus.SUCCEEDED, Delivery.objects.get(pk=delivery_id).error
    [item] = receiver.received
    assert item.path == "/rechnungen/gr%C3%B6%C3%9Fe?q=%C3%A4&x=1"
    assert receiver.verify(item)["type"] == "invoice_paid"


def test_a_test_event_reaches_a_switched_off_webhook_and_other_events_do_not(subscription, receiver,
                                                                              django_capture_on_commit_callbacks):
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False, disabled_reason="Failed 20 times.")
    subscription.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.send_test(subscription=subscription)
    [item] = receiver.received
    assert receiver.verify(item)["type"] == "test"
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED
    # A real event waiting from before the switch-off is not sent.
    [pending] = services.emit(event_type="invoice_paid", key="k-off", data={}, subscription_ids=[subscription.pk])
    assert services.deliver_one(pending) == DeliveryStatus.FAILED
    assert len(receiver.received) == 1


def test_redeliver_is_refused_while_a_worker_is_sending_it(subscription, receiver):
    from core.errors import DomainError

    now = timezone.now()
    [delivery_id] = services.emit(event_type="invoice_paid", key="k-busy", data={}, now=now)
    assert services.claim([delivery_id], now) == [delivery_id]  # a worker holds it, sending
    with pytest.raises(DomainError, match="being sent right now"):
        services.redeliver(delivery=Delivery.objects.get(pk=delivery_id), now=now)
    assert services.claim([delivery_id], now) == [], "no second worker may take it meanwhile"
    assert services.send_claimed(delivery_id, now=now) == DeliveryStatus.SUCCEEDED
    services.redeliver(delivery=Delivery.objects.get(pk=delivery_id), now=now)  # once it is done: fine
    assert Delivery.objects.get(pk=delivery_id).status == DeliveryStatus.PENDING
