"""The fault suite: real `qcluster` processes on PostgreSQL, a real SMTP sink, faults injected.

Each scenario prints one row (see tests.reliability.harness for how each column is computed from
the database and the sink) and fails if anything was lost or done twice. The whole table is
printed at the end of the session and written to var/reliability/fault-table.md.

The clusters run `tests.reliability.cluster_settings`: the production settings plus the fault
hooks (tests.reliability.hooks) and short timings (a run's lease 8 s, the sweeper's grace 15 s, the
first retry after 2 s). django-q2's scheduler looks at the schedules every ~30 s, so every
recovery that needs the sweeper takes at least that long.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
from collections import Counter
from unittest import mock

import pytest
from django.db.models import Count
from django.utils import timezone

from automations.models import Event, Run
from automations.services import create_automation
from tests.automations.qcluster_helpers import Cluster, running_cluster, wait_for
from tests.reliability.harness import (
    all_runs_final,
    fault_env,
    make_contacts,
    make_drafts,
    measure,
    prepare_schedules,
    send_all,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only", "card_move_log"),
]

EMAIL = {"kind": "send_email", "subject": "Invoice {{ invoice.number }}", "sender_name": "Acme", "reply_to": "",
         "body": "Hello {{ contact.first_name }}, {{ invoice.amount_due }} is due on {{ invoice.due_date }}."}


def task(title: str = "Follow up {{ invoice.number }}") -> dict:
    return {"kind": "create_task", "title": title, "description": "", "due_in_days": 3, "assignee": None}


def board_step():
    from workflows.services import create_workflow

    return create_workflow(name="Collections", steps=["New", "Reminded"]).steps.get(name="Reminded")


def automation(name: str, *actions: dict, trigger: str = "invoice_sent", frequency: str = "unlimited"):
    return create_automation(name=name, trigger=trigger, frequency=frequency, actions=list(actions), is_active=True)


def three_actions() -> None:
    """invoice_sent → create a task, email the customer, move the card (every time)."""
    automation("Follow up", task(), EMAIL, {"kind": "move_card", "step": board_step()})


# --- 1. kill -9 of workers at random points -----------------------------------------------------

KILL_PERMILLE = 8  # per point (before, during and after each action): about 20-40 kills


def test_1_workers_killed_at_random_points_while_2000_events_flow(tmp_path, sink):
    """2,000 invoice_sent events over 200 contacts. Two automations: a task every time; an email
    and a card move once per contact (1,800 of its runs stop at the limit). While the events flow,
    workers kill themselves (SIGKILL) at seeded random points before, during and after each
    action; when the chaos stops, the cluster must finish by itself: nothing lost or doubled, no
    limit exceeded."""
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nscenario 1: FAULT_SEED={seed} (set it to replay the same kill decisions)")
    started = time.monotonic()
    automation("Follow up", task())
    welcome = automation("Welcome", EMAIL, {"kind": "move_card", "step": board_step()}, frequency="once_per_contact")
    prepare_schedules()
    contacts = make_contacts(200)
    drafts = make_drafts(contacts, 2000)
    print(f"scenario 1: data made in {time.monotonic() - started:.0f} s")
    chaos, kill_log = tmp_path / "chaos", tmp_path / "kills.log"
    chaos.touch()
    env = fault_env(**sink.env(), FAULT_SEED=str(seed), FAULT_KILL_PERMILLE=str(KILL_PERMILLE),
                    FAULT_KILL_WHILE=str(chaos), FAULT_KILL_LOG=str(kill_log))
    with running_cluster(tmp_path, workers=3, extra_env=env) as cluster:
        with cluster.queue():
            send_all(drafts)
        # The chaos lasts until 90 % of the runs are final (or a minute has passed), then stops.
        _wait_quietly(lambda: Run.objects.exclude(status="pending").count() >= 3600, 60)
        chaos.unlink()
        wait_for(all_runs_final(), timeout=240, interval=1, message="all runs final")
        log = cluster.log()
    kills = kill_log.read_text().splitlines() if kill_log.exists() else []
    points = dict(sorted(Counter(line.split()[1] for line in kills).items()))
    row = measure("1. kill -9 workers at random points, 2,000 events", sink=sink, started=started,
                  note=f"seed {seed}; {len(kills)} kills {points}")
    row.assert_nothing_lost_or_doubled()
    assert len(kills) >= 5, f"too few kills to test anything: {kills}\n{log}"
    assert row.failed == row.uncertain, list(Run.objects.filter(status="failed").values_list("id", "error")[:5])
    # Once per contact: exactly one welcome per contact got past the limit, however often workers died.
    passed = Run.objects.filter(automation=welcome).exclude(status="skipped").values("contact").annotate(n=Count("id"))
    assert sorted(r["n"] for r in passed) == [1] * len(contacts)


def _wait_quietly(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(1)


# --- 2. The whole cluster killed -------------------------------------------------------------------


def test_2_whole_cluster_killed_and_started_again(tmp_path, sink):
    started = time.monotonic()
    three_actions()
    prepare_schedules()
    drafts = make_drafts(make_contacts(150), 150)
    env = fault_env(**sink.env())
    first = Cluster(workdir=tmp_path, workers=2, extra_env=env).start()
    try:
        with first.queue():
            send_all(drafts)
        wait_for(lambda: Run.objects.exclude(status="pending").count() >= 30, timeout=90,
                 message=f"first runs done\n{first.log()}")
    finally:
        first.kill()
    done_before = Run.objects.exclude(status="pending").count()
    assert done_before < 150, "the cluster finished before it was killed: nothing was tested"
    prepare_schedules()  # the sweeper due at the restart's first scheduler pass (~30 s), not a minute later
    with running_cluster(tmp_path, workers=2, extra_env=env, name=first.name):
        wait_for(all_runs_final(), timeout=180, interval=1, message="all runs final after the restart")
    row = measure("2. kill -9 the whole cluster, start again", sink=sink, started=started,
                  note=f"killed with {done_before}/150 runs done")
    row.assert_nothing_lost_or_doubled()
    assert row.failed == row.uncertain, "only an email whose fate is unknown may fail a run"


# --- 7. Graceful stop: SIGINT versus SIGTERM to the process group -----------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_7_stop_signal_to_the_process_group(tmp_path, sink, sig):
    """The signal a service manager sends to the cluster's whole process group while runs are in
    flight (each action takes 0.3 s here). SIGINT: the workers finish what they hold, the cluster
    logs "has stopped", and nothing is left pending. SIGTERM: the workers die at once, leaving runs
    pending; only the next start (the sweeper) finishes them. Nothing is lost either way."""
    started = time.monotonic()
    automation("Follow up", task(), EMAIL)
    prepare_schedules()
    drafts = make_drafts(make_contacts(40), 40)
    env = fault_env(**sink.env(), FAULT_ACTION_DELAY="0.3")
    cluster = Cluster(workdir=tmp_path, workers=2, extra_env=env).start()
    try:
        with cluster.queue():
            send_all(drafts)
        wait_for(lambda: Run.objects.filter(status="succeeded").count() >= 4, timeout=60, interval=0.2,
                 message="first runs done")
    finally:
        # After SIGTERM the workers and the sentinel are dead, and the main process waits for them
        # forever: only the SIGKILL after the grace period ends it (as a service manager's would).
        stop_started = time.monotonic()
        cluster.stop(sig=sig, grace=120 if sig == signal.SIGINT else 15)
        stop_seconds = time.monotonic() - stop_started
    left = Run.objects.filter(status="pending").count()
    if sig == signal.SIGINT:
        assert cluster.stopped_gracefully, cluster.log()
        assert left == 0 and Run.objects.count() == 40, "SIGINT must let the workers finish what they hold"
        note = f"stopped gracefully in {stop_seconds:.0f} s; 0 runs left pending"
    else:
        assert left > 0, "SIGTERM killed nothing in flight: the scenario tested nothing"
        assert not cluster.stopped_gracefully
        hung = "main process hung until SIGKILL" if stop_seconds >= 15 else f"exited in {stop_seconds:.0f} s"
        note = f"SIGTERM left {left} runs pending; {hung}; a restart finished them"
        prepare_schedules()  # the sweeper due at the restart's first scheduler pass (~30 s), not a minute later
        with running_cluster(tmp_path, workers=2, extra_env={**env, "FAULT_ACTION_DELAY": "0"}, name=cluster.name):
            wait_for(all_runs_final(), timeout=180, interval=1, message="all runs final after the restart")
    row = measure(f"7. {signal.Signals(sig).name} to the process group mid-dispatch", sink=sink, started=started,
                  note=note)
    row.assert_nothing_lost_or_doubled()
    assert row.failed == row.uncertain


# --- 8. The same tracking webhook twice, and concurrently ---------------------------------------------


def test_8_the_same_tracking_webhook_twice_and_concurrently_is_stored_once(settings):
    from django.test import Client

    from automations.models import EmailEvent
    from tests.automations.test_tracking import SECRET, delivery, in_threads, post, sent_email

    started = time.monotonic()
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    result = sent_email()
    payload = delivery(result.message_id)
    sequential = [post(payload), post(payload)]
    concurrent = in_threads(*[lambda: post(payload, client=Client()) for _ in range(6)])
    statuses = [r.status_code for r in [*sequential, *concurrent]]
    assert statuses == [200] * 8, statuses
    stored = EmailEvent.objects.count()
    result.refresh_from_db()
    row = measure("8. the same tracking webhook 2x, then 6x at once", started=started,
                  note=f"8 deliveries stored {stored} time(s); status {result.email_status}")
    row.assert_nothing_lost_or_doubled()
    assert stored == 1
    assert result.email_status == "delivered"


# --- 3. Two and three clusters at once, each with the schedules -------------------------------------


@pytest.mark.parametrize("clusters", [2, 3])
def test_3_several_clusters_with_schedules_on_one_database(tmp_path, sink, clusters):
    """2 or 3 clusters on one database and one queue, each running the schedules (as many overdue
    scans and sweepers as clusters, all due at once). 60 sent invoices over 20 contacts are past due: one overdue event
    per invoice and due date, one run per (automation, event), and the "once per contact every
    24 hours" limit lets exactly one overdue reminder per contact through."""
    from django_q.models import Task as QueueTask

    started = time.monotonic()
    automation("Follow up", task())
    reminder = automation("Overdue reminder", EMAIL, task("Call {{ contact.name }}"), trigger="invoice_overdue",
                          frequency="once_per_contact_24h")
    contacts = make_contacts(20)
    drafts = make_drafts(contacts, 60, due_in_days=-2)
    # django-q2 hands each schedule to one cluster at a time: one copy per cluster makes the scans
    # and sweeps really run at the same moment.
    prepare_schedules(overdue=True, copies=clusters)
    env = fault_env(**sink.env())
    first = Cluster(workdir=tmp_path, workers=2, extra_env=env)
    group = [first, *[Cluster(workdir=tmp_path, workers=2, extra_env=env, name=first.name) for _ in range(clusters - 1)]]
    try:
        for cluster in group:
            cluster.start()
        with first.queue():
            send_all(drafts)
        wait_for(lambda: Event.objects.filter(kind="invoice_overdue").count() >= 60, timeout=120, interval=1,
                 message="the overdue scan ran")
        wait_for(all_runs_final(), timeout=180, interval=1, message="all runs final")
    finally:
        for cluster in group:
            cluster.stop()
    scans = QueueTask.objects.filter(func="automations.jobs.scan_overdue").count()
    sweeps = QueueTask.objects.filter(func="automations.jobs.sweep").count()
    row = measure(f"3. {clusters} clusters at once, each with the schedules", sink=sink, started=started,
                  note=f"overdue scan ran {scans}x, sweeper {sweeps}x")
    row.assert_nothing_lost_or_doubled()
    assert row.failed == 0
    assert Event.objects.filter(kind="invoice_overdue").count() == 60
    assert Event.objects.filter(kind="invoice_overdue").values("invoice").distinct().count() == 60
    assert Run.objects.values("automation", "event").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    passed = Run.objects.filter(automation=reminder, status="succeeded").values("contact").annotate(n=Count("id"))
    assert sorted(r["n"] for r in passed) == [1] * 20, "the 24-hour limit was exceeded or someone got nothing"
    assert row.gated == 40
    assert scans >= clusters, "the scans did not all run: nothing concurrent was tested"


