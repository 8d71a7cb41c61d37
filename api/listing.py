"""One page of a list: `limit` and `offset` with the `count` of all matches, an `ordering` out of a
fixed set per resource (a leading `-` for descending), and filters by status, contact and dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from ninja import Field, Schema

from .errors import ApiError

T = TypeVar("T")

MAX_LIMIT = 200


class Page(Schema, Generic[T]):
    count: int = Field(description="How many items match, on all pages.")
    limit: int
    offset: int
    results: list[T]


def page(queryset: QuerySet, *, limit: int, offset: int, ordering: str | None, orderings: Sequence[str],
         default: Sequence[str], serialize: Callable[[list[Any]], list[Any]] | None = None,
         tiebreak: str = "pk") -> dict[str, Any]:
    """The page of `queryset` asked for. `orderings` are the fields it may be ordered by (each read
    through an index); `tiebreak`, a unique field, always comes last, so that pages never overlap or
    skip a row."""
    if ordering:
        if ordering.lstrip("-") not in orderings:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"ordering": [
                _("Order by one of: %(fields)s (a leading “-” for descending).") % {"fields": ", ".join(orderings)}]})
        descending = ordering.startswith("-")
        order = [ordering, f"-{tiebreak}" if descending else tiebreak]
    else:
        order = list(default)
    count = queryset.count()
    rows = list(queryset.order_by(*order)[offset:offset + limit]) if offset < count else []
    return {"count": count, "limit": limit, "offset": offset, "results": serialize(rows) if serialize else rows}


class Paging(Schema):
    limit: int = Field(25, ge=1, le=MAX_LIMIT, description=f"Items per page (1–{MAX_LIMIT}).")
    offset: int = Field(0, ge=0, le=10_000_000, description="How many items to skip.")
    ordering: str | None = Field(None, max_length=40, description="The field to order by; a leading “-” for descending.")


def date_range(queryset: QuerySet, field: str, start: dt.date | None, end: dt.date | None) -> QuerySet:
    if start is not None:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end is not None:
        queryset = queryset.filter(**{f"{field}__lte": end})
    return queryset


def get_or_404(queryset: QuerySet, pk: int, what: str) -> Any:
    if pk > 2**63 - 1 or pk < 1:
        raise ApiError(404, what)
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise ApiError(404, what)
    return obj


__all__ = ["Page", "Paging", "page", "date_range", "get_or_404", "MAX_LIMIT", "settings"]
