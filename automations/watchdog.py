"""Keeps a qcluster taking tasks: `manage.py qcluster_supervised` runs `manage.py qcluster` and
restarts it when it is stuck.

Why a cluster can stop for good
-------------------------------
django-q2's workers all read one `multiprocessing.Queue`, the sentinel's `task_queue`
(django_q/cluster.py, `Sentinel.__init__`; read in django_q/worker.py by
`for task in iter(task_queue.get, "STOP")`). `Queue.get()` holds the queue's read lock (`_rlock`,
a semaphore shared by the processes) while it waits for the pipe (multiprocessing/queues.py:
`with self._rlock: res = self._recv_bytes()`), so at any moment one idle worker holds that lock and
the others wait for it. SIGKILL that worker (the OOM killer, a container runtime, `kill -9`) and
the lock is never released: every worker, and each one the sentinel starts in place of the dead
one, waits for it forever, and the pusher blocks once the queue is full. The processes live, the
sentinel keeps reporting, and no task is taken until the cluster is restarted (django-q2 issue
#23, Koed00/django-q #394). A kill can orphan other shared locks the same way (the result queue's
write lock, taken by every worker; a worker's timer lock, which the sentinel takes each cycle),
so the remedy here is a restart, which clears them all, rather than a different lock.

How it is noticed
-----------------
Under this supervisor (which sets QCLUSTER_WATCHDOG_DIR) each process of the cluster marks its
progress in a small file: a worker when it takes a task and when it is done with it, the monitor
when it has saved a result (django-q2's own signals: `pre_execute`, `post_execute_in_worker`,
`post_execute`). Every few seconds the supervisor reads them, the cluster's status that django-q2
saves every half second (`Stat`: the length of its own queue; its sentinel's heartbeat) and the
broker's queue. The cluster is stuck when, for Q_STUCK_SECONDS,

* tasks waited (in its own queue or in the broker) and none of its workers took one or was busy;
* or a worker finished a task and the monitor saved no result;
* or its sentinel stopped reporting.

A healthy cluster never looks like that: an idle worker takes a waiting task at once.

How it recovers
---------------
SIGINT to the cluster (graceful: running tasks finish), then, as soon as none of its workers is in
a task (and at least RESTART_GRACE seconds later) or after the stop timeout, SIGKILL to every
process left of it; then a fresh `qcluster`. The tasks the stuck cluster had taken are held until
Q_RETRY (database broker) or gone (Redis); the outbox sweeper re-sends their events and runs, and
the supervisor queues it right after the restart instead of waiting for its next slot. Every step
of a run is idempotent, so nothing is lost or done twice. A cluster that exits on its own is started again the same way (after a
pause that grows to a minute while it keeps failing).

Linux only (it reads /proc); elsewhere the supervisor runs `qcluster` without watching it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DIR_ENV = "QCLUSTER_WATCHDOG_DIR"
RESTART_GRACE = 10.0  # seconds after SIGINT before a cluster with no busy worker is killed
POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# --- In the cluster's processes: progress marks ------------------------------------------------
#
# One file per process, named by its pid, rewritten in place: "<role> <started> <finished>" in
# CLOCK_MONOTONIC seconds (one clock for every process of the host). A worker's role is `busy` or
# `idle`; the monitor's is `saved`, with the time of its last save as `finished`.

_MARK_SIZE = 64
_mark_fd: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own file
_times = {"started": 0.0, "finished": 0.0}


def _mark(role: str, *, started: bool = False, finished: bool = False) -> None:
    global _mark_fd
    directory = os.environ.get(DIR_ENV)
    if not directory:
        return
    try:
        pid = os.getpid()
        if _mark_fd is None or _mark_fd[0] != pid:
            _mark_fd = (pid, os.open(os.path.join(directory, str(pid)), os.O_WRONLY | os.O_CREAT, 0o600))
            _times.update(started=0.0, finished=0.0)
        now = time.monotonic()
        if started:
            _times["started"] = now
        if finished:
            _times["finished"] = now
        line = f"{role} {_times['started']:.3f} {_times['finished']:.3f}"
        os.pwrite(_mark_fd[1], line.ljust(_MARK_SIZE).encode(), 0)
    except OSError:
        pass  # a mark must never break a task


def _worker_ready(sender: object, **kwargs: object) -> None:
    _mark("idle")


def _task_taken(sender: object, **kwargs: object) -> None:
    _mark("busy", started=True)


def _task_done(sender: object, **kwargs: object) -> None:
    _mark("idle", finished=True)


def _result_saved(sender: object, **kwargs: object) -> None:
    _mark("saved", finished=True)


def connect_marks() -> None:
    """Connect the marks to django-q2's signals (AppConfig.ready); only under the supervisor."""
    if not os.environ.get(DIR_ENV):
        return
    from django_q.signals import post_execute, post_execute_in_worker, post_spawn, pre_execute

    post_spawn.connect(_worker_ready, dispatch_uid="watchdog.worker_ready")
    pre_execute.connect(_task_taken, dispatch_uid="watchdog.task_taken")
    post_execute_in_worker.connect(_task_done, dispatch_uid="watchdog.task_done")
    post_execute.connect(_result_saved, dispatch_uid="watchdog.result_saved")


