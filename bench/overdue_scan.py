"""The overdue scan against one raw `UPDATE … RETURNING`, on PostgreSQL with N invoices.

    .venv/bin/python bench/overdue_scan.py                       # N = 1,000,000, builds the fixture
    .venv/bin/python bench/overdue_scan.py --reuse               # keep an existing fixture
    .venv/bin/python bench/overdue_scan.py --size 100000 1000000 --reuse   # memory: flat in N?

For each size: a database (`inv_bench_scan` for 1M, else `inv_bench_scan_<N>`) is built once with
`bench/load_bulk.py --invoices N --overdue-share 0.1 --no-progress`. Then, 3× alternating, each
measurement starts from the same state (every overdue invoice back to `sent`, the overdue events
and their runs deleted, the dispatch flag and ORM queue emptied, VACUUM ANALYZE, CHECKPOINT) and
runs in a fresh child process:

* scan — `automations.jobs.scan_overdue()`: `mark_overdue` in batches of 10,000, each batch
  flipping its rows into a temporary batch table and the outbox receiver writing the events from it
  (`INSERT … SELECT`), plus the on-commit wake-up of the dispatcher;
* raw  — one `UPDATE invoices_invoice SET status='overdue' … WHERE status='sent' AND due_date <
  today RETURNING id`, fetched, in one transaction (no events: the floor for the flip alone).

Wall time is measured inside the child around the call; memory is the growth of the child's peak
RSS (ru_maxrss) over its baseline after Django setup, so tracing does not slow the timed run. One
extra untimed run per method measures the Python heap peak with tracemalloc. The scan child also
times every SQL statement (connection.execute_wrapper), which splits the time into the flip
UPDATEs, the event INSERTs and the rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    child_env,
    db_exists,
    emit,
    median,
    migrate,
    pg,
    recreate_db,
    run_child,
    run_script,
    table,
    write_results,
)

SCRIPT = Path(__file__).resolve()
DEFAULT_SIZE = 1_000_000
RAW_SQL = (
    "UPDATE invoices_invoice SET status = 'overdue', overdue_at = %s "
    "WHERE status = 'sent' AND due_date < %s RETURNING id"
)


# --- Child: one measurement -------------------------------------------------------------------


def child(method: str, trace: bool) -> None:
    import gc
    import resource
    import tracemalloc

    from _common import django_setup

    django_setup()
    import django_q.tasks  # noqa: F401  imported by the scan's on-commit wake-up: not part of the measurement
    from django.db import connection, transaction
    from django.utils import timezone

    from automations.jobs import scan_overdue
    from core.dates import business_today
    from invoices.services import db_datetime

    connection.ensure_connection()
    statements: list[tuple[str, float, int]] = []

    def part(sql: str) -> str:
        if sql.startswith(("UPDATE invoices_invoice", "WITH flipped AS")):
            return "flip"
        if sql.startswith(("INSERT INTO automations_event", 'INSERT INTO "automations_event"')):
            return "events"
        return "other"

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        statements.append((part(sql), time.perf_counter() - started, context["cursor"].rowcount))
        return result

    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    if method == "scan":
        with connection.execute_wrapper(timed):
            marked = scan_overdue()
    else:
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(RAW_SQL, [db_datetime(now), business_today(now)])
            marked = len(cursor.fetchall())
    seconds = time.perf_counter() - started
    heap_peak = tracemalloc.get_traced_memory()[1] if trace else None
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def total(name: str) -> float:
        return sum(s for kind, s, _ in statements if kind == name)

    flips = [round(s, 4) for kind, s, _ in statements if kind == "flip"]
    emit({
        "method": method, "marked": marked, "seconds": seconds, "rss_before_kb": rss_before,
        "rss_peak_kb": rss_after, "rss_growth_kb": rss_after - rss_before, "heap_peak_bytes": heap_peak,
        "sql": {
            "statements": len(statements),
            "flip_update_s": total("flip"),
            "event_insert_s": total("events"),
            "other_s": total("other"),
            "flip_batches_s": flips,
        } if method == "scan" else None,
    })


# --- Parent -----------------------------------------------------------------------------------


def database_for(size: int, explicit: str | None) -> str:
    return explicit or ("inv_bench_scan" if size == DEFAULT_SIZE else f"inv_bench_scan_{size}")


def invoice_count(database: str) -> int | None:
    try:
        with pg(database) as conn:
            return conn.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0]
    except Exception:  # noqa: BLE001  no such table yet: not a fixture
        return None


def prepare(database: str, size: int, reuse: bool) -> dict:
    count = invoice_count(database) if db_exists(database) else None
    if reuse and count:
        print(f"{database}: reusing {count:,} invoices", flush=True)
        migrate(database)  # a fixture from an older checkout may miss the newest migrations
        return {"built": False, "seconds": 0.0}
    print(f"{database}: building {size:,} invoices with load_bulk.py (this takes a while) …", flush=True)
    started = time.monotonic()
    recreate_db(database)
    migrate(database)
    out = run_script(child_env(database), "load_bulk.py", "--invoices", str(size), "--overdue-share", "0.1", "--no-progress")
    seconds = time.monotonic() - started
    print("  " + out.strip().splitlines()[-2 if len(out.strip().splitlines()) > 1 else -1], flush=True)
    print(f"  built in {seconds:.0f} s", flush=True)
    return {"built": True, "seconds": seconds}


RESET_SQL = [
    # The runs of overdue events (if a cluster ever dispatched them) and what points at them.
    ("CREATE TEMP TABLE bench_runs AS SELECT r.id FROM automations_run r "
     "JOIN automations_event e ON e.id = r.event_id WHERE e.kind = 'invoice_overdue'"),
    "UPDATE tasks_task SET run_id = NULL WHERE run_id IN (SELECT id FROM bench_runs)",
    "DELETE FROM automations_contactgate WHERE run_id IN (SELECT id FROM bench_runs)",
    "DELETE FROM automations_runaction WHERE run_id IN (SELECT id FROM bench_runs)",
    "DELETE FROM automations_run WHERE id IN (SELECT id FROM bench_runs)",
    "DROP TABLE bench_runs",
    "DELETE FROM automations_event WHERE kind = 'invoice_overdue'",
    "UPDATE invoices_invoice SET status = 'sent', overdue_at = NULL WHERE status = 'overdue'",
    "UPDATE automations_dispatchflag SET requested = false",
    "DELETE FROM django_q_ormq",
    "VACUUM ANALYZE invoices_invoice",
    "VACUUM ANALYZE automations_event",
    "VACUUM ANALYZE django_q_ormq",
    "CHECKPOINT",
]


def reset(database: str) -> int:
    """Back to the starting state; returns how many invoices the next scan will flip."""
    with pg(database) as conn:
        for sql in RESET_SQL:
            conn.execute(sql)
        return conn.execute(
            "SELECT count(*) FROM invoices_invoice WHERE status = 'sent' AND due_date < "
            "(now() AT TIME ZONE 'Europe/Berlin')::date"
        ).fetchone()[0]


def state(database: str) -> dict:
    with pg(database) as conn:
        return {
            "overdue": conn.execute("SELECT count(*) FROM invoices_invoice WHERE status = 'overdue'").fetchone()[0],
            "events": conn.execute("SELECT count(*) FROM automations_event WHERE kind = 'invoice_overdue'").fetchone()[0],
            "plan": [r[0] for r in conn.execute(
                "EXPLAIN SELECT id FROM invoices_invoice WHERE status = 'sent' AND due_date < current_date "
                "ORDER BY due_date LIMIT 10000").fetchall()],
        }


def measure(database: str, method: str, *, trace: bool = False) -> dict:
    targets = reset(database)
    result = run_child(SCRIPT, ["--child", method] + (["--trace"] if trace else []), child_env(database))
    after = state(database)
    result["targets"] = targets
    result["overdue_after"] = after["overdue"]
    result["events_after"] = after["events"]
    ok = result["marked"] == targets == after["overdue"] and (method == "raw" or after["events"] == targets)
    result["ok"] = ok
    mem = f"heap peak {result['heap_peak_bytes'] / 2**20:.1f} MiB" if trace else f"rss +{result['rss_growth_kb'] / 1024:.1f} MiB"
    print(f"  {method:4} {'(tracemalloc)' if trace else '':13} {result['seconds']:7.2f} s  {mem}  "
          f"marked {result['marked']:,}{'' if ok else '  MISMATCH: ' + str(after)}", flush=True)
    return result


def bench_size(size: int, database: str, repeats: int, reuse: bool) -> dict:
    fixture = prepare(database, size, reuse)
    with pg(database) as conn:
        invoices = conn.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0]
    runs: dict[str, list[dict]] = {"scan": [], "raw": []}
    for i in range(repeats):
        order = ("scan", "raw") if i % 2 == 0 else ("raw", "scan")
        for method in order:
            runs[method].append(measure(database, method))
    traced = {method: measure(database, method, trace=True) for method in ("scan", "raw")}
    reset(database)
    plan = state(database)["plan"]
    scan_s = median(r["seconds"] for r in runs["scan"])
    raw_s = median(r["seconds"] for r in runs["raw"])
    return {
        "size": size, "database": database, "invoices": invoices, "fixture": fixture,
        "targets": runs["scan"][0]["targets"], "runs": runs, "traced": traced, "plan_of_batch_select": plan,
        "scan_median_s": scan_s, "raw_median_s": raw_s, "ratio": scan_s / raw_s,
        "scan_rss_growth_mib": median(r["rss_growth_kb"] for r in runs["scan"]) / 1024,
        "raw_rss_growth_mib": median(r["rss_growth_kb"] for r in runs["raw"]) / 1024,
        "scan_heap_peak_mib": traced["scan"]["heap_peak_bytes"] / 2**20,
        "raw_heap_peak_mib": traced["raw"]["heap_peak_bytes"] / 2**20,
        "all_ok": all(r["ok"] for rs in runs.values() for r in rs) and all(r["ok"] for r in traced.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=[DEFAULT_SIZE], help="invoices per fixture (default 1000000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="use an existing fixture database instead of rebuilding it")
    parser.add_argument("--database", help="database name (one size only); default inv_bench_scan[_<N>]")
    parser.add_argument("--child", choices=["scan", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.trace)
        return
    if args.database and len(args.size) > 1:
        parser.error("--database takes one --size")

    results = []
    for size in args.size:
        database = database_for(size, args.database)
        print(f"== N = {size:,} ({database})", flush=True)
        results.append(bench_size(size, database, args.repeats, args.reuse))

    print()
    print(table(
        ["invoices", "flipped", "scan median s", "raw UPDATE median s", "ratio scan/raw", "scan events/s",
         "scan RSS growth MiB", "raw RSS growth MiB", "scan heap peak MiB", "raw heap peak MiB", "checks"],
        [[f"{r['invoices']:,}", f"{r['targets']:,}", f"{r['scan_median_s']:.2f}", f"{r['raw_median_s']:.2f}",
          f"{r['ratio']:.2f}x", f"{r['targets'] / r['scan_median_s']:,.0f}", f"{r['scan_rss_growth_mib']:.1f}",
          f"{r['raw_rss_growth_mib']:.1f}", f"{r['scan_heap_peak_mib']:.1f}", f"{r['raw_heap_peak_mib']:.1f}",
          "ok" if r["all_ok"] else "MISMATCH"] for r in results],
    ))
    print()
    print(table(
        ["invoices", "scan SQL: flip UPDATEs s", "event INSERTs s", "other SQL s", "python+commit s",
         "first flip batch s", "last flip batch s", "batches"],
        [[f"{r['invoices']:,}"] + _split(r) for r in results],
    ))
    path = write_results("overdue_scan", {"sizes": results})
    print(f"\nwritten to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


def _split(r: dict) -> list[str]:
    # The run whose time is the median, so the parts add up to the headline number.
    run = sorted(r["runs"]["scan"], key=lambda x: x["seconds"])[len(r["runs"]["scan"]) // 2]
    sql = run["sql"]
    rest = run["seconds"] - sql["flip_update_s"] - sql["event_insert_s"] - sql["other_s"]
    batches = sql["flip_batches_s"]
    return [f"{sql['flip_update_s']:.2f}", f"{sql['event_insert_s']:.2f}", f"{sql['other_s']:.2f}", f"{rest:.2f}",
            f"{batches[0]:.3f}", f"{batches[-1]:.3f}", str(len(batches))]


if __name__ == "__main__":
    main()
