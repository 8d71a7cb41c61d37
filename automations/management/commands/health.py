"""`manage.py health`: is the site's task queue working? Exit 0 if so, 1 with one line per failure.

For a systemd `ExecStartPost=` (with `--wait`), a watchdog timer, or a container's liveness probe.
It checks the database, the broker, the heartbeat of a qcluster on this host, the newest task
result a worker saved and the oldest event not yet dispatched; see automations/health.py. It runs no system checks
and needs no migrations check, so it is quick and touches nothing but what it checks.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from automations import health

TASK_MAX_AGE = 300  # seconds; the sweeper schedule alone finishes a task every minute or so
SKIPPABLE = ("cluster", "tasks", "events")


class Command(BaseCommand):
    help = (
        "Checks the database, the task queue's broker, a qcluster's heartbeat on this host, the newest "
        "task result and the oldest waiting event; exits 0 when all are fine, 1 with one line per "
        "failed check."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-task-age", type=float, default=TASK_MAX_AGE, metavar="SECONDS",
            help=f"Fail if no worker finished a task for this long (default {TASK_MAX_AGE}).",
        )
        parser.add_argument(
            "--max-event-age", type=float, default=None, metavar="SECONDS",
            help="Fail if an event waits this long to be dispatched (default EVENT_WAIT_WARNING_MINUTES, "
                 f"now {settings.EVENT_WAIT_WARNING_MINUTES} min).",
        )
        parser.add_argument(
            "--skip", action="append", choices=SKIPPABLE, default=[],
            help="Leave out a check (repeatable): cluster (e.g. on a host that runs only the web server), "
                 "tasks, events.",
        )
        parser.add_argument(
            "--timeout", type=float, default=5.0, metavar="SECONDS",
            help="Give up connecting to the database or Redis after this long (default 5).",
        )
        parser.add_argument(
            "--wait", type=float, default=0.0, metavar="SECONDS",
            help="Repeat the checks every 5 s until all pass, for up to this long (e.g. right after a start).",
        )

    def handle(self, *args: Any, max_task_age: float, max_event_age: float | None, skip: list[str],
               timeout: float, wait: float, **options: Any) -> None:
        if max_event_age is None:
            max_event_age = settings.EVENT_WAIT_WARNING_MINUTES * 60
        if min(max_task_age, max_event_age, timeout) <= 0 or wait < 0:
            raise CommandError("--max-task-age, --max-event-age and --timeout must be more than 0, --wait 0 or more.")
        _limit_connect_time(timeout)
        deadline = time.monotonic() + wait
        while True:
            checks = self._checks(max_task_age=max_task_age, max_event_age=max_event_age, skip=skip, timeout=timeout)
            failed = [check for check in checks if not check.ok]
            if not failed or time.monotonic() + 5 > deadline:
                break
            connections.close_all()
            time.sleep(5)
        if options["verbosity"] > 0:
            for check in checks:
                if check.ok:
                    self.stdout.write(f"ok: {check.name}: {check.message}")
        for check in failed:
            self.stderr.write(f"FAILED: {check.name}: {check.message}")
        if failed:
            sys.exit(1)

    def _checks(self, *, max_task_age: float, max_event_age: float, skip: list[str],
                timeout: float) -> list[health.Check]:
        from django_q.conf import Conf

        database = health.check_database()
        if not database.ok:
            # The heartbeat and the outbox (and the database broker's queue) live in the database:
            # one line says it. Redis is checked on its own.
            return [database] + ([health.check_broker(timeout=timeout)] if not Conf.ORM else [])
        checks = [database, health.check_broker(timeout=timeout)]
        if "cluster" not in skip:
            checks.append(health.check_cluster())
        if "tasks" not in skip:
            checks.append(health.check_tasks(max_age=dt.timedelta(seconds=max_task_age)))
        if "events" not in skip:
            checks.append(health.check_events(max_age=dt.timedelta(seconds=max_event_age)))
        return checks


def _limit_connect_time(seconds: float) -> None:
    """A database that does not answer must fail the check quickly, not after the OS's TCP timeout."""
    for alias in connections:
        settings_dict = connections[alias].settings_dict
        if settings_dict["ENGINE"].endswith("postgresql"):
            settings_dict.setdefault("OPTIONS", {}).setdefault("connect_timeout", max(1, round(seconds)))
