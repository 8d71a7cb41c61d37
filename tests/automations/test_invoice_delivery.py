"""Sending an invoice emails it to the contact: through the outbox, once, retried, tracked.

`send_invoice(deliver=True)` writes an InvoiceEmail row in its own transaction; a queue task (run
inline by the test settings, on commit) sends it from a worker with the ledger automations' emails
use. These tests check what the customer gets (language, texts, files, the link) and what the
owner sees, and that nothing is lost and nothing goes out twice.
"""

from __future__ import annotations

import datetime as dt
import html
from email import message_from_bytes, policy
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from documents.services import document_filename
from automations import delivery, dispatch
from automations.jobs import sweep
from automations.models import EmailEvent, Event, InvoiceEmail, Run
from automations.services import create_automation, resend_invoice_email, retry_invoice_email
from business.services import update_profile
from core.errors import DomainError
from invoices import services
from invoices.models import Invoice
from tests.automations.test_smtp import REFUSED, free_port, smtp_server, smtp_settings
from tests.base import make_contact, make_invoice, make_owner, make_plan, make_team_member, page_with_fragments
from tests.base import messages_of as texts

pytestmark = pytest.mark.django_db

SELLER = "Analytical Engines GmbH"  # tests/conftest.py's business profile
XML = b"<?xml version='1.0'?><rsm:CrossIndustryInvoice/>"


def send(capture, *, invoice: Invoice | None = None, deliver: bool = True, **contact) -> Invoice:
    """A draft sent with the service; the work queued on commit runs inline (the test settings)."""
    invoice = invoice or make_invoice(contact=make_contact(**contact))
    with capture(execute=True):
        services.send_invoice(invoice=invoice, deliver=deliver)
    invoice.refresh_from_db()
    return invoice


