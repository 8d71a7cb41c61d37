"""The engine: events become runs, runs pass the frequency limit and carry out their actions.

The promise is that an automation never loses an event and never does its work twice:

* `dispatch_pending` claims undispatched events in batches with one `UPDATE … RETURNING` (two
  workers never claim the same event) and creates their runs in the same transaction; a `Run` is
  unique per (automation, event), so a repeated dispatch adds nothing. A full batch wakes another
  worker before the runs are executed, so both workers share a burst.
* `execute_run` takes a lease on the run (compare-and-swap on `locked_until`), so only one worker
  executes it at a time; a worker that dies leaves the lease to expire and the sweeper hands the
  run out again. Every attempt is counted before it starts, so a run that kills its worker stops
  at the attempt cap as `failed`.
* The frequency limit is a single upsert on `ContactGate` (unique per automation and contact):
  the database decides, not a read-then-write in Python, and two workers can never both pass.
* Each action records its result in `RunAction` (unique per run and position): a task or a card
  move commits in the same transaction as its record; an email goes `pending → sending → sent`,
  and a `sending` found on a later attempt becomes `unknown` — never resent blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from invoices.models import InvoiceStatus, RecurringStatus

from .models import Automation, ContactGate, DispatchFlag, Event, Run, RunAction, RunActionStatus, RunStatus
from .triggers import Frequency, Trigger

log = logging.getLogger(__name__)

BATCH_SIZE = 200
# A dispatch task hands over to a fresh one after this long (far below Q_CLUSTER's timeout).
TASK_BUDGET_SECONDS = 60
# A run's lease: longer than any run can take (an email send is bounded by EMAIL_TIMEOUT).
LEASE = dt.timedelta(seconds=getattr(settings, "AUTOMATION_RUN_LEASE_SECONDS", 300))
MAX_ATTEMPTS = getattr(settings, "AUTOMATION_MAX_ATTEMPTS", 5)
WINDOW_24H = dt.timedelta(hours=24)


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 … minutes, at most an hour."""
    return dt.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


# --- Waking the dispatcher --------------------------------------------------------------------


def request_dispatch(*, force: bool = False) -> bool:
    """Enqueue one `dispatch_pending` task unless one is already waiting in the queue.

    The flag is cleared by the task before it looks for events, so an event committed while the
    task runs either is seen by it or sets the flag again and enqueues the next one: no wake-up
    is lost. A message the broker loses leaves the flag set; the sweeper then forces a new one.
    """
    from django_q.tasks import async_task

    now = timezone.now()
    changed = DispatchFlag.objects.filter(pk=1, requested=False).update(requested=True, requested_at=now)
    if not changed:
        _flag, created = DispatchFlag.objects.get_or_create(pk=1, defaults={"requested": True, "requested_at": now})
        if not created and not force:
            return False
    try:
        async_task("automations.dispatch.dispatch_pending", group="automations")
    except Exception:
        # Nothing was queued: a flag left set would make every later wake-up a no-op until the
        # sweeper forces one. Clear it so the next event tries again.
        DispatchFlag.objects.filter(pk=1).update(requested=False)
        raise
    return True


def dispatch_pending(*, batch_size: int = BATCH_SIZE, now: dt.datetime | None = None) -> int:
    """Turn every undispatched event into runs and execute them. Returns the runs executed."""
    from django_q.conf import Conf

    DispatchFlag.objects.filter(pk=1).update(requested=False)
    executed = 0
    started = time.monotonic()
    while True:
        run_ids, full = claim_events(batch_size=batch_size, now=now)
        if full and not Conf.SYNC:
            request_dispatch()  # more are waiting: let another worker take the next batch
        for index, run_id in enumerate(run_ids):
            if time.monotonic() - started > TASK_BUDGET_SECONDS and not Conf.SYNC:
                # Stay well inside the queue's timeout (slow mail servers): hand the rest over.
                enqueue_runs(run_ids[index:])
                request_dispatch(force=True)
                return executed
            execute_run(run_id, now=now)
            executed += 1
        if not full:
            return executed


