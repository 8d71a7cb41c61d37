"""Real django-q2 clusters and real worker processes against the test database (PostgreSQL).

* `Cluster` starts `manage.py qcluster` with the production settings (`config.settings`, so the
  queue is real, not sync) on the test database, and always stops it: SIGINT to its process group
  (graceful), then SIGKILL if it is still there after a grace period.
* `cluster_queue(name)` (or `cluster.queue()`) points *this* process's django-q2 at that cluster's
  queue: `async_task` (and so `request_dispatch`, on commit) enqueues into the cluster's broker
  (the ORM broker in the test database, or Redis) under its name and signs with the same key and
  salt, instead of running inline as the test settings say.
* `spawn_workers(...)` runs a function of `tests.automations.qcluster_helpers` in N fresh
  interpreters (multiprocessing "spawn"), each with its own Django setup and database connection,
  released together by a barrier.

This module imports nothing from Django at import time: a spawned child imports it before
`django.setup()`.
"""

from __future__ import annotations

import email
import email.policy
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]


# --- Waiting ------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], *, timeout: float, interval: float = 0.2, message: str = "") -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s: {message or condition}")
        time.sleep(interval)


# --- The test database as a URL for other processes ---------------------------------------------


def current_database_url() -> str:
    """DATABASE_URL of the database this test runs on (pytest-django's test_<name> database)."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("real clusters and worker processes need PostgreSQL")
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        from urllib.parse import quote

        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


# --- A real cluster -----------------------------------------------------------------------------


class Cluster:
    """`manage.py qcluster` in its own process group, on the test database."""

    def __init__(self, *, workdir: Path, workers: int = 2, redis_url: str = "",
                 extra_env: dict[str, str] | None = None, name: str = "",
                 command: tuple[str, ...] = ("qcluster",)) -> None:
        from django.conf import settings

        # A name given again is the same cluster restarted: it takes over the queue left behind.
        self.name = name or f"test-{uuid.uuid4().hex[:10]}"
        self.redis_url = redis_url
        self.command = list(command)  # e.g. ("qcluster_supervised", "--restart-grace", "5")
        self.workdir = workdir
        self.mail_dir = workdir / "mail"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}-{uuid.uuid4().hex[:6]}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": current_database_url(),
            # The same key as this process: queued tasks are signed with it.
            "SECRET_KEY": settings.SECRET_KEY,
            "DEBUG": "false",
            "Q_CLUSTER_NAME": self.name,
            "Q_WORKERS": str(workers),
            "REDIS_URL": redis_url,  # empty: the ORM broker, in the test database
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "DEFAULT_FROM_EMAIL": "billing@cluster.test",
            "BUSINESS_NAME": "Cluster Test Ltd",
            "VAR_DIR": str(workdir / "var"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None
        self._log = None
        # Set by stop(): whether SIGINT was enough (True) or the group had to be killed (False).
        self.stopped_gracefully: bool | None = None

    def start(self, *, wait: float = 30.0) -> Cluster:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", *self.command], cwd=BASE_DIR, env=self.env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole, never ours
        )
        wait_for(self._running, timeout=wait, interval=0.1, message=f"cluster start\n{self.log()}")
        return self

    def _running(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"qcluster exited with {self.process.returncode}\n{self.log()}")
        return b"running." in self.log_path.read_bytes()

    def log(self, tail: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-tail:])

    def stop(self, *, grace: float = 15.0, sig: int = signal.SIGINT) -> None:
        """`sig` (SIGINT: graceful) to the cluster's process group, SIGKILL after `grace` seconds."""
        process = self.process
        if process is None:
            return
        pgid = process.pid  # start_new_session: the cluster leads its own process group
        try:
            if process.poll() is None:
                os.killpg(pgid, sig)
                try:
                    process.wait(grace)
                    self.stopped_gracefully = b"has stopped." in self.log_path.read_bytes()
                except subprocess.TimeoutExpired:
                    os.killpg(pgid, signal.SIGKILL)
                    process.wait(10)
                    self.stopped_gracefully = False
            else:
                self.stopped_gracefully = False
        finally:
            # Anything of the group that outlived the sentinel would keep database connections open.
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self._log is not None:
                self._log.close()
            self.process = None

    def kill(self) -> None:
        """kill -9 the whole cluster (its process group), as a power cut would."""
        self.stop(grace=0, sig=signal.SIGKILL)

    def queue(self):
        """Point this process's django-q2 at this cluster's queue (see cluster_queue)."""
        return cluster_queue(self.name, redis_url=self.redis_url)

    def queue_length(self) -> int:
        return queue_length(self.name, redis_url=self.redis_url)

    def emails(self) -> list[email.message.EmailMessage]:
        """The emails the cluster wrote (filebased backend: one file per connection)."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
        return messages


@contextmanager
def running_cluster(workdir: Path, **kwargs: Any) -> Iterator[Cluster]:
    cluster = Cluster(workdir=workdir, **kwargs)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@contextmanager
def cluster_queue(name: str, *, redis_url: str = "") -> Iterator[None]:
    """Make this process enqueue into the cluster `name` instead of running inline: the ORM broker
    in the test database, or Redis at `redis_url` (as the cluster was started)."""
    from django_q.conf import Conf

    saved = {key: getattr(Conf, key) for key in ("SYNC", "PREFIX", "CLUSTER_NAME", "ORM", "REDIS")}
    Conf.SYNC, Conf.PREFIX, Conf.CLUSTER_NAME = False, name, name
    Conf.ORM, Conf.REDIS = (None, redis_url) if redis_url else ("default", {})
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(Conf, key, value)


def queue_length(name: str, *, redis_url: str = "") -> int:
    """Tasks still waiting in (or taken but not acknowledged from) the cluster's queue."""
    if redis_url:
        import redis

        return redis.from_url(redis_url).llen(f"django_q:{name}:q")
    from django_q.models import OrmQ

    return OrmQ.objects.filter(key=name).count()


