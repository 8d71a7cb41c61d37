"""The engine: events become runs, runs pass the frequency limit and carry out their actions.

The promise is that an automation never loses an event and never does its work twice:

* `dispatch_pending` claims undispatched events in batches with one `UPDATE … RETURNING` (two
  workers never claim the same event) and creates their runs in the same transaction; a `Run` is
  unique per (automation, event), so a repeated dispatch adds nothing. A full batch wakes another
  worker before the runs are executed, so both workers share a burst.
* `execute_run` takes a lease on the run (compare-and-swap on `locked_until`), so only one worker
  executes it at a time; a worker that dies leaves the lease to expire and the sweeper hands the
  run out again. Every attempt is counted before it starts, so a run that kills its worker stops
  at the attempt cap as `failed`; a run tried before is claimed alone, so it cannot spend the
  attempts of the runs that shared its batch.
* The frequency limit is a single upsert on `ContactGate` (unique per automation and contact):
  the database decides, not a read-then-write in Python, and two workers can never both pass.
* Each action records its result in `RunAction` (unique per run and position): a task or a card
  move commits in the same transaction as its record; an email goes `pending → sending → sent`,
  and a `sending` found on a later attempt becomes `unknown` — never resent blindly.
* Runs whose actions only write to this database (tasks, card moves) are executed a claimed chunk
  at a time in one transaction (`_execute_together`): one INSERT for their tasks, one UPDATE for
  their records, one for their finish. A crash rolls the whole chunk back and each run is retried
  from the start; an error of any one run rolls it back too, and the chunk is executed again run by
  run, so that run fails or retries alone. Emails keep their per-run path.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from business.calendar import SendingWindow
from business.services import get_profile
from invoices import services as invoice_services
from invoices.models import InvoiceStatus, RecurringStatus

from . import alerts, conditions
from .actions import ACTIONS, ActionBatch
from .errors import ActionError, ActionSkipped
from .models import (
    Action,
    Automation,
    ContactGate,
    DispatchFlag,
    Event,
    InvoiceEmail,
    InvoiceEmailStatus,
    LeasedWork,
    Run,
    RunAction,
    RunActionStatus,
    RunStatus,
)
from .triggers import Frequency, Trigger

log = logging.getLogger(__name__)

BATCH_SIZE = 200
# Runs are leased and loaded this many at a time; task and card runs of a chunk share one
# transaction. A slow mail server cannot outlast a chunk's lease: a task stops starting runs after
# TASK_BUDGET_SECONDS (far below LEASE) and gives the rest of its chunk back.
EXECUTE_CHUNK = 100
# A dispatch task hands over to a fresh one after this long (far below Q_CLUSTER's timeout).
TASK_BUDGET_SECONDS = 60
# A run's lease: longer than any run can take (an email send is bounded by EMAIL_TIMEOUT).
LEASE = dt.timedelta(seconds=getattr(settings, "AUTOMATION_RUN_LEASE_SECONDS", 300))
MAX_ATTEMPTS = getattr(settings, "AUTOMATION_MAX_ATTEMPTS", 5)
# The wait before the first retry of a temporary failure (the fault suite shortens it).
RETRY_BACKOFF = dt.timedelta(seconds=getattr(settings, "AUTOMATION_RETRY_BACKOFF_SECONDS", 60))
WINDOW_24H = dt.timedelta(hours=24)


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 … minutes (with the default first wait), at most an hour."""
    return min(dt.timedelta(hours=1), RETRY_BACKOFF * 2 ** max(0, attempts - 1))


# --- Waking the dispatcher --------------------------------------------------------------------


def request_dispatch(*, force: bool = False) -> bool:
    """Enqueue one `dispatch_pending` task unless one is already queued or running.

    The flag stays raised while a dispatch task works, so a burst of commits enqueues one task,
    not one per commit. The task lowers the flag only when it finds nothing left, and then looks
    once more: an event committed just before that saw the raised flag and enqueued nothing, so
    the task's last look finds it. No wake-up is lost. A task that dies, or a message the broker
    loses, leaves the flag raised; the sweeper then forces a new task (`force=True`).
    """
    now = timezone.now()
    changed = DispatchFlag.objects.filter(pk=1, requested=False).update(requested=True, requested_at=now)
    if not changed:
        _flag, created = DispatchFlag.objects.get_or_create(pk=1, defaults={"requested": True, "requested_at": now})
        if not created and not force:
            return False
    try:
        _enqueue_dispatch()
    except Exception:
        # Nothing was queued: a flag left set would make every later wake-up a no-op until the
        # sweeper forces one. Clear it so the next event tries again.
        DispatchFlag.objects.filter(pk=1).update(requested=False)
        raise
    return True