def claim_events(*, batch_size: int = BATCH_SIZE, now: dt.datetime | None = None) -> tuple[list[int], bool]:
    """Claim up to `batch_size` undispatched events and create their runs, in one transaction.

    Returns the ids of the runs created and whether the batch was full (more may be waiting).
    """
    now = now or timezone.now()
    table = Event._meta.db_table
    # On PostgreSQL, SKIP LOCKED gives two workers claiming at once different batches (without it
    # the second waits for the first's rows and then finds them taken). SQLite has one writer.
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET dispatched_at = %s WHERE dispatched_at IS NULL AND id IN ("
                f"  SELECT id FROM {table} WHERE dispatched_at IS NULL ORDER BY id LIMIT %s{skip_locked}"
                f") RETURNING id, kind, contact_id",
                [connection.ops.adapt_datetimefield_value(now), batch_size],
            )
            claimed = cursor.fetchall()
        if not claimed:
            return [], False
        kinds = {kind for _, kind, _ in claimed}
        automations: dict[str, list[int]] = {}
        for automation_id, trigger in Automation.objects.filter(trigger__in=kinds, is_active=True).values_list("id", "trigger"):
            automations.setdefault(trigger, []).append(automation_id)
        runs = [
            Run(automation_id=automation_id, event_id=event_id, contact_id=contact_id)
            for event_id, kind, contact_id in claimed
            for automation_id in automations.get(kind, [])
        ]
        Run.objects.bulk_create(runs, ignore_conflicts=True, batch_size=500)
        run_ids = list(
            Run.objects.filter(event_id__in=[row[0] for row in claimed], status=RunStatus.PENDING)
            .order_by("id").values_list("id", flat=True)
        )
    return run_ids, len(claimed) == batch_size


# --- Executing a run --------------------------------------------------------------------------


