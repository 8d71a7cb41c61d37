"""What every app's forms share."""

from __future__ import annotations

from django import forms

from .errors import DomainError


def add_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Show a service's refusal at the field it names, or at the top of the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
