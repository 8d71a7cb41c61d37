"""Tasks & Reminders pages. Every change goes through `tasks.services`; a refusal (DomainError)
is shown to the user as it is, never as a server error."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.submissions import save_form_once
from core.dates import business_today
from core.views import flash_service, paginate, render_fragment, safe_next
from invoices.models import Contact, Invoice

from . import services
from .forms import TaskFilterForm, TaskForm
from .models import Task, TaskStatus

TABS = {"mine": gettext_lazy("Mine"), "team": gettext_lazy("Team"), "all": gettext_lazy("All")}
DEFAULT_TAB = "mine"


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

    page = paginate(request, tasks)
    today = business_today()
    for task in page:
        task.is_overdue = task.status == TaskStatus.OPEN and task.due_date is not None and task.due_date < today
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

            def save() -> str:
                task = services.create_task(
                    title=data["title"], description=data["description"], due_date=data["due_date"],
                    assignee=data["assignee"], contact=data["contact"], invoice=data["invoice"], by=request.user,
                )
                messages.success(request, _("Task “%(title)s” created.") % {"title": task.title})
                return f"{reverse('tasks:task-list')}?tab={_tab_for(task, request.user)}"

            saved = save_form_once(request, form, save, already=_("This task has already been saved."))
            if saved is not None:
                return saved
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


@require_POST
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, pk=pk)
    flash_service(request, lambda: services.complete_task(task=task, by=request.user),
                  _("Task “%(title)s” is done.") % {"title": task.title})
    return redirect(safe_next(request, reverse("tasks:task-list")))


@require_POST
def task_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, pk=pk)
    flash_service(request, lambda: services.reopen_task(task=task, by=request.user),
                  _("Task “%(title)s” is open again.") % {"title": task.title})
    return redirect(safe_next(request, reverse("tasks:task-list")))


def contact_tasks(request: HttpRequest, pk: int) -> HttpResponse:
    """A contact's tasks, open first (the newest 20), for the contact's page."""
    contact = get_object_or_404(Contact, pk=pk)
    tasks = _ordered(contact.tasks.select_related("assignee", "invoice"))[:20]
    return render_fragment(
        request, "tasks/_contact_tasks.html", {"contact": contact, "tasks": tasks},
        title=_("Tasks of %(name)s") % {"name": contact.name},
        back_url=reverse("invoices:contact-detail", args=[contact.pk]), back_label=_("Back to the contact"),
    )
