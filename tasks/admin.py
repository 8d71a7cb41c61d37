from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ServiceErrorsMixin, run_service_on_each

from . import services
from .models import Task


class TaskAdminForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        contact, invoice = cleaned.get("contact"), cleaned.get("invoice")
        if contact and invoice and invoice.contact_id != contact.pk:
            self.add_error("invoice", _("This invoice belongs to another contact."))
        return cleaned


@admin.register(Task)
class TaskAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = TaskAdminForm
    list_display = ["title", "status", "due_date", "assignee", "contact", "invoice", "created_at", "completed_at"]
    list_filter = ["status", "due_date", ("assignee", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["title", "description", "contact__name", "contact__email", "invoice__number"]
    date_hierarchy = "due_date"
    list_select_related = ["assignee", "contact", "invoice"]
    autocomplete_fields = ["contact", "invoice"]
    fields = [
        "title", "description", "due_date", "assignee", "contact", "invoice",
        "status", "run", "created_at", "created_by", "completed_at", "completed_by",
    ]
    # Status changes go through the actions below, which call tasks.services.
    readonly_fields = ["status", "run", "created_at", "created_by", "completed_at", "completed_by"]
    actions = ["mark_done", "reopen"]

    def save_model(self, request: HttpRequest, obj: Task, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        task = services.create_task(
            title=obj.title, description=obj.description, due_date=obj.due_date, assignee=obj.assignee,
            contact=obj.contact, invoice=obj.invoice, by=request.user,
        )
        obj.pk = task.pk
        for field in Task._meta.concrete_fields:
            setattr(obj, field.attname, getattr(task, field.attname))

    def _transition(self, request: HttpRequest, queryset: QuerySet[Task], service, done_message) -> None:
        run_service_on_each(self, request, queryset, lambda task: service(task=task, by=request.user), done_message)

    @admin.action(description=_("Mark done"), permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        self._transition(request, queryset, services.complete_task, lambda n: ngettext(
            "%(count)d task marked done.", "%(count)d tasks marked done.", n) % {"count": n})

    @admin.action(description=_("Reopen"), permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        self._transition(request, queryset, services.reopen_task, lambda n: ngettext(
            "%(count)d task reopened.", "%(count)d tasks reopened.", n) % {"count": n})