def _enqueue_dispatch() -> None:
    from django_q.tasks import async_task

    async_task("automations.dispatch.dispatch_pending", group="automations")


def dispatch_pending(*, batch_size: int = BATCH_SIZE, now: dt.datetime | None = None) -> int:
    """Turn every undispatched event into runs and execute them. Returns the runs executed."""
    from django_q.conf import Conf

    executed = 0
    started = time.monotonic()
    deadline = None if Conf.SYNC else started + TASK_BUDGET_SECONDS
    while True:
        run_ids, full = claim_events(batch_size=batch_size, now=now)
        if full and not Conf.SYNC:
            _enqueue_dispatch()  # more are waiting: let another worker take the next batch
        for start in range(0, len(run_ids), EXECUTE_CHUNK):
            if deadline is not None and time.monotonic() > deadline:
                # Stay well inside the queue's timeout (slow mail servers): hand the rest over
                # (the flag stays raised: the next task lowers it when it runs dry).
                enqueue_runs(run_ids[start:])
                _enqueue_dispatch()
                return executed
            executed += len(execute_batch(run_ids[start:start + EXECUTE_CHUNK], now=now, deadline=deadline))
        if full:
            continue
        # Run dry: lower the flag, then look once more (see request_dispatch).
        DispatchFlag.objects.filter(pk=1).update(requested=False)
        if not Event.objects.filter(dispatched_at__isnull=True).exists():
            return executed
        if not run_ids:
            time.sleep(0.05)  # another worker is committing its claim of the last ones
        if deadline is not None and time.monotonic() > deadline:
            request_dispatch(force=True)
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
                f") RETURNING id, kind, contact_id, automation_id",
                [connection.ops.adapt_datetimefield_value(now), batch_size],
            )
            claimed = cursor.fetchall()
        if not claimed:
            return [], False
        kinds = {kind for _, kind, _, _ in claimed}
        automations: dict[str, list[int]] = {}
        for automation_id, trigger in Automation.objects.filter(trigger__in=kinds, is_active=True).values_list("id", "trigger"):
            automations.setdefault(trigger, []).append(automation_id)
        # A reminder step's event is for its own automation only (if it is still on); any other
        # event for every active automation of its trigger.
        runs = [
            Run(automation_id=automation_id, event_id=event_id, contact_id=contact_id)
            for event_id, kind, contact_id, target in claimed
            for automation_id in ([target] if target and target in automations.get(kind, []) else
                                  [] if target else automations.get(kind, []))
        ]
        Run.objects.bulk_create(runs, ignore_conflicts=True, batch_size=500)
        run_ids = list(
            Run.objects.filter(event_id__in=[row[0] for row in claimed], status=RunStatus.PENDING)
            .order_by("id").values_list("id", flat=True)
        )
    return run_ids, len(claimed) == batch_size


# --- Executing a run --------------------------------------------------------------------------


def claim(model: type[LeasedWork], ids: list[int], now: dt.datetime, *, untried_only: bool = False,
          statuses: Sequence[str] = (RunStatus.PENDING,)) -> list[int]:
    """Take the lease on every row of `ids` (runs, invoice emails) whose status is one of
    `statuses`, that is free and due (and, with `untried_only`, never tried before), in one
    statement; each counts an attempt before any work. Returns the ids claimed."""
    if not ids:
        return []
    table = model._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(ids))
    status_placeholders = ", ".join(["%s"] * len(statuses))
    untried = "AND attempts = 0 " if untried_only else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempts = attempts + 1, started_at = %s "
            f"WHERE id IN ({placeholders}) AND status IN ({status_placeholders}) {untried}"
            f"AND (locked_until IS NULL OR locked_until < %s) AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
            f"RETURNING id",
            [adapt(now + LEASE), adapt(now), *ids, *statuses, adapt(now), adapt(now)],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _claim_runs(run_ids: list[int], now: dt.datetime, *, untried_only: bool = False) -> list[int]:
    return claim(Run, run_ids, now, untried_only=untried_only)