# --- 4. PostgreSQL restarted during dispatch --------------------------------------------------------


def test_4_postgres_restarted_during_dispatch(tmp_path, sink):
    """A private, throw-away PostgreSQL (the shared server is never touched) holding a copy of this
    test's database, a cluster on it, and `pg_ctl restart -m fast` while runs are executing. The
    cluster must recover by itself: nothing lost, nothing doubled."""
    from tests.reliability.private_pg import PrivatePostgres, postgres_bin_or_skip

    bindir = postgres_bin_or_skip()
    started = time.monotonic()
    automation("Follow up", task(), EMAIL, {"kind": "move_card", "step": board_step()})
    drafts = make_drafts(make_contacts(150), 150)
    with mock.patch("automations.dispatch.request_dispatch"):
        send_all(drafts)  # the events wait in the outbox; the private cluster's sweeper finds them
    Event.objects.update(occurred_at=timezone.now() - dt.timedelta(minutes=1))
    prepare_schedules()
    with PrivatePostgres(bindir) as pg:
        pg.copy_test_database()
        env = fault_env(**sink.env(), DATABASE_URL=pg.url)
        with running_cluster(tmp_path, workers=2, extra_env=env) as cluster:
            runs = pg.runs_final_count
            wait_for(lambda: runs() >= 20, timeout=120, interval=0.5, message=f"first runs\n{cluster.log()}")
            before = runs()
            pg.restart()
            restarted_at = time.monotonic()
            wait_for(lambda: pg.all_runs_final(), timeout=240, interval=1, message="all runs final after the restart")
            recovered = time.monotonic() - restarted_at
            log = cluster.log(tail=400)
        row = measure("4. PostgreSQL restarted during dispatch", sink=sink, using=pg.alias, started=started,
                      note=f"restarted with {before}/150 runs final; all final {recovered:.0f} s later")
        pg.close()
    row.assert_nothing_lost_or_doubled()
    assert row.failed == row.uncertain
    assert "has stopped" not in log


