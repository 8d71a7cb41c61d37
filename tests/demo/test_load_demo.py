"""`manage.py load_demo`: the demo business (idempotent); and bench/load_bulk.py, the bulk benchmark data set."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Sum

from automations.models import Automation
from automations.timeline import invoice_timeline
from bench.load_bulk import Command as LoadBulk
from core.dates import business_today
from invoices import services
from invoices.models import Contact, CreditNoteSequence, Invoice, InvoiceSequence, LineItem, Payment, RecurringPayment
from tasks.models import Task
from workflows.models import Card, Step, Workflow

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
ALL_STATUSES = {"draft", "sent", "paid", "overdue", "void"}


def load_demo(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def load_bulk(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(LoadBulk(), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def snapshot() -> dict[str, int]:
    models = [User, Contact, Invoice, LineItem, Payment, RecurringPayment, Workflow, Step, Card, Task, Automation]
    return {model.__name__: model.objects.count() for model in models}


def bench_invoices():
    return Invoice.objects.filter(contact__email__endswith="@bench.example")


def assert_numbers_continue_each_year(invoices) -> None:
    """Numbers are unique and, per year and series (invoices "2026-0001", credit notes
    "ST-2026-0001"), one gap-free run that ends at the year's counter."""
    for kind, sequence in (("invoice", InvoiceSequence), ("credit_note", CreditNoteSequence)):
        by_year: dict[int, list[int]] = defaultdict(list)
        for number in invoices.filter(kind=kind).values_list("number", flat=True):
            year, n = number.split("-")[-2:]
            by_year[int(year)].append(int(n))
        for year, ns in by_year.items():
            assert len(ns) == len(set(ns))
            assert sorted(ns) == list(range(min(ns), max(ns) + 1)), f"gap in {year}"
            assert sequence.objects.get(year=year).last_number == max(ns)


def assert_money_adds_up(invoices) -> None:
    for invoice in invoices.prefetch_related("items"):
        assert (invoice.subtotal, invoice.tax_total, invoice.total) == invoice.compute_totals()
    paid = invoices.annotate(paid=Sum("payments__amount"))
    assert not paid.filter(amount_paid__gt=0).exclude(paid=F("amount_paid")).exists()
    assert not paid.filter(amount_paid=0, paid__isnull=False).exists()


