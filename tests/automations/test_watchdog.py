"""The supervisor of the task worker (automations/watchdog.py): how it decides a cluster is stuck, the
marks the cluster's processes leave, and `manage.py qcluster_supervised` restarting a real cluster
that a kill from outside has wedged (on SQLite here; the fault suite does it on PostgreSQL and
Redis, with many kills)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from automations import watchdog
from automations.watchdog import Detector, Look, Progress, descendants, read_marks

MANAGE = Path(settings.BASE_DIR) / "manage.py"
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the supervisor reads /proc (Linux)")


def look(*, busy: bool = False, started: float = 0.0, finished: float = 0.0, saved: float = 0.0,
         here: int | None = 0, queued: int | None = 0, reporting: bool | None = True) -> Look:
    return Look(Progress(started=started, finished=finished, saved=saved, busy=busy), queued_here=here,
                queued=queued, reporting=reporting)


# --- The decision -----------------------------------------------------------------------------


def test_tasks_waiting_with_no_worker_taking_one_is_stuck_after_the_limit():
    detector = Detector(stuck_after=30, started_at=0)
    assert detector.check(look(here=3), 10) is None
    assert detector.check(look(here=3), 25) is None
    assert detector.check(look(here=3), 39) is None  # waiting since 10 s: 29 s
    reason = detector.check(look(here=3, queued=5), 40)
    assert reason == "tasks waited 30 s (3 in its own queue, 5 in the broker) and none of its workers took one"


def test_a_task_taken_or_a_busy_worker_is_progress():
    detector = Detector(stuck_after=30, started_at=0)
    detector.check(look(queued=2), 10)
    assert detector.check(look(queued=2, started=35), 41) is None  # a worker took one at 35 s
    assert detector.check(look(queued=2, started=35), 64) is None
    assert detector.check(look(queued=2, started=35), 65) is not None
    # A long task keeps its worker busy: not stuck, however long tasks wait.
    busy = Detector(stuck_after=30, started_at=0)
    for now in range(0, 600, 5):
        assert busy.check(look(queued=4, here=4, busy=True, started=1), now) is None


def test_waiting_must_last_without_a_break():
    detector = Detector(stuck_after=30, started_at=0)
    detector.check(look(queued=1), 40)
    assert detector.check(look(queued=0, here=0), 50) is None  # taken: the waiting starts again
    assert detector.check(look(queued=1), 60) is None
    assert detector.check(look(queued=1), 89) is None
    assert detector.check(look(queued=1), 90) is not None


def test_nothing_waiting_is_never_stuck_and_unknown_counts_as_nothing():
    detector = Detector(stuck_after=30, started_at=0)
    for now in range(0, 600, 5):
        assert detector.check(look(here=None, queued=None, reporting=None), now) is None


def test_results_that_never_reach_the_monitor_are_stuck():
    detector = Detector(stuck_after=30, started_at=0)
    assert detector.check(look(finished=10, saved=9), 11) is None
    assert detector.check(look(finished=20, saved=9), 30) is None
    assert detector.check(look(finished=40, saved=9), 41) == (
        "its workers finished tasks and the monitor saved no result for 30 s")
    # One result lost with the worker that had it (killed after its task) is not a stuck monitor.
    one_lost = Detector(stuck_after=30, started_at=0)
    assert all(one_lost.check(look(finished=10, saved=9), now) is None for now in range(11, 300, 5))
    # A monitor that keeps saving, however far behind, is not stuck.
    saving = Detector(stuck_after=30, started_at=0)
    for now in range(0, 300, 5):
        assert saving.check(look(finished=now, saved=now - 20), now) is None


def test_a_sentinel_that_stops_reporting_is_stuck_but_only_once_it_was_seen():
    detector = Detector(stuck_after=30, started_at=0)
    assert detector.check(look(reporting=False), 5) is None  # the status is not visible yet
    assert detector.check(look(reporting=True), 10) is None
    assert detector.check(look(reporting=False), 39) is None
    assert detector.check(look(reporting=False), 40) == "its sentinel has not reported for 30 s"
    unseen = Detector(stuck_after=30, started_at=0)
    assert all(unseen.check(look(reporting=False), now) is None for now in range(0, 300, 5))


# --- The marks --------------------------------------------------------------------------------


def test_marks_record_what_each_process_did(tmp_path, monkeypatch):
    monkeypatch.setenv(watchdog.DIR_ENV, str(tmp_path))
    monkeypatch.setattr(watchdog, "_mark_fd", None)
    before = time.monotonic()
    watchdog._worker_ready(None)
    (tmp_path / "999999999").write_text("busy 1.0 0.0".ljust(64))  # a worker that died in a task
    progress = read_marks(tmp_path, {os.getpid()}, Progress())
    assert not progress.busy, "a dead worker is not busy"
    assert progress.started == 1.0, "but the time it took its task counts"
    assert not (tmp_path / "999999999").exists(), "the marks of dead processes are removed"
    watchdog._task_taken(None)
    progress = read_marks(tmp_path, {os.getpid()}, progress)
    assert progress.busy and progress.started >= round(before, 3) - 0.001  # marks keep milliseconds
    watchdog._task_done(None)
    progress = read_marks(tmp_path, {os.getpid()}, progress)
    assert not progress.busy and progress.finished >= progress.started
    assert progress.saved == 0
    # A dead worker's times still count once its file is gone.
    assert read_marks(tmp_path, set(), progress).started == progress.started
    os.close(watchdog._mark_fd[1])


def test_no_marks_without_the_supervisor(tmp_path, monkeypatch):
    monkeypatch.delenv(watchdog.DIR_ENV, raising=False)
    monkeypatch.setattr(watchdog, "_mark_fd", None)
    watchdog._task_taken(None)
    assert watchdog._mark_fd is None


@linux_only
def test_descendants_finds_grandchildren_and_not_zombies():
    child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while len(descendants(child.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        grandchildren = descendants(child.pid)
        assert len(grandchildren) == 1
        assert child.pid in descendants(os.getpid())
        assert grandchildren <= descendants(os.getpid())
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.kill()
        child.wait()
    assert child.pid not in descendants(os.getpid())


# --- A real cluster, wedged by kills from outside ----------------------------------------------


@pytest.fixture(scope="module")
def site_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A production-like site on its own SQLite file with the database broker."""
    var_dir = tmp_path_factory.mktemp("supervised")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ANYMAIL_", "Q_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        VAR_DIR=str(var_dir), SECRET_KEY="supervised-test-secret-key-" + "x" * 40, DEBUG="false", REDIS_URL="",
        Q_WORKERS="2", Q_STUCK_SECONDS="10", Q_CLUSTER_NAME="supervised", PYTHONUNBUFFERED="1",
        Q_TIMEOUT="10", Q_RETRY="20",  # the tasks the stuck cluster had taken come back after 20 s
    )
    subprocess.run([sys.executable, str(MANAGE), "migrate", "--noinput", "-v0"], env=env, cwd=MANAGE.parent,
                   check=True, timeout=120, stdin=subprocess.DEVNULL)
    return env


