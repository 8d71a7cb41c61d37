"""The dashboard page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from automations.health import waiting_events
from automations.models import Run
from core.dates import business_today
from tasks.models import Task, TaskStatus

from .selectors import CHART_DAYS, dashboard_amounts, overdue_series, setup_checklist


def stat_cards(amounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The three cards at the top (open, overdue, paid this month), each with one row per currency,
    for templates/_partials/stat_card.html."""
    invoices = reverse("invoices:invoice-list")
    cards = [
        ("open", _("Open"), "hourglass-split", "text-body-secondary", ""),
        ("overdue", _("Overdue"), "exclamation-triangle", "text-danger", "border-danger-subtle"),
        ("paid", _("Paid this month"), "check-circle", "text-success", ""),
    ]
    return [{
        "id": f"card-{key}", "href": f"{invoices}?status={key}", "label": label, "icon": icon,
        "label_class": label_class, "border": border, "alarming": key == "overdue",
        "rows": [{"currency": row["currency"], "amount": row[f"{key}_amount"], "count": row[f"{key}_count"]}
                 for row in amounts],
    } for key, label, icon, label_class, border in cards]


def dashboard(request: HttpRequest) -> HttpResponse:
    today = business_today()
    amounts = dashboard_amounts(today=today)
    labels, series = overdue_series(today=today)
    chart = {
        "labels": [day.isoformat() for day in labels],
        "datasets": [{"currency": code, "values": [str(v) for v in values]} for code, values in series.items()],
    }
    runs = list(
        Run.objects.select_related("automation", "contact", "event", "event__invoice")
        .order_by("-created_at", "-pk")[:10]
    )
    tasks = (
        Task.objects.filter(Q(assignee=request.user) | Q(assignee__isnull=True), status=TaskStatus.OPEN)
        .select_related("assignee", "contact", "invoice")
        .order_by(F("due_date").asc(nulls_last=True), "pk")[:10]
    )
    return render(request, "dashboard/dashboard.html", {
        "today": today,
        "amounts": amounts,
        "cards": stat_cards(amounts),
        "chart": chart,
        "chart_days": CHART_DAYS,
        "runs": runs,
        "tasks": tasks,
        "default_currency": settings.DEFAULT_CURRENCY,
        # Owners are told when events wait for a worker that is down or stuck.
        "waiting_events": waiting_events() if request.user.has_perm("automations.change_automation") else None,
        # Owners see what the business profile still lacks, until invoices can be sent.
        "checklist": setup_checklist() if request.user.has_perm("business.change_businessprofile") else None,
    })
