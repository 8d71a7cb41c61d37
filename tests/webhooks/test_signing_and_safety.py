"""The signature against the Standard Webhooks spec's test vector, and the SSRF guard: which
addresses a webhook may go to, checked when it is saved and again when it is sent."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.utils import timezone

from webhooks import safety, services
from webhooks.forms import SubscriptionForm
from webhooks.models import Attempt, Delivery, Message, Subscription, new_secret


def test_the_signature_matches_the_specs_test_vector():
    # From the Standard Webhooks reference implementations' tests.
    message = Message(key="k", event_type="test", payload={})
    delivery = Delivery(message=message, url="https://example.com/", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                        webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek")
    now = dt.datetime.fromtimestamp(1614265330, tz=dt.timezone.utc)
    headers = services.headers_for(delivery, '{"test": 2432232314}', now=now)
    assert headers == {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                       "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


def test_secrets_are_standard_webhooks_secrets_and_all_different():
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(secret.startswith("whsec_") and len(secret) == 50 for secret in secrets)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost:8000/", "http://10.0.0.5/", "http://192.168.1.1/",
    "http://172.16.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0.0.0.0/",
    "http://224.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://240.0.0.1/",
])
def test_private_and_local_addresses_are_refused(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(safety.UnsafeAddress, match="private or local"):
        safety.resolve(url)


@pytest.mark.parametrize("url, message", [
    ("ftp://93.184.215.14/x", "starts with https://"),
    ("file:///etc/passwd", "starts with https://"),
    ("javascript:alert(1)", "starts with https://"),
    ("93.184.215.14/hook", "starts with https://"),
    ("https://user:pw@93.184.215.14/", "user name or password"),
    ("https://93.184.215.14/" + "a" * 2000, "too long"),
    ("https://no-such-host.invalid/", "could not be found"),
])
def test_bad_addresses_are_refused_with_a_message(url, message):
    with pytest.raises(safety.UnsafeAddress, match=message):
        safety.resolve(url)


def test_a_public_address_passes(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert safety.resolve("https://93.184.215.14:8443/hook") == ("https", "93.184.215.14", 8443, "93.184.215.14")


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))])
    with pytest.raises(safety.UnsafeAddress):
        safety.resolve("https://rebind.example/")


@pytest.mark.django_db
def test_the_form_refuses_a_private_address_unless_the_setting_allows_it(settings):
    data = {"url": "http://127.0.0.1:9000/hook", "event_types": ["invoice_paid"], "is_active": "on"}
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    form = SubscriptionForm(data)
    assert not form.is_valid() and "private or local" in form.errors["url"][0]
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert SubscriptionForm(data).is_valid()


@pytest.mark.django_db
def test_the_address_is_checked_again_at_sending_time(settings):
    """Saved while allowed (or a name that resolved to a public address then): refused at send."""
    sub = Subscription.objects.create(url="http://127.0.0.1:9/hook", event_types=["invoice_paid"])
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    [delivery_id] = services.emit(event_type="invoice_paid", key="k", data={})
    services.deliver_one(delivery_id, now=timezone.now())
    attempt = Attempt.objects.get()
    assert attempt.response_code is None and "private or local" in attempt.error
    assert sub.deliveries.get().status == "pending"
