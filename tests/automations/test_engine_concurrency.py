"""The engine's exactly-once promises under real concurrency on PostgreSQL.

Workers are real processes (multiprocessing "spawn": a fresh interpreter, its own Django setup and
database connection) or threads with their own connections, released together by a barrier. They
call the engine's own functions (`dispatch_pending`, `execute_run`, `scan_overdue`), as a
cluster's workers do. SQLite serialises every writer, so these tests are skipped there.
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
from django.utils import timezone

from automations import dispatch
from automations.jobs import scan_overdue
from automations.models import ContactGate, Event, Run, RunAction
from automations.services import create_automation
from invoices import services
from tasks.models import Task
from tests.automations.qcluster_helpers import cluster_queue, spawn_workers
from tests.base import make_contact
from tests.threads import run_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

LINE = [{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}]
TASK = {"kind": "create_task", "title": "Call {{ contact.name }} about {{ invoice.number }}", "description": "",
        "due_in_days": 2, "assignee": None}
EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }} is overdue",
         "body": "Hello {{ contact.first_name }}, {{ invoice.amount_due }} is overdue.", "sender_name": "Acme",
         "reply_to": ""}
START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)


def automation(trigger: str, *actions: dict, frequency: str = "unlimited"):
    return create_automation(name=f"{trigger} {frequency} {len(actions)}", trigger=trigger, frequency=frequency,
                             actions=list(actions), is_active=True)


def send_invoices(contacts, per_contact: int, *, now=None, **fields) -> list:
    """Invoices sent through the service, round-robin over the contacts, without waking the
    dispatcher (so nothing is dispatched inline before the workers start)."""
    invoices = []
    with mock.patch("automations.dispatch.request_dispatch"):
        for _round in range(per_contact):
            for contact in contacts:
                invoice = services.create_invoice(contact=contact, items=LINE, **fields)
                services.send_invoice(invoice=invoice, now=now)
                invoices.append(invoice)
    return invoices


def run_threads(count: int, work, *, timeout: float = 60) -> list:
    """`work(i)` in `count` threads released together, each on its own connection."""
    outcomes = run_at_once(*[partial(work, i) for i in range(count)], timeout=timeout)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors
    return outcomes


def test_three_worker_processes_let_one_run_per_contact_pass_once_per_contact():
    automation("invoice_sent", TASK, frequency="once_per_contact")
    contacts = [make_contact() for _ in range(20)]
    send_invoices(contacts, per_contact=10)
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 200

    # Small batches, so the workers take turns and the ten events of one contact are spread over
    # all of them; each keeps dispatching until no event is left.
    outcomes = spawn_workers("dispatch_until_done", 3, 10, timeout=90)

    assert sum(o["executed"] for o in outcomes) == 200
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    assert Run.objects.count() == 200
    assert Counter(Run.objects.values_list("status", flat=True)) == {"succeeded": 20, "skipped": 180}
    assert set(Run.objects.filter(status="skipped").values_list("reason", flat=True)) == {
        "frequency limit: Once per contact"}
    assert sorted(Run.objects.filter(status="succeeded").values_list("contact", flat=True)) == sorted(c.pk for c in contacts)
    assert Task.objects.count() == 20
    assert sorted(Task.objects.values_list("contact", flat=True)) == sorted(c.pk for c in contacts)
    assert ContactGate.objects.count() == 20
    assert set(ContactGate.objects.values_list("run__status", flat=True)) == {"succeeded"}


def test_two_overdue_scans_at_once_make_one_event_per_invoice_and_one_run_per_automation():
    task_auto = automation("invoice_overdue", TASK)
    email_auto = automation("invoice_overdue", EMAIL, frequency="once_per_contact")
    today = timezone.localdate()
    contacts = [make_contact() for _ in range(30)]
    invoices = send_invoices(contacts, per_contact=10, issue_date=today - dt.timedelta(days=40),
                             due_date=today - dt.timedelta(days=3))
    assert len(invoices) == 300

    with mock.patch("automations.dispatch.request_dispatch") as wake:
        marked = run_threads(2, lambda i: scan_overdue())
    assert sorted(marked) == [0, 300] or sum(marked) == 300, marked
    assert wake.called  # the scan that flipped rows wakes the dispatcher on commit
    events = Event.objects.filter(kind="invoice_overdue")
    assert events.count() == 300
    assert sorted(events.values_list("invoice", flat=True)) == sorted(i.pk for i in invoices)

    # Two dispatchers at once (small batches) turn the events into runs and execute them. The
    # wake-up a full batch sends goes to a queue nobody reads (not inline, as the test settings
    # would): each dispatcher works until no event is left.
    def dispatcher(i: int) -> int:
        executed = 0
        while Event.objects.filter(dispatched_at__isnull=True).exists():
            executed += dispatch.dispatch_pending(batch_size=25)
        return executed

    with cluster_queue("nowhere"):
        executed = run_threads(2, dispatcher)
    assert sum(executed) == 600
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    assert Run.objects.count() == 600
    for auto in (task_auto, email_auto):
        assert Run.objects.filter(automation=auto).values("event").distinct().count() == 300
    assert set(Run.objects.filter(automation=task_auto).values_list("status", flat=True)) == {"succeeded"}
    assert Counter(Run.objects.filter(automation=email_auto).values_list("status", flat=True)) == {
        "succeeded": 30, "skipped": 270}
    assert Task.objects.count() == 300
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in contacts)
    assert RunAction.objects.filter(kind="send_email", status="succeeded").count() == 30
    # A scan after that finds nothing more to do.
    assert scan_overdue() == 0 and events.count() == 300


def pending_runs(trigger: str, *, frequency: str = "unlimited") -> list[int]:
    automation(trigger, TASK, frequency=frequency)
    send_invoices([make_contact()], per_contact=1)
    run_ids, _full = dispatch.claim_events()
    return run_ids


def test_the_same_run_executed_by_two_worker_processes_at_once_creates_one_task():
    (run_id,) = pending_runs("invoice_sent")
    outcomes = spawn_workers("execute_same_run", 2, run_id)
    assert sorted(outcomes, key=str) == [None, "succeeded"]
    run = Run.objects.get(pk=run_id)
    assert (run.status, run.attempts) == ("succeeded", 1)
    assert Task.objects.count() == 1 and RunAction.objects.count() == 1


def test_a_worker_whose_lease_expired_mid_action_and_its_successor_create_one_task():
    """The first worker is still inside the action when a second one, whose clock says the lease
    is over, takes the run again: the action's row lock and record make it happen once."""
    (run_id,) = pending_runs("invoice_sent")
    from tasks import services as task_services

    real_create_task = task_services.create_task
    slow = threading.Event()

    def create_task(**kwargs):
        if not slow.is_set():
            slow.set()
            time.sleep(0.5)  # the first worker holds the action's lock for a while
        return real_create_task(**kwargs)

    later = timezone.now() + dispatch.LEASE + dt.timedelta(seconds=1)
    with mock.patch.object(task_services, "create_task", create_task):
        outcomes = run_threads(2, lambda i: (time.sleep(0.2 * i), dispatch.execute_run(run_id, now=None if i == 0 else later))[1])
    assert outcomes == ["succeeded", "succeeded"]
    run = Run.objects.get(pk=run_id)
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert Task.objects.count() == 1
    assert RunAction.objects.get().task == Task.objects.get()


