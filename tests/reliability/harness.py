"""The fault suite's shared parts: the row every scenario prints, the SMTP sink, the data builders.

How a row is computed — from the database and the SMTP sink after the scenario, never from the
engine's own counters:

* events: `Event` rows.
* runs expected: for each event, one run per automation of its trigger (automations × events).
  A run a frequency limit stops is still expected: it must exist, as `skipped` with its reason.
* runs done: expected runs that reached an outcome a person can see: `succeeded`, `skipped` with
  a reason, or `failed` with an error (a failed run shows its error and a Retry button).
* gated: runs skipped by a frequency limit (part of runs done).
* failed: runs done that ended `failed` (each scenario says how many it allows, e.g. the poisoned one).
* lost: runs expected − runs done: a run never created, left `pending`, or ended without a reason
  or error. Must be 0.
* duplicate tasks: tasks beyond one per (run, create_task action). Must be 0.
* duplicate card moves: committed `place_card` calls beyond one per (run, move_card action); the
  clusters' fault hooks write one row per call into `fault_card_moves` in the call's own
  transaction, so a call that was rolled back is not counted, and a repeated call is counted even
  when the card was already in place. Must be 0.
* emails sent twice: messages the SMTP sink accepted beyond one per Message-ID (the Message-ID is
  fixed per run and action) or per X-Automation-Key. Must be 0.
* uncertain: email actions left `unknown` (the worker died after handing the message over and
  before recording it; the run is `failed` and asks a person). Allowed, reported.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from django.db import connections, transaction
from django.db.models import Count, Q

from tests.automations.test_smtp import Recorder, free_port

ROWS: list[Row] = []

COLUMNS = [
    ("scenario", "scenario"), ("events", "events"), ("expected", "runs expected"), ("done", "runs done"),
    ("gated", "gated"), ("failed", "failed"), ("lost", "lost"), ("duplicate_tasks", "duplicate tasks"),
    ("duplicate_moves", "duplicate card moves"), ("emails_twice", "emails sent twice"),
    ("uncertain", "uncertain"), ("seconds", "seconds"), ("note", "note"),
]


@dataclass
class Row:
    scenario: str
    events: int = 0
    expected: int = 0
    done: int = 0
    gated: int = 0
    failed: int = 0
    lost: int = 0
    duplicate_tasks: int = 0
    duplicate_moves: int = 0
    emails_twice: int = 0
    uncertain: int = 0
    seconds: float = 0.0
    note: str = ""

    def assert_nothing_lost_or_doubled(self) -> None:
        assert (self.lost, self.duplicate_tasks, self.duplicate_moves, self.emails_twice) == (0, 0, 0, 0), self


def measure(scenario: str, *, sink: SmtpSink | None = None, using: str = "default", started: float | None = None,
            note: str = "") -> Row:
    """The row of a scenario, from the database `using` and the sink; recorded for the table."""
    from automations.models import Action, Automation, Event, Run, RunAction
    from tasks.models import Task

    events = dict(Event.objects.using(using).values_list("kind").annotate(n=Count("id")))
    automations = list(Automation.objects.using(using).filter(is_active=True).values_list("id", "trigger"))
    expected = sum(events.get(trigger, 0) for _, trigger in automations)
    runs = Run.objects.using(using).filter(automation_id__in=[pk for pk, _ in automations])
    outcome = (Q(status="succeeded") | (Q(status="skipped") & ~Q(reason="")) | (Q(status="failed") & ~Q(error="")))
    done = runs.filter(outcome).count()

    task_actions = dict(Action.objects.using(using).filter(kind="create_task").values_list("automation_id")
                        .annotate(n=Count("id")))
    duplicate_tasks = sum(
        max(0, n - task_actions.get(automation_id, 0))
        for automation_id, n in Task.objects.using(using).filter(run__isnull=False)
        .values_list("run__automation_id", "run_id").annotate(n=Count("id")).values_list("run__automation_id", "n")
    )
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*) - count(DISTINCT (run_id, position)) FROM fault_card_moves")
        duplicate_moves = cursor.fetchone()[0]

    emails_twice = 0
    if sink is not None:
        ids, keys = Counter(), Counter()
        for headers in sink.headers():
            ids[headers["Message-ID"]] += 1
            keys[headers["X-Automation-Key"]] += 1
        emails_twice = max(sum(n - 1 for n in ids.values()), sum(n - 1 for n in keys.values()))

    row = Row(
        scenario=scenario, events=sum(events.values()), expected=expected, done=done,
        gated=runs.filter(status="skipped", reason__startswith="frequency limit").count(),
        failed=runs.filter(status="failed").count(), lost=expected - done,
        duplicate_tasks=duplicate_tasks, duplicate_moves=duplicate_moves, emails_twice=emails_twice,
        uncertain=RunAction.objects.using(using).filter(status="unknown").count(),
        seconds=round(time.monotonic() - started, 1) if started is not None else 0.0, note=note,
    )
    ROWS.append(row)
    print("\n" + format_table([row]))
    return row


def format_table(rows: list[Row]) -> str:
    header = [title for _, title in COLUMNS]
    body = [[str(getattr(row, key)) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def write_table(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_table(ROWS) + "\n")
    path.with_suffix(".json").write_text(json.dumps([asdict(r) for r in ROWS], indent=1, default=str))
    return path


# --- The card-move log ------------------------------------------------------------------------

CARD_MOVE_LOG_SQL = """
CREATE TABLE IF NOT EXISTS fault_card_moves (
    id bigserial PRIMARY KEY, run_id bigint NOT NULL, position integer NOT NULL, contact_id bigint,
    step_id bigint, at timestamptz NOT NULL DEFAULT clock_timestamp());
