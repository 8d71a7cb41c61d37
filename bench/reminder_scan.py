"""The reminder scan (3 timing steps) against one raw `UPDATE … RETURNING` over the same rows, on
PostgreSQL with N invoices.

    .venv/bin/python bench/reminder_scan.py                      # N = 1,000,000, builds the fixture
    .venv/bin/python bench/reminder_scan.py --size 200000 --reuse

The fixture is bench/load_bulk.py's (10 % of the invoices sent and past due, others paid, drafts or
sent and not yet due), in the database `inv_bench_scan` (1M, shared with bench/overdue_scan.py)
or `inv_bench_scan_<N>`. A reminder schedule with three steps is added: 3 days before the due
date, 7 and 21 days after it; switched on with the backlog, so the first scan fires the first step
for every open invoice due within three days or past due (about 10 % of them).

Each measurement starts from the same state (the schedule's events, runs and progress deleted,
VACUUM ANALYZE, CHECKPOINT) and runs in a fresh child process:

* scan — `automations.reminders.scan()`: per step (and the last step's repetitions) one
  `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` of the events that also writes the progress
  (one statement), the on-commit wake-up of the dispatcher;
* raw — one `UPDATE invoices_invoice SET status = status WHERE <the same rows> RETURNING id`,
  fetched, in one transaction: the floor of touching those rows once.

3× alternating; the ratio is of the medians. Memory: the child's peak RSS growth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, db_exists, emit, median, migrate, pg, recreate_db, run_child, run_script, table, write_results  # noqa: E402

SCRIPT = Path(__file__).resolve()
DEFAULT_SIZE = 1_000_000
SCHEDULE = "Bench: 3-step dunning"
RAW_SQL = (
    "UPDATE invoices_invoice SET status = status WHERE kind = 'invoice' AND status IN ('sent', 'overdue') "
    "AND due_date <= %s RETURNING id"
)


def child(method: str) -> None:
    import datetime as dt
    import gc
    import resource

    from _common import django_setup

    django_setup()
    import django_q.tasks  # noqa: F401  imported by the scan's on-commit wake-up: not part of the measurement
    from django.db import connection, transaction

    from automations import reminders
    from core.dates import business_today

    connection.ensure_connection()
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if method == "scan":
        fired = reminders.scan()
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(RAW_SQL, [business_today() + dt.timedelta(days=3)])
            fired = len(cursor.fetchall())
    seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    emit({"method": method, "fired": fired, "seconds": seconds, "rss_growth_kb": rss_after - rss_before})


def add_schedule(database: str) -> None:
    script = (
        "from automations.models import Automation\n"
        "from automations.services import create_automation\n"
        f"if not Automation.objects.filter(name={SCHEDULE!r}).exists():\n"
        f"    create_automation(name={SCHEDULE!r}, trigger='invoice_due', frequency='unlimited', is_active=True,\n"
        "        include_backlog=True, steps=[\n"
        "        {'name': 'Heads-up', 'days': -3, 'actions': [{'kind': 'create_task', 'title': 'Heads-up'}]},\n"
        "        {'name': '1. Mahnung', 'days': 7, 'actions': [{'kind': 'create_task', 'title': 'Mahnung'}]},\n"
        "        {'name': '2. Mahnung', 'days': 21, 'repeat_every_days': 14, 'repeat_times': 3,\n"
        "         'actions': [{'kind': 'create_task', 'title': '2. Mahnung'}]}])\n"
    )
    from _common import manage

    manage(child_env(database), "shell", "-c", script)


def prepare(database: str, size: int, reuse: bool) -> None:
    if reuse and db_exists(database):
        print(f"{database}: reusing the fixture", flush=True)
        migrate(database)
    else:
        print(f"{database}: building {size:,} invoices with load_bulk.py …", flush=True)
        recreate_db(database)
        migrate(database)
        run_script(child_env(database), "load_bulk.py", "--invoices", str(size), "--overdue-share", "0.1", "--no-progress")
    add_schedule(database)


RESET_SQL = [
    "CREATE TEMP TABLE bench_runs AS SELECT r.id FROM automations_run r "
    "JOIN automations_event e ON e.id = r.event_id WHERE e.kind = 'invoice_due'",
    "UPDATE tasks_task SET run_id = NULL WHERE run_id IN (SELECT id FROM bench_runs)",
    "DELETE FROM automations_runaction WHERE run_id IN (SELECT id FROM bench_runs)",
    "DELETE FROM automations_run WHERE id IN (SELECT id FROM bench_runs)",
    "DROP TABLE bench_runs",
    "DELETE FROM automations_event WHERE kind = 'invoice_due'",
    "DELETE FROM automations_reminderstate",
    "UPDATE automations_dispatchflag SET requested = false",
    "DELETE FROM django_q_ormq",
    "VACUUM ANALYZE invoices_invoice",
    "VACUUM ANALYZE automations_event",
    "VACUUM ANALYZE automations_reminderstate",
    "CHECKPOINT",
]


def measure(database: str, method: str) -> dict:
    with pg(database) as conn:
        for sql in RESET_SQL:
            conn.execute(sql)
    result = run_child(SCRIPT, ["--child", method], child_env(database))
    print(f"  {method:4} {result['seconds']:7.2f} s  rss +{result['rss_growth_kb'] / 1024:.1f} MiB  "
          f"rows {result['fired']:,}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--child", choices=["scan", "raw"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    database = "inv_bench_scan" if args.size == DEFAULT_SIZE else f"inv_bench_scan_{args.size}"
    prepare(database, args.size, args.reuse)
    with pg(database) as conn:
        invoices = conn.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0]
    runs: dict[str, list[dict]] = {"scan": [], "raw": []}
    for i in range(args.repeats):
        for method in (("scan", "raw") if i % 2 == 0 else ("raw", "scan")):
            runs[method].append(measure(database, method))
    scan_s, raw_s = median(r["seconds"] for r in runs["scan"]), median(r["seconds"] for r in runs["raw"])
    same = {r["fired"] for r in runs["scan"]} == {r["fired"] for r in runs["raw"]}
    print()
    print(table(["invoices", "due for a step", "scan median s", "raw UPDATE median s", "ratio scan/raw",
                 "scan RSS growth MiB", "checks"],
                [[f"{invoices:,}", f"{runs['scan'][0]['fired']:,}", f"{scan_s:.2f}", f"{raw_s:.2f}", f"{scan_s / raw_s:.2f}x",
                  f"{median(r['rss_growth_kb'] for r in runs['scan']) / 1024:.1f}", "ok" if same else "MISMATCH"]]))
    path = write_results("reminder_scan", {"invoices": invoices, "runs": runs, "ratio": scan_s / raw_s, "same_rows": same})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
