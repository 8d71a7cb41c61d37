"""Which invoices a reminder schedule is for: a list of conditions, all of which must hold.

Stored on the automation as JSON (`[{"field": "amount_due", "value": "50.00"}, …]`), checked when
it is saved (`clean`), applied in SQL by the scan (`apply`: a queryset of invoices, so millions of
invoices are filtered by the database), evaluated for one invoice when the invoice page explains
why a reminder will or will not go (`failing`), and said in words on the automation page (`describe`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from invoices.models import Contact, Invoice, Language, Tag, tag_ids_named, tag_key
from invoices.validators import currency_codes


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    key: str
    label: Any  # lazy text
    parse: Callable[[Any], Any]
    apply: Callable[[QuerySet[Invoice], Any, dt.date], QuerySet[Invoice]]
    holds: Callable[[Invoice, Any, dt.date], bool]
    words: Callable[[Any], str]


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConditionError(_("“%(value)s” is not an amount.") % {"value": value}) from None
    if not amount.is_finite() or amount < 0:
        raise ConditionError(_("“%(value)s” is not an amount.") % {"value": value})
    return amount


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
        raise ConditionError(_("“%(value)s” is not a number of days from 0 to 3650.") % {"value": value})
    return value


def _currencies(value: Any) -> list[str]:
    codes = value if isinstance(value, list) else [value]
    cleaned = [str(code).strip().upper() for code in codes]
    unknown = [code for code in cleaned if code not in currency_codes()]
    if not cleaned or unknown:
        raise ConditionError(_("Give currencies as ISO codes (for example EUR), not %(value)s.") % {
            "value": ", ".join(unknown) or "—"})
    return cleaned


def _yes_no(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConditionError(_("Give true or false, not %(value)s.") % {"value": value})
    return value


def _language(value: Any) -> str:
    if value not in Language.values:
        raise ConditionError(_("Give a language code: %(choices)s.") % {"choices": ", ".join(Language.values)})
    return value


def _tags(value: Any) -> list[str]:
    names = value if isinstance(value, list) else [value]
    cleaned = [" ".join(str(name).split()) for name in names if str(name).strip()]
    if not cleaned:
        raise ConditionError(_("Name at least one tag."))
    return cleaned


def _named(names: list[str], prefix: str = "") -> Q:
    """Tags named so in any case ("vip" is the tag "VIP", as the contact form reuses it)."""
    return Q(**{f"{prefix}pk__in": tag_ids_named(names)})


def _tagged(names: list[str]) -> Exists:
    return Exists(Contact.tags.through.objects.filter(_named(names, "tag__"), contact_id=OuterRef("contact_id")))


def _has_tag(invoice: Invoice, names: list[str]) -> bool:
    wanted = {tag_key(name) for name in names}
    return any(tag_key(tag.name) in wanted for tag in invoice.contact.tags.all())


def _tag_list(names: list[str]) -> str:
    return ", ".join(f"“{name}”" for name in names)


FIELDS: dict[str, Field] = {field.key: field for field in [
    Field("amount_due", gettext_lazy("Amount due is at least"), _amount,
          lambda qs, v, today: qs.alias(due_now=F("total") - F("amount_paid")).filter(due_now__gte=v),
          lambda inv, v, today: inv.balance >= v,
          lambda v: _("the amount due is at least %(amount)s") % {"amount": formats.number_format(v, 2)}),
    Field("days_overdue", gettext_lazy("Days overdue are at least"), _days,
          lambda qs, v, today: qs.filter(due_date__lte=today - dt.timedelta(days=v)),
          lambda inv, v, today: (today - inv.due_date).days >= v,
          lambda v: _("the invoice is at least %(days)d days overdue") % {"days": v}),
    Field("currency", gettext_lazy("Currency is one of"), _currencies,
          lambda qs, v, today: qs.filter(currency__in=v),
          lambda inv, v, today: inv.currency in v,
          lambda v: _("the currency is %(codes)s") % {"codes": " / ".join(v)}),
    Field("business_customer", gettext_lazy("Business customer"), _yes_no,
          lambda qs, v, today: qs.filter(contact__is_business=v),
          lambda inv, v, today: inv.contact.is_business == v,
          lambda v: _("the customer is a business") if v else _("the customer is a consumer")),
    Field("language", gettext_lazy("Contact's language"), _language,
          lambda qs, v, today: qs.filter(contact__language=v),
          lambda inv, v, today: inv.contact.language == v,
          lambda v: _("the contact's language is %(language)s") % {"language": Language(v).label}),
    Field("tag", gettext_lazy("Contact has a tag"), _tags,
          lambda qs, v, today: qs.filter(_tagged(v)),
          lambda inv, v, today: _has_tag(inv, v),
          lambda v: _("the contact is tagged %(tags)s") % {"tags": _tag_list(v)}),
    Field("not_tag", gettext_lazy("Contact has none of the tags"), _tags,
          lambda qs, v, today: qs.exclude(_tagged(v)),
          lambda inv, v, today: not _has_tag(inv, v),
          lambda v: _("the contact is not tagged %(tags)s") % {"tags": _tag_list(v)}),
]}


def clean(conditions: Any) -> list[dict[str, Any]]:
    """The conditions in their stored form (values parsed), or ConditionError naming the first
    wrong one (its position, 1-based)."""
    if conditions in (None, ""):
        return []
    if not isinstance(conditions, list):
        raise ConditionError(_("Give the conditions as a list."))
    cleaned = []
    for n, condition in enumerate(conditions, start=1):
        if not isinstance(condition, dict) or set(condition) != {"field", "value"}:
            raise ConditionError(_("Condition %(n)d: give a “field” and a “value”.") % {"n": n})
        field = FIELDS.get(condition["field"]) if isinstance(condition["field"], str) else None
        if field is None:
            raise ConditionError(_("Condition %(n)d: “%(field)s” is not a condition; choose one of: %(choices)s.") % {
                "n": n, "field": condition["field"], "choices": ", ".join(FIELDS)})
        try:
            value = field.parse(condition["value"])
        except ConditionError as exc:
            raise ConditionError(_("Condition %(n)d: %(error)s") % {"n": n, "error": exc}) from None
        cleaned.append({"field": field.key, "value": str(value) if isinstance(value, Decimal) else value})
    return cleaned


def _parsed(conditions: list[dict[str, Any]]) -> list[tuple[Field, Any]]:
    return [(FIELDS[c["field"]], FIELDS[c["field"]].parse(c["value"])) for c in conditions]


def apply(invoices: QuerySet[Invoice], conditions: list[dict[str, Any]], *, today: dt.date) -> QuerySet[Invoice]:
    for field, value in _parsed(conditions):
        invoices = field.apply(invoices, value, today)
    return invoices


def failing(invoice: Invoice, conditions: list[dict[str, Any]], *, today: dt.date) -> list[str]:
    """The conditions this invoice does not meet today, in words (empty: it meets them all)."""
    return [field.words(value) for field, value in _parsed(conditions) if not field.holds(invoice, value, today)]


def describe(conditions: list[dict[str, Any]]) -> str:
    """“For invoices where the amount due is at least 50.00 and the customer is a business.”"""
    if not conditions:
        return _("For every open invoice.")
    parts = [field.words(value) for field, value in _parsed(conditions)]
    return _("For invoices where %(conditions)s.") % {"conditions": _(" and ").join(parts)}


def known_tags() -> list[str]:
    return list(Tag.objects.values_list("name", flat=True))
