"""Admin for workflow boards. Every change goes through workflows.services, so the admin keeps
the same rules as the product: dense positions, one card per contact per board, and no step
deleted while an automation moves cards to it."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ServiceErrorsMixin
from core.errors import DomainError

from . import services
from .models import Card, Step, Workflow


def _changelist_link(model: type, label: str, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


# --- Workflow with its steps ------------------------------------------------------------------


class StepInlineForm(forms.ModelForm):
    position = forms.IntegerField(
        label=_("position"), required=False, min_value=0,
        help_text=_("Columns are shown in this order; empty means after the others."),
    )

    class Meta:
        model = Step
        fields = ["name", "position"]


class StepInlineFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        # Before super().clean(): its unique checks run Django's own "protected objects" check,
        # whose message does not name the automation.
        names: set[str] = set()
        problems: list[str] = []
        kept = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data"):
                continue
            if self.can_delete and self._should_delete_form(form):
                if form.instance.pk:
                    original = Step.objects.filter(pk=form.instance.pk).first()
                    if original is not None:
                        problems.extend(services.step_deletion_problems(step=original))
                continue
            name = " ".join((form.cleaned_data.get("name") or "").split())
            if not name:
                continue
            kept += 1
            if name.casefold() in names:
                form.add_error("name", _("Another step of this workflow has this name."))
            names.add(name.casefold())
        if problems:
            raise ValidationError(problems)
        if kept == 0 and not any(self.errors):
            raise ValidationError(_("A workflow needs at least one step."))
        super().clean()


class StepInline(admin.TabularInline):
    model = Step
    form = StepInlineForm
    formset = StepInlineFormSet
    fields = ["name", "position", "cards"]
    readonly_fields = ["cards"]
    ordering = ["position", "pk"]
    extra = 1

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(card_count=Count("cards"))

    @admin.display(description=_("cards"))
    def cards(self, step: Step) -> str:
        if not step.pk:
            return "–"
        return _changelist_link(Card, str(getattr(step, "card_count", step.cards.count())), step__id__exact=step.pk)


class WorkflowAdminForm(forms.ModelForm):
    class Meta:
        model = Workflow
        fields = ["name"]

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if Workflow.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("A workflow with this name already exists."), code="unique")
        return name


@admin.register(Workflow)
class WorkflowAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = WorkflowAdminForm
    list_display = ["name", "step_count", "card_list", "created_at"]
    search_fields = ["name"]
    fields = ["name", "card_list", "created_at"]
    readonly_fields = ["card_list", "created_at"]
    inlines = [StepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            step_count=Count("steps", distinct=True), card_count=Count("cards", distinct=True)
        )

    @admin.display(description=_("steps"), ordering="step_count")
    def step_count(self, workflow: Workflow) -> int:
        return workflow.step_count

    @admin.display(description=_("cards"))
    def card_list(self, workflow: Workflow) -> str:
        if not workflow.pk:
            return "–"
        count = getattr(workflow, "card_count", None)
        if count is None:
            count = workflow.cards.count()
        label = ngettext("%(count)d card", "%(count)d cards", count) % {"count": count}
        return _changelist_link(Card, label, workflow__id__exact=workflow.pk)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        problems = [problem for workflow in objs for problem in services.workflow_deletion_problems(workflow=workflow)]
        return deleted, model_count, perms_needed, problems

    def delete_model(self, request, obj: Workflow) -> None:
        services.delete_workflow(workflow=obj)

    def delete_queryset(self, request, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            services.delete_workflow(workflow=workflow)

    def save_model(self, request, obj: Workflow, form, change: bool) -> None:
        # A new workflow is created with its steps in save_related, by create_workflow.
        if change and "name" in form.changed_data:
            services.rename_workflow(workflow=obj, name=form.cleaned_data["name"])

    def save_related(self, request, form, formsets, change: bool) -> None:
        step_formsets = [formset for formset in formsets if isinstance(formset, StepInlineFormSet)]
        for formset in step_formsets:
            self._save_steps(form, formset, change)
        if not change and not step_formsets:  # no permission to add steps: the board cannot be made
            raise DomainError(str(_("A workflow needs at least one step.")))

    def _save_steps(self, form, formset: StepInlineFormSet, change: bool) -> None:
        kept, deleted = [], []
        for index, step_form in enumerate(formset.forms):
            if not hasattr(step_form, "cleaned_data") or (step_form.instance.pk is None and not step_form.has_changed()):
                continue
            if formset.can_delete and formset._should_delete_form(step_form):
                if step_form.instance.pk:
                    deleted.append(step_form.instance)
                continue
            position = step_form.cleaned_data.get("position")
            kept.append((position if position is not None else 10**9, index, step_form))
        kept.sort(key=lambda row: row[:2])
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not change:
            workflow = services.create_workflow(
                name=form.cleaned_data["name"], steps=[f.cleaned_data["name"] for _p, _i, f in kept]
            )
            form.instance.pk = workflow.pk
            form.instance.created_at = workflow.created_at
            formset.new_objects = list(workflow.steps.all())
            return
        workflow = form.instance
        for step in deleted:
            services.delete_step(step=step)
            formset.deleted_objects.append(step)
        order = []
        for _position, _index, step_form in kept:
            step = step_form.instance
            if step.pk is None:
                step = services.add_step(workflow=workflow, name=step_form.cleaned_data["name"])
                formset.new_objects.append(step)
            elif "name" in step_form.changed_data:
                services.rename_step(step=step, name=step_form.cleaned_data["name"])
                formset.changed_objects.append((step, ["name"]))
            order.append(step.pk)
        services.reorder_steps(workflow=workflow, step_ids=order)


# --- Steps ------------------------------------------------------------------------------------


class StepAdminForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ["workflow", "name"]

    def clean(self):
        cleaned = super().clean()
        workflow = cleaned.get("workflow") or getattr(self.instance, "workflow", None)
        name = " ".join((cleaned.get("name") or "").split())
        if workflow and name and Step.objects.filter(workflow=workflow, name__iexact=name).exclude(
                pk=self.instance.pk).exists():
            self.add_error("name", _("This workflow already has a step with this name."))
        return cleaned


@admin.register(Step)
class StepAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = StepAdminForm
    list_display = ["name", "workflow", "position", "card_count", "used_by"]
    list_filter = ["workflow"]
    search_fields = ["name", "workflow__name"]
    list_select_related = ["workflow"]
    ordering = ["workflow__name", "position", "pk"]
    readonly_fields = ["position", "used_by"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(card_count=Count("cards"))

    def get_fields(self, request, obj=None):
        return ["workflow", "name"] if obj is None else ["workflow", "name", "position", "used_by"]

    def get_readonly_fields(self, request, obj=None):
        # A step belongs to its workflow for good; the order is changed on the workflow's page.
        return ["position", "used_by"] if obj is None else ["workflow", "position", "used_by"]

    @admin.display(description=_("cards"), ordering="card_count")
    def card_count(self, step: Step) -> str:
        return _changelist_link(Card, str(step.card_count), step__id__exact=step.pk)

    @admin.display(description=_("used by automations"))
    def used_by(self, step: Step) -> str:
        if not step.pk:
            return "–"
        return ", ".join(sorted(set(step.actions.values_list("automation__name", flat=True)))) or "–"

    def save_model(self, request, obj: Step, form, change: bool) -> None:
        if change:
            if "name" in form.changed_data:
                services.rename_step(step=obj, name=form.cleaned_data["name"])
            return
        step = services.add_step(workflow=form.cleaned_data["workflow"], name=form.cleaned_data["name"])
        obj.pk, obj.position = step.pk, step.position

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Instead of Django's list of protected rows ("action 1. Move card on workflow"), say
        # which automations use the step and what to do about its cards.
        problems = [problem for step in objs for problem in services.step_deletion_problems(step=step)]
        return deleted, model_count, perms_needed, problems

    def delete_model(self, request, obj: Step) -> None:
        services.delete_step(step=obj)

    def delete_queryset(self, request, queryset: QuerySet[Step]) -> None:
        for step in queryset:
            services.delete_step(step=step)


# --- Cards ------------------------------------------------------------------------------------


class CardAdminForm(forms.ModelForm):
    position = forms.IntegerField(
        label=_("position"), required=False, min_value=0,
        help_text=_("0 is the top of the column; leave empty for the end of the column."),
    )

    class Meta:
        model = Card
        fields = ["contact", "step", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "step" in self.fields:
            self.fields["step"].queryset = Step.objects.select_related("workflow").order_by("workflow__name", "position")
        if self.instance.pk is None:
            self.initial.pop("position", None)

    def clean(self):
        cleaned = super().clean()
        step = cleaned.get("step")
        if step is None:
            return cleaned
        if self.instance.pk is None:
            contact = cleaned.get("contact")
            if contact and Card.objects.filter(workflow_id=step.workflow_id, contact=contact).exists():
                self.add_error("contact", _("This contact already has a card on this workflow; move that card instead."))
        elif step.workflow_id != self.instance.workflow_id:
            self.add_error("step", _("Choose a step of the card's own workflow."))
        return cleaned

    def _post_clean(self):
        # The workflow is taken from the step by the services; skip the model's checks that need it.
        pass


@admin.register(Card)
class CardAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = CardAdminForm
    list_display = ["contact", "workflow", "step", "position", "moved_at"]
    list_filter = ["workflow", "step"]
    search_fields = ["contact__name", "contact__email", "contact__company", "workflow__name", "step__name"]
    list_select_related = ["contact", "workflow", "step__workflow"]
    ordering = ["workflow__name", "step__position", "position", "pk"]
    date_hierarchy = "moved_at"
    autocomplete_fields = ["contact"]

    def get_fields(self, request, obj=None):
        return ["step", "contact", "position"] if obj is None else ["workflow", "contact", "step", "position",
                                                                    "created_at", "moved_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["workflow", "contact", "created_at", "moved_at"]

    def save_model(self, request, obj: Card, form, change: bool) -> None:
        position = form.cleaned_data.get("position")
        step = form.cleaned_data["step"]
        if change:
            if not form.changed_data:
                return
            if "position" not in form.changed_data:
                position = None  # a new column without a chosen place: the end of it
            card = services.move_card(card=Card.objects.get(pk=obj.pk), step=step, position=position)
        else:
            card = services.place_card(contact=form.cleaned_data["contact"], step=step, position=position)
        for field in Card._meta.concrete_fields:
            setattr(obj, field.attname, getattr(card, field.attname))

    def delete_model(self, request, obj: Card) -> None:
        services.remove_card(card=obj)

    def delete_queryset(self, request, queryset: QuerySet[Card]) -> None:
        for card in queryset:
            services.remove_card(card=card)