def the_email(invoice: Invoice) -> InvoiceEmail:
    return InvoiceEmail.objects.get(invoice=invoice)


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even an `except Exception`."""


# --- What the customer gets -------------------------------------------------------------------


def test_sending_by_email_emails_the_invoice_once_with_its_pdf_and_a_real_link(django_capture_on_commit_callbacks,
                                                                             settings):
    settings.DEFAULT_FROM_EMAIL = "billing@engines.example"
    invoice = send(django_capture_on_commit_callbacks, name="Grace Hopper", email="grace@example.com")

    (message,) = mail.outbox
    assert message.to == ["grace@example.com"]
    assert message.from_email == f"{SELLER} <billing@engines.example>"
    assert message.subject == f"Invoice {invoice.number} from {SELLER}"
    assert message.body.startswith("Hello Grace Hopper,\n\nplease find attached our invoice")
    assert "for €119.00" in message.body
    (pdf,) = message.attachments
    assert pdf[0] == document_filename(invoice, "pdf") and pdf[1].startswith(b"%PDF") and pdf[2] == "application/pdf"
    link = message.body.split("view it online: ")[1].split()[0]
    assert "/i/" in link
    html_part = message.alternatives[0][0]
    assert f'<a href="{link}">{link}</a>' in html_part
    # The same Message-ID on every attempt: fixed by the email's key.
    email = the_email(invoice)
    assert message.extra_headers["Message-ID"] == email.message_id
    assert (email.status, email.kind, email.email_to, email.attempts) == ("succeeded", "invoice", "grace@example.com", 1)
    assert email.sent_at is not None and email.email_status == "sent" and email.locked_until is None


def test_the_email_follows_the_contacts_language_and_the_profiles_texts(django_capture_on_commit_callbacks):
    german = send(django_capture_on_commit_callbacks, name="Erika Mustermann", email="erika@example.com", language="de")
    (message,) = mail.outbox
    assert message.subject == f"Rechnung {german.number} von {SELLER}"
    assert message.body.startswith("Guten Tag Erika Mustermann,\n\nanbei erhalten Sie unsere Rechnung")
    assert "119,00\xa0€" in message.body and "Mit freundlichen Grüßen" in message.body

    update_profile(email_subject_de="Ihre Rechnung {{ invoice.number }}",
                   email_body_de="Hallo {{ contact.first_name }}, bitte zahlen Sie {{ invoice.amount_due }}.",
                   email_subject_en="Your invoice {{ invoice.number }}")
    mail.outbox.clear()
    german = send(django_capture_on_commit_callbacks, name="Erika Mustermann", email="erika@example.com", language="de")
    english = send(django_capture_on_commit_callbacks, name="Grace Hopper", email="grace@example.com", language="en")
    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to["erika@example.com"].subject == f"Ihre Rechnung {german.number}"
    assert by_to["erika@example.com"].body == "Hallo Erika, bitte zahlen Sie 119,00\xa0€."
    # English has its own subject in the profile but no text of its own: the standard text.
    assert by_to["grace@example.com"].subject == f"Your invoice {english.number}"
    assert by_to["grace@example.com"].body.startswith("Hello Grace Hopper,")


@pytest.mark.parametrize("is_business, attach_xml, expected", [
    (True, True, ["application/pdf", "application/xml"]),
    (False, True, ["application/pdf"]),
    (True, False, ["application/pdf"]),
])
def test_the_e_invoice_goes_only_to_business_customers_when_the_profile_says_so(
        django_capture_on_commit_callbacks, is_business, attach_xml, expected):
    update_profile(attach_xml=attach_xml)

    def files(invoice):
        return [(f"{invoice.number}.pdf", b"%PDF-1.7 ...", "application/pdf"),
                (f"{invoice.number}.xml", XML, "application/xml")]

    with mock.patch("documents.services.invoice_files", files):
        send(django_capture_on_commit_callbacks, is_business=is_business, email="buyer@example.com")
    assert [mimetype for _name, _content, mimetype in mail.outbox[0].attachments] == expected


def test_marking_as_sent_without_emailing_writes_no_email_and_the_trigger_fires_once(django_capture_on_commit_callbacks):
    invoice = send(django_capture_on_commit_callbacks, deliver=False)
    assert invoice.status == "sent"
    assert not InvoiceEmail.objects.exists() and not mail.outbox
    assert Event.objects.filter(invoice=invoice, kind="invoice_sent").count() == 1


def test_an_invoice_sent_automation_still_runs_once_beside_the_invoices_email(django_capture_on_commit_callbacks):
    create_automation(name="Thanks", trigger="invoice_sent", frequency="unlimited", is_active=True, actions=[
        {"kind": "send_email", "subject": "Thanks for {{ invoice.number }}", "body": "Thank you!", "sender_name": "",
         "reply_to": ""}])
    invoice = send(django_capture_on_commit_callbacks, email="grace@example.com")
    assert Event.objects.filter(invoice=invoice, kind="invoice_sent").count() == 1
    assert Run.objects.get().status == "succeeded"
    assert sorted(m.subject for m in mail.outbox) == sorted([f"Invoice {invoice.number} from {SELLER}",
                                                             f"Thanks for {invoice.number}"])
    dispatch.dispatch_pending()
    delivery.deliver([the_email(invoice).pk])
    assert len(mail.outbox) == 2 and Run.objects.count() == 1


def test_a_contact_without_an_email_address_is_skipped_with_the_reason(django_capture_on_commit_callbacks):
    invoice = send(django_capture_on_commit_callbacks, email="")
    email = the_email(invoice)
    assert (email.status, email.reason, email.attempts) == ("skipped", "no email address", 1)
    assert not mail.outbox and invoice.status == "sent"


def test_a_credit_note_is_emailed_when_the_void_asks_for_it(django_capture_on_commit_callbacks):
    kept = send(django_capture_on_commit_callbacks, email="grace@example.com")
    emailed = send(django_capture_on_commit_callbacks, email="ada@example.com")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.void_invoice(invoice=kept)
        services.void_invoice(invoice=emailed, deliver=True)
    credit_note = Invoice.objects.get(credit_for=emailed)
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == f"Credit note {credit_note.number} from {SELLER}"
    assert f"It cancels invoice {emailed.number}" in message.body
    assert message.attachments[0][0] == document_filename(credit_note, "pdf")
    assert the_email(credit_note).kind == "credit_note"
    assert not InvoiceEmail.objects.filter(invoice__credit_for=kept).exists()


def test_a_recurring_plans_invoice_is_delivered_by_email(django_capture_on_commit_callbacks):
    with_address = make_plan(contact=make_contact(email="plan@example.com"))
    without = make_plan(contact=make_contact(email=""))
    with django_capture_on_commit_callbacks(execute=True):
        services.start_recurring(plan=with_address)
        services.start_recurring(plan=without)
    invoice = with_address.invoices.get()
    (message,) = mail.outbox
    assert message.to == ["plan@example.com"] and invoice.number in message.subject
    assert the_email(invoice).status == "succeeded"
    assert not InvoiceEmail.objects.filter(invoice__recurring=without).exists()


# --- Exactly once -----------------------------------------------------------------------------


def test_the_email_is_written_in_the_send_transaction_and_a_rolled_back_send_leaves_none(
        django_capture_on_commit_callbacks):
    invoice = make_invoice()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            services.send_invoice(invoice=invoice, deliver=True)
            assert InvoiceEmail.objects.filter(invoice=invoice, status="pending").count() == 1
            raise RuntimeError("the request failed after the send")
    assert not callbacks  # nothing woke a worker
    invoice.refresh_from_db()
    assert invoice.status == "draft"
    assert not InvoiceEmail.objects.exists() and not mail.outbox


def test_the_delivery_task_run_twice_sends_one_email(django_capture_on_commit_callbacks):
    invoice = send(django_capture_on_commit_callbacks)
    email = the_email(invoice)
    assert delivery.deliver([email.pk, email.pk]) == 0
    assert delivery.execute_email(email.pk, now=timezone.now() + dt.timedelta(hours=1)) is None
    sweep(now=timezone.now() + dt.timedelta(hours=1))
    assert len(mail.outbox) == 1
    assert InvoiceEmail.objects.get().attempts == 1


def test_a_worker_that_died_after_handing_the_email_over_leaves_it_unknown_not_sent_twice(
        django_capture_on_commit_callbacks):
    from django.core.mail import get_connection as real_get_connection

    class DiesAfterSending:
        def send_messages(self, messages):
            real_get_connection().send_messages(messages)
            raise WorkerDied

    invoice = make_invoice(contact=make_contact(email="grace@example.com"))
    with mock.patch("automations.mailer.get_connection", lambda **kw: DiesAfterSending()), pytest.raises(WorkerDied):
        send(django_capture_on_commit_callbacks, invoice=invoice)
    email = the_email(invoice)
    assert email.status == "sending" and email.locked_until is not None and len(mail.outbox) == 1

    # Before the lease is over nobody touches it; after it, the sweeper finds it and the next
    # attempt records the doubt.
    assert delivery.execute_email(email.pk) is None
    later = email.locked_until + dt.timedelta(seconds=1)
    with mock.patch("automations.delivery.enqueue") as enqueue:
        assert sweep(now=later)["emails"] == 1
    enqueue.assert_called_once_with([email.pk])
    assert delivery.execute_email(email.pk, now=later) == "unknown"
    email.refresh_from_db()
    assert email.status == "unknown" and "may have been sent" in email.error
    assert len(mail.outbox) == 1
    # Nothing sends it again by itself: not the sweeper, not the task.
    with mock.patch("automations.delivery.enqueue") as enqueue:
        assert sweep(now=later + dispatch.LEASE * 3)["emails"] == 0
    assert delivery.execute_email(email.pk, now=later + dispatch.LEASE * 3) is None
    assert len(mail.outbox) == 1


def test_an_email_that_kills_its_worker_every_time_stops_at_the_attempt_cap():
    invoice = make_invoice()
    services.send_invoice(invoice=invoice, deliver=True)  # no on_commit here: nothing ran yet
    email = the_email(invoice)
    start = timezone.now()
    for attempt in range(dispatch.MAX_ATTEMPTS):
        assert dispatch.claim(InvoiceEmail, [email.pk], start + dispatch.LEASE * 2 * attempt, statuses=delivery.OPEN)
    assert delivery.execute_email(email.pk, now=start + dispatch.LEASE * 2 * dispatch.MAX_ATTEMPTS) == "failed"
    email.refresh_from_db()
    assert "Gave up after 5 attempts" in email.error and not mail.outbox


def test_a_lost_wake_up_is_recovered_by_the_sweeper():
    invoice = make_invoice()
    services.send_invoice(invoice=invoice, deliver=True)  # committed, but its task was never queued
    assert not mail.outbox
    assert sweep(now=timezone.now() + dt.timedelta(minutes=2))["emails"] == 1
    assert len(mail.outbox) == 1 and the_email(invoice).status == "succeeded"


def test_rendering_happens_in_the_worker_never_in_the_web_request(user_client, django_capture_on_commit_callbacks):
    """With a real queue (not inline), the send request only writes the outbox row and queues a
    task: no PDF is made and nothing is sent until a worker runs the task."""
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from tests.automations.qcluster_helpers import cluster_queue

    invoice = make_invoice(contact=make_contact(email="grace@example.com"))
    with cluster_queue("delivery-test"), mock.patch("documents.services.invoice_files",
                                                    side_effect=AssertionError("rendered in the request")):
        with django_capture_on_commit_callbacks(execute=True):
            response = user_client.post(reverse("invoices:invoice-send", args=[invoice.pk]), {"deliver": "email"})
        queued = [SignedPackage.loads(row.payload) for row in OrmQ.objects.filter(key="delivery-test")]
    assert response.status_code == 302
    email = the_email(invoice)
    assert email.status == "pending" and not mail.outbox
    assert sorted(task["func"] for task in queued) == ["automations.delivery.deliver",
                                                        "automations.dispatch.dispatch_pending"]
    (task,) = [task for task in queued if task["func"] == "automations.delivery.deliver"]
    assert task["args"] == ([email.pk],)
    delivery.deliver(*task["args"])  # what the worker does
    assert len(mail.outbox) == 1 and the_email(invoice).status == "succeeded"


# --- Failures: retried with backoff, permanent ones shown with Retry -------------------------------


def test_smtp_down_is_retried_with_backoff_then_the_email_is_sent_once(port, django_capture_on_commit_callbacks):
    with smtp_settings(port):  # nothing listens yet
        invoice = send(django_capture_on_commit_callbacks, email="late@example.com")
        email = the_email(invoice)
        assert (email.status, email.attempts) == ("pending", 1)
        assert "not reachable" in email.error and email.locked_until is None
        first_wait = email.next_attempt_at - email.started_at
        assert dt.timedelta(seconds=59) < first_wait <= dt.timedelta(seconds=61)

        # Still down at the second attempt: the wait doubles (1, 2, 4, 8 minutes).
        assert delivery.execute_email(email.pk, now=email.next_attempt_at + dt.timedelta(seconds=1)) == "pending"
        email.refresh_from_db()
        assert email.attempts == 2
        assert dt.timedelta(seconds=119) < email.next_attempt_at - email.started_at <= dt.timedelta(seconds=121)

        with smtp_server(port) as server:
            assert delivery.execute_email(email.pk, now=email.next_attempt_at - dt.timedelta(seconds=1)) is None
            assert server.envelopes == []
            assert delivery.execute_email(email.pk, now=email.next_attempt_at + dt.timedelta(seconds=1)) == "succeeded"
            sweep(now=email.next_attempt_at + dt.timedelta(hours=1))
            delivery.deliver([email.pk])
        (envelope,) = server.envelopes
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert envelope.rcpt_tos == ["late@example.com"] and invoice.number in message["Subject"]
    assert [part.get_filename() for part in message.iter_attachments()] == [document_filename(invoice, "pdf")]
    email.refresh_from_db()
    assert (email.status, email.attempts, email.error, email.message_id) == (
        "succeeded", 3, "", message["Message-ID"])


@pytest.fixture
def port() -> int:
    return free_port()


def test_a_refused_address_fails_at_once_and_retry_sends_it_after_the_fix(port, django_capture_on_commit_callbacks):
    with smtp_settings(port), smtp_server(port) as server:
        invoice = send(django_capture_on_commit_callbacks, email=REFUSED)
        email = the_email(invoice)
        assert (email.status, email.attempts, email.next_attempt_at) == ("failed", 1, None)
        assert "refused" in email.error and "550" in email.error
        InvoiceEmail.objects.filter(pk=email.pk).update(email_to="fixed@example.com")  # a person's fix, say
        with django_capture_on_commit_callbacks(execute=True):
            retry_invoice_email(email=email)
        assert len(server.envelopes) == 1 and server.envelopes[0].rcpt_tos == ["fixed@example.com"]
    email.refresh_from_db()
    assert email.status == "succeeded"
    with pytest.raises(DomainError, match="Only an email that failed can be tried again; this one is Sent."):
        retry_invoice_email(email=email)


# --- Resend -----------------------------------------------------------------------------------


def test_resend_creates_exactly_one_more_email(django_capture_on_commit_callbacks):
    invoice = send(django_capture_on_commit_callbacks, email="grace@example.com")
    owner = make_owner()
    with django_capture_on_commit_callbacks(execute=True):
        again = resend_invoice_email(invoice=invoice, by=owner)
    first, second = mail.outbox
    assert second.to == ["grace@example.com"] and second.subject == first.subject
    assert second.extra_headers["Message-ID"] != first.extra_headers["Message-ID"]
    assert (again.kind, again.created_by) == ("resend", owner)
    assert InvoiceEmail.objects.filter(invoice=invoice).count() == 2
    sweep(now=timezone.now() + dt.timedelta(hours=1))
    assert len(mail.outbox) == 2


@pytest.mark.parametrize("status, message", [
    ("draft", "cannot be emailed again: it is Draft."),
    ("void", "cannot be emailed again: it is Void."),
])
def test_resend_is_refused_for_what_the_customer_does_not_have(status, message):
    invoice = make_invoice(status=status)
    with pytest.raises(DomainError, match=message):
        resend_invoice_email(invoice=invoice)
    assert not InvoiceEmail.objects.exists()


def test_the_resend_page_shows_the_email_and_a_double_submit_sends_one(client, django_capture_on_commit_callbacks):
    invoice = send(django_capture_on_commit_callbacks, email="grace@example.com", language="de")
    client.force_login(make_team_member())  # sending invoices is the team's work too
    url = reverse("automations:invoice-resend", args=[invoice.pk])
    page = html.unescape(client.get(url).content.decode())
    assert "grace@example.com" in page and f"Rechnung {invoice.number} von {SELLER}" in page
    assert f"Invoice {invoice.number} (PDF)" in page
    nonce = client.get(url).context["form"].initial["nonce"]
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"nonce": nonce})
        second = client.post(url, {"nonce": nonce})
    assert first.status_code == second.status_code == 302
    assert texts(second)[-1] == "This email has already been sent again."
    assert len(mail.outbox) == 2 and InvoiceEmail.objects.count() == 2


# --- What the owner sees: the timeline ----------------------------------------------------------


def test_the_timeline_shows_the_email_and_its_delivery_status_from_the_webhook(
        client, django_capture_on_commit_callbacks, settings):
    from tests.automations.test_tracking import SECRET, delivery as delivered_payload, post

    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    invoice = send(django_capture_on_commit_callbacks, email="grace@example.com")
    email = the_email(invoice)
    client.force_login(make_owner())
    url = reverse("invoices:invoice-detail", args=[invoice.pk])
    page = html.unescape(page_with_fragments(client, url))
    assert "Email to grace@example.com" in page and "delivery: Sent" in page

    assert post(delivered_payload(email.message_id) | {"Recipient": "grace@example.com"}).status_code == 200
    assert post(delivered_payload(email.message_id)).status_code == 200  # the same event again: stored once
    email.refresh_from_db()
    assert email.email_status == "delivered"
    assert EmailEvent.objects.get().invoice_email == email
    assert "delivery: Delivered" in html.unescape(page_with_fragments(client, url))
    client.cookies["django_language"] = "de"
    assert "Zustellung: Zugestellt" in html.unescape(page_with_fragments(client, url))


def test_failed_and_uncertain_emails_show_their_error_with_retry_and_resend(client, django_capture_on_commit_callbacks):
    refused = make_invoice(contact=make_contact(email="x@example.com"))
    import smtplib

    error = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"mailbox full")})
    with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=error):
        send(django_capture_on_commit_callbacks, invoice=refused)
    uncertain = send(django_capture_on_commit_callbacks, email="y@example.com")
    InvoiceEmail.objects.filter(invoice=uncertain).update(status="unknown", error="may have been sent")
    client.force_login(make_owner())
    failed_page = html.unescape(page_with_fragments(client, reverse("invoices:invoice-detail", args=[refused.pk])))
    assert "mailbox full" in failed_page
    assert reverse("automations:invoice-email-retry", args=[the_email(refused).pk]) in failed_page
    unknown_page = html.unescape(page_with_fragments(client, reverse("invoices:invoice-detail", args=[uncertain.pk])))
    assert "may have been sent" in unknown_page
    assert reverse("automations:invoice-resend", args=[uncertain.pk]) in unknown_page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("automations:invoice-email-retry", args=[the_email(refused).pk]))
    assert response["Location"].endswith(f"/invoices/{refused.pk}/#timeline")
    assert the_email(refused).status == "succeeded"


def test_the_admin_sends_by_email_or_only_marks_as_sent(client, django_capture_on_commit_callbacks):
    emailed, marked = make_invoice(), make_invoice()
    client.force_login(make_owner())
    changelist = reverse("admin:invoices_invoice_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {"action": "email_selected", "_selected_action": [emailed.pk]}, follow=True)
        assert "1 invoice(s) sent; their emails are on their way." in response.content.decode()
        response = client.post(changelist, {"action": "send_selected", "_selected_action": [marked.pk]}, follow=True)
        assert "1 invoice(s) marked as sent." in response.content.decode()
    assert [m.to for m in mail.outbox] == [[emailed.contact.email]]
    assert set(Invoice.objects.filter(pk__in=[emailed.pk, marked.pk]).values_list("status", flat=True)) == {"sent"}


@override_settings(EMAIL_BACKEND="anymail.backends.test.EmailBackend", ANYMAIL={})
def test_an_esp_gets_the_invoice_email_with_its_metadata_and_the_esps_id_is_kept(django_capture_on_commit_callbacks):
    invoice = send(django_capture_on_commit_callbacks, email="grace@example.com")
    (message,) = mail.outbox
    email = the_email(invoice)
    assert email.message_id == str(message.anymail_status.message_id)
    assert message.anymail_test_params["metadata"] == {
        "invoice_email_id": str(email.pk), "invoice": invoice.number, "key": email.idempotency_key}
    assert message.anymail_test_params["tags"] == ["invoice"]


def test_owners_hear_once_of_an_invoice_email_that_failed_for_good():
    from notifications.models import Notification

    owner, member = make_owner(), make_team_member()
    invoice = make_invoice()
    services.send_invoice(invoice=invoice, deliver=True)  # no on_commit here: nothing ran yet
    email = the_email(invoice)
    start = timezone.now()
    for attempt in range(dispatch.MAX_ATTEMPTS):
        assert dispatch.claim(InvoiceEmail, [email.pk], start + dispatch.LEASE * 2 * attempt, statuses=delivery.OPEN)
    assert delivery.execute_email(email.pk, now=start + dispatch.LEASE * 2 * dispatch.MAX_ATTEMPTS) == "failed"
    (alert,) = Notification.objects.all()
    assert (alert.user, alert.kind) == (owner, "invoice_email_failed")
    assert alert.text.startswith(f"The email of invoice {invoice.number} to {invoice.contact.email} failed: Gave up after")
    assert alert.link == reverse("invoices:invoice-detail", args=[invoice.pk])
    # Recorded again (a second worker, say): still one alert; the team member gets none.
    dispatch.finish(email, "failed", error="again", now=timezone.now())
    assert Notification.objects.count() == 1 and not Notification.objects.filter(user=member).exists()


def test_owners_hear_of_an_invoice_email_that_may_not_have_gone_out(django_capture_on_commit_callbacks):
    from notifications.models import Notification

    make_owner()
    invoice = make_invoice(contact=make_contact(email="grace@example.com"))
    send(django_capture_on_commit_callbacks, invoice=invoice)
    email = the_email(invoice)
    InvoiceEmail.objects.filter(pk=email.pk).update(status="sending", locked_until=None)  # a worker died handing it over
    later = timezone.now() + dispatch.LEASE
    assert delivery.execute_email(email.pk, now=later) == "unknown"
    (alert,) = Notification.objects.all()
    assert "may not have gone out (it is not resent by itself)" in alert.text
