"""What every app's forms share."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils import translation

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


# --- Amounts as people type them ----------------------------------------------------------------

# What may stand around a number a person types: spaces (also the no-break ones a copy from a PDF or
# a banking app brings) and the currency sign.
_NOISE = str.maketrans("", "", " \u00a0\u202f\u2009'€$£")


def _separators() -> tuple[str, str]:
    """(decimal, group) separator of the active language: (",", ".") in German, (".", ",") in English."""
    language = (translation.get_language() or "en").split("-")[0]
    return (",", ".") if language == "de" else (".", ",")


def _grouped(integer: str, group: str) -> str | None:
    """`integer` without its group separators if they stand where they belong ("1.234.567"), else None."""
    parts = integer.split(group)
    if not parts[0] or len(parts[0]) > 3 or any(len(p) != 3 for p in parts[1:]):
        return None
    return "".join(parts)


def parse_amount(text: str) -> Decimal | None:
    """A number as a person types it in the active language, or None if it is none.

    German: `12,50`, `1.234,56`, `1234,56`, `1.234` (one thousand two hundred thirty-four); English:
    `12.50`, `1,234.56`. The other language's decimal mark is understood when it cannot be a group
    separator (`12.50` in German, `12,50` in English: not three digits after it), so a payment of
    `1,19` is never 119."""
    decimal_mark, group = _separators()
    value = text.translate(_NOISE)
    sign = ""
    if value[:1] in "+-" and value:
        sign, value = ("-" if value[0] == "-" else ""), value[1:]
    if not value or any(ch not in "0123456789.," for ch in value):
        return None
    if decimal_mark in value:
        integer, _, fraction = value.rpartition(decimal_mark)
        if group in fraction or (integer and group in integer and _grouped(integer, group) is None):
            return None
        integer = integer.replace(group, "")
    elif group in value:
        grouped = _grouped(value, group)
        if grouped is not None:
            integer, fraction = grouped, ""
        elif value.count(group) == 1:  # "12.50" in German: the other language's decimal mark
            integer, _, fraction = value.partition(group)
        else:
            return None
    else:
        integer, fraction = value, ""
    if not (integer or fraction) or not (integer + fraction).isdigit():
        return None
    return Decimal(f"{sign}{integer or '0'}.{fraction or '0'}") if fraction else Decimal(f"{sign}{integer}")


def format_amount(value: Decimal | int | str | None) -> str:
    """`value` as `parse_amount` reads it back, in the active language: 1234.5 → "1.234,5" in German,
    with as many decimals as the value has (19 → "19", 119.00 → "119,00")."""
    if value in (None, ""):
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    decimal_mark, group = _separators()
    sign = "-" if number < 0 else ""
    integer, _, fraction = f"{abs(number):f}".partition(".")
    groups: list[str] = []
    while len(integer) > 3:
        integer, groups = integer[:-3], [integer[-3:], *groups]
    text = group.join([integer, *groups])
    return f"{sign}{text}{decimal_mark}{fraction}" if fraction else f"{sign}{text}"


class AmountInput(forms.TextInput):
    """A text field for a number (the browser's number field turns a German `1,19` into 119): the
    phone's keyboard with a decimal mark (`inputmode="decimal"`), the value in the person's format."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "text-end", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
            return format_amount(value)
        return super().format_value(value)


class LocalizedDecimalField(forms.DecimalField):
    """A DecimalField that reads what people type in their language (see `parse_amount`); its
    checks (digits, decimal places, minimum) and messages are DecimalField's."""

    widget = AmountInput

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        # Not DecimalField's: `step`, `min` and `max` belong to number fields.
        return forms.Field.widget_attrs(self, widget)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # DecimalField's stub says int
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        number = parse_amount(str(value).strip())
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number
