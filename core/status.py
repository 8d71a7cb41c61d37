"""One colour table for every status the product shows (invoices, plans, runs, tasks), used by
the pages' badges and the admin's alike. A tone is a Bootstrap theme colour (the pages'
text-bg-<tone>; static/css/admin.css repeats Bootstrap's colours for the admin, which has no
Bootstrap)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

STATUS_TONES = {
    # invoices ("partly_paid" is no status of its own: a badge beside "sent" or "overdue")
    "draft": "secondary", "sent": "primary", "paid": "success", "overdue": "danger", "void": "muted",
    "partly_paid": "info", "issued": "secondary",
    # recurring payments
    "scheduled": "warning", "active": "success", "canceled": "muted", "ended": "muted",
    # automation runs and their actions
    "pending": "warning", "sending": "warning", "succeeded": "success", "skipped": "muted", "failed": "danger",
    "unknown": "danger",
    # tasks
    "open": "primary", "done": "success",
    # bank statements ("done": imported, "failed" above) and their lines
    "queued": "warning", "processing": "warning",
    "new": "warning", "suggested": "info", "confirmed": "success", "ignored": "muted",
}


def tone(status: str) -> str:
    return STATUS_TONES.get(status, "secondary")


# Badges shown beside an object's status: (key, label, does it apply to the object).
EXTRA_BADGES = [
    ("partly_paid", _("Partly paid"), lambda obj: bool(getattr(obj, "is_partly_paid", False))),
]


def badges(obj: Any) -> list[tuple[str, str, str]]:
    """(key, label, tone) of every badge `obj` shows: its status, then e.g. "Partly paid"."""
    shown = [(obj.status, str(obj.get_status_display()), tone(obj.status))]
    return shown + [(key, str(label), tone(key)) for key, label, applies in EXTRA_BADGES if applies(obj)]
