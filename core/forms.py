"""What every app's forms share."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms

from .errors import DomainError


def add_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Show a service's refusal at the field it names, or at the top of the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


class SubmitOnceMixin(forms.Form):
    """A hidden one-time token (`nonce`), fresh on every form page: the view saves the form once
    per token (accounts.submissions.save_once), however often it is posted."""

    nonce = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("nonce", uuid.uuid4().hex)
