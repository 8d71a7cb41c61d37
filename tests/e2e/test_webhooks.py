"""An owner adds a webhook in the browser, sends a test event that a real receiver on loopback
verifies, reads the delivery log; the bell shows failure alerts until they are marked read."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from notifications import services as notifications
from tests.webhooks.receiver import start
from webhooks.models import Delivery, Subscription


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receiver, server = start()
    yield receiver
    server.shutdown()
    server.server_close()


def test_add_a_webhook_send_a_test_event_and_read_the_log(page, owner, receiver):
    page.goto(page.url_for("/"))
    page.get_by_role("button", name=owner.get_username()).click()
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1, name="Webhooks")).to_be_visible()
    page.get_by_role("link", name="New webhook").first.click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("n8n")
    page.get_by_label("Invoice is paid").check()
    page.get_by_label("Payment recorded").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Webhook saved.")
    subscription = Subscription.objects.get()
    assert subscription.event_types == ["invoice_paid", "payment_recorded"]

    page.get_by_role("link", name="Show secret").click()
    expect(page.locator("#webhook-secret")).to_have_text(subscription.secret)
    receiver.secret = subscription.secret

    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("alert")).to_contain_text("Test event queued")
    delivery = Delivery.objects.get()
    row = page.locator(f"#delivery-{delivery.pk}")
    expect(row).to_contain_text("Delivered")
    [item] = receiver.received
    assert receiver.verify(item)["type"] == "test"
    assert item.headers["webhook-id"] == delivery.webhook_id

    row.get_by_role("link").click()
    expect(page.locator("tr.attempt")).to_have_count(1)
    expect(page.locator("tr.attempt")).to_contain_text("200")
    page.get_by_role("button", name="Redeliver").click()
    expect(page.locator("tr.attempt")).to_have_count(2)
    assert [i.headers["webhook-id"] for i in receiver.received] == [delivery.webhook_id] * 2
    assert json.loads(receiver.received[1].body) == json.loads(receiver.received[0].body)


def test_a_private_address_is_refused_in_the_form(page, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    page.goto(page.url_for("/webhooks/new/"))
    page.get_by_label("URL").fill("http://169.254.169.254/latest/meta-data/")
    page.get_by_label("Invoice is paid").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("private or local network")
    assert not Subscription.objects.exists()


def test_the_bell_counts_alerts_until_they_are_read(page, owner):
    notifications.notify_owners(kind="run_failed", key="a", text="The automation “Thank you” failed for Ada")
    notifications.notify_owners(kind="email_bounced", key="b", text="An email to ada@example.com bounced")
    page.goto(page.url_for("/"))
    expect(page.locator("#notification-count")).to_contain_text("2")
    page.locator("#notification-bell").click()
    expect(page.get_by_role("heading", level=1, name="Alerts")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator("#notification-count")).to_have_count(0)