def _claim_run(run_id: int, now: dt.datetime) -> bool:
    return bool(_claim_runs([run_id], now))


def finish(row: LeasedWork, status: str, *, reason: str = "", error: str = "", now: dt.datetime, **fields: Any) -> None:
    """Record the outcome of a run or an invoice email and release its lease."""
    # `now` is when the attempt started (tests move it); it finished at the later of that and the clock.
    with transaction.atomic():
        changed = type(row)._default_manager.filter(pk=row.pk).update(
            status=status, reason=reason[:300], error=error, finished_at=max(now, timezone.now()), locked_until=None,
            next_attempt_at=None, **fields,
        )
        if changed and isinstance(row, Run) and status == RunStatus.FAILED:
            # A run failed for good: the owners' alert and the run_failed webhook commit with it
            # (once: both are unique per run).
            alerts.run_failed(row.pk, now=now)
        elif changed and isinstance(row, InvoiceEmail) and status in (InvoiceEmailStatus.FAILED, InvoiceEmailStatus.UNKNOWN):
            # An invoice the customer may not have received: the owners hear of it (once per email).
            alerts.invoice_email_failed(row.pk, now=now)
    row.status, row.reason, row.error = status, reason, error  # type: ignore[attr-defined]


def retry_later(row: LeasedWork, error: str, *, now: dt.datetime) -> None:
    """A temporary failure: try again after the backoff, or fail for good at the attempt cap."""
    if row.attempts >= MAX_ATTEMPTS:
        finish(row, RunStatus.FAILED, error=_("Gave up after %(n)d attempts. Last error: %(error)s") % {
            "n": row.attempts, "error": error}, now=now)
        return
    type(row)._default_manager.filter(pk=row.pk).update(error=error, locked_until=None,
                                                        next_attempt_at=now + backoff(row.attempts))


def gave_up(row: LeasedWork, *, now: dt.datetime) -> bool:
    """A row claimed more often than the cap allows stopped its worker every time (a poisoned run,
    an email whose rendering crashes the process): it fails now, with its last error if it has one."""
    if row.attempts <= MAX_ATTEMPTS:
        return False
    finish(row, RunStatus.FAILED, now=now, error=row.error or _(
        "Gave up after %(n)d attempts: each one stopped its worker.") % {"n": row.attempts - 1})
    return True


def trigger_no_longer_holds(event: Event, automation: Automation | None = None, *, now: dt.datetime | None = None) -> str:
    """Why the event's trigger is no longer true at execution time ("" if it still is)."""
    invoice = event.invoice
    if event.kind == Trigger.INVOICE_OVERDUE and invoice is not None and invoice.status != InvoiceStatus.OVERDUE:
        if invoice.status == InvoiceStatus.PAID:
            return _("invoice already paid")
        if invoice.status == InvoiceStatus.VOID:
            return _("invoice voided")
        return _("invoice is no longer overdue")
    if event.kind == Trigger.INVOICE_DUE and invoice is not None:
        return _reminder_no_longer_due(event, invoice, automation, now=now or timezone.now())
    if event.kind in (Trigger.INVOICE_SENT, Trigger.INVOICE_PAID) and invoice is not None and invoice.status == InvoiceStatus.VOID:
        return _("invoice voided")
    if event.kind == Trigger.RECURRING_STARTED and event.recurring is not None and event.recurring.status == RecurringStatus.CANCELED:
        return _("recurring payment already canceled")
    return ""


