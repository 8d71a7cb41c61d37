"""`manage.py runall`: the web server (gunicorn) and the task worker (django-q2's qcluster) together.

The one-machine way to run the product; `./run` ends in it. Each child gets its own session, so a
Ctrl-C in the terminal reaches only this process, which then stops each child the way it stops
gracefully:

- qcluster (run by `manage.py qcluster_supervised`, which restarts it if it gets stuck) gets SIGINT:
  it takes no new tasks and lets the running ones finish. SIGTERM would kill its worker processes,
  and the tasks they are running, at once.
- gunicorn gets SIGTERM: it finishes the requests in flight.

Whatever is still alive after --stop-timeout seconds is killed together with every process of its
group (gunicorn's and qcluster's own workers), so nothing is left behind; on Linux the children
also die with runall if it is killed outright. If either child exits on its own, the other is
stopped the same way and runall exits non-zero, so a supervisor sees the failure.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.site import site_url_from_bind

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.2


def default_bind() -> str:
    """HOST and PORT from the environment (the run script's variables), else 127.0.0.1:8000."""
    host = os.environ.get("HOST", "").strip() or "127.0.0.1"
    port = os.environ.get("PORT", "").strip() or "8000"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"{host}:{port}"


def parse_bind(bind: str) -> tuple[str, int] | None:
    """(host to connect to, port) for a HOST:PORT bind; None for a unix socket."""
    if bind.startswith("unix:"):
        return None
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--bind (or HOST/PORT) must look like 127.0.0.1:8000, not {bind!r}.")
    host = host.strip("[]")
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, int(port)


def url_for(address: tuple[str, int]) -> str:
    host, port = address
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _die_with_parent(death_signal: int) -> Callable[[], None] | None:
    """A preexec_fn that has the kernel send `death_signal` to the child when runall dies (Linux).

    Only for the case where runall itself is killed outright (SIGKILL, OOM): then nobody is left to
    stop the children, and the web server would hold the port forever.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:  # runall died between fork and prctl
            os._exit(1)

    return preexec


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


@dataclass
class Child:
    label: str
    process: subprocess.Popen
    stop_signal: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def leftovers(self) -> bool:
        """Is any process of this child's group alive (the child itself, or its own workers)?"""
        self.process.poll()  # reap it first: a zombie leader still counts as a group member
        return _group_alive(self.pid)


class Command(BaseCommand):
    help = (
        "Runs the web server (gunicorn) and the task worker (django-q2 qcluster) together; "
        "Ctrl-C stops both gracefully."
    )
    requires_migrations_checks = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            default=default_bind(),
            help="Address of the web server, HOST:PORT (default: $HOST:$PORT, else 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="Number of gunicorn worker processes (default: 2)."
        )
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=30.0,
            help="Seconds to wait for both to stop gracefully before killing them (default: 30).",
        )

    def handle(self, *args: Any, bind: str, workers: int, stop_timeout: float, **options: Any) -> None:
        address = parse_bind(bind)
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        self._stop_signal: int | None = None
        self._force = False
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

        base_dir = Path(settings.BASE_DIR)
        wsgi_module, _, wsgi_name = settings.WSGI_APPLICATION.rpartition(".")
        web_command = [
            sys.executable, "-m", "gunicorn", f"{wsgi_module}:{wsgi_name}",
            "--bind", bind,
            "--workers", str(workers),
            "--access-logfile", "-",
            # gunicorn 27's control socket is one path per user: a second instance would take it over.
            "--no-control-socket",
            # gunicorn must be done before we give up on it.
            "--graceful-timeout", str(max(1, int(stop_timeout) - 5)),
        ]
        # qcluster under its supervisor, which restarts it when it is stuck (automations/watchdog.py);
        # it must be done before we give up on it, like gunicorn.
        worker_command = [
            sys.executable, str(base_dir / "manage.py"), "qcluster_supervised",
            "--stop-timeout", str(max(1, int(stop_timeout) - 5)),
        ]

        child_env = os.environ.copy()
        if not settings.SITE_URL_IS_SET and address is not None:
            # The links in emails follow the address the site is served at (--bind may differ from
            # HOST and PORT); the children read it from their environment.
            bind_host, _, bind_port = bind.rpartition(":")
            child_env["SITE_URL"] = site_url_from_bind(bind_host, bind_port, settings.ALLOWED_HOSTS)
        site_url = child_env.get("SITE_URL", settings.SITE_URL).rstrip("/")
        if settings.SITE_URL_IS_SET:
            self._say(f"Links in emails point at {site_url} (SITE_URL).")
        else:
            self._say(f"Links in emails point at {site_url} (from the address it is served at; set SITE_URL to "
                      "the address your customers reach the site at, e.g. https://invoices.example.com).")

        children: list[Child] = []
        failure: str | None = None
        try:
            for label, command, stop_signal in (
                ("Web server (gunicorn)", web_command, signal.SIGTERM),
                ("Task worker (qcluster)", worker_command, signal.SIGINT),
            ):
                if self._stop_signal is not None:
                    break
                process = subprocess.Popen(
                    command, cwd=base_dir, env=child_env, start_new_session=True,
                    preexec_fn=_die_with_parent(stop_signal),
                )
                children.append(Child(label, process, stop_signal))
                self._say(f"{label}: pid {process.pid}")
            failure = self._supervise(children, address)
        finally:
            killed = self._stop(children, stop_timeout)
        if failure:
            raise CommandError(failure, returncode=1)
        if killed:
            why = "on a second stop signal" if self._force else f"after {stop_timeout:g} s"
            raise CommandError(f"Killed {' and '.join(killed)} {why}.", returncode=1)
        self._say("Stopped.")

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
        else:
            self._force = True

    def _say(self, message: str) -> None:
        # A closed terminal or pipe must not keep runall from stopping its children.
        try:
            self.stdout.write(message)
            self.stdout.flush()
        except OSError:
            pass

    def _supervise(self, children: list[Child], address: tuple[str, int] | None) -> str | None:
        """Wait for a stop signal (returns None) or for a child to exit on its own (returns why)."""
        ready = address is None
        while self._stop_signal is None:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    others = [other.label for other in children if other is not child]
                    return (
                        f"{child.label} exited on its own (exit code {code}); "
                        f"stopping {' and '.join(others) or 'nothing else'}."
                    )
            if not ready and address is not None and _accepts(address):
                ready = True
                self._say(f"Ready: {url_for(address)}  (Ctrl-C stops the web server and the task worker)")
            time.sleep(POLL_SECONDS)
        return None

    def _stop(self, children: list[Child], timeout: float) -> list[str]:
        """Stop every child gracefully, then kill what is left; returns the labels it had to kill."""
        if not children:
            return []
        stopping = []
        for child in children:
            if child.running():
                self._send(child, child.stop_signal)
                stopping.append(f"{child.label} gets {signal.Signals(child.stop_signal).name}")
            elif child.leftovers():
                # Its leader died first: nobody is left to stop its workers gracefully.
                _signal_group(child.pid, signal.SIGTERM)
                stopping.append(f"what is left of the {child.label} gets SIGTERM")
        if stopping:
            self._say(
                f"Stopping: {', '.join(stopping)}; running requests and tasks finish (up to {timeout:g} s). "
                "Ctrl-C again kills them at once."
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._force:
            if not any(child.leftovers() for child in children):
                return []
            time.sleep(POLL_SECONDS)
        killed = [child.label for child in children if child.leftovers()]
        for child in children:
            _signal_group(child.pid, signal.SIGKILL)
        for child in children:
            try:
                child.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return killed

    def _send(self, child: Child, sig: int) -> None:
        try:
            child.process.send_signal(sig)
        except ProcessLookupError:
            pass


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=POLL_SECONDS):
            return True
    except OSError:
        return False