@time_machine.travel(dt.datetime(2026, 5, 20, 11, 0, tzinfo=BERLIN), tick=False)
def test_default_run_creates_the_demo_business():
    out, _ = load_demo("--no-progress")

    assert "Demo login: demo / demo at http://127.0.0.1:8000/admin/" in out
    assert "Demo data created:" in out
    owner = User.objects.get(username="demo")
    assert owner.is_superuser and owner.check_password("demo")
    sam = User.objects.get(username="sam")
    assert sam.is_staff and not sam.is_superuser and sam.check_password("demo")
    assert sam.has_perm("invoices.view_invoice") and sam.has_perm("tasks.change_task")
    assert sam.has_perm("automations.view_automation") and not sam.has_perm("automations.change_automation")

    contacts = Contact.objects.all()
    assert 18 <= contacts.count() <= 22
    assert set(contacts.values_list("language", flat=True)) == {"en", "de"}
    assert contacts.exclude(company="").exists() and contacts.filter(company="").exists()
    assert contacts.filter(email="").count() == 1

    invoices = Invoice.objects.filter(kind="invoice")
    assert 55 <= invoices.count() <= 70
    assert set(invoices.values_list("status", flat=True)) == ALL_STATUSES
    # The sent invoices voided have their credit notes.
    voided_sent = invoices.filter(status="void", sent_at__isnull=False)
    assert voided_sent.exists()
    assert set(Invoice.objects.filter(kind="credit_note").values_list("credit_for", flat=True)) == set(
        voided_sent.values_list("pk", flat=True))
    item_counts = set(invoices.annotate(n=Count("items")).values_list("n", flat=True))
    assert item_counts <= {1, 2, 3, 4} and len(item_counts) > 1
    assert invoices.filter(status__in=["sent", "overdue"], amount_paid__gt=0).exists(), "partly paid ones"
    assert_money_adds_up(invoices)
    assert_numbers_continue_each_year(invoices)
    today = dt.date(2026, 5, 20)
    assert invoices.order_by("issue_date").first().issue_date >= today - dt.timedelta(days=91)
    assert not invoices.filter(status__in=["sent", "overdue", "paid"], sent_at__isnull=True).exists()

    # Overdue means really overdue: the scan has run, nothing sent is past due any more.
    overdue = invoices.filter(status="overdue")
    assert overdue.count() >= 5
    assert not overdue.filter(due_date__gte=today).exists()
    assert not overdue.filter(overdue_at__isnull=True).exists()
    assert not invoices.filter(status="sent", due_date__lt=today).exists()
    assert services.mark_overdue() == 0
    assert overdue.filter(contact__email="").exists(), "someone to call instead of email"

    assert set(RecurringPayment.objects.values_list("status", flat=True)) == {"scheduled", "active", "canceled"}
    assert RecurringPayment.objects.get(status="scheduled").start_date > today
    assert Invoice.objects.filter(recurring__isnull=False).count() == 2

    workflow = Workflow.objects.get(name="Collections")
    assert list(workflow.steps.order_by("position").values_list("name", flat=True)) == ["New", "Reminded", "Called", "Paid"]
    assert workflow.cards.count() >= 3

    tasks = Task.objects.all()
    assert set(tasks.values_list("status", flat=True)) == {"open", "done"}
    assignees = set(tasks.values_list("assignee__username", flat=True))
    assert assignees == {"demo", "sam", None}

    automations = Automation.objects.all()
    assert automations.count() == 3
    assert not automations.filter(is_active=True).exists()
    assert set(automations.values_list("trigger", flat=True)) == {"invoice_overdue", "invoice_paid"}
    reminder = automations.get(trigger="invoice_overdue")
    assert reminder.frequency == "once_per_contact_24h"
    assert list(reminder.actions.values_list("kind", flat=True)) == ["send_email"]
    move = automations.get(actions__kind="move_card").actions.get()
    assert move.step == workflow.steps.get(name="Paid")


def test_second_run_creates_nothing_and_says_so():
    load_demo("--no-progress")
    before = snapshot()

    out, _ = load_demo("--no-progress")

    assert snapshot() == before
    assert "Demo data already loaded: nothing created." in out
    assert "Demo login: demo / demo" in out


def test_existing_demo_user_is_kept():
    User.objects.create_user("demo", password="changed")
    load_demo("--no-progress")
    assert User.objects.filter(username="demo").count() == 1
    assert User.objects.get(username="demo").check_password("changed")


def test_no_progress_bar_when_stderr_is_not_a_terminal():
    _, err = load_demo()  # a StringIO is not a TTY
    assert "Demo business" not in err and "it/s" not in err


def test_bulk_adds_exactly_n_invoices_with_sequential_numbers_and_past_due_share():
    load_demo("--no-progress")
    before = Invoice.objects.count()
    demo_numbers = set(Invoice.objects.values_list("number", flat=True))
    today = business_today()

    out, _ = load_bulk("--no-progress", "--invoices", "500", "--overdue-share", "0.2", "--contacts", "50",
                       "--batch-size", "128")

    assert Invoice.objects.count() == before + 500
    assert "Added 500 invoices" in out
    added = bench_invoices()
    assert added.count() == 500
    assert not demo_numbers & set(added.values_list("number", flat=True))
    assert_numbers_continue_each_year(Invoice.objects.all())
    assert Contact.objects.filter(email__endswith="@bench.example").count() == 50
    assert LineItem.objects.filter(invoice__in=added).count() == 500
    assert_money_adds_up(added)

    past_due = set(added.filter(status="sent", due_date__lt=today).values_list("id", flat=True))
    assert len(past_due) == 100
    assert added.filter(status="sent", due_date__gte=today).exists()
    statuses = dict(added.values_list("status").annotate(n=Count("id")))
    assert statuses["paid"] > statuses["sent"] - 100 and statuses["draft"] > 0
    assert set(statuses) == {"draft", "sent", "paid"}

    assert services.mark_overdue() == 100
    assert set(Invoice.objects.filter(status="overdue", contact__email__endswith="@bench.example")
               .values_list("id", flat=True)) == past_due
    assert not Invoice.objects.filter(status="sent", due_date__lt=today).exists()