def _reminder_no_longer_due(event: Event, invoice, automation: Automation | None, *, now: dt.datetime) -> str:
    """A reminder step is sent only while it still applies: the invoice unpaid, its due date the
    one the step was for, no pause, the schedule's conditions true (checked again at sending time,
    which may be long after the scan: a payment or a pause meanwhile stops it)."""
    if invoice.status == InvoiceStatus.PAID:
        return _("invoice already paid")
    if invoice.status == InvoiceStatus.VOID:
        return _("invoice voided")
    if invoice.status not in (InvoiceStatus.SENT, InvoiceStatus.OVERDUE):
        return _("invoice is not open")
    if event.key and not event.key.startswith(f"due:{event.automation_id}:{invoice.pk}:{invoice.due_date.isoformat()}:"):
        return _("the due date has changed since")
    today = timezone.localdate(now)
    paused = invoice_services.reminder_pause_reason(invoice, today=today)
    if paused:
        return paused
    if automation is not None:
        failing = conditions.failing(invoice, automation.conditions, today=today)
        if failing:
            return _("a condition no longer holds: %(conditions)s") % {"conditions": _(" and ").join(failing)}
    return ""


def hold_outside_sending_hours(run: Run, actions: list[Action], now: dt.datetime) -> dt.datetime | None:
    """A reminder with an email to the customer goes out only in the business's sending hours on a
    business day (business.calendar). Outside them the run is held, not attempted: it waits, lease
    given back and attempt not counted, until the window opens (the sweeper then hands it out, in
    order). Returns when it will go, or None when it may go now."""
    if run.event.kind != Trigger.INVOICE_DUE or not any(action.kind == "send_email" for action in actions):
        return None
    window = SendingWindow.of(get_profile())
    if window.is_open(now):
        return None
    opens = window.next_open(now)
    Run.objects.filter(pk=run.pk).update(locked_until=None, next_attempt_at=opens, attempts=F("attempts") - 1,
                                         reason=_("held until the sending hours: %(when)s") % {
                                             "when": timezone.localtime(opens).strftime("%Y-%m-%d %H:%M")})
    return opens


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
    return execute_batch([run_id], now=now).get(run_id)


def execute_batch(run_ids: list[int], *, now: dt.datetime | None = None, deadline: float | None = None) -> dict[int, str]:
    """Claim and carry out a batch of runs: for the runs never tried, one lease statement, one query
    for the runs and their events, one for the actions of their automations, one to create their
    action records; then the task and card runs together (`_execute_together`) and each other run
    on its own (its actions' own transactions). Runs tried before are claimed one at a time (see
    below). Returns {run id: new status} for those claimed."""
    now = now or timezone.now()
    run_ids = list(run_ids)
    if len(run_ids) == 1:
        return _execute_claimed_batch(_claim_runs(run_ids, now), now=now, deadline=deadline)
    # Only runs never tried are claimed together. A run tried before without finishing may be one
    # that kills its worker (a poisoned run): claimed with others, it would count an attempt for
    # each of them every time it dies, until its innocent neighbours hit the attempt cap too. So
    # those are claimed and carried out one at a time, fewest attempts first.
    statuses = _execute_claimed_batch(_claim_runs(run_ids, now, untried_only=True), now=now, deadline=deadline)
    rest = [run_id for run_id in run_ids if run_id not in statuses]
    if rest:
        retried = list(Run.objects.filter(pk__in=rest, status=RunStatus.PENDING, attempts__gt=0)
                       .order_by("attempts", "pk").values_list("pk", flat=True))
        for index, run_id in enumerate(retried):
            if deadline is not None and time.monotonic() > deadline:
                enqueue_runs(retried[index:])
                break
            statuses.update(_execute_claimed_batch(_claim_runs([run_id], now), now=now, deadline=deadline))
    return statuses


