"""The owners' webhook pages: create (once), the secret shown on request, edit, delete after a
confirmation, send a test event, the delivery log and redeliver; a team member is refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.base import make_team_member, messages_of
from webhooks.models import Attempt, Delivery, Subscription

pytestmark = pytest.mark.django_db


def test_an_owner_creates_a_webhook_once_and_sees_its_secret_on_request(client, owner, receiver):
    page = client.get(reverse("webhooks:webhook-create")).content.decode()
    nonce = page.split('name="nonce" value="')[1].split('"')[0]
    data = {"url": receiver.url, "description": "n8n", "event_types": ["invoice_paid", "run_failed"],
            "is_active": "on", "nonce": nonce}
    response = client.post(reverse("webhooks:webhook-create"), data)
    client.post(reverse("webhooks:webhook-create"), data)  # a second click on the same form
    subscription = Subscription.objects.get()
    assert response["Location"] == reverse("webhooks:webhook-detail", args=[subscription.pk])
    assert subscription.created_by == owner and subscription.event_types == ["invoice_paid", "run_failed"]
    detail = client.get(response["Location"]).content.decode()
    assert subscription.secret not in detail and "Show secret" in detail
    assert subscription.secret in client.get(response["Location"] + "?secret=1").content.decode()


def test_editing_a_switched_off_webhook_on_again_starts_the_failures_anew(client, owner, subscription):
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False, consecutive_failures=20,
                                                           disabled_reason="Switched off")
    client.post(reverse("webhooks:webhook-edit", args=[subscription.pk]),
                {"url": subscription.url, "event_types": ["invoice_sent"], "is_active": "on"})
    subscription.refresh_from_db()
    assert subscription.is_active and subscription.consecutive_failures == 0 and not subscription.disabled_reason
    assert subscription.event_types == ["invoice_sent"]


def test_deleting_asks_first(client, owner, subscription):
    page = client.get(reverse("webhooks:webhook-delete", args=[subscription.pk])).content.decode()
    assert "Delete the webhook to" in page
    assert Subscription.objects.exists()
    response = client.post(reverse("webhooks:webhook-delete", args=[subscription.pk]))
    assert response["Location"] == reverse("webhooks:webhook-list")
    assert not Subscription.objects.exists()


def test_send_test_event_and_redeliver_from_the_log(client, owner, subscription, receiver,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhooks:webhook-test", args=[subscription.pk]), follow=True)
    assert "Test event queued" in " ".join(messages_of(response))
    delivery = Delivery.objects.get()
    assert delivery.status == "succeeded" and len(receiver.received) == 1
    log = client.get(reverse("webhooks:delivery-detail", args=[delivery.pk])).content.decode()
    assert delivery.webhook_id in log and ">200<" in log
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("webhooks:delivery-redeliver", args=[delivery.pk]))
    assert Attempt.objects.count() == 2 and len(receiver.received) == 2
    listing = client.get(reverse("webhooks:webhook-list")).content.decode()
    assert subscription.url[:60] in listing


def test_a_team_member_is_refused(client, subscription):
    client.force_login(make_team_member("m1"))
    assert client.get(reverse("webhooks:webhook-list")).status_code == 403
    assert client.post(reverse("webhooks:webhook-test", args=[subscription.pk])).status_code == 403
    assert not Delivery.objects.exists()
