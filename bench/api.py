"""REST API list endpoints on 100,000 invoices: p50/p95 per endpoint (target p95 ≤ 50 ms) and the SQL
queries each page costs.

    .venv/bin/python bench/api.py [--invoices 100000] [--requests 100] [--database URL] [--reuse]

Builds the data set with bench/load_bulk.py (benchmark contacts, invoices with their line item and
the payments of the paid ones) in PostgreSQL `inv_bench_api` unless --database names another (a
sqlite:/// URL works too), plus tasks and recurring payments, an owner and a read-write token. Then
calls each list endpoint `--requests` times in this process through Django's whole stack (the test
client: middleware, token lookup, permissions, serialization; no network and no web server) and
times each call. Prints a table and writes bench/results/api-latest.json. Timings, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_P95_MS = 50.0
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/inv_bench_api"


def setup(database: str, reuse: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if database.startswith("postgres") and not reuse:
        sys.path.insert(0, str(ROOT))
        from bench._common import recreate_db

        recreate_db(database.rsplit("/", 1)[1])
    os.environ.update(DATABASE_URL=database, SECRET_KEY="bench-not-secret-" + "x" * 40, DEBUG="false",
                      LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL="",
                      ALLOWED_HOSTS="testserver", API_RATE_LIMIT="0", VAR_DIR=str(RESULTS / "api-var"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(invoices: int) -> str:
    """The data set (added to what is there) and an owner's token."""
    from django.contrib.auth.models import Group, User

    from accounts.roles import OWNER
    from accounts.services import create_api_token
    from bench.load_bulk import load_bulk
    from invoices.models import Contact, Invoice, RecurringPayment
    from tasks.models import Task

    have = Invoice.objects.count()
    if have < invoices:
        started = time.monotonic()
        load_bulk(invoices=invoices - have, contacts=1000)
        print(f"loaded {invoices - have} invoices in {time.monotonic() - started:.0f} s")
    contacts = list(Contact.objects.values_list("pk", flat=True)[:1000])
    if not Task.objects.exists():
        Task.objects.bulk_create([Task(title=f"Call {i}", contact_id=contacts[i % len(contacts)]) for i in range(5000)])
    if not RecurringPayment.objects.exists():
        import datetime as dt

        RecurringPayment.objects.bulk_create([
            RecurringPayment(contact_id=contacts[i % len(contacts)], description="Support", amount="50.00",
                             currency="EUR", start_date=dt.date(2026, 1, 1)) for i in range(2000)])
    from django.db import connection

    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load in production: statistics for the planner and
        # the visibility map that lets COUNT(*) read the index only.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    owner, _ = User.objects.get_or_create(username="bench-owner", defaults={"is_staff": True})
    owner.groups.add(Group.objects.get(name=OWNER))
    _, raw = create_api_token(user=owner, name="bench", scope="read")
    return raw


def endpoints() -> list[tuple[str, str]]:
    from invoices.models import Contact

    contact = Contact.objects.filter(invoices__isnull=False).order_by("pk").values_list("pk", flat=True).first()
    return [
        ("invoices, first page (25, newest first)", "/api/v1/invoices"),
        ("invoices, 100 a page", "/api/v1/invoices?limit=100"),
        ("invoices, status=sent", "/api/v1/invoices?status=sent"),
        ("invoices, status=open, due before a day", "/api/v1/invoices?status=open&due_date_to=2026-12-01"),
        ("invoices of one contact", f"/api/v1/invoices?contact_id={contact}"),
        ("invoices, issue date range", "/api/v1/invoices?issue_date_from=2026-06-01&issue_date_to=2026-06-30"),
        ("invoices, ordered by due date", "/api/v1/invoices?ordering=due_date"),
        ("invoices, page 200 (offset 5000)", "/api/v1/invoices?offset=5000"),
        ("contacts", "/api/v1/contacts"),
        ("payments", "/api/v1/payments"),
        ("tasks", "/api/v1/tasks?status=open"),
        ("recurring payments", "/api/v1/recurring-payments"),
    ]


def measure(token: str, requests: int) -> list[dict]:
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    rows = []
    for label, url in endpoints():
        for _ in range(3):  # warm: connection, caches, the token's first use
            assert client.get(url).status_code == 200, (url, client.get(url).content[:300])
        captured: list[str] = []
        with connection.execute_wrapper(lambda execute, sql, *args: captured.append(sql) or execute(sql, *args)):
            client.get(url)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        rows.append({"endpoint": label, "url": url, "count": response.json()["count"], "queries": len(captured),
                     "p50_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1],
                     "max_ms": times[-1]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--reuse", action="store_true", help="keep the database (and its invoices) of a run before")
    args = parser.parse_args()
    setup(args.database, args.reuse)
    token = load(args.invoices)
    rows = measure(token, args.requests)
    print(f"\n{'endpoint':44} {'matches':>8} {'queries':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for row in rows:
        flag = "" if row["p95_ms"] <= TARGET_P95_MS else "  > target"
        print(f"{row['endpoint']:44} {row['count']:>8} {row['queries']:>7} {row['p50_ms']:>7.1f} "
              f"{row['p95_ms']:>7.1f} {row['max_ms']:>7.1f}{flag}")
    load_avg = os.getloadavg()
    print(f"\ntarget p95 ≤ {TARGET_P95_MS:.0f} ms; load average {load_avg[0]:.1f}")
    (RESULTS / "api-latest.json").write_text(json.dumps({
        "invoices": args.invoices, "requests": args.requests, "database": args.database.split("@")[-1],
        "machine": platform.platform(), "load": load_avg, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