# --- 5. The SMTP server down for a while ------------------------------------------------------------


def test_5_smtp_server_down_for_a_while_then_back(tmp_path, sink):
    """The mail server refuses connections when the runs first execute; they are retried with
    backoff and delivered once it is back: none lost, none sent twice, none given up."""
    started = time.monotonic()
    automation("Follow up", task(), EMAIL)
    prepare_schedules()
    drafts = make_drafts(make_contacts(30), 30)
    sink.stop()
    with running_cluster(tmp_path, workers=2, extra_env=fault_env(**sink.env())) as cluster:
        with cluster.queue():
            send_all(drafts)
        wait_for(lambda: Run.objects.filter(status="pending", attempts__gte=1).exclude(error="").count() == 30,
                 timeout=90, interval=0.5, message=f"every run tried while the server is down\n{cluster.log()}")
        down_errors = set(Run.objects.values_list("error", flat=True))
        time.sleep(5)  # down a while longer
        sink.start()
        wait_for(all_runs_final(), timeout=180, interval=1, message="all runs final")
    attempts = sorted(set(Run.objects.values_list("attempts", flat=True)))
    row = measure("5. SMTP server down, then back", sink=sink, started=started,
                  note=f"attempts per run {attempts}")
    row.assert_nothing_lost_or_doubled()
    assert row.failed == 0 and row.uncertain == 0
    assert sink.count == 30
    assert all("not reachable" in error for error in down_errors), down_errors


