"""Telling the owners when something failed for good: the engine (a run failed), the webhooks (a
subscription switched off) and the ESP's tracking (an email bounced) call `notify_owners`.

Each notification has a key (`run_failed:42`): unique per owner, so the same failure reported twice
(a retried task, two workers) is one notification. `send_digests` (a schedule) emails each owner
what is new, at most once an hour, exactly once even when two workers run it at the same moment:
the owner's `DigestState` row is locked while the digest is claimed.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Preference
from accounts.roles import OWNER

from .models import DigestState, Notification

log = logging.getLogger(__name__)

DIGEST_EVERY = dt.timedelta(minutes=getattr(settings, "NOTIFICATIONS_DIGEST_MINUTES", 60))
# A digest lists this many notifications at most (the rest: "and N more" with the link).
DIGEST_MAX_ITEMS = 50


def owners() -> QuerySet[User]:
    """Who gets failure alerts: active people with the Owner role, and superusers."""
    return User.objects.filter(pk__in=User.objects.filter(Q(is_active=True) & (Q(is_superuser=True) | Q(groups__name=OWNER)))
                               .values("pk")).order_by("pk")


def notify_owners(*, kind: str, key: str, text: str, link: str = "", now: dt.datetime | None = None) -> int:
    """One notification per owner (once per key, however often called). Returns how many were new.
    Runs in the caller's transaction: it commits or rolls back with the failure it reports."""
    now = now or timezone.now()
    rows = [Notification(user_id=pk, kind=kind, key=key[:200], text=text[:500], link=link[:500], created_at=now)
            for pk in owners().values_list("pk", flat=True)]
    before = Notification.objects.filter(key=key[:200]).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return Notification.objects.filter(key=key[:200]).count() - before


def unread_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(*, user: User, pk: int | None = None, now: dt.datetime | None = None) -> int:
    """Mark one of the user's notifications (or, without `pk`, all of them) read."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if pk is not None:
        rows = rows.filter(pk=pk)
    return rows.update(read_at=now or timezone.now())


def send_digests(*, now: dt.datetime | None = None) -> int:
    """Email each owner the notifications not yet emailed, unless their last digest is less than an
    hour old. Returns the emails sent."""
    now = now or timezone.now()
    sent = 0
    user_ids = list(Notification.objects.filter(emailed_at__isnull=True).values_list("user_id", flat=True).distinct())
    for user_id in user_ids:
        sent += _send_digest(user_id, now=now)
    return sent


def _send_digest(user_id: int, *, now: dt.datetime) -> int:
    DigestState.objects.get_or_create(user_id=user_id)
    with transaction.atomic():
        # The lock makes it once: a second worker waits here, then finds the notifications emailed
        # and the last digest too recent.
        state = DigestState.objects.select_for_update().get(user_id=user_id)
        if state.last_sent_at is not None and state.last_sent_at > now - DIGEST_EVERY:
            return 0
        items = list(Notification.objects.filter(user_id=user_id, emailed_at__isnull=True).order_by("created_at", "pk"))
        if not items:
            return 0
        user = User.objects.get(pk=user_id)
        Notification.objects.filter(pk__in=[item.pk for item in items]).update(emailed_at=now)
        previous = state.last_sent_at
        DigestState.objects.filter(pk=user_id).update(last_sent_at=now)
    # Sent after the commit: a crash in between loses this email (the notifications stay in the
    # bell), never sends it twice — as the engine treats an email it is unsure about.
    if not user.email:
        return 0
    try:
        _email(user, items)
    except Exception:
        log.exception("The failure alert digest for user %s could not be sent; it is tried again", user_id)
        with transaction.atomic():
            Notification.objects.filter(pk__in=[item.pk for item in items], emailed_at=now).update(emailed_at=None)
            DigestState.objects.filter(pk=user_id, last_sent_at=now).update(last_sent_at=previous)
        return 0
    return 1


def _email(user: User, items: list[Notification]) -> None:
    language = Preference.objects.filter(user=user).values_list("language", flat=True).first() or settings.LANGUAGE_CODE
    with translation.override(language if language in ("en", "de") else "en"):
        context = {"user": user, "items": items[:DIGEST_MAX_ITEMS], "more": max(0, len(items) - DIGEST_MAX_ITEMS),
                   "link": settings.SITE_URL + reverse("notifications:notification-list")}
        subject = ngettext("%(n)d new alert from your invoicing", "%(n)d new alerts from your invoicing",
                           len(items)) % {"n": len(items)}
        body = render_to_string("notifications/digest_email.txt", context)
    send_mail(subject, body, None, [user.email])
