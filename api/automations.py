"""Automations (read, switch on and off, export and import in the JSON format of the pages and
`manage.py export_automations`) and their runs (read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Status, Field, Query, Router

from automations import portable, services
from automations.models import Automation, Run, RunAction, RunStatus
from automations.triggers import Trigger

from .auth import TokenAuth
from .errors import ApiError
from .listing import Page, Paging, date_range, get_or_404, page
from .schemas import AutomationOut, ErrorOut, ImportIn, RunOut, SwitchIn, run_out

router = Router(tags=["Automations"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class AutomationFilters(Paging):
    trigger: str | None = Field(None, max_length=40)
    is_active: bool | None = None


def _with_definitions(rows: list[Automation]) -> list[dict[str, Any]]:
    ids = sorted(a.pk for a in rows)
    by_id = dict(zip(ids, portable.export_automations(Automation.objects.filter(pk__in=ids).order_by("pk"))))
    return [{"id": a.pk, "name": a.name, "trigger": a.trigger, "frequency": a.frequency, "is_active": a.is_active,
             "created_at": a.created_at, "updated_at": a.updated_at, "definition": by_id[a.pk]}
            for a in rows]


def _automation(pk: int) -> Automation:
    return get_or_404(Automation.objects.all(), pk, _("There is no automation %(id)s.") % {"id": pk})


@router.get("/automations", response={200: Page[AutomationOut], **ERRORS}, url_name="automation_list", auth=TokenAuth("automations.view_automation"))
def list_automations(request: HttpRequest, filters: Query[AutomationFilters]):
    automations = Automation.objects.all()
    if filters.trigger:
        if filters.trigger not in Trigger.values:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"trigger": [
                _("Choose one of: %(values)s.") % {"values": ", ".join(Trigger.values)}]})
        automations = automations.filter(trigger=filters.trigger)
    if filters.is_active is not None:
        automations = automations.filter(is_active=filters.is_active)
    return page(automations, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("name", "created_at", "updated_at"), default=("name", "pk"), serialize=_with_definitions)


@router.get("/automations/export", response={200: list[dict[str, Any]], **ERRORS}, url_name="automation_export", auth=TokenAuth("automations.view_automation"))
def export_automations(request: HttpRequest):
    """All automations in the JSON format of the Export button (and of `manage.py export_automations`)."""
    return portable.export_automations()


@router.post("/automations/import", response={201: list[AutomationOut], **ERRORS}, url_name="automation_import", auth=TokenAuth("automations.add_automation"))
def import_automations(request: HttpRequest, payload: ImportIn):
    """Import automations in the export format: all saved, or none and every problem listed."""
    try:
        saved = portable.import_automations(payload.automations, replace=payload.replace, by=request.user)
    except portable.ImportInvalid as exc:
        raise ApiError(400, exc.message, errors={"automations": exc.problems}) from None
    return Status(201, _with_definitions(saved))


@router.get("/automations/{int:pk}", response={200: AutomationOut, **ERRORS}, url_name="automation_detail", auth=TokenAuth("automations.view_automation"))
def get_automation(request: HttpRequest, pk: int):
    return _with_definitions([_automation(pk)])[0]


@router.post("/automations/{int:pk}/switch", response={200: AutomationOut, **ERRORS}, url_name="automation_switch", auth=TokenAuth("automations.change_automation"))
def switch_automation(request: HttpRequest, pk: int, payload: SwitchIn):
    """Switch an automation on or off (switching it to the state it is in is refused)."""
    automation = _automation(pk)
    services.set_automation_active(automation=automation, active=payload.active,
                                   include_backlog=payload.include_backlog, by=request.user)
    return _with_definitions([_automation(pk)])[0]


class RunFilters(Paging):
    automation_id: int | None = Field(None, ge=1, le=2**63 - 1)
    status: str | None = Field(None, max_length=20)
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1)
    invoice_id: int | None = Field(None, ge=1, le=2**63 - 1)
    created_from: dt.date | None = None
    created_to: dt.date | None = None


def _runs():
    return Run.objects.select_related("automation", "event").prefetch_related(
        Prefetch("results", queryset=RunAction.objects.order_by("position")))


@router.get("/runs", response={200: Page[RunOut], **ERRORS}, url_name="run_list", tags=["Runs"], auth=TokenAuth("automations.view_run"))
def list_runs(request: HttpRequest, filters: Query[RunFilters]):
    runs = _runs()
    if filters.automation_id:
        runs = runs.filter(automation_id=filters.automation_id)
    if filters.status:
        if filters.status not in RunStatus.values:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"status": [
                _("Choose one of: %(values)s.") % {"values": ", ".join(RunStatus.values)}]})
        runs = runs.filter(status=filters.status)
    if filters.contact_id:
        runs = runs.filter(contact_id=filters.contact_id)
    if filters.invoice_id:
        runs = runs.filter(event__invoice_id=filters.invoice_id)
    runs = date_range(runs, "created_at__date", filters.created_from, filters.created_to)
    return page(runs, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("created_at", "finished_at"), default=("-created_at", "-pk"),
                serialize=lambda rows: [run_out(r) for r in rows])


@router.get("/runs/{int:pk}", response={200: RunOut, **ERRORS}, url_name="run_detail", tags=["Runs"], auth=TokenAuth("automations.view_run"))
def get_run(request: HttpRequest, pk: int):
    return run_out(get_or_404(_runs(), pk, _("There is no run %(id)s.") % {"id": pk}))
