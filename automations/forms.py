"""Forms for automations.

The admin's forms validate each action with the model's own checks (`Action.clean` →
`ACTIONS[kind].clean_settings`), so a missing subject shows next to the subject field, and then
save through `automations.services`, which runs the same checks again. The builder's forms (one per
step of automations.wizard) do the same through `services.build_action`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory
from django.forms.formsets import TOTAL_FORM_COUNT
from django.utils.translation import gettext_lazy as _

from core.money import format_money
from invoices.models import Invoice
from webhooks.models import new_secret
from workflows.models import Step, Workflow

from . import services
from .models import SETTINGS_FIELDS, Action, ActionKind, Automation
from .actions import ACTIONS
from .triggers import FREQUENCY_HELP, SCHEDULE_TRIGGERS, Frequency, Trigger


class AutomationAdminForm(forms.ModelForm):
    class Meta:
        model = Automation
        fields = ["name", "trigger", "frequency"]


class ActionInlineForm(forms.ModelForm):
    class Meta:
        model = Action
        fields = ["position", "kind", *SETTINGS_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].required = False
        self.fields["position"].help_text = _("Actions run in this order; empty means after the others.")
        if "step" in self.fields:
            self.fields["step"].queryset = Step.objects.select_related("workflow").order_by("workflow__name", "position")
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = get_user_model().objects.order_by("username")

    def as_service_dict(self) -> dict[str, Any]:
        """The action as `create_automation`/`update_automation` take it."""
        data = {"kind": self.cleaned_data["kind"]}
        for name in SETTINGS_FIELDS:
            data[name] = self.cleaned_data.get(name)
        return data


class ActionInlineFormSet(forms.BaseInlineFormSet):
    def _kept_forms(self) -> list[tuple[int, int, ActionInlineForm]]:
        kept = []
        for index, form in enumerate(self.forms):
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue  # an empty extra form
            if self.can_delete and self._should_delete_form(form):
                continue
            position = form.cleaned_data.get("position")
            kept.append((position if position is not None else 10**9, index, form))
        kept.sort(key=lambda row: row[:2])
        return kept

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = self._kept_forms()
        if not kept:
            raise ValidationError(_("An automation needs at least one action."), code="no_actions")
        if len(kept) > services.MAX_ACTIONS:
            raise ValidationError(services.too_many_actions(len(kept)), code="too_many_actions")

    def action_dicts(self) -> list[dict[str, Any]]:
        """The kept actions in their order (by position, then as listed), for the services."""
        return [form.as_service_dict() for _position, _index, form in self._kept_forms()]


# --- The browser UI: the builder's steps ------------------------------------------------------
#
# One form per step of the wizard (automations.wizard): name → trigger → limit frequency →
# actions → review. The action forms check each action with the services' own rules
# (`services.build_action`), so a placeholder typo or a negative number of days is reported at
# its field before anything is saved, with the same words the services use.

# The fields each kind of action shows, in the order the form shows them.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    ActionKind.SEND_EMAIL: ("subject", "body", "sender_name", "reply_to"),
    ActionKind.CREATE_TASK: ("title", "description", "due_in_days", "assignee"),
    ActionKind.MOVE_CARD: ("workflow", "step"),
    ActionKind.CALL_WEBHOOK: ("webhook_url", "webhook_secret"),
}
KIND_ICONS: dict[str, str] = {
    ActionKind.SEND_EMAIL: "bi-envelope",
    ActionKind.CREATE_TASK: "bi-check2-square",
    ActionKind.MOVE_CARD: "bi-kanban",
    ActionKind.CHARGE_FEE: "bi-cash-coin",
    ActionKind.CHARGE_INTEREST: "bi-percent",
    ActionKind.CALL_WEBHOOK: "bi-broadcast",
}
# What the builder offers for an automation that runs its actions once (the charges belong to the
# steps of reminder schedules).
PLAIN_KINDS = [(kind, label) for kind, label in ActionKind.choices if not ACTIONS[kind].schedule_only]
PLAIN_TRIGGERS = [(value, label) for value, label in Trigger.choices if value not in SCHEDULE_TRIGGERS]


class NameForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=200, required=False,
        widget=forms.TextInput(attrs={
            "class": "form-control form-control-lg title-input", "autocomplete": "off",
            "placeholder": _("Untitled automation"), "aria-label": _("Name of the automation"),
        }),
    )

    def clean_name(self) -> str:
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if not name:
            raise ValidationError(_("An automation needs a name."), code="required")
        return name


class TriggerForm(forms.Form):
    trigger = forms.ChoiceField(
        label=_("Trigger"), choices=PLAIN_TRIGGERS, widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": _("Choose the trigger that starts this automation.")},
    )


class FrequencyRadioSelect(forms.RadioSelect):
    """Radio buttons with each option's one-line explanation (triggers.FREQUENCY_HELP)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        option["help"] = FREQUENCY_HELP.get(value, "")
        return option


