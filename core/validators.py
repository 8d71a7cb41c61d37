"""Validators that any model of ours can use (on fields, or on a whole object)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _


def validate_no_line_breaks(value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ValidationError(_("This field cannot contain line breaks."), code="line_break")


def reject_null_characters(obj: Any, *, exclude: Any = ()) -> None:
    """A ValidationError for every text field of `obj` holding a NUL character, which PostgreSQL
    cannot store (it raises a DataError, a server error). Forms refuse NUL already; this is for
    the services' other callers (imports, scripts)."""
    errors = {
        field.name: [ProhibitNullCharactersValidator.message]
        for field in obj._meta.concrete_fields
        if field.name not in exclude and isinstance(value := getattr(obj, field.attname, None), str) and "\x00" in value
    }
    if errors:
        raise ValidationError(errors, code="null_characters_not_allowed")
