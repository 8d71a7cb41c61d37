"""One colour table for every status the product shows (invoices, plans, runs, tasks), used by
the pages' badges and the admin's alike. A tone is a Bootstrap theme colour."""

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
}

# Bootstrap 5’s theme colours (and our "muted"), for the admin, which has no Bootstrap: (background, text).
TONE_COLOURS = {
    "primary": ("#0d6efd", "#fff"), "secondary": ("#6c757d", "#fff"), "success": ("#198754", "#fff"),
    "danger": ("#dc3545", "#fff"), "warning": ("#ffc107", "#212529"), "info": ("#0dcaf0", "#212529"),
    "muted": ("#ced4da", "#212529"),
}


def tone(status: str) -> str:
    return STATUS_TONES.get(status, "secondary")
