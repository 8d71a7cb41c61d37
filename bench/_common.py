"""What the benchmarks share: databases, child environments, a real qcluster, tables, results.

Nothing here imports Django at module level: the orchestrating process of each benchmark stays
free of settings, and every measurement runs in a child process with its own environment
(DATABASE_URL, Q_CLUSTER_NAME, REDIS_URL, …), because django-q2 reads Q_CLUSTER once at import.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Signs the queued tasks of the benchmark clusters; never a real key.
SECRET_KEY = "bench-" + "not-secret-only-for-benchmarks-" + "x" * 20

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- PostgreSQL -------------------------------------------------------------------------------


def db_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def pg(dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=True)


def db_exists(name: str) -> bool:
    with pg() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def recreate_db(name: str) -> None:
    """Drop (closing its connections) and create an empty database."""
    with pg() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def child_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a manage.py / measurement child: settings only from variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "Q_", "EMAIL_"))}
    env.update(
        DATABASE_URL=db_url(database), SECRET_KEY=SECRET_KEY, DEBUG="false", LOG_LEVEL="WARNING",
        REDIS_URL="", Q_WORKERS="2", Q_CLUSTER_NAME=f"bench-{os.getpid()}", PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(extra)
    return env


def run_script(env: dict[str, str], script: str, *args: str) -> str:
    """Run one of this folder's scripts (e.g. load_bulk.py) in a child; its output, or an error."""
    proc = subprocess.run(
        [PYTHON, str(BENCH_DIR / script), *args], cwd=ROOT, env=env, text=True, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def manage(env: dict[str, str], *args: str, quiet: bool = True) -> str:
    proc = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, text=True, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if not quiet:
        print(proc.stdout.strip())
    return proc.stdout


def migrate(database: str) -> None:
    manage(child_env(database), "migrate", "--no-input")


def run_child(script: Path, args: Sequence[str], env: dict[str, str], *, timeout: float | None = None) -> dict[str, Any]:
    """Run `script --child …` and return the JSON object it prints on its last stdout line."""
    proc = subprocess.run(
        [PYTHON, str(script), *args], cwd=ROOT, env=env, text=True, capture_output=True, timeout=timeout,
        check=False,
    )
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{script.name} {' '.join(args)} printed no result:\n{proc.stdout[-4000:]}")
    return json.loads(lines[-1])


def django_setup() -> None:
    """In a child: settings come from the environment the parent gave it."""
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


# The seller of the benchmark invoices: a business profile complete enough to send them.
BENCH_PROFILE = {
    "legal_name": "Bench Consulting GmbH", "street": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin",
    "country": "DE", "email": "billing@bench.example", "vat_id": "DE136695976", "tax_number": "181/815/08155",
    "iban": "DE89370400440532013000", "bic": "COBADEFFXXX",
}


def complete_business_profile() -> None:
    """In a child with Django set up: invoices can be sent only with a complete profile."""
    from business.services import update_profile

    update_profile(**BENCH_PROFILE)


def unique_cluster_name(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"


# --- A real qcluster --------------------------------------------------------------------------


def _die_with_parent() -> Any:
    """preexec_fn: the kernel sends SIGINT to the cluster if the benchmark process dies outright."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, int(signal.SIGINT), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class Cluster:
    """`manage.py qcluster` in its own process group; stopped with SIGINT (graceful), then killed.

    Use as a context manager so it is stopped on every error path.
    """

    def __init__(self, env: dict[str, str], *, log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Cluster:  # noqa: PYI034
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115  closed in stop()
        self.process = subprocess.Popen(
            [PYTHON, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT, env=self.env, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent(),  # noqa: PLW1509  no threads here
        )

    def _alive(self) -> bool:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        pgid = self.process.pid
        try:
            os.killpg(pgid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.process.poll()
            if not self._alive():
                break
            time.sleep(0.2)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        self.process = None


def delete_redis_keys(cluster_name: str) -> int:
    """Remove the keys of one benchmark cluster (and only those) from the shared Redis server."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"django_q:{cluster_name}:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


# --- Numbers and output -----------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n × p / 100)
    return ordered[int(rank) - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w) for c, w in zip(row, widths)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+.") and not text.startswith("--")


def machine() -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True,
                            check=False).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, text=True,
                                capture_output=True, check=False).stdout.strip())
    return {
        "cpus": os.cpu_count(), "loadavg": os.getloadavg(), "python": platform.python_version(),
        "commit": commit + ("+dirty" if dirty else ""), "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (RESULTS_DIR / f"{name}-latest.json").write_text(path.read_text())
    return path


def emit(result: dict[str, Any]) -> None:
    """A child's answer to its parent: one JSON line on stdout."""
    print(json.dumps(result, default=str), flush=True)


# --- In a child with Django set up and a cluster running --------------------------------------


def wait_until(predicate, *, timeout: float, poll: float = 0.2, stall: float | None = None, progress=None) -> bool:
    """Poll `predicate()` until true. Gives up after `timeout` seconds, or after `stall` seconds
    in which `progress()` did not change. Returns whether the predicate became true."""
    deadline = time.monotonic() + timeout
    last_value, last_change = None, time.monotonic()
    while time.monotonic() < deadline:
        if predicate():
            return True
        if progress is not None and stall is not None:
            value = progress()
            if value != last_value:
                last_value, last_change = value, time.monotonic()
            elif time.monotonic() - last_change > stall:
                return False
        time.sleep(poll)
    return False


def warm_up_cluster(timeout: float = 90.0) -> float:
    """Enqueue one task and wait for its result: the cluster's workers are up and polling.
    Returns the seconds it took."""
    from django_q.models import Task as QueueTask
    from django_q.tasks import async_task

    started = time.monotonic()
    task_id = async_task("bench.noop.warmup")
    if not wait_until(lambda: QueueTask.objects.filter(id=task_id, success=True).exists(), timeout=timeout):
        raise RuntimeError(f"the cluster did not run a task within {timeout:.0f} s (see its log)")
    return time.monotonic() - started


def create_drafts(people: Sequence[Any], count: int, *, quantity: str = "1") -> list[Any]:
    """`count` draft invoices over `people` (round robin), made with the service 500 to a
    transaction: one line of `quantity` × 95.00 + 19 %, due in 14 days."""
    from django.db import transaction

    from core.dates import business_today
    from invoices import services

    today = business_today()
    drafts = []
    for start in range(0, count, 500):
        with transaction.atomic():
            for i in range(start, min(count, start + 500)):
                drafts.append(services.create_invoice(
                    contact=people[i % len(people)], issue_date=today, due_date=today + dt.timedelta(days=14),
                    items=[{"description": "Consulting", "quantity": quantity, "unit_price": "95.00", "tax_rate": "19"}],
                ))
    return drafts
