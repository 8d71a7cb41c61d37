"""Failure alerts: a run that failed for good, a webhook switched off and a bounced email reach
every owner once, in the bell and in at most one digest email an hour."""

from __future__ import annotations

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from automations.models import Run
from automations.services import create_automation
from automations.tracking import record_tracking_event
from notifications import services
from notifications.models import DigestState, Notification
from tests.base import make_contact, make_invoice, make_owner, make_team_member
from webhooks.models import Message, Subscription

pytestmark = pytest.mark.django_db

EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello", "sender_name": "Acme",
         "reply_to": ""}


def failed_run(capture) -> Run:
    create_automation(name="Thank you", trigger="invoice_sent", frequency="unlimited", actions=[EMAIL], is_active=True)
    refused = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})
    with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=refused):
        with capture(execute=True):
            make_invoice(status="sent")
    run = Run.objects.get()
    assert run.status == "failed"
    return run


def test_a_failed_run_alerts_every_owner_once_and_nobody_else(django_capture_on_commit_callbacks):
    owners = [make_owner("o1"), make_owner("o2")]
    make_team_member("m1")
    run = failed_run(django_capture_on_commit_callbacks)
    notes = Notification.objects.all()
    assert sorted(n.user.username for n in notes) == ["o1", "o2"]
    assert all("Thank you" in n.text and "refused" in n.text and n.kind == "run_failed" for n in notes)
    # Reported again (a second worker, a retry): still one each.
    from automations import alerts

    alerts.run_failed(run.pk)
    assert Notification.objects.count() == len(owners)


def test_a_failed_run_is_a_run_failed_webhook(django_capture_on_commit_callbacks):
    Subscription.objects.create(url="https://93.184.215.14/hook", event_types=["run_failed"], is_active=True)
    with mock.patch("webhooks.services.enqueue"):
        run = failed_run(django_capture_on_commit_callbacks)
    message = Message.objects.get(event_type="run_failed")
    assert message.key == f"run_failed:{run.pk}"
    assert message.payload["data"]["run"]["automation"]["name"] == "Thank you"


def test_a_bounced_email_alerts_the_owners_once(django_capture_on_commit_callbacks):
    owner = make_owner("o1")
    create_automation(name="Invoice email", trigger="invoice_sent", frequency="unlimited", actions=[EMAIL], is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice(status="sent", contact=make_contact(email="grace@example.com"))
    from automations.models import RunAction

    message_id = RunAction.objects.get().message_id
    event = mock.Mock(message_id=message_id, event_type="bounced", event_id="ev-1", recipient="grace@example.com",
                      timestamp=timezone.now(), description="mailbox does not exist")
    record_tracking_event(event)
    record_tracking_event(event)
    [note] = Notification.objects.filter(user=owner)
    assert note.kind == "email_bounced" and "grace@example.com" in note.text and "Invoice email" in note.text
    delivered = mock.Mock(message_id=message_id, event_type="delivered", event_id="ev-2", recipient="grace@example.com",
                          timestamp=timezone.now(), description="")
    record_tracking_event(delivered)
    assert Notification.objects.count() == 1


def test_the_digest_is_one_email_an_hour_with_everything_new():
    owner = make_owner("o1")
    owner.email = "boss@example.com"
    owner.save()
    now = timezone.now()
    services.notify_owners(kind="run_failed", key="a", text="Run A failed", now=now)
    services.notify_owners(kind="run_failed", key="b", text="Run B failed", now=now)
    assert services.send_digests(now=now) == 1
    assert services.send_digests(now=now) == 0
    [email] = mail.outbox
    assert email.to == ["boss@example.com"] and "Run A failed" in email.body and "Run B failed" in email.body
    assert reverse("notifications:notification-list") in email.body
    services.notify_owners(kind="run_failed", key="c", text="Run C failed", now=now)
    assert services.send_digests(now=now + dt.timedelta(minutes=59)) == 0
    assert services.send_digests(now=now + dt.timedelta(minutes=61)) == 1
    assert "Run C failed" in mail.outbox[1].body and "Run A failed" not in mail.outbox[1].body
    assert [email.subject for email in mail.outbox] == [
        "2 new alerts from your invoicing", "1 new alert from your invoicing"]


def test_a_digest_that_could_not_be_sent_is_tried_again():
    owner = make_owner("o1")
    owner.email = "boss@example.com"
    owner.save()
    now = timezone.now()
    services.notify_owners(kind="run_failed", key="a", text="Run A failed", now=now)
    with mock.patch("notifications.services.send_mail", side_effect=smtplib.SMTPServerDisconnected("down")):
        assert services.send_digests(now=now) == 0
    assert Notification.objects.get().emailed_at is None
    assert DigestState.objects.get().last_sent_at is None
    assert services.send_digests(now=now + dt.timedelta(minutes=5)) == 1


def test_the_bell_counts_unread_alerts_and_the_list_marks_them_read(client):
    owner = make_owner("o1")
    client.force_login(owner)
    services.notify_owners(kind="run_failed", key="a", text="Run A failed")
    services.notify_owners(kind="email_bounced", key="b", text="Email to x bounced")
    page = client.get(reverse("invoices:invoice-list")).content.decode()
    assert 'id="notification-count">2' in page
    listing = client.get(reverse("notifications:notification-list")).content.decode()
    assert "Run A failed" in listing and "Email to x bounced" in listing
    note = Notification.objects.get(key="a")
    client.post(reverse("notifications:notification-read", args=[note.pk]))
    assert 'id="notification-count">1' in client.get(reverse("invoices:invoice-list")).content.decode()
    client.post(reverse("notifications:notification-read-all"))
    assert "notification-count" not in client.get(reverse("invoices:invoice-list")).content.decode()


def test_nobody_marks_another_persons_alerts_read(client):
    first, second = make_owner("o1"), make_owner("o2")
    services.notify_owners(kind="run_failed", key="a", text="Run A failed")
    theirs = Notification.objects.get(user=second)
    client.force_login(first)
    client.post(reverse("notifications:notification-read", args=[theirs.pk]))
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_team_member_has_no_bell(client):
    client.force_login(make_team_member("m1"))
    page = client.get(reverse("invoices:invoice-list")).content.decode()
    assert "notification-bell" not in page
