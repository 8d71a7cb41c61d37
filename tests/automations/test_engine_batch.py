"""Runs of pure database actions (tasks, card moves) executed as a batch in one transaction.

Several events are committed before the dispatcher runs (a burst), so one claim holds many runs:
they share one transaction, one task INSERT and one finish. Each run keeps its own outcome.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automations import dispatch
from automations.actions import ActionBatch
from automations.models import Run, RunAction
from automations.services import create_automation
from invoices import services
from tasks.models import Task
from workflows.models import Card
from workflows.services import create_workflow
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db

TASK = {"kind": "create_task", "title": "Call {{ contact.name }} about {{ invoice.number }}", "description": "",
        "due_in_days": 2, "assignee": None}
EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello {{ contact.first_name }}",
         "sender_name": "Acme Billing", "reply_to": "billing@acme.test"}


def automation(*actions: dict, trigger: str = "invoice_sent", frequency: str = "unlimited"):
    return create_automation(name=f"{trigger} {frequency} {len(actions)}", trigger=trigger, frequency=frequency,
                             actions=list(actions), is_active=True)


def send_burst(django_capture_on_commit_callbacks, contacts) -> list:
    """Invoices sent one by one, with the dispatcher only woken afterwards (as in a burst)."""
    with django_capture_on_commit_callbacks(execute=False):
        return [make_invoice(status="sent", contact=contact) for contact in contacts]


def inserts_into(queries, table: str) -> int:
    return sum(1 for q in queries if q["sql"].startswith(f'INSERT INTO "{table}"'))


def test_a_burst_of_task_runs_is_executed_together_once_each(django_capture_on_commit_callbacks):
    automation(TASK)
    invoices = send_burst(django_capture_on_commit_callbacks, [make_contact() for _ in range(12)])
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.dispatch_pending() == 12
    assert inserts_into(queries, "tasks_task") == 1
    assert sorted(Run.objects.values_list("status", flat=True)) == ["succeeded"] * 12
    for invoice in invoices:
        task = Task.objects.get(invoice=invoice)
        assert task.title == f"Call {invoice.contact.name} about {invoice.number}"
        assert task.contact == invoice.contact and task.due_date == dt.date.today() + dt.timedelta(days=2)
        result = RunAction.objects.get(run=task.run)
        assert (result.status, result.task_id, result.detail) == ("succeeded", task.pk, task.title)
    run = Run.objects.first()
    assert run.finished_at is not None and run.locked_until is None and run.attempts == 1
    # Dispatching and executing again changes nothing.
    dispatch.dispatch_pending()
    dispatch.execute_batch(list(Run.objects.values_list("pk", flat=True)))
    assert Task.objects.count() == 12


def test_statements_per_batch_do_not_grow_with_the_runs(django_capture_on_commit_callbacks):
    automation(TASK)
    counts = []
    for size in (5, 20):
        send_burst(django_capture_on_commit_callbacks, [make_contact() for _ in range(size)])
        run_ids, _full = dispatch.claim_events()
        assert len(run_ids) == size
        with CaptureQueriesContext(connection) as queries:
            assert len(dispatch.execute_batch(run_ids)) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert Task.objects.count() == 25


def test_a_permanent_error_of_one_run_does_not_fail_the_others(django_capture_on_commit_callbacks):
    # A contact without a company makes an empty title: that task cannot be created.
    automation(TASK | {"title": "{{ contact.company }}"})
    contacts = [make_contact(company="Acme"), make_contact(company=""), make_contact(company="Initech")]
    send_burst(django_capture_on_commit_callbacks, contacts)
    dispatch.dispatch_pending()
    failed = Run.objects.get(contact=contacts[1])
    assert failed.status == "failed" and failed.error == "A task needs a title."
    assert RunAction.objects.get(run=failed).status == "failed"
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Acme", "Initech"]
    assert Run.objects.filter(status="succeeded").count() == 2


def test_an_unexpected_error_of_one_run_is_retried_and_the_others_succeed(django_capture_on_commit_callbacks):
    from tasks import services as task_services

    automation(TASK)
    contacts = [make_contact() for _ in range(3)]
    send_burst(django_capture_on_commit_callbacks, contacts)
    real = task_services.create_task

    def flaky(**kwargs):
        if kwargs["contact"] == contacts[1]:
            raise ConnectionError("board service down")
        return real(**kwargs)

    with mock.patch("tasks.services.create_task", side_effect=flaky):
        dispatch.dispatch_pending()
    retried = Run.objects.get(contact=contacts[1])
    assert retried.status == "pending" and "board service down" in retried.error and retried.next_attempt_at
    assert Task.objects.count() == 2
    # The retry, after its backoff, creates the missing task and nothing else.
    dispatch.execute_run(retried.pk, now=retried.next_attempt_at)
    assert Run.objects.get(pk=retried.pk).status == "succeeded"
    assert Task.objects.count() == 3 and Task.objects.filter(contact=contacts[1]).count() == 1


def test_a_crash_inside_a_batch_leaves_nothing_and_the_retry_does_each_run_once(django_capture_on_commit_callbacks):
    automation(TASK)
    send_burst(django_capture_on_commit_callbacks, [make_contact() for _ in range(4)])
    run_ids, _full = dispatch.claim_events()
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)

    class WorkerKilled(BaseException):
        pass

    real_flush = ActionBatch.flush

    def flush_then_die(batch):
        real_flush(batch)  # the tasks and their records are written: the worker dies before the commit
        assert Task.objects.count() == 4
        raise WorkerKilled

    with mock.patch.object(ActionBatch, "flush", flush_then_die), pytest.raises(WorkerKilled):
        dispatch.execute_batch(run_ids, now=start)
    # Rolled back: no task, no finished run; each attempt was counted before the work.
    assert not Task.objects.exists()
    assert set(Run.objects.values_list("status", "attempts")) == {("pending", 1)}
    # The leases expire and the sweeper hands the runs out again.
    statuses = dispatch.execute_batch(run_ids, now=start + dispatch.LEASE + dt.timedelta(seconds=1))
    assert set(statuses.values()) == {"succeeded"}
    assert Task.objects.count() == 4 and Task.objects.values("run").distinct().count() == 4


def test_each_run_of_a_batch_is_checked_again(django_capture_on_commit_callbacks):
    automation(TASK, frequency="once_per_contact")
    repeat, voided, other = make_contact(), make_contact(), make_contact()
    invoices = send_burst(django_capture_on_commit_callbacks, [repeat, repeat, voided, other])
    services.void_invoice(invoice=invoices[2])
    dispatch.dispatch_pending()
    by_invoice = {run.event.invoice_id: run for run in Run.objects.select_related("event")}
    assert by_invoice[invoices[0].pk].status == "succeeded"
    assert (by_invoice[invoices[1].pk].status, by_invoice[invoices[1].pk].reason) == (
        "skipped", "frequency limit: Once per contact")
    assert (by_invoice[invoices[2].pk].status, by_invoice[invoices[2].pk].reason) == ("skipped", "invoice voided")
    assert by_invoice[invoices[3].pk].status == "succeeded"
    assert sorted(Task.objects.values_list("invoice_id", flat=True)) == [invoices[0].pk, invoices[3].pk]


def test_card_moves_and_emails_beside_a_batch(django_capture_on_commit_callbacks):
    board = create_workflow(name="Collections", steps=["New", "Reminded"])
    reminded = board.steps.get(name="Reminded")
    automation({"kind": "move_card", "step": reminded}, TASK)
    automation(EMAIL)
    contacts = [make_contact() for _ in range(3)]
    send_burst(django_capture_on_commit_callbacks, contacts + [contacts[0]])
    assert dispatch.dispatch_pending() == 8
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(mail.outbox) == 4
    assert Task.objects.count() == 4
    # One card per contact, all on the step, in distinct positions.
    cards = Card.objects.filter(workflow=board)
    assert sorted(cards.values_list("contact_id", flat=True)) == sorted(c.pk for c in contacts)
    assert set(cards.values_list("step_id", flat=True)) == {reminded.pk}
    assert len(set(cards.values_list("position", flat=True))) == 3
    assert RunAction.objects.filter(kind="move_card", status="succeeded", card__isnull=False).count() == 4
