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


# --- Malformed bodies with the right secret: 400 and a line in the log, never a 500 ---------------

MALFORMED_BODIES = {
    "truncated JSON": b'{"RecordType": "Delivery", "MessageID": "ab',
    "a list of numbers": b"[1,2]",
    "empty": b"",
    "invalid UTF-8": b'{"RecordType": "\xff\xfe"}',
    "50,000-deep nesting": b"[" * 50_000 + b"]" * 50_000,
    "a number": b"1",
    "null": b"null",
}
# The ESPs that sign their posts get their keys, so their checks run on these bodies too
# (MailerSend's signature covers the raw body, so its parser is reached as well).
SIGNING = {"MAILGUN_WEBHOOK_SIGNING_KEY": "mg-key", "MAILERSEND_SIGNING_SECRET": "ms-secret",
           "MANDRILL_WEBHOOK_KEY": "md-key", "UNISENDER_GO_API_KEY": "ug-key", "POSTAL_WEBHOOK_KEY": "cG9zdGFs"}


def signed_headers(esp: str, body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    if esp == "mailersend":
        return {"HTTP_SIGNATURE": hmac.new(b"ms-secret", body, hashlib.sha256).hexdigest()}
    return {}


@pytest.mark.django_db
@pytest.mark.parametrize("body", list(MALFORMED_BODIES), ids=str)
def test_a_malformed_body_with_the_right_secret_is_refused_with_400_and_logged(client, settings, caplog, body):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, **SIGNING}
    raw = MALFORMED_BODIES[body]
    answers = {}
    for esp in TRACKING_VIEWS:
        caplog.clear()
        response = client.post(f"/anymail/{esp}/tracking/", raw, content_type="application/json",
                               **auth(), **signed_headers(esp, raw))
        answers[esp] = response.status_code
        if response.status_code == 400:
            assert any(r.levelname in ("WARNING", "ERROR") for r in caplog.records), f"{esp}: nothing logged"
    # 404 only for an ESP this server cannot run (Amazon SES without boto3).
    assert {esp for esp, status in answers.items() if status != 400} <= {"amazon_ses"}, answers
    assert answers["postmark"] == answers["sendgrid"] == answers["mailersend"] == 400
    assert not EmailEvent.objects.exists()


@pytest.mark.django_db
def test_an_empty_object_is_refused_where_the_esp_needs_fields_and_stores_nothing_anywhere(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, **SIGNING}
    answers = {esp: client.post(f"/anymail/{esp}/tracking/", b"{}", content_type="application/json", **auth(),
                                **signed_headers(esp, b"{}")).status_code
               for esp in TRACKING_VIEWS}
    assert answers["resend"] == answers["mailjet"] == 400
    # Others read {} as no event at all: accepted, nothing to store.
    assert set(answers.values()) <= {200, 400, 404}, answers
    assert not EmailEvent.objects.filter(message_id__gt="").exists()


@pytest.mark.django_db
def test_the_malformed_body_is_named_in_the_log(client, settings, caplog):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    response = client.post(URL, b'{"RecordType": ', content_type="application/json", **auth())
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert "Refused a malformed postmark webhook post (15 bytes): JSONDecodeError" in caplog.text
