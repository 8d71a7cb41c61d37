"""`manage.py runall` as a user runs it: a real process tree on a free port, stopped by a signal.

Every wait is bounded, and whatever a test started is killed in `finally`, so a broken runall fails
the test instead of hanging CI or leaving servers behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"
START_TIMEOUT = 60
STOP_TIMEOUT = 20  # runall's --stop-timeout; the test allows a margin on top


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def site_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a production-like site in a temp folder: its own SQLite file, migrated and
    with collected static files, DEBUG off, the ORM broker."""
    var_dir = tmp_path_factory.mktemp("runall")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "ANYMAIL_", "Q_")) and key not in ("SITE_URL", "HOST", "PORT")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        VAR_DIR=str(var_dir),
        SECRET_KEY="runall-test-secret-key-" + "x" * 40,
        DEBUG="false",
        REDIS_URL="",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        Q_WORKERS="1",
        PYTHONUNBUFFERED="1",
    )
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(
            [sys.executable, str(MANAGE), *command], env=env, cwd=MANAGE.parent, check=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Runall:
    process: subprocess.Popen
    log: Path
    port: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child_pid(self, label: str) -> int | None:
        match = re.search(rf"^{re.escape(label)}: pid (\d+)$", self.output(), re.MULTILINE)
        return int(match.group(1)) if match else None

    def wait_for_children(self) -> tuple[int, int]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            web, worker = self.child_pid("Web server (gunicorn)"), self.child_pid("Task worker (qcluster)")
            if web and worker:
                return web, worker
            assert self.process.poll() is None, f"runall exited early:\n{self.output()}"
            time.sleep(0.1)
        pytest.fail(f"runall printed no child pids in {START_TIMEOUT} s:\n{self.output()}")

    def wait_until_serving(self) -> None:
        url = f"http://127.0.0.1:{self.port}/admin/login/"
        deadline = time.monotonic() + START_TIMEOUT
        last_error: object = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"runall exited early:\n{self.output()}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
                    last_error = response.status
            except (urllib.error.URLError, OSError) as error:
                last_error = error
            time.sleep(0.2)
        pytest.fail(f"{url} did not answer 200 in {START_TIMEOUT} s ({last_error}):\n{self.output()}")

    def wait_until_worker_runs(self) -> None:
        """The cluster logs "Q Cluster … running." once its workers are up; a signal before that
        lands in the middle of its imports (a cold start on a fresh machine can take seconds)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"runall exited early:\n{self.output()}"
            if re.search(r"Q Cluster .+ running\.", self.output()):
                return
            time.sleep(0.2)
        pytest.fail(f"the task worker did not report running in {START_TIMEOUT} s:\n{self.output()}")

    def wait_for_exit(self) -> int:
        try:
            return self.process.wait(timeout=STOP_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"runall did not exit in {STOP_TIMEOUT + 15} s:\n{self.output()}")


@pytest.fixture
def runall(site_env: dict[str, str], tmp_path: Path) -> Iterator[Runall]:
    port = free_port()
    log = tmp_path / "runall.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(MANAGE), "runall", "--bind", f"127.0.0.1:{port}",
             "--stop-timeout", str(STOP_TIMEOUT)],
            env=site_env, cwd=MANAGE.parent, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Runall(process, log, port)
    try:
        yield started
    finally:
        # Whatever happened, leave nothing running.
        children = [pid for pid in (started.child_pid("Web server (gunicorn)"),
                                    started.child_pid("Task worker (qcluster)")) if pid]
        for pgid in [process.pid, *children]:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_runall_serves_and_stops_both_children_on_a_signal(runall: Runall, stop_signal: int) -> None:
    web, worker = runall.wait_for_children()
    runall.wait_until_serving()
    runall.wait_until_worker_runs()
    assert pid_alive(web) and pid_alive(worker)
    # No SITE_URL: the links in emails follow the address it serves at, it says so, and both children
    # have it (the email is rendered in the worker).
    site_url = f"http://127.0.0.1:{runall.port}"
    assert f"Links in emails point at {site_url} (from the address it is served at;" in runall.output()
    for pid in (web, worker):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"SITE_URL={site_url}".encode() in environ

    started = time.monotonic()
    runall.process.send_signal(stop_signal)
    code = runall.wait_for_exit()
    output = runall.output()

    assert code == 0, output
    assert time.monotonic() - started < STOP_TIMEOUT, output
    # The children, and their own workers (each child leads its process group), are all gone.
    for pid in (web, worker):
        assert not pid_alive(pid), output
        assert not group_alive(pid), output
    # The worker was stopped gracefully (SIGINT), not killed: django-q2 says so when it is done.
    assert "has stopped." in output, output
    assert "Stopped." in output, output


def test_runall_stops_the_worker_and_fails_when_the_web_server_dies(runall: Runall) -> None:
    web, worker = runall.wait_for_children()
    runall.wait_until_serving()
    runall.wait_until_worker_runs()

    os.kill(web, signal.SIGKILL)
    code = runall.wait_for_exit()
    output = runall.output()

    assert code != 0, output
    assert "Web server (gunicorn) exited on its own" in output, output
    for pid in (web, worker):
        assert not group_alive(pid), output
    assert "has stopped." in output, output  # the worker still got its graceful stop