def _claim_run(run_id: int, now: dt.datetime) -> bool:
    return bool(
        Run.objects.filter(pk=run_id, status=RunStatus.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(locked_until=now + LEASE, attempts=F("attempts") + 1, started_at=now)
    )


def _finish(run: Run, status: str, *, reason: str = "", error: str = "", now: dt.datetime) -> None:
    Run.objects.filter(pk=run.pk).update(
        status=status, reason=reason[:300], error=error, finished_at=now, locked_until=None, next_attempt_at=None
    )
    run.status, run.reason, run.error = status, reason, error


def _retry_later(run: Run, error: str, *, now: dt.datetime) -> None:
    if run.attempts >= MAX_ATTEMPTS:
        _finish(run, RunStatus.FAILED, error=_("Gave up after %(n)d attempts. Last error: %(error)s") % {
            "n": run.attempts, "error": error}, now=now)
        return
    Run.objects.filter(pk=run.pk).update(error=error, locked_until=None, next_attempt_at=now + backoff(run.attempts))


def trigger_no_longer_holds(event: Event) -> str:
    """Why the event's trigger is no longer true at execution time ("" if it still is)."""
    invoice = event.invoice
    if event.kind == Trigger.INVOICE_OVERDUE and invoice is not None and invoice.status != InvoiceStatus.OVERDUE:
        if invoice.status == InvoiceStatus.PAID:
            return _("invoice already paid")
        if invoice.status == InvoiceStatus.VOID:
            return _("invoice voided")
        return _("invoice is no longer overdue")
    if event.kind in (Trigger.INVOICE_SENT, Trigger.INVOICE_PAID) and invoice is not None and invoice.status == InvoiceStatus.VOID:
        return _("invoice voided")
    if event.kind == Trigger.RECURRING_STARTED and event.recurring is not None and event.recurring.status == RecurringStatus.CANCELED:
        return _("recurring payment already canceled")
    return ""


def pass_gate(run: Run, automation: Automation, event: Event) -> bool:
    """The frequency limit, decided by one atomic upsert on ContactGate (see module docstring)."""
    if automation.frequency == Frequency.UNLIMITED:
        return True
    table = ContactGate._meta.db_table
    if automation.frequency == Frequency.ONCE_PER_CONTACT:
        condition = f"{table}.run_id = EXCLUDED.run_id"
        params: list = []
    else:
        # Rolling 24 hours in UTC, measured between the events' times.
        condition = f"{table}.run_id = EXCLUDED.run_id OR {table}.passed_at <= %s"
        params = [connection.ops.adapt_datetimefield_value(event.occurred_at - WINDOW_24H)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (automation_id, contact_id, run_id, passed_at) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (automation_id, contact_id) DO UPDATE SET run_id = EXCLUDED.run_id, passed_at = EXCLUDED.passed_at "
            f"WHERE {condition} RETURNING run_id",
            [automation.pk, run.contact_id, run.pk, connection.ops.adapt_datetimefield_value(event.occurred_at), *params],
        )
        return cursor.fetchone() is not None


def execute_run(run_id: int, *, now: dt.datetime | None = None) -> str | None:
    """Carry out one run if it is pending and nobody else holds it. Returns its new status."""
    from .actions import ACTIONS, ActionError, ActionSkipped

    now = now or timezone.now()
    if not _claim_run(run_id, now):
        return None
    run = Run.objects.select_related("automation", "event", "event__invoice", "event__recurring", "contact").get(pk=run_id)
    automation, event = run.automation, run.event
    if run.attempts > MAX_ATTEMPTS:
        _finish(run, RunStatus.FAILED, now=now, error=run.error or _(
            "Gave up after %(n)d attempts: the run stopped its worker each time.") % {"n": run.attempts - 1})
        return run.status
    if not automation.is_active:
        _finish(run, RunStatus.SKIPPED, reason=_("automation switched off"), now=now)
        return run.status
    reason = trigger_no_longer_holds(event)
    if reason:
        _finish(run, RunStatus.SKIPPED, reason=reason, now=now)
        return run.status
    if not pass_gate(run, automation, event):
        label = Frequency(automation.frequency).label
        _finish(run, RunStatus.SKIPPED, reason=_("frequency limit: %(limit)s") % {"limit": label}, now=now)
        return run.status

    skipped: list[str] = []
    done = 0
    for action in automation.actions.order_by("position", "pk"):
        result, _created = RunAction.objects.get_or_create(
            run=run, position=action.position,
            defaults={"action": action, "kind": action.kind, "idempotency_key": f"run-{run.pk}-action-{action.position}"},
        )
        if result.status == RunActionStatus.SUCCEEDED:
            done += 1
            continue
        if result.status == RunActionStatus.SKIPPED:
            skipped.append(result.detail)
            continue
        try:
            ACTIONS[action.kind].execute(run=run, action=action, result=result, now=now)
            done += 1
        except ActionSkipped as exc:
            RunAction.objects.filter(pk=result.pk).update(status=RunActionStatus.SKIPPED, detail=exc.message)
            skipped.append(exc.message)
        except ActionError as exc:
            if exc.permanent:
                RunAction.objects.filter(pk=result.pk).exclude(status=RunActionStatus.UNKNOWN).update(
                    status=RunActionStatus.FAILED, error=exc.message)
                _finish(run, RunStatus.FAILED, error=exc.message, now=now)
            else:
                RunAction.objects.filter(pk=result.pk).update(error=exc.message)
                _retry_later(run, exc.message, now=now)
            return Run.objects.values_list("status", flat=True).get(pk=run.pk)
        except Exception as exc:  # an unexpected bug or outage: retried, then shown as failed
            log.exception("Run %s: action %s failed", run.pk, action.kind)
            message = f"{type(exc).__name__}: {exc}"
            RunAction.objects.filter(pk=result.pk).update(error=message + "\n" + traceback.format_exc(limit=5))
            _retry_later(run, message, now=now)
            return Run.objects.values_list("status", flat=True).get(pk=run.pk)
    if done == 0 and skipped:
        _finish(run, RunStatus.SKIPPED, reason="; ".join(skipped), now=now)
    else:
        _finish(run, RunStatus.SUCCEEDED, reason="; ".join(skipped), now=now)
    return run.status


def execute_runs(run_ids: list[int]) -> int:
    """A queue task: execute these runs (each claims its own lease), handing over what is left
    when the time budget is spent."""
    from django_q.conf import Conf

    started = time.monotonic()
    done = 0
    for index, run_id in enumerate(run_ids):
        if time.monotonic() - started > TASK_BUDGET_SECONDS and not Conf.SYNC:
            enqueue_runs(run_ids[index:])
            break
        done += execute_run(run_id) is not None
    return done


def enqueue_runs(run_ids: list[int], *, chunk: int = 100) -> None:
    """Hand runs to the queue in chunks (one broker for all of them)."""
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    broker = get_broker()
    for start in range(0, len(run_ids), chunk):
        async_task("automations.dispatch.execute_runs", run_ids[start:start + chunk], group="automations", broker=broker)
