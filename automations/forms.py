"""Forms for automations.

The admin's forms validate each action with the model's own checks (`Action.clean` →
`ACTIONS[kind].clean_settings`), so a missing subject shows next to the subject field, and then
save through `automations.services`, which runs the same checks again. The builder's forms (one per
step of automations.wizard) do the same through `services.build_action`.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory
from django.forms.fields import InvalidJSONInput
from django.forms.formsets import TOTAL_FORM_COUNT
from django.utils.translation import gettext_lazy as _

from core.money import format_money
from invoices.models import Invoice, Language
from webhooks.models import new_secret
from workflows.models import Step, Workflow

from . import conditions, portable, services
from .models import SETTINGS_FIELDS, Action, ActionKind, Automation, ReminderStep
from .actions import ACTIONS
from .triggers import FREQUENCY_HELP, SCHEDULE_TRIGGERS, Frequency, Trigger


class AutomationAdminForm(forms.ModelForm):
    class Meta:
        model = Automation
        fields = ["name", "trigger", "frequency"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A reminder schedule (steps, each with its actions) is built in the builder or imported;
        # the admin's actions inline has no steps.
        if "trigger" in self.fields:
            self.fields["trigger"].choices = [("", "---------"), *PLAIN_TRIGGERS]


class ScheduleJSONField(forms.JSONField):
    """JSON in a text area: shown pretty-printed as the JSON export writes it, the text as typed when
    the form comes back with errors, a syntax error with its line and column. Changed means the
    parsed values differ (not the spacing); a form without the field leaves the value as it is."""

    widget = forms.Textarea(attrs={"class": "vLargeTextField", "rows": 24, "spellcheck": "false"})

    def to_python(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.strip() == "":
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("This is not valid JSON: %(error)s at line %(line)d, column %(column)d."), code="invalid",
                params={"error": exc.msg, "line": exc.lineno, "column": exc.colno}) from None
        except (ValueError, RecursionError) as exc:  # a number of thousands of digits, nesting too deep
            raise ValidationError(_("This is not valid JSON (%(error)s)."), code="invalid",
                                  params={"error": exc}) from None

    # Not sent at all (None; an emptied text area sends ""): left as it is.
    def bound_data(self, data: Any, initial: Any) -> Any:
        return initial if data is None else InvalidJSONInput(data)  # shown back as typed

    def has_changed(self, initial: Any, data: Any) -> bool:
        return data is not None and super().has_changed(initial, data)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class ScheduleAdminForm(AutomationAdminForm):
    """The admin's change form of a reminder schedule: its steps and conditions as JSON, in the
    shape the JSON export writes them, checked by the import's rules (automations.portable). The
    cleaned value is None when they did not change: then nothing of them is saved."""

    schedule_json = ScheduleJSONField(
        label=_("Steps and conditions (JSON)"), required=False,
        help_text=_("As the JSON export writes them. When you save, they are checked as the import checks "
                    "them; the list below shows the steps in words."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["schedule_json"] = portable.export_schedule(self.instance)

    def clean_schedule_json(self) -> dict[str, Any] | None:
        if "schedule_json" not in self.changed_data:
            return None
        try:
            return portable.check_schedule(self.instance, self.cleaned_data["schedule_json"])
        except portable.ImportInvalid as exc:
            raise ValidationError(exc.problems) from None


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
        label=_("Trigger"), choices=Trigger.choices, widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
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


def active_users():
    """The people a task can be given to."""
    return get_user_model().objects.filter(is_active=True).order_by("username")


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
        self.fields["assignee"].queryset = active_users()
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
    # A reminder schedule switched on: invoices already due enter it too, or only new ones.
    NEW_ONLY = "new"
    BACKLOG = "all"
    backlog = forms.ChoiceField(
        label=_("Invoices already overdue"), required=False, widget=forms.RadioSelect, initial="new",
        choices=[(NEW_ONLY, _("Only invoices due from today on")),
                 (BACKLOG, _("Also the invoices already overdue: they enter the schedule at its first step"))])


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



# --- The builder's reminder schedule (trigger invoice_due): steps and conditions ---------------
#
# A reminder schedule has steps (levels, Mahnstufen) instead of one list of actions. Each step is
# one form: when (N days before / on / N days after the due date, the last one maybe repeating),
# and its actions in fixed places: an email (English and German text, maybe one per customer), a
# task, a reminder fee, default interest. The forms check with the services' own rules
# (`services.check_step`, `services.build_action`, `conditions.clean`), so the builder says what
# the admin and an import say.

BEFORE, ON, AFTER = "before", "on", "after"
TIMING_CHOICES = [(BEFORE, _("days before the due date")), (ON, _("on the due date")),
                  (AFTER, _("days after the due date"))]
EMAIL_FIELDS = ("subject", "body", "subject_de", "body_de", "sender_name", "reply_to", "digest")
# The step form's fields, as the builder stores and posts them.
STEP_FIELDS = ("name", "timing", "days", "repeat", "repeat_every_days", "repeat_times", *EMAIL_FIELDS,
               "task_title", "task_due_in_days", "task_assignee", "move_to", "fee", "interest")
# The kinds of action a step of the builder has a place for (one of each).
STEP_KINDS = (ActionKind.SEND_EMAIL, ActionKind.CREATE_TASK, ActionKind.MOVE_CARD, ActionKind.CHARGE_FEE,
              ActionKind.CHARGE_INTEREST)


class WorkflowStepChoiceField(StepChoiceField):
    """A step of any workflow, named with its workflow: "Collections: Reminded"."""

    def label_from_instance(self, step: Step) -> str:
        return f"{step.workflow.name}: {step.name}"


class ScheduleStepForm(forms.Form):
    name = forms.CharField(label=_("Name of the step"), max_length=100, required=False,
                           help_text=_("For example “Friendly reminder” or “1. Mahnung”."))
    timing = forms.ChoiceField(label=_("When"), choices=TIMING_CHOICES, initial=AFTER)
    days = forms.IntegerField(label=_("Days"), required=False, widget=forms.NumberInput(attrs={"min": 0, "step": 1}))
    repeat = forms.BooleanField(label=_("Then repeat until paid"), required=False,
                                help_text=_("Only the last step can repeat."))
    repeat_every_days = forms.IntegerField(label=_("every (days)"), required=False,
                                           widget=forms.NumberInput(attrs={"min": 1, "step": 1}))
    repeat_times = forms.IntegerField(label=_("at most (times)"), required=False,
                                      widget=forms.NumberInput(attrs={"min": 1, "step": 1}))
    subject = forms.CharField(label=_("Subject (English)"), required=False, max_length=300)
    body = forms.CharField(label=_("Message (English)"), required=False, max_length=20_000,
                           widget=forms.Textarea(attrs={"rows": 6}),
                           help_text=_("For contacts whose language is English (or any other than German)."))
    subject_de = forms.CharField(label=_("Subject (German)"), required=False, max_length=300)
    body_de = forms.CharField(label=_("Message (German)"), required=False, max_length=20_000,
                              widget=forms.Textarea(attrs={"rows": 6}),
                              help_text=_("For contacts whose language is German; empty: they get the English text."))
    sender_name = forms.CharField(label=_("Sender name"), required=False, max_length=100)
    reply_to = forms.CharField(label=_("Reply-to address"), required=False, max_length=254)
    digest = forms.BooleanField(
        label=_("One email per customer listing all their open reminders of this level"), required=False,
        help_text=_("Instead of one email per invoice. Put {{ invoices.list }} in the message for the table of invoices."))
    task_title = forms.CharField(label=_("Also create a task"), required=False, max_length=300,
                                 help_text=_("The task's title; empty: no task."))
    task_due_in_days = forms.IntegerField(label=_("Task due in (days)"), required=False,
                                          widget=forms.NumberInput(attrs={"min": 0, "step": 1}))
    task_assignee = AssigneeChoiceField(label=_("Assign the task to"), queryset=None, required=False,
                                        empty_label=_("The whole team"))
    move_to = WorkflowStepChoiceField(
        label=_("Move the customer's card to"), queryset=Step.objects.none(), required=False,
        empty_label=_("Do not move the card"),
        help_text=_("The contact's card on that workflow board moves to this step (it is added if it is not there)."))
    fee = forms.DecimalField(label=_("Charge a reminder fee"), required=False, max_digits=8, decimal_places=2,
                             help_text=_("A fixed amount, booked as an invoice of its own; empty: no fee."))
    interest = forms.BooleanField(
        label=_("Charge default interest (§ 288 BGB)"), required=False,
        help_text=_("Base rate + 5 points for consumers, + 9 for businesses (with the €40 flat fee), as an invoice of its own."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("subject", "body", "subject_de", "body_de", "sender_name", "task_title"):
            self.fields[name].widget.attrs["data-placeholder-target"] = ""
        self.fields["timing"].widget.attrs["class"] = "form-select"
        self.fields["task_assignee"].queryset = active_users()
        self.fields["move_to"].queryset = Step.objects.select_related("workflow").order_by(
            "workflow__name", "position", "pk")
        for name in ("task_assignee", "move_to"):
            self.fields[name].widget.attrs["class"] = "form-select"

    # The step as the services take it --------------------------------------------------------

    def signed_days(self) -> int | None:
        timing, days = self.cleaned_data.get("timing"), self.cleaned_data.get("days")
        if timing == ON:
            return 0
        if days is None:
            return None
        return -days if timing == BEFORE else days

    def action_dicts(self) -> list[tuple[str, dict[str, Any]]]:
        """(form field the action's errors belong to, action dict) for each action this step has."""
        data = self.cleaned_data
        actions: list[tuple[str, dict[str, Any]]] = []
        if any(data.get(name) for name in ("subject", "body", "subject_de", "body_de")):
            actions.append(("subject", {"kind": ActionKind.SEND_EMAIL,
                                        **{name: data.get(name) or ("" if name != "digest" else False)
                                           for name in EMAIL_FIELDS}}))
        if data.get("task_title"):
            actions.append(("task_title", {"kind": ActionKind.CREATE_TASK, "title": data["task_title"],
                                           "due_in_days": data.get("task_due_in_days"),
                                           "assignee": data.get("task_assignee")}))
        if data.get("move_to") is not None:
            actions.append(("move_to", {"kind": ActionKind.MOVE_CARD, "step": data["move_to"]}))
        if data.get("fee") is not None:
            actions.append(("fee", {"kind": ActionKind.CHARGE_FEE, "fee": data["fee"]}))
        if data.get("interest"):
            actions.append(("interest", {"kind": ActionKind.CHARGE_INTEREST}))
        return actions

    def as_step_dict(self) -> dict[str, Any]:
        data = self.cleaned_data
        repeat = bool(data.get("repeat"))
        return {"name": data.get("name") or "", "days": self.signed_days(),
                "repeat_every_days": data.get("repeat_every_days") if repeat else None,
                "repeat_times": data.get("repeat_times") if repeat else None,
                "actions": [action for _field, action in self.action_dicts()]}

    # Checked by the services' rules ------------------------------------------------------------

    FIELD_OF = {"subject": "subject", "body": "body", "subject_de": "subject_de", "body_de": "body_de",
                "sender_name": "sender_name", "reply_to": "reply_to", "digest": "digest", "title": "task_title",
                "due_in_days": "task_due_in_days", "assignee": "task_assignee", "step": "move_to", "fee": "fee"}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("timing") != ON and cleaned.get("days") is None:
            self.add_error("days", ValidationError(_("Give the number of days."), code="required"))
            return cleaned
        if cleaned.get("timing") != ON and cleaned["days"] < 0:
            self.add_error("days", ValidationError(
                _("Give the days as 0 or more; choose “days before the due date” for a reminder before it."),
                code="min_value"))
            return cleaned
        if cleaned.get("repeat") and (cleaned.get("repeat_every_days") is None or cleaned.get("repeat_times") is None):
            self.add_error("repeat_every_days" if cleaned.get("repeat_every_days") is None else "repeat_times",
                           ValidationError(_("To repeat, give both every how many days and at most how many times."),
                                           code="required"))
            return cleaned
        step = self.as_step_dict()
        built = ReminderStep(name=" ".join(step["name"].split()), days=step["days"],
                                      repeat_every_days=step["repeat_every_days"], repeat_times=step["repeat_times"])
        try:
            built.clean_fields(exclude=["automation", "position"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = {"repeat_every_days": "repeat_every_days", "repeat_times": "repeat_times",
                          "name": "name", "days": "days"}.get(field)
                for message in messages:
                    self.add_error(target, message)
        if not step["actions"]:
            self.add_error(None, ValidationError(
                _("Give this step something to do: an email, a task, a card move, a fee or interest."),
                code="no_actions"))
        for field, action in self.action_dicts():
            _action, errors = services.build_action(action)
            for name, messages in errors.items():
                for message in messages:
                    self.add_error(self.FIELD_OF.get(name, field if name == "kind" else None), message)
        return cleaned


class BaseScheduleFormSet(BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        problems = services.check_steps_list([form.as_step_dict() for form in self.forms])
        previous = None
        if not problems:
            for index, form in enumerate(self.forms):
                step, step_problems = services.check_step(form.as_step_dict(), index=index, count=len(self.forms),
                                                          previous=previous)
                problems.extend(p for p in step_problems)
                previous = step
        if problems:
            raise ValidationError(problems, code="steps")

    def step_dicts(self) -> list[dict[str, Any]]:
        return [form.as_step_dict() for form in self.forms]


ScheduleFormSet = formset_factory(ScheduleStepForm, formset=BaseScheduleFormSet, extra=0,
                                  max_num=services.MAX_STEPS, validate_max=True, absolute_max=services.MAX_STEPS)


def step_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A schedule's steps as the services take them (or as saved) → the builder's step form values.
    Actions the builder has no place for (a second email, a webhook call) are left out; `values_of`
    refuses to open such a schedule in the builder."""
    rows = []
    for step in steps:
        days = step.get("days") or 0
        row: dict[str, Any] = {
            "name": step.get("name", ""), "timing": BEFORE if days < 0 else ON if days == 0 else AFTER,
            "days": abs(days) if days else "", "repeat": bool(step.get("repeat_every_days")),
            "repeat_every_days": step.get("repeat_every_days") or "", "repeat_times": step.get("repeat_times") or "",
        }
        for action in step.get("actions", []):
            kind = action.get("kind")
            if kind == ActionKind.SEND_EMAIL:
                row.update({name: action.get(name) or ("" if name != "digest" else False) for name in EMAIL_FIELDS})
            elif kind == ActionKind.CREATE_TASK:
                row.update(task_title=action.get("title", ""), task_due_in_days=action.get("due_in_days"),
                           task_assignee=action.get("assignee"))
            elif kind == ActionKind.MOVE_CARD:
                row["move_to"] = action.get("step")
            elif kind == ActionKind.CHARGE_FEE:
                row["fee"] = action.get("fee")
            elif kind == ActionKind.CHARGE_INTEREST:
                row["interest"] = True
        rows.append(row)
    return rows


def fits_builder(steps: list[dict[str, Any]]) -> bool:
    """Whether each step's actions fit the builder's places: at most one of each kind it has a place
    for (an email, a task, a card move, a fee, interest)."""
    for step in steps:
        kinds = [action.get("kind") for action in step.get("actions", [])]
        if len(kinds) != len(set(kinds)) or any(kind not in STEP_KINDS for kind in kinds):
            return False
    return True


ANY, YES, NO = "", "yes", "no"


class ConditionsForm(forms.Form):
    """Which invoices the schedule is for; every field empty: all open invoices."""

    amount_due = forms.DecimalField(label=_("Amount due is at least"), required=False, min_value=0,
                                    max_digits=14, decimal_places=2)
    days_overdue = forms.IntegerField(label=_("Days overdue are at least"), required=False,
                                      widget=forms.NumberInput(attrs={"min": 0, "step": 1}))
    currency = forms.CharField(label=_("Currency is one of"), required=False, max_length=200,
                               help_text=_("ISO codes separated by commas, for example “EUR, CHF”; empty: any."))
    business_customer = forms.ChoiceField(
        label=_("Customer"), required=False,
        choices=[(ANY, _("Any customer")), (YES, _("Business customers only")), (NO, _("Consumers only"))])
    language = forms.ChoiceField(label=_("Contact's language"), required=False)
    tags = forms.CharField(label=_("Contact has one of the tags"), required=False, max_length=500,
                           help_text=_("Tag names separated by commas; empty: any contact."))
    not_tags = forms.CharField(label=_("Contact has none of the tags"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [(ANY, _("Any language")), *Language.choices]
        for name in ("business_customer", "language"):
            self.fields[name].widget.attrs["class"] = "form-select"

    @staticmethod
    def _split(text: str) -> list[str]:
        return [part.strip() for part in (text or "").split(",") if part.strip()]

    def condition_list(self) -> list[tuple[str, dict[str, Any]]]:
        """(form field, condition) for each condition given."""
        data = self.cleaned_data
        items: list[tuple[str, dict[str, Any]]] = []
        if data.get("amount_due") is not None:
            items.append(("amount_due", {"field": "amount_due", "value": str(data["amount_due"])}))
        if data.get("days_overdue") is not None:
            items.append(("days_overdue", {"field": "days_overdue", "value": data["days_overdue"]}))
        if self._split(data.get("currency", "")):
            items.append(("currency", {"field": "currency", "value": self._split(data["currency"])}))
        if data.get("business_customer") in (YES, NO):
            items.append(("business_customer", {"field": "business_customer", "value": data["business_customer"] == YES}))
        if data.get("language"):
            items.append(("language", {"field": "language", "value": data["language"]}))
        if self._split(data.get("tags", "")):
            items.append(("tags", {"field": "tag", "value": self._split(data["tags"])}))
        if self._split(data.get("not_tags", "")):
            items.append(("not_tags", {"field": "not_tag", "value": self._split(data["not_tags"])}))
        return items

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        for field, condition in self.condition_list():
            try:
                conditions.clean([condition])
            except conditions.ConditionError as exc:
                # "Condition 1: …": the field says which.
                self.add_error(field, str(exc).partition(": ")[2] or str(exc))
        return cleaned

    def condition_values(self) -> list[dict[str, Any]]:
        return conditions.clean([condition for _field, condition in self.condition_list()])

    @staticmethod
    def initial_of(stored: list[dict[str, Any]]) -> dict[str, Any]:
        """The form's values for stored conditions (`Automation.conditions`)."""
        initial: dict[str, Any] = {}
        for condition in stored or []:
            field, value = condition.get("field"), condition.get("value")
            if field == "amount_due":
                initial["amount_due"] = value
            elif field == "days_overdue":
                initial["days_overdue"] = value
            elif field == "currency":
                initial["currency"] = ", ".join(value)
            elif field == "business_customer":
                initial["business_customer"] = YES if value else NO
            elif field == "language":
                initial["language"] = value
            elif field == "tag":
                initial["tags"] = ", ".join(value)
            elif field == "not_tag":
                initial["not_tags"] = ", ".join(value)
        return initial


class PauseForm(forms.Form):
    """Pause the payment reminders (Mahnstopp) of an invoice or a contact: invoices.services.pause_reminders."""

    reason = forms.CharField(label=_("Reason"), max_length=300,
                             error_messages={"required": _("Say why the reminders are paused (e.g. “customer disputes the amount”).")})
    until = forms.DateField(label=_("Until (optional)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                            help_text=_("That day included; empty: until you resume them."))
