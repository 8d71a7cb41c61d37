"""Tasks & Reminders: list, read, create, complete, reopen."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Status, Field, Query, Router

from invoices.models import Contact, Invoice
from tasks import services
from tasks.models import Task, TaskStatus

from .auth import TokenAuth
from .errors import ApiError
from .listing import Page, Paging, date_range, get_or_404, page
from .schemas import ErrorOut, TaskIn, TaskOut, task_out

router = Router(tags=["Tasks"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class TaskFilters(Paging):
    status: str | None = Field(None, max_length=10)
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1)
    invoice_id: int | None = Field(None, ge=1, le=2**63 - 1)
    assignee: str | None = Field(None, max_length=150, description="A user name.")
    due_date_from: dt.date | None = None
    due_date_to: dt.date | None = None


def _task(pk: int) -> Task:
    return get_or_404(Task.objects.select_related("assignee"), pk, _("There is no task %(id)s.") % {"id": pk})


@router.get("/tasks", response={200: Page[TaskOut], **ERRORS}, url_name="task_list", auth=TokenAuth("tasks.view_task"))
def list_tasks(request: HttpRequest, filters: Query[TaskFilters]):
    tasks = Task.objects.select_related("assignee")
    if filters.status:
        if filters.status not in TaskStatus.values:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"status": [
                _("Choose one of: %(values)s.") % {"values": ", ".join(TaskStatus.values)}]})
        tasks = tasks.filter(status=filters.status)
    if filters.contact_id:
        tasks = tasks.filter(contact_id=filters.contact_id)
    if filters.invoice_id:
        tasks = tasks.filter(invoice_id=filters.invoice_id)
    if filters.assignee:
        tasks = tasks.filter(assignee__username=filters.assignee)
    tasks = date_range(tasks, "due_date", filters.due_date_from, filters.due_date_to)
    return page(tasks, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("due_date", "created_at", "title"), default=("status", "due_date", "-created_at", "-pk"),
                serialize=lambda rows: [task_out(t) for t in rows])


@router.get("/tasks/{int:pk}", response={200: TaskOut, **ERRORS}, url_name="task_detail", auth=TokenAuth("tasks.view_task"))
def get_task(request: HttpRequest, pk: int):
    return task_out(_task(pk))


@router.post("/tasks", response={201: TaskOut, **ERRORS}, url_name="task_create", auth=TokenAuth("tasks.add_task"))
def create_task(request: HttpRequest, payload: TaskIn):
    assignee = None
    if payload.assignee:
        assignee = User.objects.filter(username=payload.assignee, is_active=True).first()
        if assignee is None:
            raise ApiError(400, _("There is no active user “%(name)s”.") % {"name": payload.assignee},
                           errors={"assignee": [_("There is no active user “%(name)s”.") % {"name": payload.assignee}]})
    contact = invoice = None
    if payload.contact_id:
        contact = get_or_404(Contact.objects.all(), payload.contact_id,
                             _("There is no contact %(id)s.") % {"id": payload.contact_id})
    if payload.invoice_id:
        invoice = get_or_404(Invoice.objects.select_related("contact"), payload.invoice_id,
                             _("There is no invoice %(id)s.") % {"id": payload.invoice_id})
    task = services.create_task(title=payload.title, description=payload.description, due_date=payload.due_date,
                                assignee=assignee, contact=contact, invoice=invoice, by=request.user)
    return Status(201, task_out(_task(task.pk)))


@router.post("/tasks/{int:pk}/complete", response={200: TaskOut, **ERRORS}, url_name="task_complete", auth=TokenAuth("tasks.change_task"))
def complete_task(request: HttpRequest, pk: int):
    task = _task(pk)
    services.complete_task(task=task, by=request.user)
    return task_out(_task(pk))


@router.post("/tasks/{int:pk}/reopen", response={200: TaskOut, **ERRORS}, url_name="task_reopen", auth=TokenAuth("tasks.change_task"))
def reopen_task(request: HttpRequest, pk: int):
    task = _task(pk)
    services.reopen_task(task=task, by=request.user)
    return task_out(_task(pk))
