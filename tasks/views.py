"""Tasks & Reminders pages. Every change goes through `tasks.services`; a refusal (DomainError)
is shown to the user as it is, never as a server error."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from invoices.errors import DomainError
from invoices.models import Contact, Invoice
from invoices.services import business_today

from . import services
from .forms import TaskFilterForm, TaskForm
from .models import Task, TaskStatus

PAGE_SIZE = 25
TABS = {"mine": gettext_lazy("Mine"), "team": gettext_lazy("Team"), "all": gettext_lazy("All")}
DEFAULT_TAB = "mine"


def contact_url(pk: int) -> str:
    # The contact pages belong to the invoices app; a plain path until its URL name exists.
    try:
        return reverse("invoices:contact-detail", args=[pk])
    except NoReverseMatch:
        return f"/invoices/contacts/{pk}/"


def invoice_url(pk: int) -> str:
    try:
        return reverse("invoices:invoice-detail", args=[pk])
    except NoReverseMatch:
        return f"/invoices/{pk}/"


def _tab_filter(tab: str, user) -> Q:
    if tab == "mine":
        return Q(assignee=user)
    if tab == "team":
        return Q(assignee__isnull=True)
    return Q()


def _ordered(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Open before done; then by due date (none last), newest first."""
    return tasks.annotate(
        done_rank=Case(When(status=TaskStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("done_rank", F("due_date").asc(nulls_last=True), "-created_at", "-pk")


def task_list(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", DEFAULT_TAB)
    if tab not in TABS:
        tab = DEFAULT_TAB
    filters = TaskFilterForm(request.GET)
    filters.is_valid()  # an invalid filter is shown at its field and ignored
    contact: Contact | None = filters.cleaned_data.get("contact")
    show_done: bool = filters.cleaned_data.get("done", False)

    tasks = Task.objects.all()
    if contact is not None:
        tasks = tasks.filter(contact=contact)
    open_counts = {
        key: tasks.filter(_tab_filter(key, request.user), status=TaskStatus.OPEN).count() for key in TABS
    }
    tasks = tasks.filter(_tab_filter(tab, request.user))
    if not show_done:
        tasks = tasks.filter(status=TaskStatus.OPEN)
    tasks = _ordered(tasks.select_related("assignee", "contact", "invoice", "run__automation"))

    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    today = business_today()
    for task in page:
        task.is_overdue = task.status == TaskStatus.OPEN and task.due_date is not None and task.due_date < today
        task.contact_url = contact_url(task.contact_id) if task.contact_id else ""
        task.invoice_url = invoice_url(task.invoice_id) if task.invoice_id else ""
        run = task.run
        task.automation_name = run.automation.name if run is not None else ""
    return render(request, "tasks/task_list.html", {
        "tabs": [(key, label, open_counts[key]) for key, label in TABS.items()],
        "tab": tab,
        "filters": filters,
        "contact": contact,
        "show_done": show_done,
        "page_obj": page,
        "tasks": page.object_list,
        "today": today,
    })


def _tab_for(task: Task, user) -> str:
    if task.assignee_id is None:
        return "team"
    return "mine" if task.assignee_id == user.pk else "all"


def task_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = TaskForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                task = services.create_task(
                    title=data["title"], description=data["description"], due_date=data["due_date"],
                    assignee=data["assignee"], contact=data["contact"], invoice=data["invoice"], by=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Task “%(title)s” created.") % {"title": task.title})
                return redirect(f"{reverse('tasks:task-list')}?tab={_tab_for(task, request.user)}")
    else:
        initial: dict = {"assignee": request.user.pk}
        if request.GET.get("team"):
            initial["assignee"] = None
        contact_id = request.GET.get("contact", "")
        if contact_id.isdigit() and Contact.objects.filter(pk=contact_id).exists():
            initial["contact"] = int(contact_id)
        invoice_id = request.GET.get("invoice", "")
        invoice = Invoice.objects.filter(pk=invoice_id).first() if invoice_id.isdigit() else None
        if invoice is not None:
            initial["invoice"] = invoice.number
            initial["contact"] = invoice.contact_id
        form = TaskForm(initial=initial)
    return render(request, "tasks/task_form.html", {"form": form})


def _back(request: HttpRequest) -> str:
    """Where a button on the list returns to: the page it was pressed on (same site only)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("tasks:task-list")


@require_POST
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, pk=pk)
    try:
        services.complete_task(task=task, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Task “%(title)s” is done.") % {"title": task.title})
    return redirect(_back(request))


@require_POST
def task_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, pk=pk)
    try:
        services.reopen_task(task=task, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Task “%(title)s” is open again.") % {"title": task.title})
    return redirect(_back(request))