def _execute_claimed_batch(claimed: list[int], *, now: dt.datetime, deadline: float | None) -> dict[int, str]:
    if not claimed:
        return {}
    runs = Run.objects.select_related(
        "automation", "event", "event__invoice", "event__invoice__recurring", "event__recurring", "contact"
    ).in_bulk(claimed)
    # The actions of each run: its automation's, or for a reminder step's run, that step's.
    by_owner: dict[tuple[int, int | None], list[Action]] = {}
    for action in Action.objects.filter(automation_id__in={run.automation_id for run in runs.values()}).select_related(
        "step", "assignee"
    ).order_by("automation_id", "position", "pk"):
        by_owner.setdefault((action.automation_id, action.reminder_step_id), []).append(action)
    actions: dict[int, list[Action]] = {
        run.pk: by_owner.get((run.automation_id, run.event.reminder_step_id), []) for run in runs.values()}
    RunAction.objects.bulk_create(
        [
            RunAction(run_id=run.pk, action=action, position=action.position, kind=action.kind,
                      idempotency_key=f"run-{run.pk}-action-{action.position}")
            for run in runs.values() for action in actions[run.pk]
        ],
        ignore_conflicts=True,
    )
    # Runs whose actions only write to this database go first, all in one transaction; the others
    # (emails) one by one. An automation's runs stay in id order either way (frequency limits).
    together = [run_id for run_id in claimed if _batchable(runs[run_id], actions[run_id])]
    statuses = _execute_together([runs[run_id] for run_id in together], actions, now) if len(together) > 1 else None
    if statuses is None:
        statuses = {}
    alone = [run_id for run_id in claimed if run_id not in statuses]
    results: dict[int, dict[int, RunAction]] = {}
    for result in RunAction.objects.filter(run_id__in=alone) if alone else ():
        results.setdefault(result.run_id, {})[result.position] = result
    for index, run_id in enumerate(alone):
        if deadline is not None and time.monotonic() > deadline:
            # Out of time (a slow mail server): give the rest back untouched and queue them anew.
            rest = alone[index:]
            Run.objects.filter(pk__in=rest, status=RunStatus.PENDING).update(locked_until=None, attempts=F("attempts") - 1)
            enqueue_runs(rest)
            break
        run = runs[run_id]
        statuses[run_id] = _execute_claimed(run, actions[run_id], results.get(run_id, {}), now)
    return statuses


def _batchable(run: Run, actions: list[Action]) -> bool:
    return run.attempts <= MAX_ATTEMPTS and all(ACTIONS[action.kind].batchable for action in actions)


def _why_skip(run: Run, now: dt.datetime | None = None) -> str:
    """Why the run is skipped before its actions ("" if it goes on): the re-checks at execution
    time, then the frequency limit (which, when passed, records this run in its gate)."""
    automation, event = run.automation, run.event
    if not automation.is_active:
        return _("automation switched off")
    reason = trigger_no_longer_holds(event, automation, now=now)
    if reason:
        return reason
    if not pass_gate(run, automation, event):
        return _("frequency limit: %(limit)s") % {"limit": Frequency(automation.frequency).label}
    return ""


class _StartAlone(Exception):
    """A run of the batch needs the one-by-one path."""


def _execute_together(runs: list[Run], actions: dict[int, list[Action]], now: dt.datetime) -> dict[int, str] | None:
    """Carry out claimed runs whose actions only write to this database in one transaction: their
    re-checks and gates, their tasks in one INSERT, their action records in one UPDATE, and their
    finish in one UPDATE per outcome. A crash rolls the whole batch back (the leases expire and
    every run is retried from the start: still once). On any error — a permanent one of a single
    run included — the batch is rolled back and None returned: the caller then executes each run
    on its own, so one run's failure never fails the others."""
    outcomes: dict[tuple[RunStatus, str], list[int]] = {}
    try:
        with transaction.atomic():
            # Read again under lock: a worker whose lease ran out meanwhile cannot record twice.
            results: dict[int, dict[int, RunAction]] = {}
            for row in RunAction.objects.select_for_update().filter(run_id__in=[run.pk for run in runs]).order_by("pk"):
                results.setdefault(row.run_id, {})[row.position] = row
            batch = ActionBatch(now=now)
            for run in runs:
                reason = _why_skip(run, now)
                if reason:
                    outcomes.setdefault((RunStatus.SKIPPED, reason[:300]), []).append(run.pk)
                    continue
                skipped: list[str] = []
                done = 0
                for action in actions[run.pk]:
                    result = results.get(run.pk, {}).get(action.position)
                    if result is None:  # the action was added after the batch was read
                        raise _StartAlone
                    if result.status == RunActionStatus.SKIPPED:
                        skipped.append(result.detail)
                        continue
                    if result.status != RunActionStatus.SUCCEEDED:
                        ACTIONS[action.kind].prepare(run=run, action=action, result=result, now=now, batch=batch)
                    done += 1
                status = RunStatus.SKIPPED if done == 0 and skipped else RunStatus.SUCCEEDED
                outcomes.setdefault((status, "; ".join(skipped)[:300]), []).append(run.pk)
            batch.flush()
            finished_at = max(now, timezone.now())
            for (status, reason), run_ids in outcomes.items():
                Run.objects.filter(pk__in=run_ids).update(
                    status=status, reason=reason, error="", finished_at=finished_at, locked_until=None,
                    next_attempt_at=None,
                )
    except Exception as exc:
        if not isinstance(exc, _StartAlone):
            log.info("A batch of %d runs is executed run by run after: %r", len(runs), exc)
        return None
    return {run_id: status for (status, _reason), run_ids in outcomes.items() for run_id in run_ids}


