"""Fault hooks loaded only by the fault suite's clusters (tests.reliability.cluster_settings).

Switched on by environment variables of the cluster:

* FAULT_KILL_PERMILLE, FAULT_SEED, FAULT_KILL_WHILE (a file: kills only while it exists): at each point *before*,
  *during* (the task or card written but not committed; the email accepted by the server but not
  recorded) and *after* each action, the worker kills itself with SIGKILL with this probability
  (per mille). The decision is a hash of (seed, run, attempt, action, point): the same seed on the
  same data kills at the same points. Each kill is first appended to FAULT_KILL_LOG.
* FAULT_ACTION_DELAY (seconds): each action waits this long first (a slow action, so a stop
  signal finds work in flight).
* FAULT_POISON: a task title containing this text kills its worker every time (a poisoned run).
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import signal
import time

from django.apps import AppConfig

_current: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("fault_current", default=None)


def _die(point: str) -> None:
    path = os.environ.get("FAULT_KILL_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{os.getpid()} {point} {_current.get()}\n")
    os.kill(os.getpid(), signal.SIGKILL)


def maybe_die(point: str) -> None:
    permille = int(os.environ.get("FAULT_KILL_PERMILLE") or 0)
    current = _current.get()
    if not permille or current is None or not os.path.exists(os.environ.get("FAULT_KILL_WHILE") or "/nonexistent"):
        return
    digest = hashlib.sha256(f"{os.environ.get('FAULT_SEED')}:{current}:{point}".encode()).digest()
    if int.from_bytes(digest[:4], "big") % 1000 < permille:
        _die(point)


def _wrap_execute(cls) -> None:
    execute = cls.execute.__func__

    def wrapped(klass, *, run, action, result, now):
        token = _current.set((run.pk, run.attempts, action.position, action.kind))
        try:
            maybe_die("before")
            time.sleep(float(os.environ.get("FAULT_ACTION_DELAY") or 0))
            execute(klass, run=run, action=action, result=result, now=now)
            maybe_die("after")
        finally:
            _current.reset(token)

    cls.execute = classmethod(wrapped)


def _log_card_move(kwargs) -> None:
    """One row per place_card call, in the call's transaction (see harness.py: duplicate card moves)."""
    from django.db import connection

    run_id, _attempt, position, _kind = _current.get() or (0, 0, 0, "")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO fault_card_moves (run_id, position, contact_id, step_id) VALUES (%s, %s, %s, %s)",
                       [run_id, position, kwargs["contact"].pk, kwargs["step"].pk])


def _wrap_during(module, name: str, *, poison_arg: str | None = None, log=None) -> None:
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        poison = os.environ.get("FAULT_POISON")
        if poison and poison_arg and poison in str(kwargs.get(poison_arg, "")):
            _die("poison")
        value = original(*args, **kwargs)
        if log is not None:
            log(kwargs)
        maybe_die("during")
        return value

    setattr(module, name, wrapped)


class _Connection:
    """The real email connection; a kill may come after the server accepted the message."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def send_messages(self, messages):
        sent = self.connection.send_messages(messages)
        maybe_die("during")
        return sent


class FaultHooksConfig(AppConfig):
    name = "tests.reliability"
    label = "fault_hooks"
    verbose_name = "Fault hooks (tests only)"

    def ready(self) -> None:
        from automations import actions
        from automations import mailer as automation_email
        from tasks import services as task_services
        from workflows import services as workflow_services

        for cls in actions.ACTIONS.values():
            _wrap_execute(cls)
        _wrap_during(task_services, "create_task", poison_arg="title")
        _wrap_during(workflow_services, "place_card", log=_log_card_move)
        get_connection = automation_email.get_connection
        automation_email.get_connection = lambda *a, **kw: _Connection(get_connection(*a, **kw))
