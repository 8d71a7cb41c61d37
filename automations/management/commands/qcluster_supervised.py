"""`manage.py qcluster_supervised`: `manage.py qcluster`, restarted when it is stuck or exits.

What `manage.py runall` runs, and what a systemd or supervisor service should run instead of
`qcluster` (README, Deployment). The cluster stays in this process's process group, so a service
manager that signals or kills the group reaches all of it; SIGINT, SIGTERM or SIGHUP to this process
stops the cluster gracefully (a second one kills it at once). See automations/watchdog.py for what
"stuck" means and why it happens.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from automations.watchdog import RESTART_GRACE, Supervisor, qcluster_command, sweep_now
from core.management.commands.runall import _die_with_parent


class Command(BaseCommand):
    help = (
        "Runs the task worker (django-q2 qcluster) and restarts it when its workers stop taking "
        "tasks (e.g. after one was killed from outside) or when it exits."
    )
    requires_migrations_checks = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stuck-seconds", type=float, default=settings.Q_STUCK_SECONDS,
            help="Restart the cluster when tasks waited this long and none of its workers took one "
                 f"(default: Q_STUCK_SECONDS, now {settings.Q_STUCK_SECONDS}).",
        )
        parser.add_argument(
            "--stop-timeout", type=float, default=settings.Q_CLUSTER["timeout"] + 10,
            help="Seconds a stopping cluster may take to let its running tasks finish before it is "
                 "killed (default: Q_TIMEOUT + 10).",
        )
        parser.add_argument(
            "--restart-grace", type=float, default=RESTART_GRACE,
            help=f"Seconds after the stop signal before a cluster with no busy worker is killed (default {RESTART_GRACE:g}).",
        )

    def handle(self, *args: Any, stuck_seconds: float, stop_timeout: float, restart_grace: float,
               **options: Any) -> None:
        if stuck_seconds < 10:
            raise CommandError("--stuck-seconds must be at least 10.")
        if stop_timeout <= 0 or restart_grace < 0:
            raise CommandError("--stop-timeout must be more than 0 and --restart-grace 0 or more.")
        supervisor = Supervisor(
            qcluster_command(), stuck_after=stuck_seconds, stop_timeout=stop_timeout, restart_grace=restart_grace,
            # If this process is killed outright, the cluster still gets its graceful stop.
            preexec_fn=_die_with_parent(signal.SIGINT), after_restart=sweep_now, say=self._say,
        )
        code = supervisor.run()
        if code:
            sys.exit(code)

    def _say(self, message: str) -> None:
        try:
            self.stdout.write(message)
            self.stdout.flush()
        except OSError:
            pass
