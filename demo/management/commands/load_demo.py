"""`manage.py load_demo`: a small demo business (the benchmarks' bulk data is bench/load_bulk.py)."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from demo.business import DEMO_ADMIN, DEMO_PASSWORD, load_demo

# What was created, in this order: (key of the counter, singular, plural).
SUMMARY = [(plural, singular, plural) for singular, plural in [
    ("user", "users"), ("contact", "contacts"), ("invoice", "invoices"), ("payment", "payments"),
    ("recurring payment", "recurring payments"), ("workflow", "workflows"), ("card", "cards"), ("task", "tasks"),
    ("automation", "automations"),
]]


class Command(BaseCommand):
    help = (
        "Load a small demo business (users demo/demo and sam/demo, contacts, invoices in every status, "
        "recurring payments, a workflow, tasks, example automations); running it again creates nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true", help="Do not show progress bars.")

    def handle(self, *args: Any, **options: Any) -> None:
        out = getattr(self.stderr, "_out", sys.stderr)  # tqdm needs the raw stream (no added newlines)
        show = not options["no_progress"] and self.stderr.isatty()

        with tqdm(desc="Demo business", unit="step", file=out, disable=not show, leave=False) as bar:
            def start(total: int) -> None:
                bar.total = total
                bar.refresh()

            created = load_demo(progress=bar.update, on_start=start)
        self.report_demo(created)

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
