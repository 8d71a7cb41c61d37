"""The REST API, version 1, at /api/v1/: its OpenAPI 3 schema at /api/v1/openapi.json and the
interactive docs at /api/v1/docs (Swagger UI from the django-ninja package's static files).

Every request carries a personal API token (api.auth); every change goes through the apps'
service functions, exactly as the pages do, and is refused with the pages' messages (api.errors).
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger
from ninja.parser import Parser

from . import automations, contacts, errors, invoices, recurring, tasks
from .auth import TokenAuth
from accounts import services as accounts


def docs_access(view):
    """The docs page and the schema: for a signed-in person of the site, or (the schema) a valid
    token; anybody else is sent to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if request.user.is_authenticated or (
                header.lower().startswith("bearer ") and accounts.token_for(header[7:].strip()) is not None):
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    # The page keeps the site's Content-Security-Policy: ninja's template loads Swagger UI from
    # static files and starts it from a script file (tests/e2e/test_api_tokens.py tries a call).
    return wrapper


class ObjectParser(Parser):
    """A request body is one JSON object. Anything else (a list, a string, null) is refused
    (errors.NotAnObject, 400): ninja would read a list as an object without fields, so a PATCH with
    `[{…}]` answered 200 and changed nothing."""

    def parse_body(self, request: HttpRequest):
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise errors.NotAnObject(type(data).__name__)
        return data


api = NinjaAPI(
    title="Invoices & Automations API",
    version="1",
    urls_namespace="api-1",
    auth=TokenAuth(),
    parser=ObjectParser(),
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=docs_access,
    description=(
        "Contacts, invoices, payments, recurring payments, tasks, automations and their runs. "
        "Authenticate with a personal API token (**API tokens** in the user menu): "
        "`Authorization: Bearer inv_…`. Lists take `limit`, `offset` and `ordering` and answer "
        "`{count, limit, offset, results}`. Errors are `{\"detail\": …, \"errors\": {field: [message, …]}}`. "
        "A POST may carry an `Idempotency-Key` header: its first answer is kept 24 hours and replayed."
    ),
)
errors.install(api)
for module in (contacts, invoices, recurring, tasks, automations):
    api.add_router("", module.router)
