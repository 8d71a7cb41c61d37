"""The engine end to end in sync mode: a state change → Event → Run → actions, exactly once."""

from __future__ import annotations

import datetime as dt
import email.utils
import smtplib
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core import mail

from automations import dispatch
from automations.models import ContactGate, Event, Run, RunAction
from automations.services import create_automation, set_automation_active
from invoices import services
from tasks.models import Task
from workflows.models import Card
from workflows.services import create_workflow
from tests.base import make_contact, make_invoice, make_plan, make_team_member

pytestmark = pytest.mark.django_db

EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}",
         "body": "Hello {{ contact.first_name }}, you owe {{ invoice.amount_due }}. {{ invoice.link }}",
         "sender_name": "Acme Billing", "reply_to": "billing@acme.test"}
TASK = {"kind": "create_task", "title": "Call {{ contact.name }} about {{ invoice.number }}", "description": "",
        "due_in_days": 2, "assignee": None}


def automation(trigger: str, *actions: dict, frequency: str = "unlimited"):
    return create_automation(name=f"{trigger} {frequency}", trigger=trigger, frequency=frequency,
                             actions=list(actions), is_active=True)


def past_due_invoice(**kw):
    today = dt.date.today()
    return make_invoice(status="sent", issue_date=today - dt.timedelta(days=30), due_date=today - dt.timedelta(days=2), **kw)