# --- The supervisor's view --------------------------------------------------------------------


@dataclass
class Progress:
    """What the marks say, kept across looks (a dead process's marks still count)."""

    started: float = 0.0  # the last time a worker took a task
    finished: float = 0.0  # the last time a worker was done with one
    saved: float = 0.0  # the last time the monitor saved a result
    busy: bool = False  # a live worker is in a task now


def read_marks(directory: Path, alive: set[int], progress: Progress) -> Progress:
    """Fold the marks into `progress`; the files of processes no longer alive are removed."""
    progress.busy = False
    for path in directory.iterdir():
        if not path.name.isdigit():
            continue
        try:
            role, started, finished = path.read_text().split()
            started_at, finished_at = float(started), float(finished)
        except (OSError, ValueError):
            continue
        if role == "saved":
            progress.saved = max(progress.saved, finished_at)
        else:
            progress.started = max(progress.started, started_at)
            progress.finished = max(progress.finished, finished_at)
            progress.busy = progress.busy or (role == "busy" and int(path.name) in alive)
        if int(path.name) not in alive and not _alive(int(path.name)):  # (not a process born since `alive`)
            path.unlink(missing_ok=True)
    return progress


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2:].split()[0] != b"Z"


@dataclass
class Look:
    """One look at the cluster."""

    progress: Progress
    queued_here: int | None = None  # tasks in the cluster's own queue (its Stat); None: unknown
    queued: int | None = None  # tasks no cluster has taken, in the broker; None: unknown
    reporting: bool | None = None  # its sentinel's Stat was found; None: stats cannot be read


@dataclass
class Detector:
    """Decides from successive looks whether the cluster is stuck (see the module docstring)."""

    stuck_after: float
    started_at: float
    waiting_since: float | None = None
    unsaved_since: float | None = None
    unsaved_finished: float = 0.0
    saved: float = 0.0
    reported_at: float | None = None

    def check(self, look: Look, now: float) -> str | None:
        progress = look.progress
        after = self.stuck_after

        waiting = bool(look.queued_here) or bool(look.queued)
        if waiting and not progress.busy:
            self.waiting_since = self.waiting_since or now
        else:
            self.waiting_since = None
        if self.waiting_since is not None:
            quiet = now - max(self.waiting_since, progress.started, progress.finished, self.started_at)
            if quiet >= after:
                where = ", ".join(part for part in (
                    f"{look.queued_here} in its own queue" if look.queued_here else "",
                    f"{look.queued} in the broker" if look.queued else "") if part)
                return f"tasks waited {quiet:.0f} s ({where}) and none of its workers took one"

        # One result may be lost with the worker that had it: only results that keep finishing and
        # never get saved mean the monitor or the result queue is stuck.
        if progress.saved != self.saved:
            self.saved, self.unsaved_since = progress.saved, None
        if progress.finished > progress.saved:
            if self.unsaved_since is None:
                self.unsaved_since, self.unsaved_finished = now, progress.finished
            elif progress.finished > self.unsaved_finished and now - self.unsaved_since >= after:
                return f"its workers finished tasks and the monitor saved no result for {now - self.unsaved_since:.0f} s"
        else:
            self.unsaved_since = None

        if look.reporting:
            self.reported_at = now
        elif look.reporting is False and self.reported_at is not None and now - self.reported_at >= after:
            return f"its sentinel has not reported for {now - self.reported_at:.0f} s"
        return None


