"""An automation's email through a real SMTP server on localhost (aiosmtpd), and through anymail.

The engine runs inline (test settings: sync queue); only the mail transport is real. The server
records every message it accepts; a recipient it refuses gets `550`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings

from automations import dispatch
from automations.models import Run, RunAction
from automations.services import create_automation
from invoices.models import Contact
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db

REFUSED = "nobody@example.com"
EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }} for {{ contact.name }}",
         "body": "Hello {{ contact.first_name }},\n\nyou owe {{ invoice.amount_due }} to {{ business.name }}.\n{{ invoice.link }}",
         "sender_name": "Acme Billing", "reply_to": "billing@acme.test"}


class Recorder:
    """An aiosmtpd handler that keeps what it accepted and refuses one address with 550."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content, policy=email.policy.default) for e in self.envelopes]


def free_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(port: int) -> Iterator[Recorder]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()


def smtp_settings(port: int):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port,
        EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="", EMAIL_TIMEOUT=5,
        DEFAULT_FROM_EMAIL="billing@acme-invoices.test", BUSINESS_NAME="Acme <GmbH>",
    )


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def server(port) -> Iterator[Recorder]:
    with smtp_server(port) as recorder, smtp_settings(port):
        yield recorder


def email_automation(**overrides):
    return create_automation(name="Invoice email", trigger="invoice_sent", frequency="unlimited",
                             actions=[{**EMAIL, **overrides}], is_active=True)


def send(contact, capture):
    with capture(execute=True):
        return make_invoice(status="sent", contact=contact)


def test_email_arrives_with_sender_reply_to_parts_and_its_message_id(server, django_capture_on_commit_callbacks):
    email_automation()
    # Imported data that bypassed the form: line breaks and markup in the name.
    contact = Contact.objects.create(name="Eve<b>\r\nBcc: spy@evil.test\nX-Injected: 1", email="eve@example.com")
    invoice = send(contact, django_capture_on_commit_callbacks)

    (envelope,) = server.envelopes
    assert envelope.mail_from == "billing@acme-invoices.test"
    assert envelope.rcpt_tos == ["eve@example.com"]
    header_lines = re.split(rb"\r?\n\r?\n", envelope.original_content, maxsplit=1)[0].splitlines()
    assert not [line for line in header_lines if line.startswith((b"Bcc:", b"X-Injected:"))], header_lines
    assert [line for line in header_lines if b"spy@evil.test" in line] == [
        b"Subject: Invoice %s for Eve<b> Bcc: spy@evil.test X-Injected: 1" % invoice.number.encode()]
    (message,) = server.messages
    assert message["From"] == "Acme Billing <billing@acme-invoices.test>"
    assert message["Reply-To"] == "billing@acme.test"
    assert message["To"] == "eve@example.com"
    assert message["Bcc"] is None and message["X-Injected"] is None
    subject = message["Subject"]
    assert "\r" not in subject and "\n" not in subject
    assert subject == f"Invoice {invoice.number} for Eve<b> Bcc: spy@evil.test X-Injected: 1"

    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Hello Eve<b>") and "you owe €119.00 to Acme <GmbH>." in text
    assert html.startswith("<p>Hello Eve&lt;b&gt;") and "Acme &lt;GmbH&gt;" in html
    assert "<b>" not in html and "<GmbH>" not in html
    assert "/i/" in text

    result = RunAction.objects.get()
    assert result.status == "succeeded" and result.email_status == "sent"
    assert result.message_id == message["Message-ID"]
    assert result.message_id.endswith("@acme-invoices.test>")
    assert Run.objects.get().status == "succeeded"


def test_server_down_leaves_the_run_pending_then_it_is_delivered_once_after_the_backoff(
        port, django_capture_on_commit_callbacks):
    email_automation()
    with smtp_settings(port):  # nothing listens on the port yet
        send(make_contact(email="late@example.com"), django_capture_on_commit_callbacks)
        run = Run.objects.get()
        assert run.status == "pending" and run.attempts == 1
        assert "not reachable" in run.error and "Connection refused" in run.error
        assert run.next_attempt_at is not None and run.locked_until is None
        result = RunAction.objects.get()
        assert result.status == "pending" and "not reachable" in result.error

        with smtp_server(port) as recorder:
            # Before the backoff is over nothing is tried; after it, the email goes out once.
            assert dispatch.execute_run(run.pk, now=run.next_attempt_at - dt.timedelta(seconds=1)) is None
            assert recorder.envelopes == []
            assert dispatch.execute_run(run.pk, now=run.next_attempt_at + dt.timedelta(seconds=1)) == "succeeded"
            assert dispatch.execute_run(run.pk, now=run.next_attempt_at + dt.timedelta(minutes=5)) is None
            dispatch.dispatch_pending()
            assert len(recorder.envelopes) == 1

    run.refresh_from_db()
    assert (run.status, run.attempts, run.error, run.next_attempt_at) == ("succeeded", 2, "", None)
    result.refresh_from_db()
    assert result.status == "succeeded" and result.attempts == 2
    assert result.message_id == recorder.messages[0]["Message-ID"]


