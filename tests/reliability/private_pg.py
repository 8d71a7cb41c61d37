"""A private, throw-away PostgreSQL server for the scenario that restarts the database.

The machine's shared server (127.0.0.1:5432) is never stopped or restarted: this one lives in a
temporary directory on a free port, runs as the `postgres` OS user (initdb and pg_ctl refuse
root), holds a copy of the test database (pg_dump | psql), and is stopped and deleted afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, connections

from tests.automations.test_smtp import free_port


def postgres_bin_or_skip() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.skip("needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) for a private server")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("needs the `postgres` OS user to run a private PostgreSQL server")
    return Path(found[-1]).parent


class PrivatePostgres:
    alias = "private_pg"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 directories.
        self.directory = Path(tempfile.mkdtemp(prefix="fault-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.dbname = "faults"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def _as_postgres(self, *args: str, timeout: float = 120) -> str:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd="/")
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def __enter__(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._as_postgres("pg_ctl", action, "-D", str(self.data), "-w", "-t", "60", "-o", options,
                          "-l", str(self.directory / "server.log"), *extra)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server comes back."""
        self._pg_ctl("restart", "-m", "fast")

    def copy_test_database(self) -> None:
        """This test's database (schema and rows) into the private server, and an alias for it."""
        source = connections["default"].settings_dict
        self._as_postgres("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.dbname)
        dump = subprocess.run(
            [str(self.bindir / "pg_dump"), "-h", source.get("HOST") or "127.0.0.1", "-p", str(source.get("PORT") or 5432),
             "-U", source.get("USER") or "postgres", "--no-owner", source["NAME"]],
            capture_output=True, timeout=120, check=True)
        restore = subprocess.run(
            [str(self.bindir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", "-d", self.dbname], input=dump.stdout, capture_output=True, timeout=120)
        assert restore.returncode == 0, restore.stderr.decode()
        # An alias for the ORM (`using=`): created through the handler, then taken out of its
        # settings again, so Django's test case treats it as a dynamically created connection
        # (allowed) rather than a configured database the test did not declare (refused).
        connections.settings[self.alias] = {**connections.settings["default"], "NAME": self.dbname,
                                            "HOST": "127.0.0.1", "PORT": str(self.port), "CONN_MAX_AGE": 0}
        connections[self.alias]  # noqa: B018 - kept by the handler for this thread
        del connections.settings[self.alias]

    def runs_final_count(self) -> int:
        from automations.models import Run

        try:
            return Run.objects.using(self.alias).exclude(status="pending").count()
        except (OperationalError, InterfaceError):  # the server is restarting
            connections[self.alias].close()
            return 0

    def all_runs_final(self) -> bool:
        from tests.reliability.harness import all_runs_final

        try:
            return all_runs_final(using=self.alias)()
        except (OperationalError, InterfaceError):  # the server is restarting
            connections[self.alias].close()
            return False

    def close(self) -> None:
        connection = getattr(connections._connections, self.alias, None)
        if connection is not None:
            connection.close()

    def __exit__(self, *exc) -> None:
        self.close()
        try:
            self._as_postgres("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
