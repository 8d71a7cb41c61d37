"""Small pieces every app's views share: calling a service and telling the person how it went,
where a button may send them back to, and one page of a long list."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from .errors import DomainError

T = TypeVar("T")

PAGE_SIZE = 25


def flash_service(request: HttpRequest, call: Callable[[], T], success: str | Callable[[T], str]) -> tuple[bool, T | None]:
    """Call a service; flash its refusal (DomainError) as an error, or `success` (a text, or a
    function of the service's result) as a success message. Returns (it worked, the result)."""
    try:
        result = call()
    except DomainError as exc:
        messages.error(request, exc.message)
        return False, None
    messages.success(request, success(result) if callable(success) else success)
    return True, result


def safe_next(request: HttpRequest, default: str) -> str:
    """The page a form came from (`next` in the POST or the query), if it is on this site; else
    `default`. Never an address elsewhere: a link cannot make us redirect someone away."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return default


def paginate(request: HttpRequest, queryset: QuerySet, *, per_page: int = PAGE_SIZE, count: int | None = None) -> Page:
    """The page `?page=` asks for (the last one for a number past the end, the first for junk).
    `count`, when the caller has counted already, saves the paginator's COUNT(*)."""
    paginator = Paginator(queryset, per_page)
    if count is not None:
        paginator.count = count
    return paginator.get_page(request.GET.get("page"))


def render_fragment(request: HttpRequest, template: str, context: dict[str, Any], *, title: str,
                    back_url: str = "", back_label: str = "") -> HttpResponse:
    """A part of another app's page (templates/_fragment.html loads it with htmx) as it is; opened
    directly (without JavaScript) it comes as a page of its own, with a way back."""
    if request.headers.get("HX-Request"):
        return render(request, template, context)
    return render(request, "_fragment_page.html", {
        **context, "fragment": template, "title": title, "back_url": back_url, "back_label": back_label,
    })
