"""The benchmark data set: N invoices added fast, for the benchmarks in this folder.

    .venv/bin/python bench/load_bulk.py --invoices 1000000 --overdue-share 0.1

(with DATABASE_URL and the other settings in the environment, as for manage.py). It bypasses the
services on purpose (see `load_bulk`): no signals, no outbox events. The demo business itself is
`manage.py load_demo`; the bulk invoices go to benchmark contacts beside it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: the project's settings, as manage.py has them
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import reset_queries, transaction
from django.utils import timezone
from tqdm import tqdm

from core.dates import business_today
from demo.business import CATALOGUE
from invoices import services
from invoices.models import Contact, Invoice, InvoiceStatus, LineItem, Payment, PaymentMethod

Progress = Callable[[int], Any]


def _no_progress(n: int = 1) -> None:
    pass


BENCH_EMAIL = "customer-{:06d}@bench.example"
BENCH_DOMAIN = "@bench.example"
FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Finn", "Greta", "Hugo", "Ida", "Jan", "Kim", "Leo",
               "Mia", "Noah", "Olga", "Paul", "Rosa", "Simon", "Tara", "Uwe", "Vera", "Will", "Yara", "Zoe"]
LAST_NAMES = ["Adler", "Bauer", "Clarke", "Dietrich", "Engel", "Frank", "Graf", "Hughes", "Jansen", "Keller",
              "Lang", "Moore", "Neumann", "Otto", "Peters", "Quinn", "Roth", "Stone", "Thiel", "Vogel", "Walsh", "Zimmer"]
COMPANY_SUFFIXES = ["GmbH", "Ltd", "& Co.", "AG", "Studio", "Services"]


@dataclass
class BulkResult:
    invoices: int = 0
    line_items: int = 0
    payments: int = 0
    contacts: int = 0
    contacts_created: int = 0
    seconds: float = 0.0
    by_status: Counter[str] = field(default_factory=Counter)
    past_due: int = 0  # sent with a due date in the past: what the overdue scan will flip

    @property
    def rows_per_second(self) -> float:
        return self.invoices / self.seconds if self.seconds else 0.0


def ensure_bench_contacts(count: int, *, batch_size: int = 5000, seed: int = 0) -> tuple[list[int], int]:
    """The ids of `count` benchmark contacts (customer-000001@bench.example, …), creating the missing
    ones with bulk_create (bypassing create_contact, like the invoices of load_bulk).
    Returns (ids in a stable order, so a seed gives the same data, and how many were created)."""
    rng = random.Random(seed)
    wanted = [BENCH_EMAIL.format(i) for i in range(1, count + 1)]
    existing = set(Contact.objects.filter(email__endswith=BENCH_DOMAIN).values_list("email", flat=True))
    missing = [email for email in wanted if email not in existing]
    for start in range(0, len(missing), batch_size):
        rows = []
        for email in missing[start:start + batch_size]:
            last = rng.choice(LAST_NAMES)
            rows.append(Contact(
                name=f"{rng.choice(FIRST_NAMES)} {last}", email=email,
                company=f"{last} {rng.choice(COMPANY_SUFFIXES)}" if rng.random() < 0.6 else "",
                language="de" if rng.random() < 0.6 else "en",
            ))
        with transaction.atomic():
            Contact.objects.bulk_create(rows)
        reset_queries()
    wanted_set = set(wanted)
    ids = sorted(
        pk for pk, email in Contact.objects.filter(email__endswith=BENCH_DOMAIN).values_list("id", "email").iterator()
        if email in wanted_set
    )
    return ids, len(missing)


# (description, unit price, tax rate, subtotal, tax, total), computed once with the model's arithmetic.
def _price_table() -> list[tuple[str, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    table = []
    for en, _de, price, _most in CATALOGUE:
        for rate in (Decimal("19"), Decimal("7"), Decimal("0")):
            line = LineItem(description=en, quantity=Decimal("1"), unit_price=Decimal(price), tax_rate=rate)
            net, tax = line.net_amount, line.tax_amount
            table.append((en, Decimal(price), rate, net, tax, net + tax))
    return table


def _status_plan(total: int, overdue_share: float, rng: random.Random) -> Iterator[str]:
    """A status per row. Exactly round(total × share) rows are "past_due", spread evenly (integer
    arithmetic, no float drift); of the others about 60 % are paid, 25 % drafts, 15 % sent and
    not yet due."""
    past_due = round(total * overdue_share)
    for i in range(total):
        if past_due and (i + 1) * past_due // total != i * past_due // total:
            yield "past_due"
            continue
        r = rng.random()
        yield "paid" if r < 0.60 else "draft" if r < 0.85 else "sent"


def load_bulk(
    *,
    invoices: int,
    contacts: int = 1000,
    overdue_share: float = 0.1,
    batch_size: int = 5000,
    seed: int = 0,
    now: dt.datetime | None = None,
    progress: Progress = _no_progress,
    on_contacts: Callable[[int], Any] | None = None,
) -> BulkResult:
    """Add `invoices` invoices (one line item each, a payment for each paid one) in batches.

    This is a benchmark fixture: rows are written with `bulk_create`, bypassing the services on
    purpose. No signals are sent and no outbox events are written — 1M invoices through
    `create_invoice` / `send_invoice` would take hours. The rows still obey every rule of the
    model: totals come from the line item with the model's own arithmetic (subtotal + tax_total
    == total is a check constraint), numbers are reserved in one atomic call per batch and year
    with `services.reserve_invoice_numbers`, and paid invoices carry their payment. Each batch is
    one transaction; memory holds one batch at a time.
    """
    now = now or timezone.now()
    today = business_today(now)
    rng = random.Random(seed)
    result = BulkResult()
    started = time.monotonic()
    contact_ids, result.contacts_created = ensure_bench_contacts(contacts, seed=seed)
    result.contacts = len(contact_ids)
    if on_contacts:
        on_contacts(result.contacts_created)
    prices = _price_table()
    currency = settings.DEFAULT_CURRENCY
    moments: dict[tuple[dt.date, int], dt.datetime] = {}

    def at(day: dt.date, hour: int) -> dt.datetime:
        key = (day, hour)
        if key not in moments:
            moments[key] = min(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))), now)
        return moments[key]

    def days(n: int) -> dt.timedelta:
        return dt.timedelta(days=n)

    statuses = _status_plan(invoices, overdue_share, rng)
    remaining = invoices
    while remaining:
        size = min(batch_size, remaining)
        remaining -= size
        rows = []
        for _ in range(size):
            kind = next(statuses)
            if kind == "past_due":
                due = today - days(rng.randint(1, 60))
                issue = due - days(14)
            elif kind == "sent":
                issue = today - days(rng.randint(0, 13))
                due = issue + days(14)
            elif kind == "paid":
                issue = today - days(rng.randint(15, 365))
                due = issue + days(14)
            else:
                issue = today - days(rng.randint(0, 7))
                due = issue + days(14)
            rows.append((issue, due, kind, rng.choice(contact_ids), rng.choice(prices)))
        rows.sort(key=lambda row: row[0])  # numbers go up with the issue date within a batch

        with transaction.atomic():
            numbers: list[str] = []
            year_counts = Counter(row[0].year for row in rows)
            for year in sorted(year_counts):
                numbers += services.reserve_invoice_numbers(year=year, count=year_counts[year])
            objs = []
            for number, (issue, due, kind, contact_id, price) in zip(numbers, rows):
                paid = kind == "paid"
                objs.append(Invoice(
                    number=number, contact_id=contact_id, issue_date=issue, due_date=due, currency=currency,
                    status=InvoiceStatus.DRAFT if kind == "draft" else InvoiceStatus.PAID if paid else InvoiceStatus.SENT,
                    subtotal=price[3], tax_total=price[4], total=price[5], amount_paid=price[5] if paid else 0,
                    sent_at=None if kind == "draft" else at(issue, 10),
                    paid_at=at(issue + days(7), 15) if paid else None,
                ))
            Invoice.objects.bulk_create(objs)
            LineItem.objects.bulk_create([
                LineItem(invoice_id=inv.pk, position=0, description=row[4][0], quantity=Decimal("1"),
                         unit_price=row[4][1], tax_rate=row[4][2])
                for inv, row in zip(objs, rows)
            ])
            payments = [
                Payment(invoice_id=inv.pk, amount=inv.total, date=inv.issue_date + days(7),
                        method=PaymentMethod.BANK_TRANSFER, reference=inv.number)
                for inv in objs if inv.status == InvoiceStatus.PAID
            ]
            Payment.objects.bulk_create(payments)
        # With DEBUG on Django keeps every query's SQL; a 5000-row INSERT is a lot of text.
        reset_queries()
        result.invoices += size
        result.line_items += size
        result.payments += len(payments)
        for row in rows:
            result.by_status[row[2]] += 1
        progress(size)
    result.past_due = result.by_status["past_due"]
    result.seconds = time.monotonic() - started
    return result


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise CommandError(f"--overdue-share must be a number between 0 and 1, not {value!r}.") from None
    if not 0 <= share <= 1:
        raise CommandError(f"--overdue-share must be between 0 and 1, not {value}.")
    return share


class Command(BaseCommand):
    help = "Add N invoices in bulk for the benchmarks (bypasses the services, sends no signals)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, required=True, metavar="N",
                            help="How many invoices to add.")
        parser.add_argument("--contacts", type=int, default=1000, metavar="N",
                            help="Spread the bulk invoices over N benchmark contacts, created if missing (default 1000).")
        parser.add_argument("--overdue-share", type=_share, default=0.1, metavar="SHARE",
                            help="Share of the bulk invoices that are sent with a past due date, for the overdue scan "
                                 "(default 0.1).")
        parser.add_argument("--batch-size", type=int, default=5000, metavar="N",
                            help="Bulk invoices per transaction (default 5000).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed of the bulk data (default 0).")
        parser.add_argument("--no-progress", action="store_true", help="Do not show progress bars.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["invoices"] < 0:
            raise CommandError("--invoices cannot be negative.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["invoices"] and options["contacts"] < 1:
            raise CommandError("--contacts must be at least 1.")
        out = getattr(self.stderr, "_out", sys.stderr)  # tqdm needs the raw stream (no added newlines)
        show = not options["no_progress"] and self.stderr.isatty()
        self.load_bulk(options, out=out, show=show)

    def load_bulk(self, options: dict[str, Any], *, out: Any, show: bool) -> None:
        n = options["invoices"]
        with tqdm(total=n, desc="Invoices", unit="inv", unit_scale=True, file=out, disable=not show) as bar:
            def contacts_ready(created: int) -> None:
                if created:
                    bar.write(f"Created {created:,} benchmark contacts.", file=out)

            result = load_bulk(
                invoices=n, contacts=options["contacts"], overdue_share=options["overdue_share"],
                batch_size=options["batch_size"], seed=options["seed"], progress=bar.update,
                on_contacts=contacts_ready,
            )
        statuses = result.by_status
        self.stdout.write(self.style.SUCCESS(
            f"Added {result.invoices:,} invoices ({statuses['paid']:,} paid, {statuses['draft']:,} draft, "
            f"{statuses['sent']:,} sent and not yet due, {statuses['past_due']:,} sent and past due) "
            f"with {result.line_items:,} line items and {result.payments:,} payments "
            f"for {result.contacts:,} contacts"
            f"{f' ({result.contacts_created:,} new)' if result.contacts_created else ''} "
            f"in {result.seconds:.1f} s: {result.rows_per_second:,.0f} invoices/s."
        ))
        if result.past_due:
            self.stdout.write(f"The next overdue scan will mark {result.past_due:,} of them overdue.")


if __name__ == "__main__":
    Command().run_from_argv([sys.argv[0], "load_bulk", *sys.argv[1:]])