def test_two_worker_processes_let_one_run_per_contact_pass_every_24_hours():
    automation("invoice_sent", TASK, frequency="once_per_contact_24h")
    contacts = [make_contact() for _ in range(10)]

    def wave(start: dt.datetime) -> list[int]:
        """Two events per contact a minute apart; worker 0 and 1 each start with a different one of
        every contact's two runs, so both try to pass the same contact's gate at the same moment."""
        first = send_invoices(contacts, per_contact=1, now=start)
        second = send_invoices(contacts, per_contact=1, now=start + dt.timedelta(minutes=1))
        run_ids, _full = dispatch.claim_events()
        by_invoice = dict(Run.objects.filter(pk__in=run_ids).values_list("event__invoice", "pk"))
        order_a = [by_invoice[i.pk] for i in first] + [by_invoice[i.pk] for i in second]
        order_b = [by_invoice[i.pk] for i in second] + [by_invoice[i.pk] for i in first]
        spawn_workers("execute_runs_of", 2, [order_a, order_b])
        return run_ids

    first_wave = wave(START)
    passed = Run.objects.filter(pk__in=first_wave, status="succeeded")
    assert sorted(passed.values_list("contact", flat=True)) == sorted(c.pk for c in contacts)
    assert Run.objects.filter(pk__in=first_wave, status="skipped").count() == 10
    assert set(Run.objects.filter(pk__in=first_wave, status="skipped").values_list("reason", flat=True)) == {
        "frequency limit: Once per contact every 24 hours"}

    # 25 hours later the window is over: again exactly one per contact.
    second_wave = wave(START + dt.timedelta(hours=25))
    passed = Run.objects.filter(pk__in=second_wave, status="succeeded")
    assert sorted(passed.values_list("contact", flat=True)) == sorted(c.pk for c in contacts)
    assert Run.objects.filter(pk__in=second_wave, status="skipped").count() == 10
    assert Task.objects.count() == 20