def test_sending_an_invoice_emails_the_customer_once(django_capture_on_commit_callbacks):
    automation("invoice_sent", EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(status="sent", contact=make_contact(name="Grace Hopper", email="grace@example.com"))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == f"Invoice {invoice.number}"
    assert message.to == ["grace@example.com"]
    assert message.reply_to == ["billing@acme.test"]
    assert "Acme Billing" in message.from_email
    assert "Hello Grace, you owe €119.00." in message.body
    assert "/i/" in message.body
    run = Run.objects.get()
    assert run.status == "succeeded"
    result = RunAction.objects.get()
    assert result.status == "succeeded" and result.message_id and result.email_to == "grace@example.com"
    # Dispatching again changes nothing.
    dispatch.dispatch_pending()
    dispatch.execute_run(run.pk)
    assert len(mail.outbox) == 1 and Run.objects.count() == 1


def test_email_in_the_contacts_language_and_html_escaped(django_capture_on_commit_callbacks):
    automation("invoice_sent", {**EMAIL, "body": "Hallo {{ contact.name }}, fällig am {{ invoice.due_date }}: {{ invoice.total }}"})
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice(status="sent", due_date=dt.date(2030, 3, 5),
                     contact=make_contact(name="<b>Eve</b> Müller", email="eve@example.com", language="de"))
    message = mail.outbox[0]
    assert "05.03.2030" in message.body
    assert "119,00\xa0€" in message.body
    html = message.alternatives[0][0]
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve</b>" not in html


def test_placeholders_in_the_sender_name_are_filled_in_and_stay_one_safe_header(
        django_capture_on_commit_callbacks, settings):
    settings.BUSINESS_NAME = "Acme"
    settings.DEFAULT_FROM_EMAIL = "billing@acme.test"
    automation("invoice_sent", {**EMAIL, "sender_name": "{{ business.name }} for {{ contact.company }}"},
               {**EMAIL, "sender_name": "{{contact.company}}"})
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice(status="sent", contact=make_contact(name="Grace", email="grace@example.com",
                                                         company='Hopper, "COBOL" & Co'))
        make_invoice(status="sent", contact=make_contact(name="Ada", email="ada@example.com", company=""))
    wire = [message.message() for message in mail.outbox]
    senders = [email.utils.parseaddr(str(m["From"])) for m in wire]
    assert senders[0] == ('Acme for Hopper, "COBOL" & Co', "billing@acme.test")
    assert senders[1] == ('Hopper, "COBOL" & Co', "billing@acme.test")
    # Filled in with nothing (no company): the business name, never an empty or literal sender.
    assert {s for s in senders[2:]} == {("Acme for", "billing@acme.test"), ("Acme", "billing@acme.test")}
    assert all("{{" not in str(m["From"]) and "\n" not in str(m["From"]) for m in wire)


def test_contact_without_email_is_skipped_without_retry(django_capture_on_commit_callbacks):
    automation("invoice_sent", EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice(status="sent", contact=make_contact(email=""))
    run = Run.objects.get()
    assert (run.status, run.reason) == ("skipped", "no email address")
    assert run.next_attempt_at is None and not mail.outbox


def test_once_per_contact_lets_one_run_pass_per_contact(django_capture_on_commit_callbacks):
    automation("invoice_sent", TASK, frequency="once_per_contact")
    contact, other = make_contact(), make_contact()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            make_invoice(status="sent", contact=contact)
        make_invoice(status="sent", contact=other)
    statuses = sorted(Run.objects.filter(contact=contact).values_list("status", flat=True))
    assert statuses == ["skipped", "skipped", "succeeded"]
    assert Run.objects.get(contact=other).status == "succeeded"
    assert Task.objects.count() == 2
    assert Run.objects.filter(status="skipped").first().reason == "frequency limit: Once per contact"


def test_once_per_contact_every_24_hours_at_the_edge(django_capture_on_commit_callbacks):
    automation("invoice_sent", TASK, frequency="once_per_contact_24h")
    contact = make_contact()
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
    for offset, expected in [(dt.timedelta(0), "succeeded"), (dt.timedelta(hours=23, minutes=59), "skipped"),
                             (dt.timedelta(hours=24), "succeeded"), (dt.timedelta(hours=47), "skipped")]:
        with time_machine.travel(start + offset, tick=False), django_capture_on_commit_callbacks(execute=True):
            invoice = make_invoice(contact=contact)
            services.send_invoice(invoice=invoice)
        assert Run.objects.order_by("-pk").first().status == expected, offset
    assert Task.objects.count() == 2


def test_overdue_email_is_not_sent_when_the_invoice_was_paid_meanwhile(django_capture_on_commit_callbacks):
    automation("invoice_overdue", EMAIL)
    invoice = past_due_invoice()
    # The scan commits its events, but the dispatch only runs after the payment.
    with django_capture_on_commit_callbacks(execute=False):
        assert services.mark_overdue() == 1
    invoice.refresh_from_db()
    services.record_payment(invoice=invoice, amount=invoice.balance)
    dispatch.dispatch_pending()
    run = Run.objects.get()
    assert (run.status, run.reason) == ("skipped", "invoice already paid")
    assert not mail.outbox


def test_switched_off_automation_skips_its_pending_runs(django_capture_on_commit_callbacks):
    auto = automation("invoice_sent", TASK)
    with django_capture_on_commit_callbacks(execute=False):
        make_invoice(status="sent")
    dispatch.claim_events()
    set_automation_active(automation=auto, active=False)
    dispatch.execute_run(Run.objects.get().pk)
    run = Run.objects.get()
    assert (run.status, run.reason) == ("skipped", "automation switched off")
    assert not Task.objects.exists()


def test_task_action_executed_twice_creates_one_task(django_capture_on_commit_callbacks):
    automation("invoice_paid", TASK)
    with django_capture_on_commit_callbacks(execute=False):
        invoice = make_invoice(status="paid")
    (run_id,), _full = dispatch.claim_events()
    dispatch.execute_run(run_id)
    # A second worker with an expired lease, or a retried queue message: nothing new.
    Run.objects.filter(pk=run_id).update(status="pending", locked_until=None)
    dispatch.execute_run(run_id)
    task = Task.objects.get()
    assert task.title == f"Call {invoice.contact.name} about {invoice.number}"
    assert task.invoice == invoice and task.run_id == run_id
    assert task.due_date == dt.date.today() + dt.timedelta(days=2)


def test_a_task_for_someone_whose_account_was_switched_off_goes_to_the_team(django_capture_on_commit_callbacks):
    sam, kim = make_team_member("sam"), make_team_member("kim")
    automation("invoice_paid", TASK | {"assignee": sam}, TASK | {"title": "Thank {{ contact.name }}", "assignee": kim})
    sam.is_active = False
    sam.save()
    with django_capture_on_commit_callbacks(execute=True):
        make_invoice(status="paid")
    tasks = {task.title.split()[0]: task.assignee for task in Task.objects.all()}
    assert tasks == {"Call": None, "Thank": kim}


def test_card_moves_to_the_step_and_is_created_if_missing(django_capture_on_commit_callbacks):
    board = create_workflow(name="Collections", steps=["New", "Paid"])
    paid = board.steps.get(name="Paid")
    automation("invoice_paid", {"kind": "move_card", "step": paid})
    with django_capture_on_commit_callbacks(execute=True):
        invoice = make_invoice(status="paid")
    card = Card.objects.get(contact=invoice.contact)
    assert card.step == paid
    assert RunAction.objects.get().card == card


def test_recurring_start_and_cancel_fire_once(django_capture_on_commit_callbacks):
    automation("recurring_started", TASK | {"title": "Welcome {{ contact.name }}: {{ recurring.amount }}"})
    automation("recurring_canceled", TASK | {"title": "Canceled {{ recurring.description }}"})
    plan = make_plan(amount=Decimal("50.00"))
    with django_capture_on_commit_callbacks(execute=True):
        services.start_recurring(plan=plan)
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_recurring(plan=plan)
    titles = sorted(Task.objects.values_list("title", flat=True))
    assert titles == ["Canceled Monthly support", f"Welcome {plan.contact.name}: €50.00"]
    assert Event.objects.filter(kind="recurring_started").count() == 1


def test_welcome_is_skipped_when_the_plan_was_canceled_before_dispatch(django_capture_on_commit_callbacks):
    automation("recurring_started", TASK | {"title": "Welcome {{ contact.name }}"})
    plan = make_plan()
    with django_capture_on_commit_callbacks(execute=False):
        services.start_recurring(plan=plan)
        services.cancel_recurring(plan=plan)
    dispatch.dispatch_pending()
    run = Run.objects.get()
    assert (run.status, run.reason) == ("skipped", "recurring payment already canceled")


def test_temporary_smtp_failure_is_retried_with_backoff_then_sent(django_capture_on_commit_callbacks):
    automation("invoice_sent", EMAIL)
    now = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
    with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages",
                    side_effect=smtplib.SMTPServerDisconnected("down")):
        with django_capture_on_commit_callbacks(execute=True):
            make_invoice(status="sent")
    run = Run.objects.get()
    assert run.status == "pending" and "not reachable" in run.error and run.next_attempt_at is not None
    assert RunAction.objects.get().status == "pending"
    dispatch.execute_run(run.pk, now=now)  # too early: the backoff is not over
    assert not mail.outbox
    dispatch.execute_run(run.pk, now=run.next_attempt_at + dt.timedelta(seconds=1))
    run.refresh_from_db()
    assert run.status == "succeeded" and len(mail.outbox) == 1


def test_permanent_refusal_fails_at_once_with_the_error(django_capture_on_commit_callbacks):
    automation("invoice_sent", EMAIL)
    refused = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")})
    with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=refused):
        with django_capture_on_commit_callbacks(execute=True):
            make_invoice(status="sent")
    run = Run.objects.get()
    assert run.status == "failed" and "refused" in run.error
    assert RunAction.objects.get().status == "failed"


