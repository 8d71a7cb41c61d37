"""One colour table for every status the product shows (invoices, plans, runs, tasks), used by
the pages' badges and the admin's alike. A tone is a Bootstrap theme colour (the pages'
text-bg-<tone>; static/css/admin.css repeats Bootstrap's colours for the admin, which has no
Bootstrap)."""

from __future__ import annotations

STATUS_TONES = {
    # invoices
    "draft": "secondary", "sent": "primary", "paid": "success", "overdue": "danger", "void": "muted",
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
