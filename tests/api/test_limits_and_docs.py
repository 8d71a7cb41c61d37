"""Rate limits per token (429 with Retry-After), the OpenAPI schema and the interactive docs page
(served from the package's files, under a CSP that the page keeps to)."""

from __future__ import annotations

import time

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings

from tests.api.conftest import token_client
from tests.base import make_owner

pytestmark = pytest.mark.django_db


@override_settings(API_RATE_LIMIT=3, API_RATE_LIMIT_WINDOW=60)
def test_a_token_past_its_rate_limit_gets_429_with_retry_after(owner_api, time_machine):
    time_machine.move_to("2026-12-03 12:00:10Z", tick=False)
    assert [owner_api.get("/api/v1/contacts").status_code for _ in range(3)] == [200, 200, 200]
    refused = owner_api.get("/api/v1/contacts")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"
    assert "may make 3 requests every 60 seconds" in refused.json()["detail"]
    assert owner_api.post("/api/v1/contacts", {"name": "X"}).status_code == 429
    # Another token has its own count.
    assert token_client(make_owner("other")).get("/api/v1/contacts").status_code == 200
    # The next window is open again.
    time_machine.move_to("2026-12-03 12:01:00Z", tick=False)
    assert owner_api.get("/api/v1/contacts").status_code == 200


@override_settings(API_RATE_LIMIT=0)
def test_a_limit_of_zero_means_no_limit(owner_api):
    assert all(owner_api.get("/api/v1/contacts").status_code == 200 for _ in range(20))


def test_the_schema_is_openapi_3_and_lists_every_resource(owner_api):
    schema = owner_api.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for path in ("/api/v1/contacts", "/api/v1/invoices", "/api/v1/invoices/{pk}/send", "/api/v1/invoices/{pk}/payments",
                 "/api/v1/invoices/{pk}/pdf", "/api/v1/payments", "/api/v1/recurring-payments", "/api/v1/tasks",
                 "/api/v1/automations", "/api/v1/automations/{pk}/switch", "/api/v1/automations/import",
                 "/api/v1/automations/export", "/api/v1/runs"):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}


def test_the_docs_need_a_login_and_load_only_our_own_files(client):
    assert client.get("/api/v1/docs").status_code == 302
    assert client.get("/api/v1/openapi.json").status_code == 302
    client.force_login(make_owner())
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    for name in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"):
        assert finders.find(name), name
    # The site's own policy, unrelaxed (the browser test tries a call on this page under it).
    policy = page["Content-Security-Policy"]
    assert policy == client.get("/invoices/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and "unsafe" not in policy
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "Invoices & Automations API"


def test_a_token_may_read_the_schema(owner_api):
    assert owner_api.get("/api/v1/openapi.json").status_code == 200


def test_errors_are_json_for_unknown_things(owner_api):
    for url in ("/api/v1/invoices/999999", "/api/v1/contacts/0", "/api/v1/tasks/99999999999999999999",
                "/api/v1/runs/1", "/api/v1/payments/5", "/api/v1/automations/3", "/api/v1/recurring-payments/8"):
        response = owner_api.get(url)
        assert response.status_code == 404, url
        assert set(response.json()) == {"detail", "errors"}, url




def test_the_schema_has_no_key_twice(owner_api):
    """Swagger UI reads JSON as YAML, which refuses a key given twice (an int and a str status code)."""
    import json

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    json.loads(owner_api.get("/api/v1/openapi.json").content, object_pairs_hook=no_duplicates)


def test_the_schema_gives_bounds_in_json_schema_words(owner_api):
    """An optional id's bounds as pydantic's own "ge"/"le" (which JSON Schema and code generators do
    not know) instead of "minimum"/"maximum" would leave the schema without them."""
    schema = owner_api.get("/api/v1/openapi.json").json()
    stack, foreign = [schema], []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            foreign += [key for key in ("ge", "le", "gt", "lt") if key in node]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    assert foreign == []
    patch = schema["components"]["schemas"]["InvoicePatch"]["properties"]["contact_id"]
    assert {"type": "integer", "minimum": 1, "maximum": 2**63 - 1} in patch["anyOf"]
