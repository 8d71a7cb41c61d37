"""Forms of the workflow boards. They check input; `workflows.services` makes every change."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from invoices.models import Contact

from .models import Step, Workflow

WORKFLOW_NAME_MAX = Workflow._meta.get_field("name").max_length
STEP_NAME_MAX = Step._meta.get_field("name").max_length


class WorkflowCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=WORKFLOW_NAME_MAX)
    steps = forms.CharField(
        label=_("Columns"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5_000,
        help_text=_("One column per line, from left to right. You can change them later."),
    )

    def clean_steps(self) -> list[str]:
        names = [" ".join(line.split()) for line in self.cleaned_data["steps"].splitlines() if line.strip()]
        for name in names:
            if len(name) > STEP_NAME_MAX:
                raise forms.ValidationError(
                    _("A column name can have at most %(limit)d characters: “%(name)s…” has %(length)d."),
                    code="max_length", params={"limit": STEP_NAME_MAX, "name": name[:20], "length": len(name)},
                )
        return names


class WorkflowRenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=WORKFLOW_NAME_MAX)


class StepNameForm(forms.Form):
    name = forms.CharField(label=_("Column name"), max_length=STEP_NAME_MAX)


class StepMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("left", _("Left")), ("right", _("Right"))])


class CardAddForm(forms.Form):
    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.none(), empty_label=_("Choose a contact…"),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    step = forms.ModelChoiceField(
        label=_("Column"), queryset=Step.objects.none(), empty_label=None,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, workflow: Workflow, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.exclude(cards__workflow=workflow).order_by("name", "pk")
        self.fields["step"].queryset = workflow.steps.order_by("position", "pk")
        self.fields["step"].label_from_instance = lambda step: step.name
        self.fields["contact"].label_from_instance = str


class CardMoveForm(forms.Form):
    """A card's move: the target column (by id: a column of another board is refused by the
    service, with its reason) and, optionally, the place in it (0 = top; empty = at the end)."""

    step = forms.IntegerField(label=_("Move to…"), min_value=1)
    position = forms.IntegerField(label=_("Position"), min_value=0, required=False)


class StepDeleteForm(forms.Form):
    move_cards_to = forms.ModelChoiceField(
        label=_("Move its cards to"), queryset=Step.objects.none(), widget=forms.RadioSelect, empty_label=None,
    )

    def __init__(self, *args, step: Step, needs_target: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["move_cards_to"]
        field.queryset = Step.objects.filter(workflow_id=step.workflow_id).exclude(pk=step.pk).order_by("position", "pk")
        field.label_from_instance = lambda target: target.name
        field.required = needs_target