def _execute_claimed(run: Run, actions: list[Action], results: dict[int, RunAction], now: dt.datetime) -> str:

    if gave_up(run, now=now):
        return run.status
    reason = _why_skip(run, now)
    if reason:
        finish(run, RunStatus.SKIPPED, reason=reason, now=now)
        return run.status
    if hold_outside_sending_hours(run, actions, now) is not None:
        return RunStatus.PENDING

    if any(action.kind == "send_email" for action in actions):
        # An email must commit `sending` before it is handed over: each step commits on its own.
        return _run_actions(run, actions, results, now)
    # Tasks and card moves only: the whole run commits once (fewer commits per run; a crash
    # leaves nothing half done, and the retry starts from the beginning).
    with transaction.atomic():
        return _run_actions(run, actions, results, now)


def _run_actions(run: Run, actions: list[Action], results: dict[int, RunAction], now: dt.datetime) -> str:
    skipped: list[str] = []
    done = 0
    for action in actions:
        result = results.get(action.position)
        if result is None:  # the action was added after the batch was read
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
            RunAction.objects.filter(pk=result.pk).update(status=RunActionStatus.SKIPPED, detail=exc.message,
                                                          updated_at=timezone.now())
            skipped.append(exc.message)
        except ActionError as exc:
            if exc.permanent:
                RunAction.objects.filter(pk=result.pk).exclude(status=RunActionStatus.UNKNOWN).update(
                    status=RunActionStatus.FAILED, error=exc.message, updated_at=timezone.now())
                finish(run, RunStatus.FAILED, error=exc.message, now=now)
            else:
                RunAction.objects.filter(pk=result.pk).update(error=exc.message, updated_at=timezone.now())
                retry_later(run, exc.message, now=now)
            return Run.objects.values_list("status", flat=True).get(pk=run.pk)
        except Exception as exc:  # an unexpected bug or outage: retried, then shown as failed
            log.exception("Run %s: action %s failed", run.pk, action.kind)
            message = f"{type(exc).__name__}: {exc}"
            RunAction.objects.filter(pk=result.pk).update(error=message + "\n" + traceback.format_exc(limit=5),
                                                          updated_at=timezone.now())
            retry_later(run, message, now=now)
            return Run.objects.values_list("status", flat=True).get(pk=run.pk)
    if done == 0 and skipped:
        finish(run, RunStatus.SKIPPED, reason="; ".join(skipped), now=now)
    else:
        finish(run, RunStatus.SUCCEEDED, reason="; ".join(skipped), now=now)
    return run.status


def execute_runs(run_ids: list[int]) -> int:
    """A queue task: execute these runs (each claims its own lease), handing over what is left
    when the time budget is spent."""
    from django_q.conf import Conf

    deadline = None if Conf.SYNC else time.monotonic() + TASK_BUDGET_SECONDS
    done = 0
    for start in range(0, len(run_ids), EXECUTE_CHUNK):
        if deadline is not None and time.monotonic() > deadline:
            enqueue_runs(run_ids[start:])
            break
        done += len(execute_batch(run_ids[start:start + EXECUTE_CHUNK], deadline=deadline))
    return done


def enqueue_runs(run_ids: list[int], *, chunk: int = 100) -> None:
    """Hand runs to the queue in chunks (one broker for all of them)."""
    enqueue("automations.dispatch.execute_runs", run_ids, chunk=chunk)


def enqueue(func: str, ids: list[int], *, chunk: int) -> None:
    """Queue `func(ids)` for the ids in chunks, with one broker for all of them."""
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    broker = get_broker()
    for start in range(0, len(ids), chunk):
        async_task(func, ids[start:start + chunk], group="automations", broker=broker)
