"""Outgoing webhooks: writing messages into the outbox, and delivering them once per attempt.

* `emit` writes a `Message` (unique key: the same event emitted twice is one message) and one
  `Delivery` per active subscription of its type, in the caller's transaction; after the commit a
  queue task is asked to deliver them. The payload is fixed when the message is written.
* `deliver_one` claims the delivery with one conditional UPDATE (status pending, lease free, due):
  two workers can never send the same attempt. The attempt is counted before the request; the
  answer (or error) is logged in `Attempt`; a 2xx finishes it, anything else waits for the
  backoff, until a day has passed. A worker that dies mid-request leaves its lease to expire and the
  sweeper tries again: a receiver may then see the same `webhook-id` twice — that is what the id is
  for (Standard Webhooks: receivers deduplicate by it), so unlike an email it is sent again.
* `sweep` (a schedule, every minute) claims the due deliveries in one set-based statement
  (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and sends them.
* After WEBHOOKS_DISABLE_AFTER failed attempts in a row a subscription is switched off and the
  owners are told (notifications).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from core.errors import DomainError
from notifications import services as notifications
from notifications.models import NotificationKind

from .models import Attempt, Delivery, DeliveryStatus, EventType, Message, Subscription
from .safety import UnsafeAddress
from .sender import post

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd, … attempt; after the last one the last wait repeats, until a day after
# the delivery was created (Standard Webhooks' own schedule is much like this).
BACKOFF = [dt.timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600)]
RETRY_FOR = dt.timedelta(days=1)
# A worker's lease on a delivery: far longer than one request can take (WEBHOOKS_TIMEOUT_SECONDS).
LEASE = dt.timedelta(seconds=60)
SWEEP_BATCH = 100
TASK_BUDGET_SECONDS = 50


def backoff(attempts: int) -> dt.timedelta:
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def disable_after() -> int:
    return int(getattr(settings, "WEBHOOKS_DISABLE_AFTER", 20))


# --- Writing into the outbox ------------------------------------------------------------------


def payload(event_type: str, data: dict[str, Any], *, now: dt.datetime) -> dict[str, Any]:
    """The Standard Webhooks body: type, timestamp, data."""
    return json.loads(json.dumps({"type": event_type, "timestamp": now.astimezone(dt.timezone.utc).isoformat(),
                                  "data": data}, cls=DjangoJSONEncoder))


def subscribers(event_type: str) -> list[int]:
    """The active subscriptions of an event type (few rows: filtered here, on any database)."""
    return [pk for pk, types in Subscription.objects.filter(is_active=True).values_list("pk", "event_types")
            if event_type in (types or [])]


def emit(*, event_type: str, key: str, data: dict[str, Any] | Any, now: dt.datetime | None = None,
         subscription_ids: Iterable[int] | None = None) -> list[int]:
    """Write the message and its deliveries (in the caller's transaction); returns the new
    deliveries' ids. `data` may be a function that makes it: called only if anyone subscribed."""
    now = now or timezone.now()
    targets = list(subscription_ids) if subscription_ids is not None else subscribers(event_type)
    if not targets:
        return []
    message = Message.objects.filter(key=key).first()
    if message is None:
        Message.objects.bulk_create([Message(event_type=event_type, key=key, created_at=now,
                                             payload=payload(event_type, data() if callable(data) else data, now=now))],
                                    ignore_conflicts=True)
        message = Message.objects.get(key=key)
    return _deliveries(message, [Delivery(subscription_id=pk, message=message) for pk in targets], now=now)


def emit_to_url(*, url: str, secret: str, event_type: str, key: str, data: dict[str, Any],
                now: dt.datetime | None = None) -> Delivery:
    """An automation's "Call a webhook" with its own address and secret: one delivery, once per key."""
    now = now or timezone.now()
    Message.objects.bulk_create([Message(event_type=event_type, key=key, created_at=now,
                                         payload=payload(event_type, data, now=now))], ignore_conflicts=True)
    message = Message.objects.get(key=key)
    _deliveries(message, [Delivery(message=message, url=url, secret=secret)], now=now)
    return Delivery.objects.get(message=message, subscription__isnull=True)


def _deliveries(message: Message, rows: list[Delivery], *, now: dt.datetime) -> list[int]:
    for row in rows:
        row.created_at = now
        row.give_up_at = now + RETRY_FOR
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(Delivery.objects.filter(message=message, status=DeliveryStatus.PENDING, attempts=0)
               .values_list("pk", flat=True))
    if ids:
        # robust: the change is committed whatever happens to the wake-up; the sweeper sends later.
        transaction.on_commit(partial(enqueue, ids), robust=True)
    return ids


def enqueue(ids: list[int]) -> None:
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    broker = get_broker()
    for start in range(0, len(ids), 50):
        async_task("webhooks.jobs.deliver", ids[start:start + 50], group="webhooks", broker=broker)


def send_test(*, subscription: Subscription, by=None, now: dt.datetime | None = None) -> Delivery:
    """A test event for one subscription (whatever its event types), through the same outbox."""
    now = now or timezone.now()
    key = f"test:{subscription.pk}:{now.timestamp()}"
    with transaction.atomic():
        emit(event_type=EventType.TEST, key=key, now=now, subscription_ids=[subscription.pk],
             data={"message": "This is a test event.", "subscription": subscription.pk,
                   "sent_by": by.get_username() if by is not None else None})
    return Delivery.objects.get(message__key=key, subscription=subscription)


def redeliver(*, delivery: Delivery, now: dt.datetime | None = None) -> None:
    """Send it again now, retried for another day (the receiver gets the same webhook-id). Refused
    while a worker is sending it: clearing its lease would let a second worker send it at once."""
    now = now or timezone.now()
    with transaction.atomic():
        sending = Q(status=DeliveryStatus.PENDING, locked_until__gt=now)
        changed = Delivery.objects.filter(pk=delivery.pk).exclude(sending).update(
            status=DeliveryStatus.PENDING, next_attempt_at=None, locked_until=None, finished_at=None,
            give_up_at=now + RETRY_FOR)
        if not changed:
            if Delivery.objects.filter(pk=delivery.pk).exists():
                raise DomainError(_("This delivery is being sent right now; its attempt is logged in a moment."))
            raise DomainError(_("This delivery no longer exists (its webhook was deleted)."))
        transaction.on_commit(partial(enqueue, [delivery.pk]), robust=True)


# --- Delivering -------------------------------------------------------------------------------

_DUE = "status = %s AND (locked_until IS NULL OR locked_until < %s) AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"


def claim(ids: list[int], now: dt.datetime) -> list[int]:
    """Take the lease on those of `ids` that are due and free, counting an attempt: one statement,
    so two workers never both get one."""
    if not ids:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempts = attempts + 1 "
            f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND {_DUE} RETURNING id",
            [adapt(now + LEASE), *ids, DeliveryStatus.PENDING, adapt(now), adapt(now)],
        )
        return sorted(row[0] for row in cursor.fetchall())


