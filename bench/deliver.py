"""1,000 invoices sent by email in one burst: each delivered once, rendered in the worker, memory flat.

    .venv/bin/python bench/deliver.py                       # 1,000 invoices, ORM broker
    .venv/bin/python bench/deliver.py --invoices 200 --broker redis

In a fresh database `inv_bench_deliver` (PostgreSQL; `--database` names another) and a fresh child:

1. Setup (not timed): a complete business profile, 1,000 benchmark contacts (60 % German), N
   draft invoices made with `invoices.services.create_invoice`.
2. `manage.py qcluster` starts with Q_WORKERS=2, Q_RECYCLE=100000 (the worker processes live
   through the whole run, so their memory can be watched) and the file-based email backend writing
   into a fresh folder; one warm-up task proves its workers are polling.
3. The burst: the N drafts are sent one after the other with `send_invoice(deliver=True)`, each in
   its own transaction, as N people pressing "Send by email" would. In this (the "web") process
   `documents.services.invoice_files` is replaced by a function that raises: had anything rendered
   a PDF outside the worker, a send would fail. The time per send is the web request's share.
4. While the cluster works, the resident memory (VmRSS) of every process of the cluster is read
   from /proc every 0.25 s. The two that used the most CPU are the workers; their memory after
   10 % of the emails is compared with their memory at the end (a leak of a render per email
   would show as growth proportional to the emails sent).
5. Time = last `InvoiceEmail.sent_at` − first send committed; emails/s = N ÷ that.
6. Checks, from the files the backend wrote (one per connection, one connection per email): N
   messages, N distinct Message-IDs, each recipient's invoice once, each with its PDF attached; N
   InvoiceEmail rows, all `succeeded` after one attempt.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REDIS_URL,
    RESULTS_DIR,
    Cluster,
    child_env,
    complete_business_profile,
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
DATABASE = "inv_bench_deliver"


# --- Memory of the cluster's processes (Linux /proc) -------------------------------------------


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                pids.append(int(entry))
    return pids


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _each(pgid: int, read) -> dict[int, Any]:
    """read(pid) for every process of the group still there."""
    values = {}
    for pid in _group(pgid):
        try:
            values[pid] = read(pid)
        except OSError:  # it ended meanwhile
            pass
    return values


class MemoryWatch:
    """Samples (emails sent so far, {pid: RSS MiB}) for every process of the cluster's group."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.samples: list[tuple[int, dict[int, float]]] = []

    def sample(self, sent: int) -> None:
        self.samples.append((sent, _each(self.pgid, _rss_mib)))

    def workers(self) -> list[int]:
        """The two processes of the group that used the most CPU: the workers."""
        ticks = _each(self.pgid, _cpu_ticks)
        return sorted(ticks, key=ticks.__getitem__, reverse=True)[:2]

    def at(self, share: float, total: int, pid: int) -> float | None:
        """The pid's RSS at the first sample with at least share × total emails sent."""
        for sent, rss in self.samples:
            if sent >= share * total and pid in rss:
                return rss[pid]
        return None


# --- The measurement (a child with Django set up) -----------------------------------------------