# --- Processes (Linux /proc) ------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2:].split()  # the name in parentheses may hold spaces
        table[int(entry.name)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(root: int, table: dict[int, tuple[int, str]] | None = None) -> set[int]:
    """The live (not zombie) processes below `root`."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {pid for pid in found if table[pid][1] != "Z"}


def _become_subreaper() -> bool:
    """Orphans of the cluster (a worker whose sentinel died) become our children, not init's, so
    they can still be found and killed."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


# --- The supervisor ---------------------------------------------------------------------------


class Supervisor:
    """Runs `command` (a qcluster), restarts it when it is stuck or exits, stops it on a signal."""

    def __init__(self, command: list[str], *, stuck_after: float, stop_timeout: float,
                 interval: float | None = None, restart_grace: float = RESTART_GRACE,
                 preexec_fn: Callable[[], None] | None = None, after_restart: Callable[[], None] | None = None,
                 say: Callable[[str], None] = log.warning) -> None:
        self.command = command
        self.after_restart = after_restart
        self.stuck_after = stuck_after
        self.stop_timeout = stop_timeout
        self.interval = interval or max(1.0, min(5.0, stuck_after / 10))
        self.restart_grace = restart_grace
        self.preexec_fn = preexec_fn
        self.say = say
        self.process: subprocess.Popen | None = None
        self.marks: Path | None = None
        self.progress = Progress()
        self.restarts = 0
        self._stop_signal: int | None = None
        self._force = False

    # Signals: the first asks for a graceful stop, a second one for killing at once.
    def _on_signal(self, signum: int, frame: object) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
        else:
            self._force = True

    def run(self) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        if not Path("/proc/self/stat").exists():
            self.say("qcluster_supervised: no /proc here, so the cluster runs unwatched.")
            return self._run_unwatched()
        _become_subreaper()
        self.marks = Path(tempfile.mkdtemp(prefix="qcluster-watchdog-"))
        backoff = 1.0
        try:
            while self._stop_signal is None:
                started = time.monotonic()
                self._start()
                if self.restarts and self.after_restart is not None:
                    self._call_after_restart()
                outcome = self._watch()
                if outcome == "stop":
                    break
                if outcome == "exited":
                    code = self.process.returncode if self.process else None
                    self._kill_leftovers()
                    backoff = 1.0 if time.monotonic() - started > 60 else min(60.0, backoff * 2)
                    self.say(f"qcluster_supervised: the cluster exited on its own (exit code {code}); "
                             f"starting it again in {backoff:.0f} s.")
                    self._sleep(backoff)
                    self.restarts += 1
                else:
                    self.say(f"qcluster_supervised: the cluster (pid {self.process.pid}) is stuck: {outcome}; "
                             "restarting it.")
                    self._stop_cluster(timeout=self.stop_timeout)
                    self.restarts += 1
            return 0 if self._stop_cluster(timeout=self.stop_timeout) else 1
        finally:
            self._kill_leftovers()
            shutil.rmtree(self.marks, ignore_errors=True)

    def _call_after_restart(self) -> None:
        try:
            self.after_restart()
        except Exception as exc:  # the database or Redis is down: the schedule will do it later
            log.warning("qcluster_supervised: after the restart: %s", exc)

    def _run_unwatched(self) -> int:
        self._start()
        while self._stop_signal is None and self.process.poll() is None:
            time.sleep(POLL_SECONDS)
        return 0 if self._stop_cluster(timeout=self.stop_timeout) else 1

    def _start(self) -> None:
        env = dict(os.environ)
        if self.marks is not None:
            for path in self.marks.iterdir():
                path.unlink(missing_ok=True)
            env[DIR_ENV] = str(self.marks)
        self.progress = Progress()
        self.process = subprocess.Popen(self.command, env=env, preexec_fn=self.preexec_fn)
        self.say(f"qcluster_supervised: cluster started (pid {self.process.pid}); "
                 f"it is restarted if it takes no waiting task for {self.stuck_after:g} s.")

    def _watch(self) -> str:
        """Until a stop signal ("stop"), the cluster's exit ("exited") or it is stuck (why)."""
        detector = Detector(stuck_after=self.stuck_after, started_at=time.monotonic())
        next_look = time.monotonic() + self.interval
        while True:
            if self._stop_signal is not None:
                return "stop"
            if self.process.poll() is not None:
                return "exited"
            if time.monotonic() >= next_look:
                reason = detector.check(self.look(), time.monotonic())
                if reason:
                    return reason
                next_look = time.monotonic() + self.interval
            self._reap_orphans()
            time.sleep(POLL_SECONDS)

    def look(self) -> Look:
        alive = descendants(os.getpid())
        look = Look(progress=read_marks(self.marks, alive, self.progress))
        try:
            from django import db
            from django_q.brokers import get_broker
            from django_q.status import Stat

            db.close_old_connections()
            broker = get_broker()
            look.queued = broker.queue_size()
            mine = [stat for stat in Stat.get_all(broker=broker)
                    if stat.pid == self.process.pid and stat.host == socket.gethostname()]
            look.reporting = bool(mine)
            if mine:
                look.queued_here = mine[0].task_q_size
        except Exception as exc:  # the database or Redis is down: that is not a stuck cluster
            log.info("qcluster_supervised: cannot look at the queue: %s", exc)
            try:
                from django import db

                db.connections.close_all()
            except Exception:  # noqa: BLE001
                pass
        return look

    def _stop_cluster(self, *, timeout: float) -> bool:
        """SIGINT, then SIGKILL to whatever is left once no worker is busy (after the grace) or
        after `timeout`. True if the cluster stopped by itself."""
        process = self.process
        if process is None:
            return True
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
        sent = time.monotonic()
        idle_since: float | None = None
        while process.poll() is None and not self._force:
            now = time.monotonic()
            if now - sent >= timeout:
                break
            if self.marks is not None:
                busy = read_marks(self.marks, descendants(os.getpid()), self.progress).busy
                idle_since = None if busy else (idle_since or now)
                if idle_since is not None and now - idle_since >= self.restart_grace and now - sent >= self.restart_grace:
                    break
            time.sleep(POLL_SECONDS)
        graceful = process.poll() is not None
        if not graceful:
            self.say(f"qcluster_supervised: the cluster did not stop in {time.monotonic() - sent:.0f} s; killing it.")
        self._kill_leftovers()
        return graceful

    def _kill_leftovers(self) -> None:
        """SIGKILL every process below this one (the cluster and anything it left), then reap."""
        if self.marks is not None:
            for _ in range(10):
                pids = descendants(os.getpid())
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
        elif self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._reap_orphans()

    def _reap_orphans(self) -> None:
        if self.marks is None:
            return
        me = os.getpid()
        main = self.process.pid if self.process else None
        for pid, (ppid, state) in process_table().items():
            if ppid == me and state == "Z" and pid != main:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._stop_signal is None and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)


def sweep_now() -> None:
    """After a restart: the tasks the old cluster had taken are gone (Redis) or held until Q_RETRY
    (database broker). The outbox sweeper finds their events and runs, so it runs now rather than
    at its next slot (it is safe to run twice at once)."""
    from django_q.tasks import async_task

    async_task("automations.jobs.sweep", group="automations")


def qcluster_command() -> list[str]:
    from django.conf import settings

    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "qcluster"]