def test_a_crash_after_handing_over_the_email_is_never_resent(django_capture_on_commit_callbacks):
    automation("invoice_sent", EMAIL)
    with django_capture_on_commit_callbacks(execute=False):
        make_invoice(status="sent")
    (run_id,), _ = dispatch.claim_events()
    # The worker died after marking the email `sending`: the lease expires, the sweeper retries.
    run = Run.objects.get(pk=run_id)
    RunAction.objects.create(run=run, position=0, kind="send_email", status="sending",
                             idempotency_key=f"run-{run_id}-action-0", email_to="x@example.com")
    dispatch.execute_run(run_id)
    run.refresh_from_db()
    assert run.status == "failed" and "may have been sent" in run.error
    assert RunAction.objects.get().status == "unknown"
    assert not mail.outbox


def test_a_run_that_kills_its_worker_stops_at_the_attempt_cap():
    run_id = None
    automation("invoice_sent", TASK)
    make_invoice(status="sent")
    (run_id,), _ = dispatch.claim_events()
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
    for attempt in range(dispatch.MAX_ATTEMPTS):
        # Each attempt claims the lease and dies before finishing.
        assert dispatch._claim_run(run_id, start + dispatch.LEASE * 2 * attempt)
    dispatch.execute_run(run_id, now=start + dispatch.LEASE * 2 * dispatch.MAX_ATTEMPTS)
    run = Run.objects.get(pk=run_id)
    assert run.status == "failed" and "Gave up" in run.error
    assert not Task.objects.exists()


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even an `except Exception`."""


def test_a_run_that_kills_its_worker_does_not_spend_the_attempts_of_its_batch_mates():
    """A batch died once (all three runs counted an attempt). From then on the poisoned run is
    claimed alone: each time it dies, only its own attempts go up, and the others finish."""
    automation("invoice_sent", TASK)
    for _ in range(3):
        make_invoice(status="sent")
    run_ids, _ = dispatch.claim_events()
    poisoned = run_ids[0]
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
    assert dispatch._claim_runs(run_ids, start) == run_ids  # the first batch, whose worker died
    real = dispatch._execute_claimed

    def dies_on_poisoned(run, *args):
        if run.pk == poisoned:
            raise WorkerDied
        return real(run, *args)

    later = start + dispatch.LEASE * 2
    with mock.patch("automations.dispatch._execute_claimed", dies_on_poisoned), pytest.raises(WorkerDied):
        dispatch.execute_batch(run_ids, now=later)  # the poisoned run is first (fewest attempts, lowest id)
    assert dict(Run.objects.values_list("pk", "attempts")) == {poisoned: 2, run_ids[1]: 1, run_ids[2]: 1}
    with mock.patch("automations.dispatch._execute_claimed", dies_on_poisoned), pytest.raises(WorkerDied):
        dispatch.execute_batch(run_ids, now=later + dispatch.LEASE * 2)  # the others go first now
    assert dict(Run.objects.values_list("pk", "status")) == {
        poisoned: "pending", run_ids[1]: "succeeded", run_ids[2]: "succeeded"}
    assert Task.objects.count() == 2


def test_gate_is_kept_by_the_run_that_passed_it_on_a_retry():
    auto = automation("invoice_sent", TASK, frequency="once_per_contact")
    make_invoice(status="sent")
    (run_id,), _ = dispatch.claim_events()
    run = Run.objects.select_related("event").get(pk=run_id)
    assert dispatch.pass_gate(run, auto, run.event)
    assert dispatch.pass_gate(run, auto, run.event)  # the same run again (a retry)
    assert ContactGate.objects.get().run_id == run_id


def test_overdue_scan_fires_once_per_invoice_and_due_date(django_capture_on_commit_callbacks):
    automation("invoice_overdue", TASK)
    invoices = [past_due_invoice() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        from automations.jobs import scan_overdue

        assert scan_overdue() == 3
        assert scan_overdue() == 0
    assert Event.objects.filter(kind="invoice_overdue").count() == 3
    assert Task.objects.count() == 3
    assert {t.invoice_id for t in Task.objects.all()} == {i.pk for i in invoices}


def test_overdue_events_name_the_invoice_and_due_date_and_a_second_flip_on_that_date_adds_none(
        django_capture_on_commit_callbacks):
    from automations.jobs import scan_overdue

    automation("invoice_overdue", TASK)
    invoice = past_due_invoice()
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_overdue() == 1
    event = Event.objects.get(kind="invoice_overdue")
    # The same key the scan wrote before it wrote events in SQL: events from before an upgrade still count.
    assert event.key == f"invoice_overdue:{invoice.pk}:{invoice.due_date.isoformat()}"
    assert (event.invoice_id, event.contact_id) == (invoice.pk, invoice.contact_id)
    assert event.dispatched_at is not None

    # No service turns an overdue invoice back to sent; a repair in the database could. Overdue
    # again for the same due date is the same event: no second one, no second task.
    type(invoice).objects.filter(pk=invoice.pk).update(status="sent")
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_overdue() == 1
    assert Event.objects.filter(kind="invoice_overdue").count() == 1
    assert Task.objects.count() == 1


def test_sweeper_redispatches_an_event_whose_wakeup_was_lost():
    from automations.jobs import sweep

    automation("invoice_sent", TASK)
    make_invoice(status="sent")  # no on_commit: the wake-up is "lost"
    assert not Run.objects.exists()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
    sweep(now=later)
    assert Run.objects.get().status == "succeeded"
    assert Task.objects.count() == 1


def test_a_failed_run_is_retried_from_the_admin_and_succeeds(client, django_capture_on_commit_callbacks):
    from django.urls import reverse

    from tests.base import make_owner

    automation("invoice_sent", EMAIL)
    refused = smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"mailbox full")})
    with mock.patch("django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=refused):
        with django_capture_on_commit_callbacks(execute=True):
            make_invoice(status="sent")
    run = Run.objects.get()
    assert run.status == "failed"
    client.force_login(make_owner())
    page = client.get(reverse("admin:automations_run_changelist")).content.decode()
    assert "mailbox full" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:automations_run_changelist"),
                               {"action": "retry_selected", "_selected_action": [run.pk]}, follow=True)
    assert "1 run will be tried again." in response.content.decode()
    run.refresh_from_db()
    assert run.status == "succeeded" and len(mail.outbox) == 1
    # Retrying a run that did not fail is refused with its status.
    response = client.post(reverse("admin:automations_run_changelist"),
                           {"action": "retry_selected", "_selected_action": [run.pk]}, follow=True)
    assert "Only a failed run can be retried; this one is Succeeded." in response.content.decode()


def test_a_delivery_webhook_that_arrives_before_the_id_is_saved_is_not_lost(django_capture_on_commit_callbacks):
    from anymail.signals import AnymailTrackingEvent

    from automations.mailer import message_id_for
    from automations.tracking import record_tracking_event

    automation("invoice_sent", EMAIL)
    with django_capture_on_commit_callbacks(execute=False):
        make_invoice(status="sent")
    (run_id,), _ = dispatch.claim_events()
    run = Run.objects.get(pk=run_id)
    expected = message_id_for(f"run-{run_id}-action-0", run.created_at)
    record_tracking_event(AnymailTrackingEvent(
        event_type="delivered", message_id=expected, event_id="evt-1",
        timestamp=dt.datetime.now(dt.timezone.utc), recipient="x@example.com"))
    dispatch.execute_run(run_id)
    result = RunAction.objects.get()
    assert result.message_id == expected
    assert result.email_status == "delivered"
    assert result.email_events.count() == 1


def test_a_burst_of_commits_wakes_one_dispatcher_and_none_is_lost(django_capture_on_commit_callbacks):
    from automations.models import DispatchFlag

    automation("invoice_sent", TASK)
    with mock.patch("automations.dispatch._enqueue_dispatch") as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):
                make_invoice(status="sent")
        with django_capture_on_commit_callbacks(execute=True):
            make_invoice(status="sent")
    # Four commits, one task queued: the flag stays raised until a task runs dry.
    assert enqueue.call_count == 1
    assert DispatchFlag.objects.get(pk=1).requested
    assert dispatch.dispatch_pending() == 4
    assert not DispatchFlag.objects.get(pk=1).requested
    assert Task.objects.count() == 4 and not Event.objects.filter(dispatched_at__isnull=True).exists()
