"""One field of a model, by name, as the code that cleans or labels a value needs it."""

from __future__ import annotations

from typing import Any

from django.db import models


def model_field(model: type[models.Model] | models.Model, name: str) -> models.Field[Any, Any]:
    """The model's own field `name` (a column or a foreign key), not a reverse relation: it has a
    verbose name, validators and an attname. A name that is no such field is a bug (TypeError)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model._meta.label}.{name} is not a field of its own")
    return field
