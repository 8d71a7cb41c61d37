"""Latency from a committed payment to its "thank you" email handed to the email backend.

    .venv/bin/python bench/latency.py                        # 200 payments 50 ms apart, ORM and Redis
    .venv/bin/python bench/latency.py --payments 100 --spacing 0.1 --broker redis

Per broker, in a fresh database `inv_bench_latency` and a fresh child process:

1. Setup (not timed): 200 benchmark contacts (with email addresses), one active automation
   "invoice is paid → send email" (unlimited), 200 invoices created and sent with the services.
2. `manage.py qcluster` (Q_WORKERS=2, unique Q_CLUSTER_NAME) with the file-based email backend
   writing into a fresh temporary folder; a warm-up task, then the invoices' `invoice_sent` events
   are left to be dispatched (no automation listens to them) so the queue is idle.
3. Every `--spacing` seconds one `services.record_payment(invoice=…, amount=<the balance>)`, each
   in its own transaction. The commit time is stamped by an on-commit callback registered before
   the service's own (so it runs first, before the dispatcher is woken).
4. Latency = mtime of the email's file (the backend writes one file per connection, and the engine
   opens one connection per email) − commit time. The file is matched to its payment through the
   X-Automation-Key header (run-<run id>-action-0) → run → event → invoice. The time until the
   run was picked up (Run.started_at − commit) is reported beside it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REDIS_URL,
    RESULTS_DIR,
    Cluster,
    child_env,
    delete_redis_keys,
    emit,
    migrate,
    percentile,
    recreate_db,
    run_child,
    table,
    unique_cluster_name,
    wait_until,
    warm_up_cluster,
    write_results,
)

SCRIPT = Path(__file__).resolve()
DATABASE = "inv_bench_latency"


def child(*, broker_name: str, payments: int, spacing: float) -> None:
    import datetime as dt
    import os
    import re

    from _common import complete_business_profile, django_setup

    django_setup()
    complete_business_profile()  # invoices are sent only with a complete profile
    from django.conf import settings
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from automations.models import Event, Run, RunAction
    from automations.services import create_automation
    from core.dates import business_today
    from invoices import services
    from bench.load_bulk import ensure_bench_contacts
    from invoices.models import Contact, Invoice

    mail_dir = Path(settings.EMAIL_FILE_PATH)
    contact_ids, _ = ensure_bench_contacts(payments)
    people = list(Contact.objects.filter(pk__in=contact_ids).order_by("pk"))
    automation = create_automation(
        name="Bench: thank you", trigger="invoice_paid", frequency="unlimited", is_active=True,
        actions=[{"kind": "send_email", "subject": "Thank you for paying invoice {{ invoice.number }}",
                  "body": "Hello {{ contact.first_name }},\n\nwe received your payment for {{ invoice.number }}.\n",
                  "sender_name": "Bench GmbH", "reply_to": "billing@bench.example"}],
    )
    today = business_today()
    invoices = []
    for person in people:
        invoice = services.create_invoice(
            contact=person, issue_date=today, due_date=today + dt.timedelta(days=14),
            items=[{"description": "Consulting", "quantity": "1", "unit_price": "120.00", "tax_rate": "19"}],
        )
        invoices.append(services.send_invoice(invoice=invoice))

    log = RESULTS_DIR / "logs" / f"latency-{broker_name}-{os.environ['Q_CLUSTER_NAME']}.log"
    with Cluster(dict(os.environ), log_path=log):
        warm_up_cluster()
        undispatched = Event.objects.filter(dispatched_at__isnull=True)
        if not wait_until(lambda: not undispatched.exists(), timeout=120):
            raise RuntimeError("the invoice_sent events of the setup were not dispatched")
        time.sleep(1.0)  # the dispatch task's own result save and the flag settle

        committed: dict[int, dt.datetime] = {}
        start = time.monotonic()
        lag = []
        for i, invoice in enumerate(invoices):
            target = start + i * spacing
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            lag.append(max(0.0, -delay))

            def stamp(pk: int = invoice.pk) -> None:
                committed[pk] = timezone.now()

            with transaction.atomic():
                transaction.on_commit(stamp)
                services.record_payment(invoice=invoice, amount=invoice.total)
        produce_s = time.monotonic() - start
        sent = RunAction.objects.filter(run__automation=automation, status="succeeded")
        done = wait_until(lambda: sent.count() >= payments, timeout=300, stall=90, progress=sent.count, poll=0.2)

    # Match each email file to its payment.
    key_re = re.compile(r"^X-Automation-Key: run-(\d+)-action-0$", re.MULTILINE)
    run_invoice = dict(Run.objects.filter(automation=automation).values_list("pk", "event__invoice_id"))
    started = dict(Run.objects.filter(automation=automation).values_list("event__invoice_id", "started_at"))
    latencies, pickups, per_file, seen = [], [], {}, set()
    for path in sorted(mail_dir.iterdir()):
        text = path.read_text(errors="replace")
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, tz=dt.UTC)
        for run_id in key_re.findall(text):
            invoice_id = run_invoice[int(run_id)]
            if invoice_id in seen:
                per_file["duplicates"] = per_file.get("duplicates", 0) + 1
                continue
            seen.add(invoice_id)
            latencies.append((mtime - committed[invoice_id]).total_seconds())
            pickups.append((started[invoice_id] - committed[invoice_id]).total_seconds())
    emit({
        "broker": broker_name, "payments": payments, "spacing_s": spacing, "done": done,
        "produce_s": produce_s, "producer_max_lag_s": max(lag), "emails": len(latencies),
        "duplicates": per_file.get("duplicates", 0),
        "runs_by_status": {s: Run.objects.filter(automation=automation, status=s).count()
                           for s in ("pending", "succeeded", "skipped", "failed")},
        "latency_s": sorted(latencies), "pickup_s": sorted(pickups),
        "p50_s": percentile(latencies, 50) if latencies else None, "p95_s": percentile(latencies, 95) if latencies else None,
        "max_s": max(latencies) if latencies else None,
        "pickup_p50_s": percentile(pickups, 50) if pickups else None, "pickup_p95_s": percentile(pickups, 95) if pickups else None,
        # RunAction.updated_at is auto_now, but the engine writes with QuerySet.update(), which leaves
        # it at the creation time (before the send): that is why the file's mtime is used.
        "runactions_updated_at_within_1ms_of_created_at": RunAction.objects.filter(
            run__automation=automation, updated_at__lt=F("created_at") + dt.timedelta(milliseconds=1)).count(),
        "runs_finished_at_equal_started_at": Run.objects.filter(automation=automation, finished_at=F("started_at")).count(),
        "dispatch_tasks": _count_dispatch_tasks(),
        "invoices_paid": Invoice.objects.filter(status="paid").count(),
    })


def _count_dispatch_tasks() -> int:
    from django_q.models import Task as QueueTask

    return QueueTask.objects.filter(func="automations.dispatch.dispatch_pending").count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", "--size", type=int, default=200)
    parser.add_argument("--spacing", type=float, default=0.05, help="seconds between payments (default 0.05)")
    parser.add_argument("--broker", choices=["orm", "redis"], nargs="+", default=["orm", "redis"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(broker_name=args.broker[0], payments=args.payments, spacing=args.spacing)
        return

    results = []
    for broker in args.broker:
        name = unique_cluster_name(f"bench-latency-{broker}")
        print(f"== {broker} broker ({name}): {args.payments} payments {args.spacing * 1000:.0f} ms apart", flush=True)
        recreate_db(DATABASE)
        migrate(DATABASE)
        with tempfile.TemporaryDirectory(prefix="bench-mail-") as mail_dir:
            env = child_env(DATABASE, Q_CLUSTER_NAME=name, Q_WORKERS="2", REDIS_URL=REDIS_URL if broker == "redis" else "",
                            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=mail_dir)
            try:
                r = run_child(SCRIPT, ["--child", "--broker", broker, "--payments", str(args.payments),
                                       "--spacing", str(args.spacing)], env, timeout=1200)
            finally:
                if broker == "redis":
                    delete_redis_keys(name)
        ok = r["done"] and r["emails"] == args.payments and r["duplicates"] == 0
        r["ok"] = ok
        print(f"  p50 {r['p50_s'] * 1000:.0f} ms, p95 {r['p95_s'] * 1000:.0f} ms, max {r['max_s'] * 1000:.0f} ms; "
              f"{r['emails']} emails, {r['dispatch_tasks']} dispatch tasks; {'ok' if ok else 'FAILED ' + str(r['runs_by_status'])}",
              flush=True)
        results.append(r)

    print()
    print(table(
        ["broker", "payments", "spacing ms", "p50 ms", "p95 ms", "max ms", "pickup p50 ms", "pickup p95 ms",
         "dispatch tasks", "emails", "checks"],
        [[r["broker"], r["payments"], f"{r['spacing_s'] * 1000:.0f}", f"{r['p50_s'] * 1000:.0f}", f"{r['p95_s'] * 1000:.0f}",
          f"{r['max_s'] * 1000:.0f}", f"{r['pickup_p50_s'] * 1000:.0f}", f"{r['pickup_p95_s'] * 1000:.0f}",
          r["dispatch_tasks"], r["emails"], "ok" if r["ok"] else "FAILED"] for r in results],
    ))
    path = write_results("latency", {"results": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