def redis_url_or_skip() -> str:
    import pytest
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {url}: {exc}")
    return url


# --- Worker processes ---------------------------------------------------------------------------


def spawn_workers(target: str, count: int, *args: Any, timeout: float = 60.0) -> list[Any]:
    """Run `target(index, barrier, *args)` (a function of this module, by name) in `count` spawned processes.

    Each child sets Django up on the test database; all start their work together at a barrier.
    Returns each child's result; a child's exception is re-raised here with its traceback text.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count)
    results = ctx.Queue()
    url = current_database_url()
    processes = [
        ctx.Process(target=_child, args=(index, url, target, barrier, results, args), name=f"worker-{index}")
        for index in range(count)
    ]
    for process in processes:
        process.start()
    outcomes: dict[int, Any] = {}
    try:
        deadline = time.monotonic() + timeout
        while len(outcomes) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"worker processes did not finish in {timeout:.0f} s")
            try:
                index, ok, value = results.get(timeout=min(remaining, 1.0))
            except Exception:  # queue.Empty
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise AssertionError(f"worker process died: {[(p.name, p.exitcode) for p in dead]}") from None
                continue
            if not ok:
                raise AssertionError(f"worker {index} failed:\n{value}")
            outcomes[index] = value
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
    return [outcomes[i] for i in range(count)]


def _child(index: int, url: str, target: str, barrier: Any, results: Any, args: tuple) -> None:
    import traceback

    try:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
        import django

        django.setup()
        from django.db import connection

        connection.ensure_connection()  # connect before the barrier: all start work together
        value = globals()[target](index, barrier, *args)
        results.put((index, True, value))
    except BaseException:  # noqa: BLE001 - reported to the parent
        results.put((index, False, traceback.format_exc()))
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001
            pass


# Targets for spawn_workers (run in the children) ------------------------------------------------


def _queue_nowhere() -> None:
    """Wake-ups a worker sends (a full batch) go into a queue nobody reads, not inline: each
    worker here keeps dispatching until no event is left, as a cluster's workers would."""
    from django_q.conf import Conf

    Conf.SYNC, Conf.ORM = False, "default"
    Conf.CLUSTER_NAME = Conf.PREFIX = f"nowhere-{os.getpid()}"


def dispatch_until_done(index: int, barrier: Any, batch_size: int) -> dict[str, int]:
    """Claim and execute batches until every event is dispatched; returns what this worker did."""
    from automations import dispatch
    from automations.models import Event

    _queue_nowhere()
    barrier.wait(30)
    executed = rounds = 0
    while True:
        rounds += 1
        executed += dispatch.dispatch_pending(batch_size=batch_size)
        if not Event.objects.filter(dispatched_at__isnull=True).exists():
            return {"executed": executed, "rounds": rounds}


def execute_same_run(index: int, barrier: Any, run_id: int) -> str | None:
    from automations import dispatch

    _queue_nowhere()
    barrier.wait(30)
    return dispatch.execute_run(run_id)


def execute_runs_of(index: int, barrier: Any, orders: list[list[int]]) -> list[str | None]:
    """Execute the runs of `orders[index]` in that order (each worker gets its own order)."""
    from automations import dispatch

    _queue_nowhere()
    barrier.wait(30)
    return [dispatch.execute_run(run_id) for run_id in orders[index]]


def scan_reminders_at(index: int, barrier: Any, moment_iso: str) -> int:
    """Run the reminder scan as of `moment_iso`, together with the other workers; returns how many
    steps this worker fired."""
    import datetime as dt

    from automations import reminders

    _queue_nowhere()
    barrier.wait(30)
    return reminders.scan(now=dt.datetime.fromisoformat(moment_iso))


def deliver_emails_of(index: int, barrier: Any, orders: list[list[int]], mail_dir: str) -> int:
    """Send the invoice emails of `orders[index]` in that order, into files in `mail_dir`; returns
    how many this worker carried out."""
    from django.conf import settings

    from automations import delivery

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = mail_dir
    barrier.wait(30)
    return sum(delivery.execute_email(email_id) is not None for email_id in orders[index])
