"""How the API answers when it does not do what was asked: always JSON, `{"detail": …, "errors": {…}}`,
with the messages the pages show (a service's `DomainError` as it is, translated)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from core.errors import DomainError


class ApiError(Exception):
    def __init__(self, status: int, detail: str, *, errors: Mapping[str, list[str]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})


class NotAnObject(ValueError):
    """A request body that is valid JSON but not an object (api.api.ObjectParser)."""


def forbidden(detail: str | None = None) -> ApiError:
    return ApiError(403, detail or _("You are not allowed to do this, so nothing was changed."))


def not_found(what: str | None = None) -> ApiError:
    return ApiError(404, what or _("There is nothing here."))


def body(detail: str, errors: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": dict(errors or {})}


def respond(api: NinjaAPI, request: HttpRequest, status: int, detail: str,
            errors: Mapping[str, list[str]] | None = None, headers: Mapping[str, str] | None = None) -> HttpResponse:
    response = api.create_response(request, body(detail, errors), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_of(loc: list[Any]) -> str:
    # ("body", "payload", "items", 0, "unit_price") → "items.0.unit_price"; ("query", "limit") → "limit"
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:]
    if parts and parts[0] in ("payload", "data", "filters"):
        parts = parts[1:]
    return ".".join(parts) or NON_FIELD_ERRORS


def install(api: NinjaAPI) -> None:
    """Our answers for every error the API can meet."""

    def on_domain_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(api, request, 400, exc.message, {exc.field or NON_FIELD_ERRORS: [exc.message]})

    def on_api_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(api, request, exc.status, exc.detail, exc.errors, exc.headers)

    def on_validation(request: HttpRequest, exc: Any) -> HttpResponse:
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            message = str(error.get("msg", ""))
            if error.get("type") == "extra_forbidden":
                message = _("This field is not known here; check its name in the API docs.")
            errors.setdefault(_field_of(list(error.get("loc", []))), []).append(message)
        return respond(api, request, 422, _("The request is not valid; nothing was changed."), errors)

    def on_auth(request: HttpRequest, exc: Any) -> HttpResponse:
        response = respond(api, request, 401, _("An API token is needed: send “Authorization: Bearer <token>” "
                                                  "with an active token (created under API tokens)."))
        response["WWW-Authenticate"] = "Bearer"
        return response

    def on_http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        # ninja's "Cannot parse request body" (untranslated, with the parser's words under DEBUG).
        cause = exc.__cause__
        if isinstance(cause, NotAnObject):
            return respond(api, request, 400, _("The request body must be a JSON object ({…}); nothing was changed."))
        if isinstance(cause, ValueError):
            return respond(api, request, 400, _("The request body is not valid JSON; nothing was changed."))
        return respond(api, request, exc.status_code, str(exc))

    def on_404(request: HttpRequest, exc: Any) -> HttpResponse:
        return respond(api, request, 404, _("There is nothing here."))

    api.add_exception_handler(DomainError, on_domain_error)
    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(AuthenticationError, on_auth)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_404)


class MethodNotAllowedMiddleware:
    """ninja answers a method an address does not take (GET on /invoices/{id}/send, DELETE on an
    invoice) with 405 and the English text "Method not allowed" as HTML. Under /api/ it is JSON like
    every other error, in the person's language, saying which methods the address takes (Allow)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or not request.path_info.startswith("/api/") \
                or response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip()))
        detail = _("%(method)s is not possible here; this address takes %(allowed)s.") % {
            "method": request.method, "allowed": allowed}
        answer = JsonResponse(body(detail), status=405)
        answer["Allow"] = response.get("Allow", "")
        return answer


def no_such_operation(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any address under /api/ that no operation answers: JSON like every other API error (not the
    site's HTML 404 page)."""
    from django.http import JsonResponse

    return JsonResponse(body(_("There is nothing here.")), status=404)
