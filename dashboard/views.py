"""The dashboard page."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from automations.models import Run
from core.dates import business_today
from tasks.models import Task, TaskStatus

from .selectors import CHART_DAYS, dashboard_amounts, overdue_series


def dashboard(request: HttpRequest) -> HttpResponse:
    today = business_today()
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
        "amounts": dashboard_amounts(today=today),
        "chart": chart,
        "chart_days": CHART_DAYS,
        "runs": runs,
        "tasks": tasks,
        "default_currency": settings.DEFAULT_CURRENCY,
    })
