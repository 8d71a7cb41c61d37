"""Every trigger end to end through a real `manage.py qcluster` on PostgreSQL.

The cluster runs with the production settings (`config.settings`: a real queue, not sync) on this
test's database, writes its emails as files, and is always stopped (SIGINT to its process group,
SIGKILL after a grace period).

How work reaches the cluster: the test changes invoices and plans through the services, exactly as
the app does. Their transaction writes the Event; on commit the receiver calls
`request_dispatch()`, whose `async_task` — with this process pointed at the cluster's queue by
`cluster.queue()` (sync off; the cluster's name, signing salt and broker) — puts a
`dispatch_pending` task into the ORM broker (or Redis, where a test is parametrized with it). The
cluster takes it from there: dispatch, frequency gate, actions. The overdue scan is a django-q2
`Schedule` run by the cluster's own scheduler (its first pass comes ~30 s after start, so that test
takes about 33 s); a lost wake-up is recovered by the cluster's sweeper schedule. Waiting is
polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone
from django_q.models import Schedule
from django_q.models import Task as QueueTask

from automations.models import DispatchFlag, Event, InvoiceEmail, Run, RunAction
from automations.services import create_automation
from invoices import services
from tasks.models import Task
from tests.automations.qcluster_helpers import cluster_queue, redis_url_or_skip, running_cluster, wait_for
from tests.base import make_contact, make_invoice, make_plan

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]

EMAIL = {"kind": "send_email", "subject": "{{ invoice.number }}: {{ contact.first_name }}",
         "body": "Hello {{ contact.first_name }}, {{ invoice.amount_due }} due on {{ invoice.due_date }}.",
         "sender_name": "Acme Billing", "reply_to": "billing@acme.test"}
RECURRING_EMAIL = {**EMAIL, "subject": "Plan {{ recurring.description }}: {{ contact.first_name }}",
                   "body": "{{ recurring.amount }} every {{ recurring.interval }}."}


def task_action(title: str) -> dict:
    return {"kind": "create_task", "title": title, "description": "", "due_in_days": 1, "assignee": None}


def automation(trigger: str, *actions: dict, frequency: str = "unlimited"):
    return create_automation(name=f"{trigger} via the cluster", trigger=trigger, frequency=frequency,
                             actions=list(actions), is_active=True)


@pytest.fixture
def broker() -> str:
    """The queue between this process and the cluster: django-q2's ORM broker unless a test is
    parametrized with "redis" (the production shape; skipped when no Redis answers)."""
    return "orm"


@pytest.fixture
def redis_url(broker) -> str:
    return redis_url_or_skip() if broker == "redis" else ""


@pytest.fixture
def cluster(tmp_path, transactional_db, redis_url):
    # Only our schedules: the migration's ones may or may not exist, depending on earlier tests.
    Schedule.objects.all().delete()
    with running_cluster(tmp_path, redis_url=redis_url) as running:
        yield running
    assert running.stopped_gracefully, f"SIGINT did not stop the cluster\n{running.log()}"


def all_runs_finished(expected: int):
    def check():
        runs = list(Run.objects.values_list("status", flat=True))
        return len(runs) == expected and "pending" not in runs
    return check


def assert_queue_clean(cluster) -> None:
    """Every queue task the cluster ran succeeded, and nothing is left in the broker."""
    failed = list(QueueTask.objects.filter(success=False).values_list("func", "result"))
    assert not failed, f"{failed}\n{cluster.log()}"
    # The worker saves a task's result after the task returned, which may be a moment after the
    # runs it carried out were finished (a busy machine): wait for it rather than race it.
    wait_for(lambda: QueueTask.objects.filter(func="automations.dispatch.dispatch_pending").exists(), timeout=15,
             message=f"the dispatch task's result saved\n{cluster.log()}")
    wait_for(lambda: cluster.queue_length() == 0, timeout=10, message="queue drained")
    failed = list(QueueTask.objects.filter(success=False).values_list("func", "result"))
    assert not failed, f"{failed}\n{cluster.log()}"


def mail_to(cluster, address: str) -> list:
    return [m for m in cluster.emails() if m["To"] == address]


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_invoice_sent_and_paid_run_through_the_cluster(cluster):
    automation("invoice_sent", EMAIL, task_action("Follow up {{ invoice.number }}"))
    automation("invoice_paid", task_action("Thank {{ contact.name }} for {{ invoice.number }}"))
    contacts = [make_contact(name=f"Grace Hopper {i}", email=f"grace{i}@example.com") for i in range(3)]
    with cluster.queue():
        invoices = [make_invoice(status="sent", contact=c) for c in contacts]
        services.record_payment(invoice=invoices[0], amount=invoices[0].balance)
        services.record_payment(invoice=invoices[1], amount=Decimal("10.00"))  # partial: not paid

    wait_for(all_runs_finished(4), timeout=30, message=f"4 runs finished\n{cluster.log()}")
    assert sorted(Run.objects.values_list("automation__trigger", "status")) == [
        ("invoice_paid", "succeeded"), *[("invoice_sent", "succeeded")] * 3]
    # One task per event and action, one email per sent invoice.
    assert sorted(Task.objects.values_list("title", flat=True)) == sorted(
        [f"Follow up {i.number}" for i in invoices] + [f"Thank {contacts[0].name} for {invoices[0].number}"])
    assert Task.objects.filter(run__isnull=True).count() == 0
    for contact, invoice in zip(contacts, invoices):
        (message,) = mail_to(cluster, contact.email)
        assert message["Subject"] == f"{invoice.number}: Grace"
        assert message["From"] == "Acme Billing <billing@cluster.test>"
        result = RunAction.objects.get(run__event__invoice=invoice, kind="send_email")
        assert result.status == "succeeded" and result.message_id == message["Message-ID"]
    assert_queue_clean(cluster)


def test_recurring_started_and_canceled_run_through_the_cluster(cluster):
    automation("recurring_started", RECURRING_EMAIL, task_action("Welcome {{ contact.name }}"))
    automation("recurring_canceled", task_action("Canceled: {{ recurring.description }}"))
    plan = make_plan(amount=Decimal("50.00"), contact=make_contact(name="Ada Byron", email="ada@example.com"))
    with cluster.queue():
        services.start_recurring(plan=plan)  # also issues the first invoice and emails it (no automation)
    wait_for(all_runs_finished(1), timeout=30, message=f"start run finished\n{cluster.log()}")
    wait_for(lambda: InvoiceEmail.objects.filter(status="succeeded").exists(), timeout=30,
             message=f"the invoice emailed\n{cluster.log()}")
    with cluster.queue():
        services.cancel_recurring(plan=plan)
    wait_for(all_runs_finished(2), timeout=30, message=f"cancel run finished\n{cluster.log()}")

    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Canceled: Monthly support", "Welcome Ada Byron"]
    messages = cluster.emails()
    (message,) = [m for m in messages if m["X-Automation-Key"].startswith("run-")]
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Plan Monthly support: Ada"
    (invoice_email,) = [m for m in messages if m["X-Automation-Key"].startswith("invoice-")]
    assert invoice_email["To"] == "ada@example.com" and plan.invoices.get().number in invoice_email["Subject"]
    assert "€50.00 every Monthly." in message.get_body(("plain",)).get_content()
    assert Event.objects.filter(kind="recurring_started").count() == 1
    assert_queue_clean(cluster)


def test_overdue_scan_schedule_and_sweeper_run_in_the_cluster(tmp_path, transactional_db):
    """The cluster's own scheduler (its first pass comes ~30 s after start) runs the overdue scan
    and the outbox sweeper: overdue invoices get their runs, and an event whose wake-up was lost
    is dispatched by the sweeper."""
    automation("invoice_overdue", EMAIL, task_action("Call {{ contact.name }}: {{ invoice.number }} overdue"))
    automation("invoice_paid", task_action("Paid {{ invoice.number }}"))
    today = timezone.localdate()
    # No wake-up reaches any queue while the data is made: the sweeper must find these events.
    with mock.patch("automations.dispatch.request_dispatch"):
        overdue = [make_invoice(status="sent", issue_date=today - dt.timedelta(days=30),
                                due_date=today - dt.timedelta(days=2), contact=make_contact(email=f"late{i}@example.com"))
                   for i in range(5)]
        not_due = make_invoice(status="sent", due_date=today + dt.timedelta(days=3))
        lost = make_invoice(status="sent")
    # A payment whose wake-up is lost: the broker refuses the message after the commit. The payment
    # stands (no error for the person who recorded it); the sweeper must find its event.
    with cluster_queue("unreachable"), mock.patch("django_q.brokers.orm.ORM.enqueue",
                                                  side_effect=ConnectionError("broker down")) as enqueue:
        services.record_payment(invoice=lost, amount=lost.balance)
    assert enqueue.called
    lost.refresh_from_db()
    assert lost.status == "paid"
    assert not DispatchFlag.objects.filter(requested=True).exists()  # the next wake-up is not suppressed
    Event.objects.update(occurred_at=timezone.now() - dt.timedelta(hours=1))
    assert not Run.objects.exists()

    Schedule.objects.all().delete()
    Schedule.objects.create(name="Overdue scan", func="automations.jobs.scan_overdue",
                            schedule_type=Schedule.MINUTES, minutes=10, repeats=-1, next_run=timezone.now())
    Schedule.objects.create(name="Outbox sweeper", func="automations.jobs.sweep",
                            schedule_type=Schedule.MINUTES, minutes=1, repeats=-1, next_run=timezone.now())
    with running_cluster(tmp_path) as cluster:
        wait_for(all_runs_finished(6), timeout=55, message=f"6 runs finished\n{cluster.log()}")
        assert_queue_clean(cluster)
        emails = cluster.emails()

    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert Event.objects.filter(kind="invoice_overdue").count() == 5
    assert set(Event.objects.filter(kind="invoice_overdue").values_list("invoice", flat=True)) == {i.pk for i in overdue}
    not_due.refresh_from_db()
    assert not_due.status == "sent"
    assert Task.objects.filter(title__startswith="Call ").count() == 5
    assert Task.objects.filter(title=f"Paid {lost.number}").count() == 1
    assert sorted(m["To"] for m in emails) == sorted(i.contact.email for i in overdue)
    assert Schedule.objects.get(func="automations.jobs.scan_overdue").next_run > timezone.now()


def test_two_clusters_scanning_at_once_fire_each_reminder_step_once(tmp_path, transactional_db):
    """Two clusters, each with its own scheduler and two workers, run the scan schedules (three of
    them, all due at once) over the same open invoices: each invoice gets its reminder step once."""
    create_automation(name="Dunning via the clusters", trigger="invoice_due", frequency="unlimited", is_active=True,
                      include_backlog=True, steps=[
                          {"name": "Friendly", "days": 3, "actions": [task_action("Remind {{ invoice.number }}")]},
                          {"name": "1. Mahnung", "days": 14, "actions": [task_action("Mahnung {{ invoice.number }}")]}])
    today = timezone.localdate()
    with mock.patch("automations.dispatch.request_dispatch"):
        invoices = [make_invoice(status="sent", issue_date=today - dt.timedelta(days=30),
                                 due_date=today - dt.timedelta(days=5), contact=make_contact(email=f"r{i}@example.com"))
                    for i in range(20)]
    Schedule.objects.all().delete()
    for n in range(3):
        Schedule.objects.create(name=f"Overdue and reminder scan {n}", func="automations.jobs.scan_overdue",
                                schedule_type=Schedule.MINUTES, minutes=10, repeats=-1, next_run=timezone.now())
    Schedule.objects.create(name="Outbox sweeper", func="automations.jobs.sweep",
                            schedule_type=Schedule.MINUTES, minutes=1, repeats=-1, next_run=timezone.now())
    with running_cluster(tmp_path / "a") as first, running_cluster(tmp_path / "b") as second:
        wait_for(lambda: not Schedule.objects.filter(func="automations.jobs.scan_overdue",
                                                     next_run__lte=timezone.now()).exists(),
                 timeout=70, message=f"the three scans ran\n{first.log()}\n{second.log()}")
        wait_for(all_runs_finished(20), timeout=60, message=f"20 runs finished\n{first.log()}\n{second.log()}")
        scans = QueueTask.objects.filter(func="automations.jobs.scan_overdue")
        wait_for(lambda: scans.count() == 3, timeout=15, message="the three scans' results saved")
    assert set(scans.values_list("success", flat=True)) == {True}
    # The first step once per invoice, and not the second (it waits its interval).
    assert sorted(Event.objects.filter(kind="invoice_due").values_list("invoice_id", flat=True)) == sorted(
        i.pk for i in invoices)
    assert sorted(Task.objects.values_list("title", flat=True)) == sorted(f"Remind {i.number}" for i in invoices)
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
