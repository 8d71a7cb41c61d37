"""Schemathesis against the API's own OpenAPI schema: every operation, with inputs generated from the
schema (valid ones and ones that break it), called through the WSGI app with a read-write owner's
token. No input may make the API answer with a server error (5xx). A few examples per operation
keep it quick enough for CI on both databases."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts.services import create_api_token
from api.api import api
from tests.base import make_contact, make_invoice, make_owner, make_plan

# The fuzzing phase only (the coverage phase alone makes hundreds of requests per operation), a few
# examples per operation, valid and invalid inputs alike, the same ones on every run.
CONFIG = SchemathesisConfig.from_dict({
    "seed": 13,
    "generation": {"max-examples": 8, "mode": "all"},
    "phases": {"coverage": {"enabled": False}, "examples": {"enabled": False}, "stateful": {"enabled": False}},
})
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(), config=CONFIG)
application = get_wsgi_application()
TOKEN: dict[str, str] = {}


@pytest.fixture
def fuzz_world(db, settings):
    """An owner's read-write token and a little of everything the operations can point at (ids 1, 2…)."""
    settings.API_RATE_LIMIT = 0
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    _, TOKEN["raw"] = create_api_token(user=make_owner("fuzzer"), name="schemathesis", scope="read_write")
    contact = make_contact()
    make_invoice(contact=contact)
    make_invoice(contact=contact, status="sent")
    make_plan(contact=contact)
    # As Django's test client does: a request must not close the test's connection (inside the test's
    # transaction, PostgreSQL's would count as unusable and be closed after each request).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield TOKEN["raw"]
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_makes_a_server_error(case, fuzz_world):
    # Ids point at what exists (1–3) more often than not: a random id is nearly always a 404.
    if isinstance((case.path_parameters or {}).get("pk"), int):
        case.path_parameters["pk"] = abs(case.path_parameters["pk"]) % 4 or 1
    response = case.call(app=application, headers={"Authorization": f"Bearer {fuzz_world}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}:\n{response.text[:2000]}\n"
        f"{case.as_curl_command()}")
