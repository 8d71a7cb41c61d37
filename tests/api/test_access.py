"""Every operation of the API (read from its own OpenAPI schema, so a new one cannot be missed) as five
callers: no token (401), a person without a role (403), a read-only token (403 on every change), a team
member (403 exactly where the pages refuse them: switching and importing automations) and an owner.
Refused calls change nothing."""

from __future__ import annotations

import pytest
from django.apps import apps

from api.api import api
from automations import services as automation_services
from tests.api.conftest import ApiClient, token_client
from tests.base import make_contact, make_invoice, make_outsider, make_owner, make_plan, make_team_member

pytestmark = pytest.mark.django_db

TEAM_MEMBER_FORBIDDEN = {("POST", "/api/v1/automations/{pk}/switch"), ("POST", "/api/v1/automations/import")}
BODIES = {"/api/v1/automations/{pk}/switch": {"active": True}, "/api/v1/automations/import": {"automations": []},
          "/api/v1/contacts": {"name": "Walker"}}


def operations() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return sorted((method.upper(), path) for path, item in schema["paths"].items() for method in item)


def snapshot() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count()
            for label in ("invoices", "automations", "tasks") for m in apps.get_app_config(label).get_models()}


@pytest.fixture
def world(db):
    contact = make_contact()
    invoice = make_invoice(contact=contact, status="sent")
    make_plan(contact=contact)
    automation = automation_services.create_automation(
        name="Follow up", trigger="invoice_sent", frequency="unlimited", actions=[{"kind": "create_task", "title": "x"}])
    return {"pk": automation.pk, "invoice": invoice}


def call(client, method: str, path: str, world) -> int:
    url = path.replace("{pk}", str(world["pk"]))
    body = BODIES.get(path, {})
    if method == "GET":
        return client.get(url).status_code
    return getattr(client, method.lower())(url, body, content_type="application/json").status_code


def test_the_walk_knows_every_operation():
    ops = operations()
    assert len(ops) >= 30 and TEAM_MEMBER_FORBIDDEN <= set(ops)


def test_without_a_token_every_operation_is_401(client, world):
    before = snapshot()
    for method, path in operations():
        if path == "/api/v1/openapi.json":
            continue
        assert call(client, method, path, world) == 401, (method, path)
    assert snapshot() == before


def test_a_person_without_a_role_gets_403_everywhere(world):
    outsider = token_client(make_outsider())
    before = snapshot()
    for method, path in operations():
        assert call(outsider, method, path, world) == 403, (method, path)
    assert snapshot() == before


def test_a_read_only_token_reads_and_changes_nothing(world):
    reader = token_client(make_owner("reader"), scope="read")
    before = snapshot()
    for method, path in operations():
        status = call(reader, method, path, world)
        if method == "GET":
            assert status in (200, 404), (method, path, status)
        else:
            assert status == 403, (method, path, status)
    assert snapshot() == before


def test_a_team_member_is_refused_exactly_what_the_pages_refuse(world):
    member = token_client(make_team_member("walker"))
    for method, path in operations():
        status = call(member, method, path, world)
        if (method, path) in TEAM_MEMBER_FORBIDDEN:
            assert status == 403, (method, path, status)
        else:
            assert status != 403, (method, path, status)


def test_an_owner_is_never_refused_for_the_role(world):
    owner = token_client(make_owner("boss"))
    for method, path in operations():
        assert call(owner, method, path, world) not in (401, 403), (method, path)


__all__ = ["ApiClient"]


@pytest.mark.parametrize("path", ["/api/v1/tasks/abc", "/api/v1/nothing/", "/api/v2/invoices/", "/api/"])
def test_an_address_no_operation_answers_is_a_json_404(client, path):
    response = client.get(path, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "There is nothing here.", "errors": {}}


def test_a_method_an_address_does_not_take_is_answered_in_json(owner_api):
    """ninja answered 405 with the English text "Method not allowed" as HTML, unlike every other
    error of the API."""
    invoice = make_invoice()
    refused = owner_api.get(f"/api/v1/invoices/{invoice.pk}/send")
    assert refused.status_code == 405 and refused["Allow"] == "POST"
    assert refused.json() == {"detail": "GET is not possible here; this address takes POST.", "errors": {}}
    german = owner_api.delete(f"/api/v1/invoices/{invoice.pk}", HTTP_ACCEPT_LANGUAGE="de")
    assert german.status_code == 405
    assert german.json()["detail"] == "DELETE ist hier nicht möglich; diese Adresse erlaubt GET, PATCH."
    assert apps.get_model("invoices", "Invoice").objects.filter(pk=invoice.pk).exists()
