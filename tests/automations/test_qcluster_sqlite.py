"""The default setup as `./run` starts it: SQLite in a file, django-q2's database (ORM) broker, a
real `qcluster`. Runs on either test database: the site here has its own SQLite file."""

from __future__ import annotations

import base64
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.automations.qcluster_helpers import wait_for

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


@pytest.fixture
def sqlite_site(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ANYMAIL_", "Q_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        VAR_DIR=str(tmp_path), SECRET_KEY="sqlite-cluster-test-key-" + "x" * 40, DEBUG="false", REDIS_URL="",
        Q_WORKERS="1", Q_CLUSTER_NAME="sqlite-test", PYTHONUNBUFFERED="1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    manage(env, "migrate", "--noinput", "-v0")
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, str(MANAGE), *args], env=env, cwd=MANAGE.parent, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def query(env: dict[str, str], sql: str) -> list[tuple]:
    with sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"), timeout=20) as db:
        return db.execute(sql).fetchall()


def test_the_recurring_job_starts_and_invoices_every_plan_due_today_on_sqlite(sqlite_site):
    """Starting a plan sends its first invoice, and the outbox wakes the dispatcher on commit: the
    database broker closes the connection before it enqueues (CONN_MAX_AGE=0), which broke the
    job's loop over the plans after the first one ("Cannot operate on a closed database")."""
    manage(sqlite_site, "shell", "-c", textwrap.dedent("""
        from core.dates import business_today
        from automations.services import create_automation
        from invoices.services import create_contact, create_recurring
        from django_q.tasks import async_task
        from business.services import update_profile
        update_profile(legal_name="Test GmbH", street="Hauptstraße 1", postal_code="10115", city="Berlin",
                       tax_number="181/815/08155")
        create_automation(name="Follow up", trigger="invoice_sent", frequency="unlimited", is_active=True,
                          actions=[{"kind": "create_task", "title": "Follow up {{ invoice.number }}"}])
        for n in range(3):
            contact = create_contact(name=f"Customer {n}", email=f"c{n}@example.com")
            create_recurring(contact=contact, description="Hosting", amount="10.00", start_date=business_today())
        async_task("automations.jobs.run_recurring", task_name="recurring-now")
    """))
    cluster = subprocess.Popen([sys.executable, str(MANAGE), "qcluster"], env=sqlite_site, cwd=MANAGE.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True)
    try:
        result = wait_for(lambda: query(sqlite_site, "SELECT success, result FROM django_q_task WHERE name = 'recurring-now'"),
                          timeout=60, message="the recurring job did not finish")
        assert result[0][0] == 1, f"the recurring job failed: {pickle.loads(base64.b64decode(result[0][1]))}"
        assert query(sqlite_site, "SELECT status, periods_issued FROM invoices_recurringpayment") == [("active", 1)] * 3
        assert query(sqlite_site, "SELECT count(*) FROM invoices_invoice WHERE status = 'sent'") == [(3,)]
        # Every invoice's "sent" event reaches the automation: one task each.
        wait_for(lambda: query(sqlite_site, "SELECT count(*) FROM tasks_task") == [(3,)], timeout=30,
                 message="the automation did not run for every invoice")
    finally:
        os.killpg(cluster.pid, signal.SIGINT)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
