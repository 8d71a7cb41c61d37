"""Reminder schedules (trigger invoice_due): steps before and after the due date, fired by the scan
set-based, each once per invoice and due date, never one skipped, re-checked when they run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from automations import reminders, services
from automations.jobs import scan_overdue
from automations.models import Event, ReminderState, Run
from core.errors import DomainError
from invoices import services as invoice_services
from invoices.models import Invoice
from tasks.models import Task
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def task_step(name: str, days: int, **repeat) -> dict:
    return {"name": name, "days": days, **repeat,
            "actions": [{"kind": "create_task", "title": f"{name}: {{{{ invoice.number }}}}"}]}


def schedule(*steps: dict, conditions=None, include_backlog=True, name="Dunning"):
    return services.create_automation(
        name=name, trigger="invoice_due", frequency="unlimited", steps=list(steps), conditions=conditions,
        is_active=True, include_backlog=include_backlog)


DUE = dt.date(2026, 6, 10)  # a Wednesday


def sent_invoice(**overrides) -> Invoice:
    overrides.setdefault("issue_date", dt.date(2026, 5, 27))
    overrides.setdefault("due_date", DUE)
    return make_invoice(status="sent", **overrides)


def scan_on(day: dt.date, hour: int = 10, django_capture_on_commit_callbacks=None) -> int:
    with time_machine.travel(at(day, hour), tick=False):
        return reminders.scan()


def fired(invoice: Invoice) -> list[tuple[str, int]]:
    return list(Event.objects.filter(invoice=invoice, kind="invoice_due")
                .order_by("pk").values_list("reminder_step__name", "repeat"))


def test_each_step_fires_on_its_day_once_and_in_order():
    schedule(task_step("Heads-up", -3), task_step("Due today", 0), task_step("1. Mahnung", 14))
    invoice = sent_invoice()
    days = {DUE - dt.timedelta(days=4): [], DUE - dt.timedelta(days=3): [("Heads-up", 0)],
            DUE - dt.timedelta(days=1): [("Heads-up", 0)], DUE: [("Heads-up", 0), ("Due today", 0)],
            DUE + dt.timedelta(days=13): [("Heads-up", 0), ("Due today", 0)],
            DUE + dt.timedelta(days=14): [("Heads-up", 0), ("Due today", 0), ("1. Mahnung", 0)]}
    for day, expected in days.items():
        scan_on(day)
        scan_on(day, hour=15)  # a second scan the same day adds nothing
        assert fired(invoice) == expected, day


def test_after_an_outage_the_invoice_gets_the_next_step_only_then_waits_its_interval():
    schedule(task_step("Friendly", 3), task_step("1. Mahnung", 14), task_step("2. Mahnung", 28))
    invoice = sent_invoice()
    # Nothing ran for 40 days: every step's day has passed.
    scan_on(DUE + dt.timedelta(days=40))
    assert fired(invoice) == [("Friendly", 0)]
    scan_on(DUE + dt.timedelta(days=41))
    assert fired(invoice) == [("Friendly", 0)]  # 1. Mahnung waits 11 days after the friendly one
    scan_on(DUE + dt.timedelta(days=51))
    assert fired(invoice) == [("Friendly", 0), ("1. Mahnung", 0)]
    scan_on(DUE + dt.timedelta(days=64))
    assert fired(invoice) == [("Friendly", 0), ("1. Mahnung", 0)]
    scan_on(DUE + dt.timedelta(days=65))
    assert fired(invoice)[-1] == ("2. Mahnung", 0)


def test_the_last_step_repeats_every_n_days_at_most_k_times():
    schedule(task_step("Reminder", 7, repeat_every_days=7, repeat_times=2))
    invoice = sent_invoice()
    for offset in range(7, 50):
        scan_on(DUE + dt.timedelta(days=offset))
    assert fired(invoice) == [("Reminder", 0), ("Reminder", 1), ("Reminder", 2)]
    days = [timezone_day(e) for e in Event.objects.filter(invoice=invoice, kind="invoice_due").order_by("pk")]
    assert days == [DUE + dt.timedelta(days=7), DUE + dt.timedelta(days=14), DUE + dt.timedelta(days=21)]


def timezone_day(event: Event) -> dt.date:
    return event.occurred_at.astimezone(BERLIN).date()


def test_a_paid_invoice_and_a_paused_one_get_no_step():
    schedule(task_step("Friendly", 3))
    paid, paused, open_ = sent_invoice(), sent_invoice(), sent_invoice()
    invoice_services.record_payment(invoice=paid, amount=paid.balance, date=DUE)
    invoice_services.pause_reminders(target=paused.contact, reason="Disputes the amount", now=at(DUE))
    scan_on(DUE + dt.timedelta(days=3))
    assert (fired(paid), fired(paused), fired(open_)) == ([], [], [("Friendly", 0)])


def test_conditions_choose_the_invoices():
    schedule(task_step("Friendly", 3), conditions=[{"field": "amount_due", "value": "100.00"},
                                                   {"field": "business_customer", "value": True}])
    big_business = sent_invoice(contact=make_contact(is_business=True))  # 119.00
    small_business = sent_invoice(contact=make_contact(is_business=True),
                                  items=[{"description": "Tea", "quantity": "1", "unit_price": "10.00", "tax_rate": "0"}])
    consumer = sent_invoice(contact=make_contact(is_business=False))
    scan_on(DUE + dt.timedelta(days=3))
    assert [bool(fired(i)) for i in (big_business, small_business, consumer)] == [True, False, False]


def test_a_changed_due_date_starts_the_schedule_again():
    schedule(task_step("Friendly", 3), task_step("1. Mahnung", 14))
    invoice = sent_invoice()
    scan_on(DUE + dt.timedelta(days=3))
    invoice_services.change_due_date(invoice=invoice, due_date=DUE + dt.timedelta(days=30), now=at(DUE + dt.timedelta(days=4)))
    scan_on(DUE + dt.timedelta(days=20))  # the old 1. Mahnung day: nothing, the new due date is ahead
    assert fired(invoice) == [("Friendly", 0)]
    scan_on(DUE + dt.timedelta(days=33))
    assert fired(invoice) == [("Friendly", 0), ("Friendly", 0)]
    assert ReminderState.objects.get(invoice=invoice).due_date == DUE + dt.timedelta(days=30)


def test_switched_on_for_new_invoices_only_leaves_the_backlog_out(django_capture_on_commit_callbacks):
    old = sent_invoice(due_date=dt.date(2026, 5, 1), issue_date=dt.date(2026, 4, 17))
    automation = services.create_automation(name="New only", trigger="invoice_due", frequency="unlimited",
                                            steps=[task_step("Friendly", 3)])
    assert reminders.backlog(automation, today=dt.date(2026, 6, 1)) == 1
    services.set_automation_active(automation=automation, active=True, now=at(dt.date(2026, 6, 1)))
    new = sent_invoice()
    scan_on(DUE + dt.timedelta(days=3))
    assert (fired(old), fired(new)) == ([], [("Friendly", 0)])


def test_the_step_runs_its_actions_and_is_skipped_if_paid_before_it_runs(django_capture_on_commit_callbacks):
    schedule(task_step("Friendly", 3))
    kept, paid_meanwhile = sent_invoice(), sent_invoice()
    with time_machine.travel(at(DUE + dt.timedelta(days=3)), tick=False):
        reminders.scan()
        invoice_services.record_payment(invoice=paid_meanwhile, amount=paid_meanwhile.balance)
        with django_capture_on_commit_callbacks(execute=True):
            from automations.dispatch import dispatch_pending
            dispatch_pending()
    assert list(Task.objects.values_list("title", flat=True)) == [f"Friendly: {kept.number}"]
    skipped = Run.objects.get(event__invoice=paid_meanwhile)
    assert (skipped.status, skipped.reason) == ("skipped", "invoice already paid")


def test_the_forecast_agrees_with_what_the_scan_then_fires():
    schedule(task_step("Heads-up", -2), task_step("1. Mahnung", 7), task_step("2. Mahnung", 21, repeat_every_days=10, repeat_times=2))
    invoices = [sent_invoice(due_date=DUE + dt.timedelta(days=n)) for n in (0, 3, 9)]
    start = DUE - dt.timedelta(days=5)
    with time_machine.travel(at(start, 7), tick=False):
        predicted = {(u.step.name, u.repetition, u.invoice.pk, u.day) for u in reminders.forecast(today=start, days=40)}
    for offset in range(40):
        scan_on(start + dt.timedelta(days=offset), hour=0)  # the first scan of each day (00:00)
    actual = {(e.reminder_step.name, e.repeat, e.invoice_id, timezone_day(e))
              for e in Event.objects.filter(kind="invoice_due").select_related("reminder_step")}
    assert predicted == actual
    assert len(actual) > 8


def test_a_schedule_needs_steps_in_order_and_only_the_last_repeats():
    bad = [
        ([], "at least one step"),
        ([task_step("A", 5), task_step("B", 5)], "more days from the due date than 5"),
        ([task_step("A", 3, repeat_every_days=7, repeat_times=2), task_step("B", 9)], "only the last step can repeat"),
        ([task_step("A", 3, repeat_every_days=7)], "both every how many days"),
        ([{"name": "A", "days": "soon", "actions": []}], "whole number"),
    ]
    for steps, message in bad:
        with pytest.raises(DomainError, match=message):
            services.create_automation(name="X", trigger="invoice_due", frequency="unlimited", steps=steps)


def test_charges_belong_to_reminder_steps_only():
    with pytest.raises(DomainError, match="Only a reminder schedule's steps can charge"):
        services.create_automation(name="Fee", trigger="invoice_overdue", frequency="unlimited",
                                   actions=[{"kind": "charge_fee", "fee": Decimal("5.00")}])


# --- Emails: one per customer, in their language, in the sending hours ---------------------------

from django.core import mail  # noqa: E402

from automations.dispatch import dispatch_pending  # noqa: E402


def email_step(name: str, days: int, *, digest: bool = False) -> dict:
    return {"name": name, "days": days, "actions": [{
        "kind": "send_email", "subject": "Reminder: {{ invoices.count }} open invoice(s)",
        "body": "Hello {{ contact.first_name }},\n{{ invoices.list }}\nTotal: {{ invoices.total_due }}",
        "subject_de": "Erinnerung: {{ invoices.count }} offene Rechnung(en)",
        "body_de": "Hallo {{ contact.first_name }},\n{{ invoices.list }}\nSumme: {{ invoices.total_due }}",
        "digest": digest}]}


def run_scan_and_dispatch(moment: dt.datetime, django_capture_on_commit_callbacks) -> None:
    with time_machine.travel(moment, tick=False):
        reminders.scan()
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_pending()


def test_one_email_per_customer_lists_all_their_invoices_at_the_step(django_capture_on_commit_callbacks):
    schedule(email_step("Friendly", 5, digest=True))  # due + 5: Monday 15 June, in the sending hours
    ada = make_contact(name="Ada Lovelace", language="en")
    grace = make_contact(name="Grace Hopper", language="de")
    ada_invoices = [sent_invoice(contact=ada), sent_invoice(contact=ada), sent_invoice(contact=ada)]
    grace_invoice = sent_invoice(contact=grace)
    invoice_services.record_payment(invoice=ada_invoices[2], amount=ada_invoices[2].balance, date=DUE)  # paid: not listed
    run_scan_and_dispatch(at(DUE + dt.timedelta(days=5)), django_capture_on_commit_callbacks)

    assert sorted(m.to[0] for m in mail.outbox) == sorted([ada.email, grace.email])
    (to_ada,) = [m for m in mail.outbox if m.to == [ada.email]]
    assert to_ada.subject == "Reminder: 2 open invoice(s)"
    assert all(invoice.number in to_ada.body for invoice in ada_invoices[:2]) and ada_invoices[2].number not in to_ada.body
    assert "Total: €238.00" in to_ada.body
    (to_grace,) = [m for m in mail.outbox if m.to == [grace.email]]
    assert to_grace.subject == "Erinnerung: 1 offene Rechnung(en)" and "Summe: 119,00\xa0€" in to_grace.body
    statuses = sorted(Run.objects.filter(contact=ada).values_list("status", "reason"))
    assert statuses == [("skipped", "in one email with the customer's other invoices of this reminder"),
                        ("succeeded", "")]


def test_reminder_emails_wait_for_the_sending_hours_across_the_change_to_winter_time(django_capture_on_commit_callbacks):
    schedule(email_step("Friendly", 3))
    invoice = sent_invoice(due_date=dt.date(2026, 10, 21))  # + 3 days: Saturday 24 October
    saturday_night = dt.datetime(2026, 10, 24, 23, 30, tzinfo=BERLIN)
    run_scan_and_dispatch(saturday_night, django_capture_on_commit_callbacks)
    run = Run.objects.get(event__invoice=invoice)
    assert mail.outbox == [] and run.status == "pending"
    # Held until Monday 8:00 in Berlin, which after the change on Sunday is 07:00 UTC.
    assert run.next_attempt_at == dt.datetime(2026, 10, 26, 7, 0, tzinfo=dt.timezone.utc)
    assert run.attempts == 0 and "held until the sending hours" in run.reason
    from automations.jobs import sweep
    with time_machine.travel(dt.datetime(2026, 10, 26, 6, 59, tzinfo=dt.timezone.utc), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
    assert mail.outbox == []
    with time_machine.travel(dt.datetime(2026, 10, 26, 7, 0, 30, tzinfo=dt.timezone.utc), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
    assert [m.to for m in mail.outbox] == [[invoice.contact.email]]
    assert Run.objects.get(pk=run.pk).status == "succeeded"


def test_a_fee_is_charged_once_per_step_however_often_the_run_is_tried(django_capture_on_commit_callbacks):
    schedule({"name": "1. Mahnung", "days": 14, "actions": [{"kind": "charge_fee", "fee": "5.00"}]})
    invoice = sent_invoice()
    run_scan_and_dispatch(at(DUE + dt.timedelta(days=14)), django_capture_on_commit_callbacks)
    (fee,) = Invoice.objects.filter(fee_for=invoice)
    assert fee.total == Decimal("5.00") and fee.status == "sent"
    run = Run.objects.get(event__invoice=invoice)
    from automations.actions import ChargeFee
    result = run.results.get()
    # A second attempt (a worker died after the charge) finds the charge made.
    assert ChargeFee.charge(invoice=invoice, action=result.action, key=f"automation-{run.automation_id}:step-{run.event.reminder_step_id}:0", now=None).pk == fee.pk
    assert Invoice.objects.filter(fee_for=invoice).count() == 1
    assert result.fee_invoice_id == fee.pk


def test_reminder_emails_wait_for_the_sending_hours_across_the_change_to_summer_time_and_easter(django_capture_on_commit_callbacks):
    schedule(email_step("Friendly", 3))
    invoice = sent_invoice(issue_date=dt.date(2027, 3, 10), due_date=dt.date(2027, 3, 24))  # + 3: Saturday 27 March
    saturday_night = dt.datetime(2027, 3, 27, 23, 30, tzinfo=BERLIN)
    run_scan_and_dispatch(saturday_night, django_capture_on_commit_callbacks)
    run = Run.objects.get(event__invoice=invoice)
    assert mail.outbox == [] and run.status == "pending"
    # Sunday 28 March is Easter Sunday and the change to summer time, Monday Easter Monday (a public
    # holiday in all of Germany): held until Tuesday 8:00 in Berlin, which is now 06:00 UTC.
    assert run.next_attempt_at == dt.datetime(2027, 3, 30, 6, 0, tzinfo=dt.timezone.utc)
    from automations.jobs import sweep
    with time_machine.travel(dt.datetime(2027, 3, 30, 5, 59, tzinfo=dt.timezone.utc), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
    assert mail.outbox == []
    with time_machine.travel(dt.datetime(2027, 3, 30, 6, 0, 30, tzinfo=dt.timezone.utc), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
    assert [m.to for m in mail.outbox] == [[invoice.contact.email]]


def test_the_digest_held_for_the_sending_hours_leaves_out_an_invoice_paid_meanwhile(django_capture_on_commit_callbacks):
    schedule(email_step("Friendly", 3, digest=True))
    ada = make_contact(name="Ada Lovelace", language="en")
    grace = make_contact(name="Grace Hopper", language="en")
    still_open, paid_meanwhile = (sent_invoice(contact=ada, due_date=dt.date(2026, 10, 21)) for _ in range(2))
    grace_paid = sent_invoice(contact=grace, due_date=dt.date(2026, 10, 21))
    # Scheduled on Saturday night (+3 days), held until Monday 8:00; paid on Sunday.
    run_scan_and_dispatch(dt.datetime(2026, 10, 24, 23, 30, tzinfo=BERLIN), django_capture_on_commit_callbacks)
    assert mail.outbox == [] and Run.objects.filter(status="pending").count() == 3
    for invoice in (paid_meanwhile, grace_paid):
        invoice_services.record_payment(invoice=invoice, amount=invoice.balance, date=dt.date(2026, 10, 25))
    from automations.jobs import sweep
    with time_machine.travel(dt.datetime(2026, 10, 26, 7, 0, 30, tzinfo=dt.timezone.utc), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
    # Ada gets one email listing only what is still open; Grace, who paid everything, gets none.
    assert [m.to for m in mail.outbox] == [[ada.email]]
    assert mail.outbox[0].subject == "Reminder: 1 open invoice(s)"
    assert still_open.number in mail.outbox[0].body and paid_meanwhile.number not in mail.outbox[0].body
    assert Run.objects.get(event__invoice=grace_paid).status == "skipped"


def test_a_schedule_that_lost_steps_after_they_fired_forecasts_and_explains_nothing_more_for_that_invoice():
    automation = schedule(task_step("Friendly", 3), task_step("1. Mahnung", 14), task_step("2. Mahnung", 28))
    ahead, behind = sent_invoice(), sent_invoice(due_date=DUE + dt.timedelta(days=20))
    for day in (3, 17, 31):
        scan_on(DUE + dt.timedelta(days=day))
    assert [step for step, _repeat in fired(ahead)] == ["Friendly", "1. Mahnung", "2. Mahnung"]
    assert [step for step, _repeat in fired(behind)] == ["Friendly"]
    # The owner shortens the schedule to two steps, the last repeating: the invoice past them gets
    # nothing more (no repetition of a step it never had), the other goes on with the second.
    services.update_automation(automation=automation, steps=[
        task_step("Friendly", 3), task_step("1. Mahnung", 14, repeat_every_days=7, repeat_times=2)])
    today = DUE + dt.timedelta(days=32)
    with time_machine.travel(at(today), tick=False):
        upcoming = reminders.forecast(today=today)
        assert {item.invoice for item in upcoming} == {behind} and upcoming[0].step.name == "1. Mahnung"
        assert list(reminders.forecast_pages(today=today)[0:10]) == upcoming
        (explained,) = reminders.explain(ahead, today=today)
        assert "No reminder will go out: all its steps have been sent." in explained.text
    # And the scan agrees: weeks later, nothing more for the invoice past the steps.
    for day in (40, 50, 60):
        scan_on(DUE + dt.timedelta(days=day))
    assert len(fired(ahead)) == 3