def test_bulk_runs_add_up_and_reuse_the_benchmark_contacts():
    load_bulk("--no-progress", "--invoices", "30", "--contacts", "5")
    load_bulk("--no-progress", "--invoices", "20", "--contacts", "5")
    assert bench_invoices().count() == 50
    assert Contact.objects.filter(email__endswith="@bench.example").count() == 5
    assert_numbers_continue_each_year(Invoice.objects.all())


@time_machine.travel(dt.datetime(2027, 1, 8, 9, 0, tzinfo=BERLIN), tick=False)
def test_bulk_numbers_follow_the_issue_year_in_january():
    load_bulk("--no-progress", "--invoices", "300", "--contacts", "10")
    for invoice in bench_invoices():
        assert invoice.number.startswith(f"{invoice.issue_date.year}-")
    assert {2026, 2027} <= set(InvoiceSequence.objects.values_list("year", flat=True))
    assert_numbers_continue_each_year(Invoice.objects.all())


@pytest.mark.parametrize("args", [
    ["--invoices", "-1"], ["--invoices", "10", "--overdue-share", "1.5"], ["--invoices", "10", "--overdue-share", "many"],
    ["--invoices", "10", "--batch-size", "0"],
])
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError):
        load_bulk("--no-progress", *args)
    assert not Invoice.objects.exists()


# --- The demo in German, and its timelines ---------------------------------------------------


@time_machine.travel(dt.datetime(2026, 5, 20, 11, 0, tzinfo=BERLIN), tick=False)
def test_in_german_mode_the_demo_speaks_german_and_a_second_run_finds_it_all(settings):
    settings.LANGUAGE_CODE = "de"
    load_demo("--no-progress")
    board = Workflow.objects.get()
    assert board.name == "Forderungen"
    assert list(board.steps.order_by("position").values_list("name", flat=True)) == [
        "Neu", "Erinnert", "Angerufen", "Bezahlt"]
    assert set(Automation.objects.values_list("name", flat=True)) == {
        "Erinnerungs-E-Mail bei Überfälligkeit", "Dankes-E-Mail bei Zahlung", "Karte nach „Bezahlt“ verschieben, wenn bezahlt"}
    reminder = Automation.objects.get(trigger="invoice_overdue").actions.get()
    assert reminder.subject == "Erinnerung: Rechnung {{ invoice.number }} ist überfällig"
    assert "Mit freundlichen Grüßen" in reminder.body and "Sie" in reminder.body
    assert Automation.objects.get(actions__kind="move_card").actions.get().step.name == "Bezahlt"
    assert Task.objects.filter(title="Thomas Koch wegen seiner überfälligen Rechnung anrufen").exists()
    assert not Task.objects.filter(title__startswith="Call ").exists()
    # A plan's description is in its customer's language, like the invoice lines.
    assert set(RecurringPayment.objects.values_list("description", flat=True)) == {
        "Website-Wartung (monatlich)", "Newsletter service (monthly)", "Support-Pauschale (monatlich)"}

    before = snapshot()
    out, _ = load_demo("--no-progress")
    assert snapshot() == before and "nothing created" in out


@time_machine.travel(dt.datetime(2026, 5, 20, 11, 0, tzinfo=BERLIN), tick=False)
def test_the_demo_timelines_read_in_order_created_before_sent_before_paid():
    load_demo("--no-progress")
    checked = 0
    for invoice in Invoice.objects.exclude(status="draft").prefetch_related("payments"):
        entries = invoice_timeline(invoice)
        times = [entry["at"] for entry in entries]
        assert times == sorted(times), (invoice.number, [(e["label"], e["at"]) for e in entries])
        assert entries[0]["at"].date() <= invoice.issue_date
        checked += 1
    assert checked > 40
