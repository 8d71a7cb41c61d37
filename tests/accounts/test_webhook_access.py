"""The ESP webhooks: closed without ANYMAIL_WEBHOOK_SECRET, and each one refuses a post without it."""

from __future__ import annotations

import json

import pytest

from automations.models import EmailEvent
from config.webhooks import TRACKING_VIEWS
from tests.automations.test_tracking import SECRET, URL, auth, delivery


def webhook_urls() -> list[str]:
    return [f"/anymail/{esp}/tracking/" for esp in TRACKING_VIEWS]


@pytest.mark.django_db
def test_without_a_secret_the_webhooks_are_closed(client, settings):
    settings.ANYMAIL = {}
    urls = webhook_urls()
    assert URL in urls and len(urls) > 10
    for url in urls:
        response = client.post(url, json.dumps(delivery("abc")), content_type="application/json", **auth())
        assert response.status_code == 403, url
        assert "ANYMAIL_WEBHOOK_SECRET" in response.content.decode()
    assert not EmailEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("credentials", [None, "tracker:wrong", "someone:" + SECRET.split(":")[1]],
                         ids=["none", "wrong password", "wrong user"])
def test_every_webhook_refuses_a_post_without_the_secret(client, settings, credentials):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    headers = auth(credentials) if credentials else {}
    answers = {}
    for url in webhook_urls():
        response = client.post(url, json.dumps(delivery("abc")), content_type="application/json", **headers)
        answers[url] = response.status_code
    # anymail refuses a wrong secret with 400; an ESP that is not set up here answers 404, never 500.
    assert answers[URL] == 400
    assert set(answers.values()) <= {400, 404}, answers
    assert not EmailEvent.objects.exists()


@pytest.mark.django_db
def test_the_webhook_with_the_secret_is_accepted_without_a_login(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    response = client.post(URL, json.dumps(delivery("abc")), content_type="application/json", **auth())
    assert response.status_code == 200


@pytest.mark.django_db
def test_an_unknown_esp_or_inbound_mail_is_not_routed(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    for url in ("/anymail/nosuchesp/tracking/", "/anymail/postmark/inbound/", "/anymail/mailgun/inbound_mime/"):
        response = client.post(url, "{}", content_type="application/json", **auth())
        assert response.status_code == 404, url