def test_recipient_refused_with_550_fails_the_run_at_once(server, django_capture_on_commit_callbacks):
    email_automation()
    send(make_contact(email=REFUSED), django_capture_on_commit_callbacks)
    run = Run.objects.get()
    assert (run.status, run.attempts, run.next_attempt_at) == ("failed", 1, None)
    assert "refused" in run.error and "550" in run.error and "User unknown" in run.error
    result = RunAction.objects.get()
    assert result.status == "failed" and "550" in result.error
    assert server.envelopes == []


@override_settings(EMAIL_BACKEND="anymail.backends.test.EmailBackend", ANYMAIL={})
def test_anymail_stores_the_esps_message_id_and_sends_the_run_id_as_metadata(django_capture_on_commit_callbacks):
    email_automation()
    send(make_contact(email="first@example.com"), django_capture_on_commit_callbacks)
    send(make_contact(email="second@example.com"), django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        result = RunAction.objects.get(email_to=message.to[0])
        status = message.anymail_status
        assert status.status == {"sent"}
        # The ESP's id (the test backend numbers messages 0, 1, …), not our Message-ID header.
        assert result.message_id == str(status.message_id)
        assert result.message_id != message.extra_headers["Message-ID"]
        params = message.anymail_test_params
        assert params["metadata"] == {"run_id": str(result.run_id), "key": result.idempotency_key}
        assert params["tags"] == ["automation"]
        assert result.status == "succeeded" and result.email_status == "sent"
    assert sorted(RunAction.objects.values_list("message_id", flat=True)) == ["0", "1"]


class FakeESP:
    """Stands in for an ESP's HTTP API (requests is patched): records each request's JSON body."""

    def __init__(self, reply: dict):
        self.reply, self.bodies = reply, []

    def request(self, method, url, **kwargs):
        import json

        import requests

        self.bodies.append(json.loads(kwargs["data"]))
        response = requests.Response()
        response.status_code, response.url = 201 if "brevo" in url else 200, url
        response._content = json.dumps(self.reply).encode()
        response.headers["Content-Type"] = "application/json"
        return response


@pytest.mark.parametrize("backend, settings_, reply, header", [
    ("anymail.backends.brevo.EmailBackend", {"BREVO_API_KEY": "k"}, {"messageId": "<1@relay.brevo.test>"},
     "idempotencyKey"),
    ("anymail.backends.resend.EmailBackend", {"RESEND_API_KEY": "k"}, {"id": "49a3999c-0ce1"},
     "Resend-Idempotency-Key"),
], ids=["brevo", "resend"])
def test_esps_that_drop_duplicates_get_the_same_idempotency_key_on_every_attempt(
        backend, settings_, reply, header, monkeypatch, django_capture_on_commit_callbacks):
    import requests

    esp = FakeESP(reply)
    monkeypatch.setattr(requests.Session, "request", lambda session, *args, **kwargs: esp.request(*args, **kwargs))
    with override_settings(EMAIL_BACKEND=backend, ANYMAIL=settings_):
        email_automation()
        send(make_contact(email="grace@example.com"), django_capture_on_commit_callbacks)
        result = RunAction.objects.get()
        assert result.status == "succeeded"
        # A person's retry after an uncertain send hands the same message over again.
        from automations.mailer import build_message
        again = build_message(action=result.action, contact=result.run.contact, context={}, language="en",
                              run_id=result.run_id, key=result.idempotency_key, to="grace@example.com")
        again.send()
    first, second = esp.bodies
    assert first["headers"][header] == second["headers"][header] == result.idempotency_key


@override_settings(EMAIL_BACKEND="anymail.backends.test.EmailBackend", ANYMAIL={})
def test_other_backends_get_no_esp_specific_header(django_capture_on_commit_callbacks):
    email_automation()
    send(make_contact(email="grace@example.com"), django_capture_on_commit_callbacks)
    headers = mail.outbox[0].extra_headers
    assert "idempotencyKey" not in headers and "Resend-Idempotency-Key" not in headers
    assert headers["X-Automation-Key"] == RunAction.objects.get().idempotency_key
