"""Is the automation engine working? The checks behind `manage.py health` and the dashboard warning.

* The database answers.
* The broker answers (Redis; on the database broker its queue table).
* Cluster: a qcluster of this queue on this host reports its heartbeat (django-q2's `Stat`, saved
  by its sentinel every half second and kept for 3 s; in Redis, or with the database broker in the
  file cache `django_q`, see config/settings.py).
* Tasks: the newest task result the queue's workers saved. The sweeper schedule runs every minute,
  so a working queue saves a result at least every minute or two, on either broker and seen from
  any host. A cluster whose workers are stuck still reports its heartbeat; this is what shows it.
* Events: the oldest event not yet dispatched. Events wait only while no worker takes tasks
  (down, stuck, or far behind).
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Event


@dataclass(frozen=True)
class WaitingEvents:
    """Events not yet dispatched, older than a threshold: how many, and how long the oldest waits."""

    count: int
    oldest: dt.datetime | None
    now: dt.datetime

    @property
    def age(self) -> dt.timedelta:
        return self.now - self.oldest if self.oldest else dt.timedelta(0)

    @property
    def minutes(self) -> int:
        return int(self.age.total_seconds() // 60)

    def __bool__(self) -> bool:
        return self.count > 0


def event_wait_limit() -> dt.timedelta:
    return dt.timedelta(minutes=settings.EVENT_WAIT_WARNING_MINUTES)


def waiting_events(*, older_than: dt.timedelta | None = None, now: dt.datetime | None = None) -> WaitingEvents:
    """Undispatched events that happened more than `older_than` ago (EVENT_WAIT_WARNING_MINUTES by
    default). One aggregate over the partial index of undispatched events."""
    now = now or timezone.now()
    older_than = event_wait_limit() if older_than is None else older_than
    row = Event.objects.filter(dispatched_at__isnull=True, occurred_at__lt=now - older_than).aggregate(
        count=Count("id"), oldest=Min("occurred_at"))
    return WaitingEvents(count=row["count"], oldest=row["oldest"], now=now)


def queued_tasks() -> int:
    """Tasks waiting in the broker that no cluster has taken yet."""
    from django_q.brokers import get_broker

    return get_broker().queue_size() or 0


def cluster_stats() -> list:
    """The status django-q2's running clusters of this queue on this host report."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    host = socket.gethostname()
    return [stat for stat in Stat.get_all(broker=get_broker()) if stat.host == host]


def last_result_at() -> dt.datetime | None:
    """When a worker of this task queue last finished a task whose result was saved (the heartbeat)."""
    from django_q.conf import Conf
    from django_q.models import Task

    return Task.objects.filter(cluster=Conf.CLUSTER_NAME).order_by("-stopped").values_list("stopped", flat=True).first()


# --- The checks of `manage.py health` ---------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


def check_database(alias: str = "default") -> Check:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error: the point is to report it in one line
        return Check("database", False, _("the database is not reachable: %(error)s") % {"error": _one_line(exc)})
    return Check("database", True, _("the database answers"))


def check_broker(*, timeout: float = 5.0) -> Check:
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    try:
        broker = get_broker()
        if Conf.REDIS and isinstance(Conf.REDIS, str):
            import redis

            # django-q2's client has no timeouts: an unreachable host would hang the check.
            broker.connection = redis.from_url(Conf.REDIS, socket_connect_timeout=timeout, socket_timeout=timeout)
        broker.ping()
        waiting = broker.queue_size() or 0
    except Exception as exc:
        return Check("broker", False, _("the task queue's broker is not reachable: %(error)s") % {"error": _one_line(exc)})
    return Check("broker", True, _("the broker answers (%(info)s); %(n)d task(s) waiting") % {
        "info": broker.info(), "n": waiting})


def check_cluster() -> Check:
    try:
        stats = cluster_stats()
    except Exception as exc:
        return Check("cluster", False, _("the clusters' status cannot be read: %(error)s") % {"error": _one_line(exc)})
    if not stats:
        return Check("cluster", False, _("no qcluster reports a heartbeat on this host: none is running"))
    return Check("cluster", True, _("%(n)d qcluster(s) report a heartbeat (%(states)s; %(queued)d task(s) in their queues)") % {
        "n": len(stats), "states": ", ".join(sorted(str(stat.status) for stat in stats)),
        "queued": sum(stat.task_q_size or 0 for stat in stats)})


def check_tasks(*, max_age: dt.timedelta, now: dt.datetime | None = None) -> Check:
    now = now or timezone.now()
    try:
        last = last_result_at()
    except Exception as exc:
        return Check("tasks", False, _("the task results cannot be read: %(error)s") % {"error": _one_line(exc)})
    if last is None:
        return Check("tasks", False, _("no worker has finished a task yet (is a qcluster running?)"))
    age = int((now - last).total_seconds())
    if now - last > max_age:
        return Check("tasks", False, _(
            "no worker has finished a task for %(age)d s (limit %(limit)d s): the qcluster is down or stuck"
        ) % {"age": age, "limit": max_age.total_seconds()})
    return Check("tasks", True, _("a worker finished a task %(age)d s ago") % {"age": max(age, 0)})


def check_events(*, max_age: dt.timedelta, now: dt.datetime | None = None) -> Check:
    try:
        waiting = waiting_events(older_than=max_age, now=now)
    except Exception as exc:
        return Check("events", False, _("the outbox cannot be read: %(error)s") % {"error": _one_line(exc)})
    if waiting:
        return Check("events", False, _(
            "%(n)d event(s) not dispatched after %(limit)d s, the oldest for %(age)d s: no worker takes tasks"
        ) % {"n": waiting.count, "limit": max_age.total_seconds(), "age": waiting.age.total_seconds()})
    return Check("events", True, _("no event waits longer than %(limit)d s") % {"limit": max_age.total_seconds()})


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
