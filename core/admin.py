"""What every app's admin shares: service refusals shown as messages, actions that call a
service per selected object, and the status badge."""

from __future__ import annotations

from typing import Any, Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.html import format_html_join

from .errors import DomainError
from .status import badges


def status_badge(obj: Any) -> str:
    """The status as a coloured pill, in the pages' colours (core.status; static/css/admin.css has
    the tones, as the admin has no Bootstrap and the Content-Security-Policy no inline style)."""
    return format_html_join(" ", '<span class="status-pill status-pill-{}">{}</span>',
                            ((badge_tone, label) for _, label, badge_tone in badges(obj)))


def run_service_on_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, call: Callable[[Any], Any],
    done: str | Callable[[int], str],
) -> None:
    """Call a service per selected object; report how many worked and each refusal by name.
    `done` is a "%(count)d …" text or a function of the count (for ngettext)."""
    ok = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
        else:
            ok += 1
    if ok:
        text = done(ok) if callable(done) else done % {"count": ok}
        modeladmin.message_user(request, text, messages.SUCCESS)


class ServiceErrorsMixin:
    """A DomainError that the form could not foresee (someone changed the data meanwhile) becomes
    an error message on the same page instead of a server error. The admin view runs in a
    transaction, so nothing of the attempt is kept; an action (such as "delete selected") calls a
    service that keeps all or nothing."""

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())