class FrequencyForm(forms.Form):
    frequency = forms.ChoiceField(
        label=_("Limit frequency"), choices=Frequency.choices,
        widget=FrequencyRadioSelect(attrs={"class": "form-check-input mt-1"}),
        initial=Frequency.UNLIMITED,
        error_messages={"required": _("Choose how often the automation may run for a contact.")},
    )


class StepSelect(forms.Select):
    """A step select whose options say their workflow (data-workflow), so the page can show only
    the steps of the chosen workflow."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-workflow"] = str(instance.workflow_id)
        return option


class StepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, step: Step) -> str:
        return step.name


class AssigneeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        full = user.get_full_name()
        return f"{full} ({user.get_username()})" if full else user.get_username()


class ActionForm(forms.Form):
    """One action of the builder. Only the fields of its `kind` are shown and used."""

    kind = forms.ChoiceField(choices=PLAIN_KINDS, widget=forms.HiddenInput)
    # Send email to customer
    subject = forms.CharField(label=_("Subject"), required=False, max_length=300)
    body = forms.CharField(label=_("Message"), required=False, max_length=20_000,
                           widget=forms.Textarea(attrs={"rows": 7}))
    sender_name = forms.CharField(label=_("Sender name"), required=False, max_length=100,
                                  help_text=_("Empty: your business name. Placeholders work here as in the subject."))
    reply_to = forms.CharField(label=_("Reply-to address"), required=False, max_length=254,
                               help_text=_("Where the customer's answers go. Empty: the sending address."))
    # Create a task
    title = forms.CharField(label=_("Task title"), required=False, max_length=300)
    description = forms.CharField(label=_("Description"), required=False, max_length=10_000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    due_in_days = forms.IntegerField(label=_("Due in (days)"), required=False,
                                     help_text=_("Days after the trigger; empty: no due date."),
                                     widget=forms.NumberInput(attrs={"min": 0, "step": 1}))
    assignee = AssigneeChoiceField(label=_("Assign to"), queryset=None, required=False,
                                   empty_label=_("The whole team"))
    # Move card on workflow
    workflow = forms.ModelChoiceField(label=_("Workflow"), queryset=Workflow.objects.none(), required=False,
                                      empty_label=_("Choose a workflow"))
    step = StepChoiceField(label=_("Move the card to the step"), queryset=Step.objects.none(), required=False,
                           empty_label=_("Choose a step"), widget=StepSelect)
    # Call a webhook
    webhook_url = forms.CharField(label=_("Webhook URL"), required=False, max_length=2000,
                                  help_text=_("The event is posted there, signed per Standard Webhooks."))
    webhook_secret = forms.CharField(label=_("Signing secret"), required=False, max_length=100,
                                     help_text=_("The receiver checks the signature with it; a new one is filled in."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["workflow"].queryset = Workflow.objects.order_by("name")
        self.fields["step"].queryset = Step.objects.order_by("workflow__name", "position", "pk")
        for name in ("workflow", "step", "assignee"):
            self.fields[name].widget.attrs.setdefault("class", "form-select")
        self.fields["workflow"].widget.attrs["data-workflow-select"] = ""
        self.fields["step"].widget.attrs["data-step-select"] = ""
        for name in ("subject", "body", "sender_name", "title", "description"):
            self.fields[name].widget.attrs["data-placeholder-target"] = ""
        if not self.is_bound:
            self.initial.setdefault("webhook_secret", new_secret())
        elif self.kind_value == ActionKind.CALL_WEBHOOK and not self.data.get(self.add_prefix("webhook_secret")):
            # A webhook action just added in the builder (or its secret emptied): a fresh secret to copy.
            self.data = self.data.copy()
            self.data[self.add_prefix("webhook_secret")] = new_secret()

    @property
    def kind_value(self) -> str:
        return str(self["kind"].value() or "")

    @property
    def kind_label(self) -> str:
        try:
            return ActionKind(self.kind_value).label
        except ValueError:
            return self.kind_value

    @property
    def kind_icon(self) -> str:
        return KIND_ICONS.get(self.kind_value, "bi-lightning")

    def visible_kind_fields(self) -> list:
        return [self[name] for name in KIND_FIELDS.get(self.kind_value, ())]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind or any(name in self._errors for name in KIND_FIELDS.get(kind, ())):
            return cleaned
        if kind == ActionKind.MOVE_CARD:
            workflow, step = cleaned.get("workflow"), cleaned.get("step")
            if workflow is None:
                self.add_error("workflow", ValidationError(_("Choose the workflow whose card moves."), code="required"))
                return cleaned
            if step is not None and step.workflow_id != workflow.pk:
                self.add_error("step", ValidationError(
                    _("The step “%(step)s” belongs to the workflow “%(other)s”, not to “%(workflow)s”. "
                      "Choose a step of “%(workflow)s”.") % {
                        "step": step.name, "other": step.workflow.name, "workflow": workflow.name},
                    code="other_workflow"))
                return cleaned
        _action, errors = services.build_action(self.as_service_dict())
        for field, messages in errors.items():
            target = field if field in self.fields and field != "kind" else None
            for message in messages:
                self.add_error(target, message)
        return cleaned

    def as_service_dict(self) -> dict[str, Any]:
        """The action as `create_automation`/`update_automation` take it: only its kind's fields."""
        kind = self.cleaned_data.get("kind")
        data: dict[str, Any] = {"kind": kind}
        for name in KIND_FIELDS.get(kind, ()):
            if name != "workflow":
                data[name] = self.cleaned_data.get(name)
        return data