@pytest.fixture
def supervised(site_env, tmp_path) -> Iterator[tuple[subprocess.Popen, Path]]:
    log = tmp_path / "supervised.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(MANAGE), "qcluster_supervised", "--restart-grace", "2", "--stop-timeout", "20"],
            env=site_env, cwd=MANAGE.parent, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)


def wait_for_log(log: Path, pattern: str, *, timeout: float, count: int = 1) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = re.findall(pattern, log.read_text(errors="replace"))
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{pattern!r} not in the log after {timeout:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)


def enqueue(site_env: dict[str, str], count: int) -> None:
    subprocess.run(
        [sys.executable, str(MANAGE), "shell", "-c",
         f"from django_q.tasks import async_task\nfor i in range({count}): async_task('math.floor', i + 0.5)"],
        env=site_env, cwd=MANAGE.parent, check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True)


@linux_only
def test_a_cluster_wedged_by_a_kill_from_outside_is_restarted_and_takes_its_tasks(site_env, supervised):
    """Both idle workers SIGKILLed at once: whichever was waiting in `get()` held the queue's read
    lock, so the replacements wait for it forever. The supervisor must notice the waiting tasks
    and restart the cluster; every task then runs: those still in the broker at once, the ones the
    stuck cluster's pusher had taken after Q_RETRY."""
    process, log = supervised
    wait_for_log(log, r"Q Cluster .+ running\.", timeout=60)
    workers = [int(pid) for pid in wait_for_log(log, r"ready for work at (\d+)", timeout=10, count=2)]
    time.sleep(1)  # both idle, one of them in get() holding the lock
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    wait_for_log(log, r"reincarnated worker", timeout=10, count=2)
    enqueue(site_env, 8)  # more than its queue holds (workers² = 4): some stay in the broker
    time.sleep(3)
    assert "processing" not in log.read_text(), "the kill did not wedge the cluster: nothing was tested"

    wait_for_log(log, r"is stuck: tasks waited \d+ s \(.*in its own queue.*\) and none of its workers took one",
                 timeout=60)
    wait_for_log(log, r"Processed 'math.floor'", timeout=90, count=8)

    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0, log.read_text()[-3000:]
    assert "has stopped." in log.read_text()
    assert not descendants(process.pid)


@linux_only
def test_a_cluster_that_exits_is_started_again_and_a_signal_stops_everything(site_env, supervised):
    process, log = supervised
    wait_for_log(log, r"Q Cluster .+ running\.", timeout=60)
    cluster = int(wait_for_log(log, r"cluster started \(pid (\d+)\)", timeout=10)[0])
    os.kill(cluster, signal.SIGKILL)  # the main process, as the OOM killer would
    wait_for_log(log, r"exited on its own \(exit code -9\)", timeout=20)
    wait_for_log(log, r"Q Cluster .+ running\.", timeout=60, count=2)
    # The first cluster's sentinel and workers, orphaned by the kill, were killed too.
    assert len(descendants(process.pid)) <= 1 + 1 + 2 + 2  # qcluster, sentinel, monitor, pusher, workers
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group
    assert process.wait(30) == 0, log.read_text()[-3000:]
    assert "has stopped." in log.read_text()
