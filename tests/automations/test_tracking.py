"""Delivery status from the ESP: anymail's Postmark tracking webhook → EmailEvent → RunAction.

The webhook is posted as Postmark posts it (JSON, HTTP basic auth with ANYMAIL's WEBHOOK_SECRET);
anymail verifies it and sends its `tracking` signal, which automations.tracking stores.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from django.db import transaction
from django.test import Client

from automations.models import EmailEvent, RunAction
from automations.services import create_automation
from automations.tracking import record_tracking_event
from tests.base import make_contact, make_invoice
from tests.threads import run_at_once as in_threads

URL = "/anymail/postmark/tracking/"
SECRET = "tracker:s3cret-webhook-pass"
EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello {{ contact.first_name }}",
         "sender_name": "Acme", "reply_to": ""}



@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def sent_email(capture=None) -> RunAction:
    """An automation's email, sent by the engine: its RunAction carries the message id."""
    create_automation(name="Invoice email", trigger="invoice_sent", frequency="unlimited", actions=[EMAIL],
                      is_active=True)
    contact = make_contact(email="grace@example.com")
    if capture is not None:
        with capture(execute=True):
            make_invoice(status="sent", contact=contact)
    else:  # a transactional test: on_commit runs by itself
        make_invoice(status="sent", contact=contact)
    result = RunAction.objects.get()
    assert result.message_id and result.email_status == "sent"
    return result


def delivery(message_id: str, at: str = "2026-06-01T09:00:05.123Z", **extra) -> dict:
    return {"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound", "MessageID": message_id,
            "Recipient": "grace@example.com", "Tag": "automation", "DeliveredAt": at,
            "Details": "smtp;250 2.0.0 OK", "Metadata": {"run_id": "1"}, **extra}


def opened(message_id: str, at: str = "2026-06-01T09:30:00Z") -> dict:
    return {"RecordType": "Open", "MessageID": message_id, "Recipient": "grace@example.com", "ReceivedAt": at,
            "FirstOpen": True, "Platform": "WebMail", "UserAgent": "Mozilla/5.0", "Tag": "automation"}


def bounced(message_id: str, at: str = "2026-06-01T10:00:00Z") -> dict:
    return {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce", "TypeCode": 1,
            "MessageID": message_id, "Email": "grace@example.com", "BouncedAt": at,
            "Description": "The server was unable to deliver your message", "Details": "550 no such user",
            "Inactive": True, "CanActivate": True, "Tag": "automation"}


def post(payload: dict, *, client: Client | None = None, headers: dict | None = None):
    return (client or Client()).post(URL, data=json.dumps(payload), content_type="application/json",
                                     **(auth() if headers is None else headers))


@pytest.mark.django_db
class TestWebhook:
    def test_delivery_event_marks_the_email_delivered(self, django_capture_on_commit_callbacks):
        result = sent_email(django_capture_on_commit_callbacks)
        response = post(delivery(result.message_id))
        assert response.status_code == 200
        result.refresh_from_db()
        assert result.email_status == "delivered"
        event = EmailEvent.objects.get()
        assert (event.result, event.message_id, event.event_type, event.recipient) == (
            result, result.message_id, "delivered", "grace@example.com")
        assert event.timestamp.isoformat() == "2026-06-01T09:00:05.123000+00:00"

    def test_the_same_webhook_twice_is_stored_once(self, django_capture_on_commit_callbacks):
        result = sent_email(django_capture_on_commit_callbacks)
        assert post(delivery(result.message_id)).status_code == 200
        assert post(delivery(result.message_id)).status_code == 200
        assert EmailEvent.objects.count() == 1
        bounce = bounced(result.message_id)
        assert post(bounce).status_code == 200 and post(bounce).status_code == 200
        assert EmailEvent.objects.count() == 2

    @pytest.mark.parametrize("headers", [{}, auth("tracker:wrong"), auth("someone:" + SECRET.split(":")[1]),
                                         {"HTTP_AUTHORIZATION": "Bearer " + SECRET}])
    def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(self, headers, django_capture_on_commit_callbacks):
        result = sent_email(django_capture_on_commit_callbacks)
        response = post(delivery(result.message_id), headers=headers)
        assert response.status_code in (400, 401, 403)
        assert not EmailEvent.objects.exists()
        result.refresh_from_db()
        assert result.email_status == "sent"

    def test_an_older_event_arriving_late_does_not_overwrite_a_newer_status(self, django_capture_on_commit_callbacks):
        result = sent_email(django_capture_on_commit_callbacks)
        post(opened(result.message_id, at="2026-06-01T09:30:00Z"))
        post(delivery(result.message_id, at="2026-06-01T09:00:05Z"))  # happened first, arrives last
        result.refresh_from_db()
        assert result.email_status == "opened"
        post(bounced(result.message_id, at="2026-06-01T10:00:00Z"))
        result.refresh_from_db()
        assert result.email_status == "bounced"
        assert EmailEvent.objects.count() == 3

    def test_an_event_without_a_time_never_hides_a_timed_one(self, django_capture_on_commit_callbacks):
        result = sent_email(django_capture_on_commit_callbacks)
        post(opened(result.message_id))
        no_time = delivery(result.message_id)
        del no_time["DeliveredAt"]
        assert post(no_time).status_code == 200
        result.refresh_from_db()
        assert result.email_status == "opened"
        assert EmailEvent.objects.filter(timestamp__isnull=True).count() == 1

    def test_an_event_for_an_unknown_message_is_kept_without_a_result(self, django_capture_on_commit_callbacks):
        result = sent_email(django_capture_on_commit_callbacks)
        assert post(delivery("not-one-of-ours")).status_code == 200
        event = EmailEvent.objects.get()
        assert event.result is None and event.message_id == "not-one-of-ours"
        result.refresh_from_db()
        assert result.email_status == "sent"


# --- Concurrent deliveries (PostgreSQL) -----------------------------------------------------------

@pytest.mark.parametrize("copies", [2, 4])
@pytest.mark.usefixtures("postgres_only")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_webhook_posted_concurrently_is_stored_once(copies):
    result = sent_email()
    payload = delivery(result.message_id)
    responses = in_threads(*[lambda: post(payload, client=Client()) for _ in range(copies)])
    assert [r.status_code for r in responses] == [200] * copies, responses
    assert EmailEvent.objects.count() == 1
    result.refresh_from_db()
    assert result.email_status == "delivered"


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_events_of_one_message_stored_at_once_end_at_the_newest_status():
    """The newer event's transaction is still open when the older one is stored: the status must
    still end as the newer one's, whichever transaction commits last."""
    from anymail.signals import AnymailTrackingEvent
    from django.utils.dateparse import parse_datetime

    result = sent_email()

    def event(event_type: str, at: str) -> AnymailTrackingEvent:
        return AnymailTrackingEvent(event_type=event_type, message_id=result.message_id, timestamp=parse_datetime(at),
                                    recipient="grace@example.com", event_id=None)

    newer_stored = threading.Event()

    def newer():
        with transaction.atomic():  # e.g. a request wrapped in ATOMIC_REQUESTS, or a slow commit
            record_tracking_event(event("opened", "2026-06-01T09:30:00+00:00"))
            newer_stored.set()
            time.sleep(0.5)

    def older():
        assert newer_stored.wait(10)
        record_tracking_event(event("delivered", "2026-06-01T09:00:00+00:00"))

    outcomes = in_threads(newer, older)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    result.refresh_from_db()
    assert result.email_status == "opened"
    assert EmailEvent.objects.count() == 2
