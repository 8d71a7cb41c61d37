"""Automation throughput beside a bare django-q2 no-op task, with a real qcluster (2 workers).

    .venv/bin/python bench/dispatch.py                      # 10,000 events, ORM broker and Redis
    .venv/bin/python bench/dispatch.py --events 2000 --broker redis
    .venv/bin/python bench/dispatch.py --mode burst         # all events committed in one transaction

Per broker, in a fresh database `inv_bench_dispatch` (PostgreSQL; `--database` names another) and a
fresh child process:

1. Setup (not timed): 1,000 benchmark contacts, one active automation "invoice is sent → create a
   task" with frequency "unlimited", and N draft invoices made with `invoices.services.create_invoice`.
2. `manage.py qcluster` starts with Q_WORKERS=2 and a unique Q_CLUSTER_NAME (the Redis broker's
   list is `django_q:<name>:q`, so other users of the Redis server do not interfere); one warm-up
   task proves its workers are polling.
3. No-op baseline: N `async_task("bench.noop.noop", broker=one_broker)`; throughput = N ÷ (last
   task stopped − first enqueue). Results are saved for every task (Q_SAVE_LIMIT=0) so they can be
   counted; the product's default of 1000 would make each save lock and load up to 1,000 rows.
4. Automations, on the same cluster: the N drafts are sent one by one with
   `services.send_invoice`, each in its own transaction, as a user or the API would: the outbox
   receiver writes the Event in that transaction and its on-commit hook wakes the dispatcher.
   Throughput = N ÷ (last task created by a run − first event committed), read from the database.
   (`--mode burst` sends them all in one transaction instead, so the cluster sees all N at once.)
5. Checks: N events, all dispatched; N runs, all succeeded, one per event; N tasks, one per run; N
   run actions.
6. A figure the machine's load does not change: the transactions committed in the database
   (`pg_stat_database.xact_commit`, every session: producer, broker, workers) during the no-op
   phase per task and during the automation phase per run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REDIS_URL,
    RESULTS_DIR,
    Cluster,
    child_env,
    create_drafts,
    delete_redis_keys,
    emit,
    migrate,
    recreate_db,
    run_child,
    table,
    unique_cluster_name,
    wait_until,
    warm_up_cluster,
    write_results,
)

SCRIPT = Path(__file__).resolve()
DATABASE = "inv_bench_dispatch"


def child(*, broker_name: str, events: int, contacts: int, mode: str) -> None:
    import os

    from _common import complete_business_profile, django_setup

    django_setup()
    complete_business_profile()  # invoices are sent only with a complete profile
    import datetime as dt

    from django.db import transaction
    from django.db.models import Count, F, Max, Min
    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.models import Task as QueueTask
    from django_q.tasks import async_task

    from automations.models import Event, Run, RunAction
    from automations.services import create_automation
    from invoices import services
    from bench.load_bulk import ensure_bench_contacts
    from invoices.models import Contact
    from tasks.models import Task

    # 1. Setup.
    setup_started = time.monotonic()
    contact_ids, _ = ensure_bench_contacts(contacts)
    people = list(Contact.objects.filter(pk__in=contact_ids).order_by("pk"))
    automation = create_automation(
        name="Bench: follow up a sent invoice", trigger="invoice_sent", frequency="unlimited", is_active=True,
        actions=[{"kind": "create_task", "title": "Follow up invoice {{ invoice.number }} with {{ contact.name }}",
                  "description": "Sent on {{ invoice.issue_date }}, due {{ invoice.due_date }}.", "due_in_days": 7,
                  "assignee": None}],
    )
    drafts = create_drafts(people, events, quantity="2")
    setup_s = time.monotonic() - setup_started

    log = RESULTS_DIR / "logs" / f"dispatch-{broker_name}-{os.environ['Q_CLUSTER_NAME']}.log"
    with Cluster(dict(os.environ), log_path=log):
        warmup_s = warm_up_cluster()

        # 3. The bare django-q2 baseline.
        broker = get_broker()
        commits_before_noop = _commits()
        enqueue_started = noop_t0 = timezone.now()
        with transaction.atomic() if mode == "burst" else _nothing():
            for _ in range(events):
                async_task("bench.noop.noop", broker=broker)
        noop_enqueued = timezone.now()
        if mode == "burst":
            noop_t0 = noop_enqueued  # the tasks became visible to the workers at this commit
        noops = QueueTask.objects.filter(func="bench.noop.noop")
        noop_done = wait_until(lambda: noops.count() >= events, timeout=900, stall=60, progress=noops.count, poll=0.5)
        noop = noops.aggregate(n=Count("id"), ok=Count("id", filter=_q(success=True)), first=Min("started"),
                               last=Max("stopped"), retried=Count("id", filter=_q(attempt_count__gt=1)))
        noop_s = (noop["last"] - noop_t0).total_seconds()
        noop_commits = _commits() - commits_before_noop

        # 4. Automations.
        committed: list[dt.datetime] = []

        def stamp() -> None:
            committed.append(timezone.now())

        commits_before_automation = _commits()
        produce_t0 = time.monotonic()
        with transaction.atomic() if mode == "burst" else _nothing():
            for invoice in drafts:
                with transaction.atomic():
                    transaction.on_commit(stamp)  # registered first: runs right after the commit
                    services.send_invoice(invoice=invoice)
        produce_s = time.monotonic() - produce_t0
        runs_done_at_produce_end = Run.objects.exclude(status="pending").count()
        finished = Run.objects.exclude(status="pending")
        done = wait_until(lambda: finished.count() >= events, timeout=1800, stall=120, progress=finished.count, poll=0.5)
        first_commit = min(committed)
        tasks = Task.objects.filter(run__automation=automation)
        last_task = tasks.aggregate(last=Max("created_at"))["last"]
        auto_s = (last_task - first_commit).total_seconds() if last_task else None
        automation_commits = _commits() - commits_before_automation
        time.sleep(1)  # let a straggling duplicate (there should be none) show up before counting

    # 5. Checks (the cluster is stopped: nothing changes any more).
    runs = Run.objects.filter(automation=automation)
    result = {
        "broker": broker_name, "mode": mode, "events": events, "setup_s": setup_s, "warmup_s": warmup_s,
        "noop": {
            "done": noop_done, "tasks": noop["n"], "succeeded": noop["ok"], "retried": noop["retried"],
            "enqueue_s": (noop_enqueued - enqueue_started).total_seconds(), "seconds": noop_s,
            "per_s": noop["ok"] / noop_s,
            # django-q2 sets Task.started when the task is enqueued, not when a worker starts it.
            "first_enqueued": noop["first"], "last_stopped": noop["last"],
            "commits": noop_commits, "commits_per_task": noop_commits / events,
        },
        "automation": {
            "done": done, "produce_s": produce_s, "producer_per_s": events / produce_s,
            "runs_finished_when_producer_done": runs_done_at_produce_end, "seconds": auto_s,
            "per_s": events / auto_s if auto_s else None,
            # Run.finished_at holds the time execute_run started (see README), so it is not used above.
            "run_finished_at_max_minus_first_commit_s":
                (runs.aggregate(m=Max("finished_at"))["m"] - first_commit).total_seconds(),
            "runs_finished_at_equal_started_at": runs.filter(finished_at=F("started_at")).count(),
            # Every commit in the database while the events were produced and dispatched: the
            # producer's (one in burst mode), the broker's and the engine's. Independent of load.
            "commits": automation_commits, "commits_per_run": automation_commits / events,
        },
        "checks": {
            "events": Event.objects.filter(kind="invoice_sent").count(),
            "events_undispatched": Event.objects.filter(dispatched_at__isnull=True).count(),
            "runs": runs.count(),
            "runs_by_status": dict(runs.values_list("status").annotate(n=Count("id")).order_by()),
            "runs_distinct_events": runs.values("event_id").distinct().count(),
            "run_attempts_max": runs.aggregate(m=Max("attempts"))["m"],
            "run_errors": list(runs.exclude(error="").values_list("error", flat=True)[:3]),
            "tasks": tasks.count(),
            "tasks_distinct_runs": tasks.values("run_id").distinct().count(),
            "run_actions": RunAction.objects.filter(run__automation=automation).count(),
            "dispatch_tasks": QueueTask.objects.filter(func="automations.dispatch.dispatch_pending").count(),
            "queue_tasks_failed": QueueTask.objects.filter(success=False).count(),
        },
    }
    c = result["checks"]
    result["ok"] = (
        noop["ok"] == events and c["events"] == events and c["events_undispatched"] == 0 and c["runs"] == events
        and c["runs_by_status"].get("succeeded") == events and c["runs_distinct_events"] == events
        and c["tasks"] == events and c["tasks_distinct_runs"] == events and c["run_actions"] == events
    )
    emit(result)


def _commits() -> int:
    """Transactions committed in this database so far (pg_stat_database, all sessions)."""
    from django.db import connection

    time.sleep(1)  # other sessions report their counts when idle, at most once a second
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _q(**kwargs):
    from django.db.models import Q

    return Q(**kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", "--size", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--broker", choices=["orm", "redis"], nargs="+", default=["orm", "redis"])
    parser.add_argument("--mode", choices=["stream", "burst"], default="stream")
    parser.add_argument("--database", default=DATABASE, help=f"database name (rebuilt); default {DATABASE}")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(broker_name=args.broker[0], events=args.events, contacts=args.contacts, mode=args.mode)
        return

    results = []
    for broker in args.broker:
        name = unique_cluster_name(f"bench-dispatch-{broker}")
        print(f"== {broker} broker ({name}): {args.events:,} events, mode {args.mode}", flush=True)
        recreate_db(args.database)
        migrate(args.database)
        env = child_env(args.database, Q_CLUSTER_NAME=name, Q_WORKERS="2", Q_SAVE_LIMIT="0",
                        REDIS_URL=REDIS_URL if broker == "redis" else "",
                        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
        try:
            r = run_child(SCRIPT, ["--child", "--broker", broker, "--events", str(args.events),
                                   "--contacts", str(args.contacts), "--mode", args.mode], env, timeout=3600)
        finally:
            if broker == "redis":
                delete_redis_keys(name)
        a, n = r["automation"], r["noop"]
        print(f"  setup {r['setup_s']:.0f} s; no-op {n['per_s']:.0f} tasks/s; producer {a['producer_per_s']:.0f} sends/s "
              f"({a['produce_s']:.0f} s, {a['runs_finished_when_producer_done']:,} runs done by then); "
              f"automation {a['per_s'] or 0:.0f} runs/s; checks {'ok' if r['ok'] else 'FAILED ' + str(r['checks'])}",
              flush=True)
        results.append(r)

    print()
    print(table(
        ["broker", "mode", "events", "no-op tasks/s", "automation runs/s", "ratio runs/no-op", "producer sends/s",
         "commits/no-op task", "commits/run", "runs/tasks/run actions", "checks"],
        [[r["broker"], r["mode"], f"{r['events']:,}", f"{r['noop']['per_s']:.0f}", f"{r['automation']['per_s'] or 0:.0f}",
          f"{(r['automation']['per_s'] or 0) / r['noop']['per_s']:.2f}x", f"{r['automation']['producer_per_s']:.0f}",
          f"{r['noop']['commits_per_task']:.2f}", f"{r['automation']['commits_per_run']:.2f}",
          f"{r['checks']['runs']:,}/{r['checks']['tasks']:,}/{r['checks']['run_actions']:,}",
          "ok" if r["ok"] else "FAILED"] for r in results],
    ))
    path = write_results("dispatch", {"results": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
