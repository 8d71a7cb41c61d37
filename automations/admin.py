"""Admin for automations and their history.

Automations are saved through automations.services (one set of rules for every way in), switched
on and off with admin actions, never by editing `is_active`. Events, runs and action results are
history: they can be read, not added or changed, and only superusers may delete them.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ServiceErrorsMixin, run_service_on_each

from . import reminders, services
from .forms import ActionInlineForm, ActionInlineFormSet, AutomationAdminForm, ScheduleAdminForm
from . import conditions
from .models import Action, Automation, EmailEvent, Event, ReminderStep, Run, RunAction
from .triggers import SCHEDULE_TRIGGERS


class ActionInline(admin.StackedInline):
    model = Action
    form = ActionInlineForm
    formset = ActionInlineFormSet
    ordering = ["position", "pk"]
    extra = 0
    min_num = 1
    max_num = services.MAX_ACTIONS
    fieldsets = [
        (None, {"fields": ["kind", "position"]}),
        (_("Send email to customer"), {"fields": ["subject", "body", "sender_name", "reply_to"]}),
        (_("Create a task"), {"fields": ["title", "description", "due_in_days", "assignee"]}),
        (_("Move card on workflow"), {"fields": ["step"]}),
    ]


class ReminderStepInline(admin.TabularInline):
    """A reminder schedule's steps with their actions, in words. They are changed as a whole, which
    checks the steps' order, the repeats, the actions: in the builder, by JSON import, or here in the
    change form's JSON field (ScheduleAdminForm)."""

    model = ReminderStep
    fields = ["position", "name", "when", "repeat", "step_actions"]
    readonly_fields = fields
    ordering = ["position"]
    extra = 0
    can_delete = False
    verbose_name_plural = _("Schedule (change it in the JSON above or with “Edit in the builder”)")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("when"))
    def when(self, step: ReminderStep) -> str:
        return reminders.steps_summary([step])[0].partition(": ")[2].partition(";")[0]

    @admin.display(description=_("repeat"))
    def repeat(self, step: ReminderStep) -> str:
        if step.repeat_every_days and step.repeat_times:
            return _("every %(days)d days, at most %(times)d times") % {
                "days": step.repeat_every_days, "times": step.repeat_times}
        return "—"

    @admin.display(description=_("actions"))
    def step_actions(self, step: ReminderStep) -> str:
        return "; ".join(
            f"{action.get_kind_display()}" + (f" ({action.subject})" if action.subject else "")
            + (f" ({action.fee})" if action.fee is not None else "")
            for action in step.actions.order_by("position"))


