"""The one exception every service raises for a change the business rules do not allow, and the
one way a `ValidationError` becomes it.

Views, forms, admin actions and commands catch `DomainError` and show `message` as it is: it is
written for the person who tried, and it is already translated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models

from .fields import model_field
from .validators import reject_null_characters


class DomainError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.field = field

    def __str__(self) -> str:
        return self.message


def messages_by_field(exc: ValidationError) -> dict[str, list[str]]:
    """{field: [message, …]} of a ValidationError; errors of no field under NON_FIELD_ERRORS."""
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in ValidationError(errors).messages] for field, errors in exc.error_dict.items()}
    return {NON_FIELD_ERRORS: [str(m) for m in exc.messages]}


def as_domain_error(exc: ValidationError) -> DomainError:
    """The ValidationError as one DomainError: all its messages, at its field when it names one."""
    by_field = messages_by_field(exc)
    fields = list(by_field)
    field = fields[0] if len(fields) == 1 and fields[0] != NON_FIELD_ERRORS else None
    return DomainError(" ".join(m for messages in by_field.values() for m in messages), field=field)


def validate(obj: Any, *, exclude: Iterable[str] = ()) -> None:
    """The model's own validation (field validators and clean(), not the database constraints)
    of an unsaved or changed object, raised as a DomainError naming the field."""
    exclude = list(exclude)
    try:
        reject_null_characters(obj, exclude=exclude)
        obj.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as exc:
        raise as_domain_error(exc) from None


def validate_value(model: type[models.Model], name: str, value: Any) -> Any:
    """One field's value cleaned by the field (its validators: length, line breaks, …), or a
    DomainError at that field."""
    field = model_field(model, name)
    try:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(ProhibitNullCharactersValidator.message, code="null_characters_not_allowed")
        return field.clean(value, None)
    except ValidationError as exc:
        raise as_domain_error(ValidationError({name: exc.error_list})) from None
