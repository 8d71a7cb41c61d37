"""The reminder forecast page (50 per page) over N invoices, on PostgreSQL: what one page of
/automations/reminders/forecast/ costs in the database.

    .venv/bin/python bench/forecast.py                     # N = 1,000,000: the fixture of bench/reminder_scan.py
    .venv/bin/python bench/forecast.py --with-progress     # after one scan (progress for ~10 % of the invoices)
    .venv/bin/python bench/forecast.py --check             # also the whole forecast() (minutes at 1M): same pages?

Uses the database bench/reminder_scan.py builds (`inv_bench_scan`, or `inv_bench_scan_<N>`) as it
is (build it with that script first; this one never rebuilds it) and its schedule "Bench: 3-step
dunning" (−3, +7, +21 days, then every 14 days at most 3 times). Each run is a fresh child process:
one cold count (imports, holiday tables), then three page requests as the view makes them, each a
new `forecast_pages()` told which page comes (`expect`), its count (`len()`: one query that also
fetches the page: the invoices' first days once, the items counted per sending moment, only those
of the moments the page falls in numbered) and its slice (the page's invoices loaded): page 1, a
middle page, the last page. 3 runs; medians.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, db_exists, emit, median, pg, run_child, table, write_results  # noqa: E402

SCRIPT = Path(__file__).resolve()
DEFAULT_SIZE = 1_000_000
PER_PAGE = 50
SCHEDULE = "Bench: 3-step dunning"


def child(check: bool) -> None:
    from _common import django_setup

    django_setup()
    from django.db import connection

    from automations import reminders

    connection.ensure_connection()
    result: dict = {}
    # A cold request first (imports, the holiday tables, the profile): a web process does it once.
    started = time.perf_counter()
    count = len(reminders.forecast_pages())
    result["cold_count_s"] = time.perf_counter() - started
    result["count"] = count
    last = max((count - 1) // PER_PAGE, 0) * PER_PAGE
    middle = (count // PER_PAGE // 2) * PER_PAGE
    for name, start in (("first", 0), ("middle", middle), ("last", last)):
        # One page request as the view makes it: a new forecast, its count, its page.
        started = time.perf_counter()
        pages = reminders.forecast_pages().expect(start, start + PER_PAGE)
        pages.count()
        counted = time.perf_counter()
        items = pages[start:start + PER_PAGE]
        done = time.perf_counter()
        result[f"{name}_count_s"] = counted - started
        result[f"{name}_slice_s"] = done - counted
        result[f"{name}_s"] = done - started
        result[f"{name}_rows"] = len(items)
        result[f"{name}_keys"] = [(u.automation.pk, u.step.pk, u.repetition, u.invoice.pk, u.day.isoformat())
                                  for u in items]
    result["middle_start"] = middle
    if check:
        started = time.perf_counter()
        whole = reminders.forecast()
        result["forecast_s"] = time.perf_counter() - started
        keys = [(u.automation.pk, u.step.pk, u.repetition, u.invoice.pk, u.day.isoformat()) for u in whole]
        result["same"] = (len(whole) == count and keys[:PER_PAGE] == result["first_keys"]
                          and keys[middle:middle + PER_PAGE] == result["middle_keys"]
                          and keys[last:last + PER_PAGE] == result["last_keys"])
    for name in ("first", "middle", "last"):
        del result[f"{name}_keys"]
    emit(result)


def with_progress(database: str) -> int:
    """One reminder scan (progress for every invoice it fires for), from no progress."""
    from reminder_scan import RESET_SQL

    with pg(database) as conn:
        for sql in RESET_SQL:
            conn.execute(sql)
    script = "from automations import reminders\nprint(reminders.scan())\n"
    from _common import manage

    fired = manage(child_env(database), "shell", "-c", script).strip().splitlines()[-1]
    print(f"{database}: one reminder scan fired {fired} step(s)", flush=True)
    with pg(database) as conn:
        conn.execute("VACUUM ANALYZE automations_reminderstate")
        return conn.execute("SELECT count(*) FROM automations_reminderstate").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--with-progress", action="store_true", help="run one scan first (and undo it after)")
    parser.add_argument("--check", action="store_true", help="also build the whole forecast() and compare pages")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.check)
        return
    database = "inv_bench_scan" if args.size == DEFAULT_SIZE else f"inv_bench_scan_{args.size}"
    if not db_exists(database):
        sys.exit(f"{database} does not exist: build it with bench/reminder_scan.py --size {args.size}")
    with pg(database) as conn:
        invoices = conn.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0]
        if conn.execute("SELECT 1 FROM automations_automation WHERE name = %s", [SCHEDULE]).fetchone() is None:
            sys.exit(f"{database} has no schedule {SCHEDULE!r}: run bench/reminder_scan.py --reuse once")
    progress = with_progress(database) if args.with_progress else 0
    try:
        runs = []
        for i in range(args.repeats):
            result = run_child(SCRIPT, ["--child", *(["--check"] if args.check and i == 0 else [])], child_env(database))
            print(f"  cold count {result['cold_count_s']:.3f} s; requests (count + slice): "
                  + "  ".join(f"{name} {result[name + '_count_s']:.3f} + {result[name + '_slice_s']:.3f} s"
                              for name in ("first", "middle", "last"))
                  + f"  items {result['count']:,}"
                  + (f"  forecast() {result['forecast_s']:.1f} s same={result['same']}" if "same" in result else ""),
                  flush=True)
            runs.append(result)
    finally:
        if args.with_progress:
            from reminder_scan import RESET_SQL

            with pg(database) as conn:
                for sql in RESET_SQL:
                    conn.execute(sql)
    keys = [f"{name}_{part}" for name in ("first", "middle", "last") for part in ("count_s", "slice_s", "s")]
    med = {key: median(r[key] for r in runs) for key in keys}
    checks = "-" if "same" not in runs[0] else "same as forecast()" if runs[0]["same"] else "MISMATCH"
    print()
    print(table(["invoices", "progress rows", "items (30 days)", "count s", "page 1 slice s", "middle slice s",
                 "last slice s", "request page 1 s", "request middle s", "request last s", "checks"],
                [[f"{invoices:,}", f"{progress:,}", f"{runs[0]['count']:,}", f"{med['first_count_s']:.3f}",
                  f"{med['first_slice_s']:.3f}", f"{med['middle_slice_s']:.3f}", f"{med['last_slice_s']:.3f}",
                  f"{med['first_s']:.3f}", f"{med['middle_s']:.3f}", f"{med['last_s']:.3f}",
                  checks]]))
    path = write_results("forecast", {"invoices": invoices, "progress": progress, "runs": runs, "medians": med})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
