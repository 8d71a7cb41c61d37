"""django-q2 entry points (named jobs.py: the project has a `tasks` app, django-q2 a Task model).

The schedules that call them are created by a migration and can be edited in the admin under
"Task queue → Scheduled tasks". Each is safe to run twice at the same moment.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from invoices import services as invoice_services

from . import delivery, dispatch, reminders
from .models import Event, InvoiceEmail, Run, RunStatus

log = logging.getLogger(__name__)

# An event not dispatched this long after it happened has lost its wake-up.
SWEEP_AFTER = dt.timedelta(seconds=getattr(settings, "AUTOMATION_SWEEP_AFTER_SECONDS", 30))
EXECUTE_CHUNK = 100


def scan_overdue(*, now: dt.datetime | None = None) -> int:
    """Mark every sent invoice past its due date as overdue (set-based), then fire the reminder
    schedules' steps that are due (automations.reminders); returns how many invoices were marked."""
    marked = invoice_services.mark_overdue(now=now)
    if marked:
        log.info("Overdue scan: %d invoice(s) marked overdue", marked)
    reminders.scan(now=now)
    return marked


def run_recurring(*, now: dt.datetime | None = None) -> int:
    """Start, invoice and end recurring payments; returns the invoices issued."""
    return invoice_services.issue_recurring_invoices(now=now)


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Recover what a crash or a lost broker message left behind.

    * events committed but not dispatched after SWEEP_AFTER: wake the dispatcher again;
    * pending runs whose backoff is over or whose worker died (lease expired): execute them;
    * invoice emails likewise (pending or sending: a `sending` one becomes `unknown`, not resent).
    """
    now = now or timezone.now()
    stale_events = Event.objects.filter(dispatched_at__isnull=True, occurred_at__lt=now - SWEEP_AFTER).exists()
    if stale_events:
        dispatch.request_dispatch(force=True)
    run_ids = _due(Run.objects.filter(status=RunStatus.PENDING), now)
    dispatch.enqueue_runs(run_ids, chunk=EXECUTE_CHUNK)
    email_ids = _due(InvoiceEmail.objects.filter(status__in=delivery.OPEN), now)
    delivery.enqueue(email_ids)
    if stale_events or run_ids or email_ids:
        log.warning("Sweeper: %s undispatched events, %d pending runs and %d invoice emails re-enqueued",
                    "some" if stale_events else "no", len(run_ids), len(email_ids))
    return {"events": int(stale_events), "runs": len(run_ids), "emails": len(email_ids)}


def _due(rows: QuerySet[Run] | QuerySet[InvoiceEmail], now: dt.datetime) -> list[int]:
    """The ids of the rows whose backoff is over and whose lease (if any) has expired, and that are
    older than SWEEP_AFTER (their own task had its chance)."""
    return list(
        rows.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(created_at__lt=now - SWEEP_AFTER)
        .order_by("id")
        .values_list("id", flat=True)[:10_000]
    )