@admin.register(Automation)
class AutomationAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    # "Add automation" opens the builder of the browser UI (automations.wizard), the same steps an
    # owner uses; the change page links to it too. The admin's add form still accepts a POST.
    change_list_template = "automations/admin/change_list.html"
    change_form_template = "automations/admin/change_form.html"
    form = AutomationAdminForm
    inlines = [ActionInline]

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "GET" and "classic" not in request.GET:
            return HttpResponseRedirect(reverse("automations:automation-new"))
        return super().add_view(request, form_url, extra_context)
    list_display = ["name", "trigger", "frequency", "is_active", "action_count", "updated_at"]
    list_filter = ["is_active", "trigger", "frequency"]
    search_fields = ["name"]
    fields = ["name", "trigger", "frequency", "is_active", "created_by", "created_at", "updated_at"]
    # Switched on and off with the actions below (services.set_automation_active).
    readonly_fields = ["is_active", "created_by", "created_at", "updated_at"]
    actions = ["switch_on", "switch_off"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(action_count=Count("actions"))

    @staticmethod
    def _is_schedule(obj: Automation | None) -> bool:
        return obj is not None and obj.trigger in SCHEDULE_TRIGGERS

    def _edits_schedule(self, request, obj: Automation | None) -> bool:
        # Its steps and conditions as JSON (ScheduleAdminForm); without permission to change, the
        # page shows them in words only, as before.
        return self._is_schedule(obj) and self.has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._edits_schedule(request, obj):
            kwargs["form"] = ScheduleAdminForm
        return super().get_form(request, obj, change, **kwargs)

    def get_inlines(self, request, obj=None):
        # A reminder schedule's actions belong to its steps: shown with them, changed in the builder.
        return [ReminderStepInline] if self._is_schedule(obj) else [ActionInline]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if self._is_schedule(obj):
            after = ["conditions_text", "schedule_from"] + (["schedule_json"] if self._edits_schedule(request, obj) else [])
            fields[fields.index("frequency") + 1:fields.index("frequency") + 1] = after
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._is_schedule(obj):
            readonly += ["trigger", "conditions_text", "schedule_from"]
        return readonly

    @admin.display(description=_("conditions"))
    def conditions_text(self, automation: Automation) -> str:
        return conditions.describe(automation.conditions)

    @admin.display(description=_("actions"), ordering="action_count")
    def action_count(self, automation: Automation) -> int:
        return automation.action_count

    def save_model(self, request, obj: Automation, form, change: bool) -> None:
        # Saved with its actions in save_related, by the services, in one go.
        pass

    def save_related(self, request, form, formsets, change: bool) -> None:
        formset = next((f for f in formsets if isinstance(f, ActionInlineFormSet)), None)
        fields = {name: form.cleaned_data[name] for name in ("name", "trigger", "frequency") if name in form.cleaned_data}
        # Without the inline (no permission on actions) the actions stay as they are.
        if formset is not None:
            fields["actions"] = formset.action_dicts()
        # A reminder schedule's steps and conditions, checked by ScheduleAdminForm: None if unchanged.
        schedule = form.cleaned_data.get("schedule_json")
        if schedule is not None:
            fields |= {"steps": schedule["steps"], "conditions": schedule["conditions"]}
        if change:
            automation = services.update_automation(automation=form.instance, by=request.user, **fields)
        else:
            automation = services.create_automation(by=request.user, **{"actions": [], **fields})
        for field in Automation._meta.concrete_fields:
            setattr(form.instance, field.attname, getattr(automation, field.attname))
        for other in formsets:
            if other is not formset:  # the schedule's steps: read-only here, nothing saved
                other.new_objects, other.changed_objects, other.deleted_objects = [], [], []
        if formset is not None:
            # The actions are replaced as a whole; record them as such in the history.
            formset.new_objects = list(automation.actions.all()) if not change else []
            formset.changed_objects = []
            formset.deleted_objects = []

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        # Stored in English, translated when shown (as Django stores the field labels).
        with translation.override(None):
            json_label, steps = str(ScheduleAdminForm.base_fields["schedule_json"].label), str(_("steps and conditions"))
            actions = str(_("actions"))
        for entry in message:
            fields = entry.get("changed", {}).get("fields", [])
            if json_label in fields:  # changed values, not only spacing (ScheduleJSONField)
                fields[fields.index(json_label)] = steps
        if not add and any(f.has_changed() for f in formsets):
            message.append({"changed": {"fields": [actions]}})
        return message

    def delete_model(self, request, obj: Automation) -> None:
        services.delete_automation(automation=obj, by=request.user)

    def delete_queryset(self, request, queryset: QuerySet[Automation]) -> None:
        for automation in queryset:
            services.delete_automation(automation=automation, by=request.user)

    def _switch(self, request: HttpRequest, queryset: QuerySet[Automation], active: bool,
                include_backlog: bool = False) -> None:
        run_service_on_each(
            self, request, queryset,
            lambda automation: services.set_automation_active(automation=automation, active=active,
                                                              include_backlog=include_backlog, by=request.user),
            lambda n: (
                ngettext("%(count)d automation switched on.", "%(count)d automations switched on.", n)
                if active
                else ngettext("%(count)d automation switched off.", "%(count)d automations switched off.", n)
            ) % {"count": n},
        )

    @admin.action(description=_("Switch on"), permissions=["change"])
    def switch_on(self, request: HttpRequest, queryset: QuerySet[Automation]) -> TemplateResponse | None:
        # As in the app: a reminder schedule switched on first asks whether the invoices already
        # past its first step enter it, with their count (one answer for all the selected ones).
        backlog = request.POST.get("backlog")
        schedules = [a for a in queryset if a.trigger in SCHEDULE_TRIGGERS and not a.is_active]
        if schedules and backlog not in ("new", "all"):
            for automation in schedules:
                automation.backlog_count = reminders.backlog(automation)
            return TemplateResponse(request, "automations/admin/switch_on_backlog.html", {
                **self.admin_site.each_context(request),
                "title": _("Switch on"),
                "opts": self.model._meta,
                "schedules": schedules,
                "total": sum(a.backlog_count for a in schedules),
                "selected": [a.pk for a in queryset],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            })
        self._switch(request, queryset, True, include_backlog=backlog == "all")
        return None

    @admin.action(description=_("Switch off"), permissions=["change"])
    def switch_off(self, request: HttpRequest, queryset: QuerySet[Automation]) -> None:
        self._switch(request, queryset, False)


# --- History: read-only -----------------------------------------------------------------------


class HistoryAdminMixin:
    """Written by the engine only: readable, never added or edited here; owners may delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj)


class HistoryInline(HistoryAdminMixin, admin.TabularInline):
    extra = 0
    show_change_link = True
    can_delete = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RunInline(HistoryInline):
    model = Run
    fields = ["automation", "status", "reason", "created_at", "finished_at"]
    readonly_fields = fields
    ordering = ["-created_at"]


class RunActionInline(HistoryInline):
    model = RunAction
    fields = ["position", "kind", "status", "email_to", "email_status", "task", "card", "step", "detail", "error",
              "attempts"]
    readonly_fields = fields
    ordering = ["position"]


class DispatchedFilter(admin.SimpleListFilter):
    title = _("dispatched")
    parameter_name = "dispatched"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No, not yet"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(dispatched_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(dispatched_at__isnull=True)
        return queryset


@admin.register(Event)
class EventAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "kind", "contact", "invoice", "recurring", "dispatched_at"]
    list_filter = ["kind", DispatchedFilter, "occurred_at"]
    search_fields = ["contact__name", "contact__email", "invoice__number", "key"]
    list_select_related = ["contact", "invoice", "recurring__contact"]
    inlines = [RunInline]


@admin.register(Run)
class RunAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "automation", "contact", "event_kind", "status", "reason", "short_error", "attempts",
                    "finished_at"]
    list_filter = ["status", "automation", "event__kind", "created_at"]
    search_fields = ["automation__name", "contact__name", "contact__email", "reason", "error", "event__invoice__number"]
    date_hierarchy = "created_at"
    list_select_related = ["automation", "contact", "event"]
    inlines = [RunActionInline]
    actions = ["retry_selected"]

    @admin.display(description=_("trigger"), ordering="event__kind")
    def event_kind(self, run: Run) -> str:
        return run.event.get_kind_display()

    @admin.display(description=_("error"))
    def short_error(self, run: Run) -> str:
        return run.error if len(run.error) <= 120 else run.error[:117] + "…"

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("automations.change_automation")

    @admin.action(description=_("Retry selected failed runs"), permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        run_service_on_each(
            self, request, queryset, lambda run: services.retry_run(run=run, by=request.user),
            lambda n: ngettext("%(count)d run will be tried again.", "%(count)d runs will be tried again.", n)
            % {"count": n},
        )


@admin.register(RunAction)
class RunActionAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = ["run", "position", "kind", "status", "email_to", "email_status", "attempts", "updated_at"]
    list_filter = ["status", "kind", "email_status"]
    search_fields = ["message_id", "email_to", "idempotency_key", "run__automation__name", "run__contact__name"]
    date_hierarchy = "created_at"
    list_select_related = ["run__automation", "run__event__invoice", "run__event__recurring__contact"]


class EmailEventInline(HistoryInline):
    model = EmailEvent
    fields = ["timestamp", "event_type", "recipient", "description"]
    readonly_fields = fields
    ordering = ["-timestamp"]


RunActionAdmin.inlines = [EmailEventInline]


@admin.register(EmailEvent)
class EmailEventAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = ["timestamp", "event_type", "recipient", "message_id", "received_at"]
    list_filter = ["event_type", "timestamp"]
    search_fields = ["message_id", "recipient", "event_id"]
    date_hierarchy = "timestamp"
