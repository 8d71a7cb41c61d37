"""`manage.py health`, the waiting-events selector and the dashboard's warning to owners.

The real clusters (a stuck one restarted by its supervisor, workers killed from outside) are in
tests/reliability (scenario 9, test_outside_kills.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Success
from django_q.signing import SignedPackage
from django_q.status import Stat, Status

from automations.health import waiting_events
from automations.models import Event
from tests.base import make_invoice, make_owner, make_team_member

pytestmark = pytest.mark.django_db

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def event(*, minutes_ago: float, dispatched: bool = False) -> Event:
    invoice = make_invoice()
    now = timezone.now()
    return Event.objects.create(kind="invoice_sent", invoice=invoice, contact=invoice.contact,
                                occurred_at=now - dt.timedelta(minutes=minutes_ago),
                                dispatched_at=now if dispatched else None)


def task_result(*, seconds_ago: float) -> None:
    stopped = timezone.now() - dt.timedelta(seconds=seconds_ago)
    Success.objects.create(id=uuid.uuid4().hex, name="sweep", func="automations.jobs.sweep", args=(), kwargs={},
                           started=stopped, stopped=stopped, success=True, cluster=Conf.CLUSTER_NAME)


@pytest.fixture
def heartbeat():
    """A qcluster of this queue on this host reporting, as its sentinel does every half second."""
    status = Status(pid=os.getpid(), cluster_id=uuid.uuid4())
    status.status = "Idle"
    broker = get_broker()
    broker.set_stat(Stat.get_key(status.cluster_id), SignedPackage.dumps(status, True), 30)
    yield status
    broker.cache.delete(Stat.get_key(status.cluster_id))


def health(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("health", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


# --- The selector -----------------------------------------------------------------------------


def test_waiting_events_counts_only_undispatched_events_older_than_the_limit():
    event(minutes_ago=30)
    event(minutes_ago=12)
    event(minutes_ago=1)  # not yet late
    event(minutes_ago=60, dispatched=True)
    waiting = waiting_events(older_than=dt.timedelta(minutes=5))
    assert waiting.count == 2
    assert waiting.minutes == 30
    assert waiting
    assert not waiting_events(older_than=dt.timedelta(minutes=45))


# --- manage.py health -------------------------------------------------------------------------


def test_health_is_0_when_everything_works(heartbeat):
    task_result(seconds_ago=20)
    event(minutes_ago=1)
    code, out, err = health()
    assert code == 0, err
    assert err == ""
    names = [line.split(":")[1].strip() for line in out.splitlines()]
    assert names == ["database", "broker", "cluster", "tasks", "events"], out
    assert "1 qcluster(s) report a heartbeat" in out


def test_health_fails_with_one_line_per_failed_check(heartbeat):
    task_result(seconds_ago=600)  # stale: no worker finished a task for 10 minutes
    event(minutes_ago=9)
    code, out, err = health("--max-event-age", "300")
    assert code == 1
    assert err.splitlines() == [
        "FAILED: tasks: no worker has finished a task for 600 s (limit 300 s): the qcluster is down or stuck",
        "FAILED: events: 1 event(s) not dispatched after 300 s, the oldest for 540 s: no worker takes tasks",
    ], err
    assert "ok: database" in out and "ok: cluster" in out


def test_health_fails_when_no_cluster_reports_and_a_check_can_be_skipped():
    task_result(seconds_ago=5)
    code, _out, err = health()
    assert code == 1
    assert err.strip() == "FAILED: cluster: no qcluster reports a heartbeat on this host: none is running"
    code, out, err = health("--skip", "cluster")
    assert code == 0, err
    assert "cluster" not in out


def test_health_thresholds_are_options(heartbeat):
    task_result(seconds_ago=100)
    event(minutes_ago=2)
    assert health()[0] == 0
    assert health("--max-task-age", "60")[0] == 1
    assert health("--max-event-age", "60")[0] == 1
    assert health("--max-event-age", "60", "--skip", "events")[0] == 0


def test_health_with_no_task_result_yet_says_so(heartbeat):
    code, _out, err = health()
    assert code == 1
    assert "FAILED: tasks: no worker has finished a task yet" in err


def _health_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "Q_"))}
    return subprocess.run(
        [sys.executable, str(MANAGE), "health", *args], env={**base, "DJANGO_SETTINGS_MODULE": "config.settings",
                                                            "SECRET_KEY": "health-test-" + "x" * 40, **env},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=MANAGE.parent,
    )


@pytest.mark.parametrize("url", [
    "postgres://postgres@127.0.0.1:1/nothing",  # nothing listens: refused at once
    "sqlite:///{tmp}",  # a folder: cannot be opened
], ids=["postgres-refused", "sqlite-unopenable"])
def test_health_is_non_zero_with_the_reason_when_the_database_is_unreachable(url, tmp_path):
    url = url.format(tmp=tmp_path)
    result = _health_process({"DATABASE_URL": url, "VAR_DIR": str(tmp_path), "REDIS_URL": ""}, "--timeout", "2")
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    failed = [line for line in lines if line.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].startswith("FAILED: database: the database is not reachable: "), lines
    assert "ok:" not in result.stdout


def test_health_reports_an_unreachable_redis(tmp_path):
    result = _health_process({"DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}", "VAR_DIR": str(tmp_path),
                              "REDIS_URL": "redis://127.0.0.1:1/0"}, "--timeout", "2", "--skip", "cluster",
                             "--skip", "tasks", "--skip", "events")
    assert result.returncode == 1, result
    failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and failed[0].startswith("FAILED: broker: the task queue's broker is not reachable"), failed


# --- The dashboard ----------------------------------------------------------------------------


def dashboard(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def test_an_owner_is_warned_when_events_wait_longer_than_the_limit(client, settings):
    settings.EVENT_WAIT_WARNING_MINUTES = 5
    event(minutes_ago=12)
    event(minutes_ago=7)
    page = dashboard(client, make_owner())
    assert 'id="waiting-events"' in page
    assert "Automations are not running." in page
    assert "2 events are waiting, the oldest for 12 minutes." in page


def test_a_team_member_is_not_warned(client):
    event(minutes_ago=30)
    assert 'id="waiting-events"' not in dashboard(client, make_team_member())


def test_no_warning_when_every_event_is_dispatched_or_still_young(client, settings):
    settings.EVENT_WAIT_WARNING_MINUTES = 5
    event(minutes_ago=60, dispatched=True)
    event(minutes_ago=2)
    assert 'id="waiting-events"' not in dashboard(client, make_owner())


def test_the_warning_speaks_german(client):
    event(minutes_ago=8)
    owner = make_owner()
    client.force_login(owner)
    response = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="de")
    page = response.content.decode()
    assert "Automatisierungen laufen nicht." in page, page[:2000]