class BaseActionFormSet(BaseFormSet):
    def full_clean(self) -> None:
        super().full_clean()
        # Django's own "Please submit at most 20 forms." in the services' words, with the count posted.
        if self.is_bound and any(e.code == "too_many_forms" for e in self._non_form_errors.as_data()):
            posted = self.management_form.cleaned_data.get(TOTAL_FORM_COUNT, 0)
            self._non_form_errors = self.error_class(
                [ValidationError(services.too_many_actions(posted), code="too_many_forms")],
                error_class="nonform", renderer=self.renderer)

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.forms:
            raise ValidationError(_("An automation needs at least one action."), code="no_actions")

    def action_dicts(self) -> list[dict[str, Any]]:
        return [form.as_service_dict() for form in self.forms]


ActionFormSet = formset_factory(ActionForm, formset=BaseActionFormSet, extra=0, max_num=services.MAX_ACTIONS,
                                validate_max=True, absolute_max=services.MAX_ACTIONS)


class ReviewForm(forms.Form):
    ACTIVATE = "on"
    DRAFT = "off"
    activate = forms.ChoiceField(
        choices=[(ACTIVATE, _("Activate")), (DRAFT, _("Save as draft (off)"))], widget=forms.HiddenInput,
        error_messages={"required": _("Choose “Activate” or “Save as draft (off)”.")},
    )


# --- Detail page forms ------------------------------------------------------------------------


class InvoiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, invoice: Invoice) -> str:
        return f"{invoice.number} · {invoice.contact.name} · {format_money(invoice.total, invoice.currency)} · " \
               f"{invoice.get_status_display()}"


def invoice_choices_queryset():
    return Invoice.objects.select_related("contact").order_by("-issue_date", "-number")


class SendTestForm(forms.Form):
    invoice = InvoiceChoiceField(label=_("Invoice"), queryset=Invoice.objects.none(),
                                 empty_label=_("Choose an invoice"),
                                 help_text=_("The placeholders are filled in from this invoice and its contact."),
                                 error_messages={"required": _("Choose the invoice to test with.")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = invoice_choices_queryset()
        self.fields["invoice"].widget.attrs["class"] = "form-select"


class ImportForm(forms.Form):
    MAX_BYTES = 2 * 1024 * 1024
    file = forms.FileField(label=_("JSON file"), help_text=_("A file exported from Automations (.json)."),
                           error_messages={"required": _("Choose the file to import.")})
    replace = forms.BooleanField(
        label=_("Replace automations of the same name"), required=False,
        help_text=_("Without this, an automation whose name is already taken is refused."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError(_("The file is too large (at most 2 MB)."), code="too_large")
        return upload

