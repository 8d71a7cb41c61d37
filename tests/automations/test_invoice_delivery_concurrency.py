"""An invoice's email is sent once under real concurrency (PostgreSQL): the delivery task run by two
workers at the same moment, a worker whose lease ran out while it was still sending, and a burst
of sends handed to three worker processes. SQLite serialises every writer, so these are skipped there.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from functools import partial
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import get_connection as real_get_connection
from django.utils import timezone

from automations import delivery, dispatch
from automations.models import InvoiceEmail
from invoices import services
from tests.automations.qcluster_helpers import spawn_workers
from tests.base import make_contact
from tests.threads import run_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

LINE = [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}]


def sent_by_email(count: int = 1) -> list[InvoiceEmail]:
    """Invoices sent with deliver=True whose emails wait in the outbox (their wake-up is held back,
    so no worker has run yet)."""
    with mock.patch("automations.delivery.enqueue"), mock.patch("automations.dispatch.request_dispatch"):
        for i in range(count):
            invoice = services.create_invoice(contact=make_contact(email=f"buyer{i}@example.com"), items=LINE)
            services.send_invoice(invoice=invoice, deliver=True)
    return list(InvoiceEmail.objects.order_by("pk"))


def test_the_delivery_task_run_by_two_workers_at_once_sends_one_email():
    (email,) = sent_by_email()
    outcomes = run_at_once(partial(delivery.deliver, [email.pk]), partial(delivery.deliver, [email.pk]))
    assert sorted(outcomes) == [0, 1], outcomes
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("succeeded", 1)


def test_a_worker_whose_lease_ran_out_while_it_was_sending_and_its_successor_send_one_email():
    """The first worker is still handing the message over when a second one, whose clock says the
    lease is over, claims the email again: it finds `sending` and records the doubt instead of a
    second send; the first then records its success."""
    (email,) = sent_by_email()
    handing_over = threading.Event()

    class SlowServer:
        def send_messages(self, messages):
            handing_over.set()
            time.sleep(0.5)
            return real_get_connection().send_messages(messages)

    later = timezone.now() + dispatch.LEASE + dt.timedelta(seconds=1)

    def successor():
        assert handing_over.wait(10)
        return delivery.execute_email(email.pk, now=later)

    with mock.patch("automations.mailer.get_connection", lambda **kw: SlowServer()):
        first, second = run_at_once(partial(delivery.execute_email, email.pk), successor)
    assert (first, second) == ("succeeded", "unknown"), (first, second)
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == "succeeded" and email.message_id


def test_a_burst_of_emails_shared_by_three_worker_processes_is_sent_once_each(tmp_path):
    emails = sent_by_email(30)
    ids = [email.pk for email in emails]
    # Every worker tries every email, each in its own order: they collide on all of them.
    orders = [ids, ids[::-1], ids[10:] + ids[:10]]
    outcomes = spawn_workers("deliver_emails_of", 3, orders, str(tmp_path), timeout=120)
    assert sum(outcomes) == 30
    assert Counter(InvoiceEmail.objects.values_list("status", flat=True)) == {"succeeded": 30}
    sent = [path.read_bytes() for path in tmp_path.glob("*.log")]
    recipients = Counter(line for chunk in sent for line in chunk.splitlines() if line.startswith(b"To: "))
    assert len(recipients) == 30 and set(recipients.values()) == {1}, recipients