# --- 6. A poisoned run -------------------------------------------------------------------------------


def test_6_a_poisoned_run_stops_at_the_attempt_cap_and_the_others_are_unaffected(tmp_path, sink):
    """One contact's task kills its worker every time it is created (the hooks' FAULT_POISON). Its
    run must end `failed` after MAX_ATTEMPTS with a message, and the 19 runs that shared its batch
    must succeed. The queue's lease is short here (Q_RETRY 12 s), so the dying task comes back
    quickly, as it does forever on the ORM broker."""
    from automations.dispatch import MAX_ATTEMPTS

    started = time.monotonic()
    automation("Follow up", task("Call {{ contact.name }} about {{ invoice.number }}"))
    prepare_schedules()
    contacts = make_contacts(20)
    poisoned = contacts[0]
    poisoned.name = "Customer POISON"
    poisoned.save()
    drafts = make_drafts(contacts, 20)
    env = fault_env(**sink.env(), FAULT_POISON="POISON", Q_TIMEOUT="10", Q_RETRY="12")
    with running_cluster(tmp_path, workers=2, extra_env=env) as cluster:
        with cluster.queue():
            send_all(drafts)
        wait_for(all_runs_final(), timeout=240, interval=1, message="all runs final")
        log = cluster.log()
    row = measure("6. a poisoned run (kills its worker every time)", sink=sink, started=started,
                  note=f"attempt cap {MAX_ATTEMPTS}")
    row.assert_nothing_lost_or_doubled()
    bad = Run.objects.get(contact=poisoned)
    assert bad.status == "failed", (bad.status, bad.attempts, log)
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in bad.error
    others = Run.objects.exclude(pk=bad.pk)
    assert set(others.values_list("status", flat=True)) == {"succeeded"}, list(
        others.exclude(status="succeeded").values_list("id", "status", "attempts", "error"))
    row.note += f"; poisoned run failed after {bad.attempts - 1} attempts, the other 19 succeeded"