TRUNCATE fault_card_moves;
"""


def install_card_move_log(using: str = "default") -> None:
    """The table the clusters' hooks write each committed `place_card` call into (see hooks.py)."""
    with connections[using].cursor() as cursor:
        cursor.execute(CARD_MOVE_LOG_SQL)


# --- The SMTP sink ----------------------------------------------------------------------------


class _SinkRecorder(Recorder):
    # aiosmtpd reads every attribute of its handler for each new connection (inspect.getmembers, to
    # find its auth_ hooks), and Recorder.messages is a property that parses every message received
    # so far: each connection was greeted later than the last (7 ms, then ~300 ms after 200 emails),
    # until the workers' emails timed out. The sink reads the envelopes, never `messages`.
    messages = None


class SmtpSink:
    """aiosmtpd in this process, recording every message; can stop and start again on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.recorder = _SinkRecorder()
        self.controller: Controller | None = None

    def start(self) -> SmtpSink:
        # A fixed name to greet with: else aiosmtpd asks DNS (socket.getfqdn()) in its event loop for
        # every connection, and a slow resolver stalls every session.
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port,
                                     server_hostname="sink.fault.test")
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def count(self) -> int:
        return len(self.recorder.envelopes)

    def headers(self) -> list[dict[str, str]]:
        from email.parser import BytesHeaderParser

        parser = BytesHeaderParser()
        return [dict(parser.parsebytes(e.original_content)) for e in list(self.recorder.envelopes)]

    def env(self) -> dict[str, str]:
        return {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "5", "EMAIL_USE_TLS": "false", "EMAIL_USE_SSL": "false"}


# --- Clusters with the fault hooks ------------------------------------------------------------


def fault_env(**extra: str) -> dict[str, str]:
    """Environment of a fault cluster: the hooks and short timings (cluster_settings), a short
    queue lease (a task of a killed worker comes back sooner; still longer than the timeout)."""
    return {"DJANGO_SETTINGS_MODULE": "tests.reliability.cluster_settings", "Q_TIMEOUT": "90", "Q_RETRY": "100",
            **extra}


def prepare_schedules(*, sweeper: bool = True, overdue: bool = False, copies: int = 1) -> None:
    """Only the schedules a scenario wants, due at once (django-q2's scheduler looks every ~30 s).
    `copies` > 1 makes several identical schedules (as if each host had added its own), so their
    tasks run at the same moment in different workers and clusters."""
    from django.utils import timezone
    from django_q.models import Schedule

    Schedule.objects.all().delete()
    for copy in range(copies):
        if sweeper:
            Schedule.objects.create(name=f"Outbox sweeper {copy}", func="automations.jobs.sweep",
                                    schedule_type=Schedule.MINUTES, minutes=1, repeats=-1, next_run=timezone.now())
        if overdue:
            Schedule.objects.create(name=f"Overdue scan {copy}", func="automations.jobs.scan_overdue",
                                    schedule_type=Schedule.MINUTES, minutes=1, repeats=-1, next_run=timezone.now())


# --- Data -------------------------------------------------------------------------------------


def make_contacts(count: int, *, prefix: str = "c", using: str = "default") -> list:
    from invoices.models import Contact

    Contact.objects.using(using).bulk_create(
        [Contact(name=f"Customer {prefix}{i}", email=f"{prefix}{i}@fault.example", language="en") for i in range(count)])
    return list(Contact.objects.using(using).filter(email__endswith="@fault.example", email__startswith=prefix)
                .order_by("pk"))


def make_drafts(contacts: list, count: int, *, due_in_days: int = 14) -> list:
    """`count` draft invoices spread over `contacts` (round robin), through the service."""
    from core.dates import business_today
    from invoices import services

    today = business_today()
    drafts = []
    for start in range(0, count, 250):
        with transaction.atomic():
            for i in range(start, min(count, start + 250)):
                drafts.append(services.create_invoice(
                    contact=contacts[i % len(contacts)], issue_date=today - dt.timedelta(days=30),
                    due_date=today + dt.timedelta(days=due_in_days),
                    items=[{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}]))
    return drafts


def send_all(drafts: list, *, pace: float = 0.0) -> None:
    """Send each draft through the service (its own transaction, its own wake-up on commit)."""
    from invoices import services

    for invoice in drafts:
        services.send_invoice(invoice=invoice)
        if pace:
            time.sleep(pace)


def all_runs_final(using: str = "default"):
    """A wait_for condition: every expected run exists and none is pending."""
    from automations.models import Automation, Event, Run

    def check() -> bool:
        events = dict(Event.objects.using(using).values_list("kind").annotate(n=Count("id")))
        expected = sum(events.get(t, 0) for t in Automation.objects.using(using).filter(is_active=True)
                       .values_list("trigger", flat=True))
        runs = Run.objects.using(using)
        return runs.count() >= expected and not runs.filter(status="pending").exists()
    return check


def fault_table_path() -> Path:
    base = Path(os.environ.get("FAULT_TABLE_DIR") or Path(__file__).resolve().parents[2] / "var" / "reliability")
    return base / "fault-table.md"