def claim_due(now: dt.datetime, *, limit: int = SWEEP_BATCH) -> list[int]:
    """Claim up to `limit` due deliveries in one set-based statement (the sweeper). On PostgreSQL
    SKIP LOCKED gives two sweepers different rows instead of making one wait for the other."""
    adapt = connection.ops.adapt_datetimefield_value
    table = Delivery._meta.db_table
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempts = attempts + 1 WHERE {_DUE} AND id IN ("
            f"  SELECT id FROM {table} WHERE {_DUE} ORDER BY id LIMIT %s{skip_locked}) RETURNING id",
            [adapt(now + LEASE), DeliveryStatus.PENDING, adapt(now), adapt(now),
             DeliveryStatus.PENDING, adapt(now), adapt(now), limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def deliver_one(delivery_id: int, *, now: dt.datetime | None = None) -> str | None:
    """Claim and send one delivery. Returns its new status (None: not this worker's to send)."""
    now = now or timezone.now()
    if not claim([delivery_id], now):
        return None
    return send_claimed(delivery_id, now=now)


def headers_for(delivery: Delivery, body: str, *, now: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers: the fixed id, the time of this attempt, its v1 signature."""
    signature = Webhook(delivery.target_secret).sign(msg_id=delivery.webhook_id, timestamp=now, data=body)
    return {"webhook-id": delivery.webhook_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature}


def body_of(message: Message) -> str:
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False)


def send_claimed(delivery_id: int, *, now: dt.datetime) -> str:
    """Send a delivery this worker holds the lease of, log the attempt and record the outcome."""
    delivery = Delivery.objects.select_related("message", "subscription").filter(pk=delivery_id).first()
    if delivery is None:  # its webhook was deleted meanwhile (the deliveries went with it)
        return DeliveryStatus.FAILED
    subscription = delivery.subscription
    # A test event goes out even to a switched-off webhook: the owner tests the fixed receiver
    # before switching it on again.
    if subscription is not None and not subscription.is_active and delivery.message.event_type != EventType.TEST:
        _finish(delivery, DeliveryStatus.FAILED, error=_("The webhook is switched off."), now=now)
        return DeliveryStatus.FAILED
    body = body_of(delivery.message)
    started = timezone.now()
    code: int | None = None
    response_body = error = ""
    duration = 0
    clock = time.monotonic()
    try:
        response = post(delivery.target_url, body.encode(), headers_for(delivery, body, now=started))
        code, response_body, duration = response.status, response.body, response.duration_ms
        if not 200 <= code < 300:
            error = _("The receiver answered %(code)d.") % {"code": code}
    except UnsafeAddress as exc:
        error = exc.message
    except Exception as exc:  # timeouts, refused connections, TLS, malformed answers
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration = duration or int((time.monotonic() - clock) * 1000)
    Attempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=started, duration_ms=duration,
                           response_code=code, response_body=response_body, error=error)
    if not error:
        _finish(delivery, DeliveryStatus.SUCCEEDED, code=code, now=now)
        if subscription is not None:
            Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
        return DeliveryStatus.SUCCEEDED
    if subscription is not None:
        _count_failure(subscription, now=now)
    wait = now + backoff(delivery.attempts)
    if wait > delivery.give_up_at:
        _finish(delivery, DeliveryStatus.FAILED, code=code, error=error, now=now)
        return DeliveryStatus.FAILED
    Delivery.objects.filter(pk=delivery.pk).update(locked_until=None, next_attempt_at=wait, response_code=code,
                                                   error=error)
    return DeliveryStatus.PENDING


def _finish(delivery: Delivery, status: str, *, now: dt.datetime, code: int | None = None, error: str = "") -> None:
    Delivery.objects.filter(pk=delivery.pk).update(status=status, locked_until=None, next_attempt_at=None,
                                                   response_code=code, error=error,
                                                   finished_at=max(now, timezone.now()))


def _count_failure(subscription: Subscription, *, now: dt.datetime) -> None:
    """One more failure in a row; at the limit the subscription is switched off (once: a
    conditional update) and the owners are told, in one transaction."""
    limit = disable_after()
    with transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        reason = _("Switched off after %(n)d failed attempts in a row.") % {"n": limit}
        switched = Subscription.objects.filter(pk=subscription.pk, is_active=True,
                                               consecutive_failures__gte=limit).update(
            is_active=False, disabled_reason=reason)
        if switched:
            notifications.notify_owners(
                kind=NotificationKind.WEBHOOK_DISABLED, key=f"webhook_disabled:{subscription.pk}:{now.isoformat()}",
                text=_("The webhook to %(url)s was switched off after %(n)d failed attempts in a row.") % {
                    "url": subscription.url[:300], "n": limit},
                link=reverse("webhooks:webhook-detail", args=[subscription.pk]), now=now)


def sweep(*, now: dt.datetime | None = None) -> int:
    """The schedule: send what is due (retries after their backoff, deliveries whose task was lost
    or whose worker died), a batch at a time, within a time budget. Returns the attempts made."""
    from django_q.conf import Conf

    deadline = None if Conf.SYNC else time.monotonic() + TASK_BUDGET_SECONDS
    done = 0
    while deadline is None or time.monotonic() < deadline:
        started = now or timezone.now()
        ids = claim_due(started)
        if not ids:
            break
        for index, delivery_id in enumerate(ids):
            if deadline is not None and time.monotonic() > deadline:
                # Give the rest back untouched (their attempt was not made).
                Delivery.objects.filter(pk__in=ids[index:]).update(locked_until=None, attempts=F("attempts") - 1)
                return done
            send_claimed(delivery_id, now=started)
            done += 1
        if now is not None:
            break  # a test's fixed clock: one pass
    return done


def deliver_many(ids: list[int]) -> int:
    """A queue task: send these deliveries (each claims its own lease)."""
    return sum(deliver_one(pk) is not None for pk in ids)


def enable(*, subscription: Subscription) -> None:
    """Switch a subscription on again (after it was switched off): the failure count starts anew."""
    Subscription.objects.filter(pk=subscription.pk).update(is_active=True, consecutive_failures=0, disabled_reason="")


__all__ = ["claim", "claim_due", "deliver_one", "emit", "emit_to_url", "redeliver", "send_test", "sweep"]
