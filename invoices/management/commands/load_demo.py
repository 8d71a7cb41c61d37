"""`manage.py load_demo`: a small demo business, or (with --invoices N) a large benchmark data set."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from invoices.demo import DEMO_ADMIN, DEMO_PASSWORD, load_bulk, load_demo

# What was created, in this order: (key of the counter, singular, plural).
SUMMARY = [(plural, singular, plural) for singular, plural in [
    ("user", "users"), ("contact", "contacts"), ("invoice", "invoices"), ("payment", "payments"),
    ("recurring payment", "recurring payments"), ("workflow", "workflows"), ("card", "cards"), ("task", "tasks"),
    ("automation", "automations"),
]]


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise CommandError(f"--overdue-share must be a number between 0 and 1, not {value!r}.") from None
    if not 0 <= share <= 1:
        raise CommandError(f"--overdue-share must be between 0 and 1, not {value}.")
    return share


class Command(BaseCommand):
    help = (
        "Load a small demo business (users demo/demo and sam/demo, contacts, invoices in every status, "
        "recurring payments, a workflow, tasks, example automations); running it again creates nothing. "
        "With --invoices N, also add N invoices in bulk for benchmarks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, default=0, metavar="N",
                            help="Also add N invoices in bulk (benchmark data; bypasses the services, sends no signals).")
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

        with tqdm(desc="Demo business", unit="step", file=out, disable=not show, leave=False) as bar:
            def start(total: int) -> None:
                bar.total = total
                bar.refresh()

            created = load_demo(progress=bar.update, on_start=start)
        self.report_demo(created)

        if options["invoices"]:
            self.load_bulk(options, out=out, show=show)

    def report_demo(self, created: Any) -> None:
        parts = [f"{created[key]} {one if created[key] == 1 else many}" for key, one, many in SUMMARY if created[key]]
        if parts:
            line = "Demo data created: " + ", ".join(parts) + "."
            if created["overdue"]:
                line += f" {created['overdue']} invoices marked overdue."
            self.stdout.write(self.style.SUCCESS(line))
        else:
            self.stdout.write("Demo data already loaded: nothing created.")
        self.stdout.write(f"Demo login: {DEMO_ADMIN} / {DEMO_PASSWORD} at {settings.SITE_URL}/admin/")
        if not settings.DEBUG:
            self.stderr.write(self.style.WARNING(
                f"The demo users have the password {DEMO_PASSWORD!r}: do not keep them on a server others can reach."
            ))

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