def child(*, invoices: int, contacts: int, mail_dir: str) -> None:
    from _common import django_setup

    django_setup()
    import datetime as dt
    from email import message_from_bytes, policy

    from django.db import transaction
    from django.db.models import Count, Max
    from django.utils import timezone

    import documents.services
    from automations.models import InvoiceEmail
    from bench.load_bulk import ensure_bench_contacts
    from invoices import services
    from invoices.models import Contact

    # 1. Setup.
    setup_started = time.monotonic()
    complete_business_profile()
    contact_ids, _ = ensure_bench_contacts(contacts)
    people = list(Contact.objects.filter(pk__in=contact_ids).order_by("pk"))
    drafts = create_drafts(people, invoices)
    setup_s = time.monotonic() - setup_started

    def no_rendering_here(invoice):
        raise AssertionError("an invoice was rendered outside the worker")

    documents.services.invoice_files = no_rendering_here

    log = RESULTS_DIR / "logs" / f"deliver-{os.environ['Q_CLUSTER_NAME']}.log"
    with Cluster(dict(os.environ), log_path=log) as cluster:
        warmup_s = warm_up_cluster()
        assert cluster.process is not None
        watch = MemoryWatch(cluster.process.pid)
        sent = InvoiceEmail.objects.filter(status="succeeded")
        watch.sample(0)

        # 3. The burst.
        committed: list[dt.datetime] = []
        send_times: list[float] = []
        produce_t0 = time.monotonic()
        for index, invoice in enumerate(drafts):
            started = time.monotonic()
            with transaction.atomic():
                transaction.on_commit(lambda: committed.append(timezone.now()))
                services.send_invoice(invoice=invoice, deliver=True)
            send_times.append(time.monotonic() - started)
            if index % 50 == 0:
                watch.sample(sent.count())
        produce_s = time.monotonic() - produce_t0
        sent_when_producer_done = sent.count()

        # 4. Watch until every email is out.
        def progress() -> int:
            count = sent.count()
            watch.sample(count)
            return count

        done = wait_until(lambda: progress() >= invoices, timeout=3600, stall=180, progress=progress, poll=0.25)
        workers = watch.workers()
        time.sleep(1)  # a straggling duplicate (there should be none) would show up now
        watch.sample(sent.count())

    # 5./6. Results and checks (the cluster is stopped).
    emails = InvoiceEmail.objects.all()
    last_sent = emails.aggregate(last=Max("sent_at"))["last"]
    seconds = (last_sent - min(committed)).total_seconds() if last_sent else None
    messages = []
    for path in sorted(Path(mail_dir).glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(message_from_bytes(chunk, policy=policy.default))
    message_ids = {m["Message-ID"] for m in messages}
    keys = {m["X-Automation-Key"] for m in messages}
    with_pdf = sum(1 for m in messages if any(p.get_content_type() == "application/pdf" for p in m.iter_attachments()))
    memory = {}
    for pid in workers:
        early, late = watch.at(0.1, invoices, pid), watch.at(1.0, invoices, pid)
        memory[pid] = {"at_10_percent_mib": early, "at_end_mib": late,
                       "growth_mib": (late - early) if early is not None and late is not None else None,
                       "peak_mib": max(rss.get(pid, 0.0) for _sent, rss in watch.samples)}
    send_ms = sorted(t * 1000 for t in send_times)
    result = {
        "invoices": invoices, "setup_s": setup_s, "warmup_s": warmup_s, "done": done,
        "producer": {"seconds": produce_s, "sends_per_s": invoices / produce_s,
                     "send_ms_p50": send_ms[len(send_ms) // 2], "send_ms_p95": send_ms[int(len(send_ms) * 0.95)],
                     "emails_sent_when_producer_done": sent_when_producer_done},
        "delivery": {"seconds": seconds, "emails_per_s": invoices / seconds if seconds else None},
        "memory": {"workers": memory, "samples": len(watch.samples)},
        "checks": {
            "messages": len(messages), "distinct_message_ids": len(message_ids), "distinct_keys": len(keys),
            "with_pdf": with_pdf,
            "rows_by_status": dict(emails.values_list("status").annotate(n=Count("id")).order_by()),
            "attempts_max": emails.aggregate(m=Max("attempts"))["m"],
            "errors": list(emails.exclude(error="").values_list("error", flat=True)[:3]),
        },
    }
    c = result["checks"]
    result["ok"] = (done and c["messages"] == invoices and c["distinct_message_ids"] == invoices
                    and c["distinct_keys"] == invoices and c["with_pdf"] == invoices
                    and c["rows_by_status"] == {"succeeded": invoices} and c["attempts_max"] == 1)
    emit(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    parser.add_argument("--database", default=DATABASE, help=f"database name (rebuilt); default {DATABASE}")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mail-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(invoices=args.invoices, contacts=args.contacts, mail_dir=args.mail_dir)
        return

    name = unique_cluster_name("bench-deliver")
    print(f"== {args.broker} broker ({name}): {args.invoices:,} invoices sent by email in one burst", flush=True)
    recreate_db(args.database)
    migrate(args.database)
    with tempfile.TemporaryDirectory(prefix="bench-deliver-mail-") as mail_dir:
        env = child_env(args.database, Q_CLUSTER_NAME=name, Q_WORKERS="2", Q_RECYCLE="100000",
                        REDIS_URL=REDIS_URL if args.broker == "redis" else "",
                        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=mail_dir,
                        DEFAULT_FROM_EMAIL="billing@bench.example")
        try:
            r = run_child(SCRIPT, ["--child", "--invoices", str(args.invoices), "--contacts", str(args.contacts),
                                   "--mail-dir", mail_dir], env, timeout=7200)
        finally:
            if args.broker == "redis":
                delete_redis_keys(name)
    r["broker"] = args.broker
    p, d, c = r["producer"], r["delivery"], r["checks"]
    workers = list(r["memory"]["workers"].values())
    print(table(
        ["broker", "invoices", "send (web) p50 / p95", "emails/s", "delivery s", "worker RSS at 10 % → end (MiB)",
         "messages / distinct ids / with PDF", "checks"],
        [[args.broker, f"{r['invoices']:,}", f"{p['send_ms_p50']:.1f} / {p['send_ms_p95']:.1f} ms",
          f"{d['emails_per_s'] or 0:.1f}", f"{d['seconds'] or 0:.0f}",
          ", ".join(f"{w['at_10_percent_mib']:.0f} → {w['at_end_mib']:.0f}" for w in workers
                    if w["at_10_percent_mib"] is not None and w["at_end_mib"] is not None),
          f"{c['messages']:,} / {c['distinct_message_ids']:,} / {c['with_pdf']:,}",
          "ok" if r["ok"] else "FAILED " + str(c)]],
    ))
    path = write_results("deliver", {"results": [r]})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
