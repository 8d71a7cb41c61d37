"""The forms of a person's own settings: their API tokens."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import SubmitOnceMixin

from .models import ApiToken, ApiTokenScope


class ApiTokenForm(SubmitOnceMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=ApiToken._meta.get_field("name").max_length,
                           help_text=_("What the token is for, e.g. “Zapier” or “accounting export”."))
    scope = forms.ChoiceField(label=_("May"), choices=ApiTokenScope.choices, initial=ApiTokenScope.READ,
                              widget=forms.RadioSelect,
                              help_text=_("Read: look at data only. Read and write: also create, send, record "
                                          "payments and switch automations, as far as your role allows."))
