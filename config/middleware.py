from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponse

# The admin has its own login page, and the REST API its own tokens (api.auth; its docs page asks
# for a login itself). Pages open to everyone say so with @login_not_required (the language switch,
# the public invoice page, the ESP webhooks).
EXEMPT_PREFIXES = ("/admin/", "/api/")


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(EXEMPT_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def permissions_policy(features: dict[str, list[str]]) -> str:
    """The Permissions-Policy header's value: `camera=()` for a feature no one may use,
    `fullscreen=(self)` for one this site may."""
    return ", ".join(f"{name}=({' '.join(origins)})" for name, origins in features.items())


class PermissionsPolicyMiddleware:
    """Sends settings.PERMISSIONS_POLICY as the Permissions-Policy header on every response, so a
    page (or something injected into it) cannot use the camera, the microphone, the location,
    payments, USB … A response that has the header already keeps its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
