"""What one automation run costs, without a queue: a diagnostic beside dispatch.py and latency.py.

    .venv/bin/python bench/run_cost.py                 # 1,000 create-task runs, 300 send-email runs

In a fresh database `inv_bench_runcost` and one process (no cluster): N invoices are sent with the
services (the outbox writes N events), then `automations.dispatch.dispatch_pending()` is called
directly, as a worker would. Reported per run: wall time, SQL statements (connection.execute_wrapper)
and committed transactions (pg_stat_database.xact_commit; each is a WAL flush). The same numbers
for django-q2's own per-task work are what dispatch.py's no-op baseline measures end to end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    child_env,
    emit,
    migrate,
    recreate_db,
    run_child,
    table,
    write_results,
)

SCRIPT = Path(__file__).resolve()
DATABASE = "inv_bench_runcost"


def child(*, kind: str, runs: int) -> None:
    import datetime as dt

    from _common import complete_business_profile, django_setup, pg

    django_setup()
    complete_business_profile()  # invoices are sent only with a complete profile
    from django.db import connection, transaction

    from automations.dispatch import dispatch_pending
    from automations.models import Automation, Run
    from automations.services import create_automation
    from core.dates import business_today
    from invoices import services
    from bench.load_bulk import ensure_bench_contacts
    from invoices.models import Contact

    Automation.objects.update(is_active=False)
    action = (
        {"kind": "create_task", "title": "Follow up invoice {{ invoice.number }} with {{ contact.name }}",
         "description": "Due {{ invoice.due_date }}.", "due_in_days": 7, "assignee": None}
        if kind == "create_task" else
        {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "body": "Hello {{ contact.first_name }},\n\nthanks.\n",
         "sender_name": "Bench GmbH", "reply_to": "billing@bench.example"}
    )
    automation = create_automation(name=f"Bench {kind}", trigger="invoice_sent", frequency="unlimited",
                                   is_active=True, actions=[action])
    contact_ids, _ = ensure_bench_contacts(200)
    people = list(Contact.objects.filter(pk__in=contact_ids).order_by("pk"))
    today = business_today()
    with transaction.atomic():
        drafts = [services.create_invoice(
            contact=people[i % len(people)], issue_date=today, due_date=today + dt.timedelta(days=14),
            items=[{"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}],
        ) for i in range(runs)]
    for invoice in drafts:
        services.send_invoice(invoice=invoice)

    statements: Counter[str] = Counter()

    def count(execute, sql, params, many, context):
        statements[" ".join(sql.split()[:3])[:50]] += 1
        return execute(sql, params, many, context)

    dbname = connection.settings_dict["NAME"]
    with pg(dbname) as conn:
        commits_before = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [dbname]).fetchone()[0]
    # Warm up one run's code paths (imports, translations) outside the measurement.
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        executed = dispatch_pending()
    seconds = time.perf_counter() - started
    with pg(dbname) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        time.sleep(0.6)  # the statistics collector reports with a delay
        commits_after = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [dbname]).fetchone()[0]
    succeeded = Run.objects.filter(automation=automation, status="succeeded").count()
    emit({
        "kind": kind, "runs": runs, "executed": executed, "succeeded": succeeded, "seconds": seconds,
        "ms_per_run": seconds / executed * 1000, "runs_per_s": executed / seconds,
        "statements_per_run": sum(statements.values()) / executed,
        "commits_per_run": (commits_after - commits_before) / executed,
        "top_statements": statements.most_common(12),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", "--size", type=int, default=1000)
    parser.add_argument("--email-runs", type=int, default=300)
    parser.add_argument("--database", default=DATABASE, help=f"database name (rebuilt); default {DATABASE}")
    parser.add_argument("--child", choices=["create_task", "send_email"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(kind=args.child, runs=args.runs)
        return
    results = []
    for kind, n in (("create_task", args.runs), ("send_email", args.email_runs)):
        recreate_db(args.database)
        migrate(args.database)
        with tempfile.TemporaryDirectory(prefix="bench-mail-") as mail_dir:
            env = child_env(args.database, EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
                            EMAIL_FILE_PATH=mail_dir)
            r = run_child(SCRIPT, ["--child", kind, "--runs", str(n)], env)
        print(f"  {kind}: {r['ms_per_run']:.1f} ms/run, {r['statements_per_run']:.1f} statements/run, "
              f"{r['commits_per_run']:.1f} commits/run", flush=True)
        results.append(r)
    print()
    print(table(["action", "runs", "ms per run (1 process)", "runs/s (1 process)", "SQL statements/run", "commits/run"],
                [[r["kind"], r["executed"], f"{r['ms_per_run']:.1f}", f"{r['runs_per_s']:.0f}",
                  f"{r['statements_per_run']:.1f}", f"{r['commits_per_run']:.1f}"] for r in results]))
    for r in results:
        print(f"\n{r['kind']}: most frequent statements per {r['executed']} runs")
        for sql, n in r["top_statements"]:
            print(f"  {n / r['executed']:5.1f}  {sql}")
    path = write_results("run_cost", {"results": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
