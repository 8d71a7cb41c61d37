"""Forms for automations. The admin's forms validate each action with the model's own checks
(`Action.clean` → `ACTIONS[kind].clean_settings`), so a missing subject shows next to the subject
field, and then save through `automations.services`, which runs the same checks again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from workflows.models import Step

from .actions import SETTINGS_FIELDS
from .models import Action, Automation


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
        if not self._kept_forms():
            raise ValidationError(_("An automation needs at least one action."), code="no_actions")

    def action_dicts(self) -> list[dict[str, Any]]:
        """The kept actions in their order (by position, then as listed), for the services."""
        return [form.as_service_dict() for _position, _index, form in self._kept_forms()]
