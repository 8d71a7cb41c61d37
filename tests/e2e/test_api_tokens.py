"""API tokens in the browser: made on the page and shown once, used against the API, revoked after a
confirmation; and the interactive API docs (Swagger UI from the package's files) load under the
site's security policy, with every operation listed."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from accounts.models import ApiToken
from tests.base import make_contact


def test_make_use_and_revoke_a_token(page, owner):
    make_contact(name="Grace Hopper")
    page.goto(page.url_for("/"))
    page.locator("nav.navbar").get_by_role("button", name=owner.username).click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", level=1, name="API tokens")).to_be_visible()
    page.get_by_label("Name").fill("Zapier")
    page.get_by_label("Read and write").check()
    page.get_by_role("button", name="Create token").click()

    expect(page.locator(".api-token-new")).to_contain_text("shown only this once")
    token = page.locator("#new-token").input_value()
    assert re.fullmatch(r"inv_[A-Za-z0-9_-]{43}", token)
    row = page.locator(".api-token-list tbody tr").first
    expect(row).to_contain_text("Zapier")
    expect(row).to_contain_text("Read and write")
    expect(row).to_contain_text(token[:12] + "…")

    answer = page.request.get(page.url_for("/api/v1/contacts"), headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200 and answer.json()["results"][0]["name"] == "Grace Hopper"

    page.reload()
    expect(page.locator(".api-token-new")).to_have_count(0)  # shown once
    row.get_by_role("link", name="Revoke").click()
    expect(page.get_by_role("heading", name="Revoke the token “Zapier”?")).to_be_visible()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("alert")).to_contain_text("The token “Zapier” is revoked")
    expect(page.locator(".api-token-list tbody tr").first).to_contain_text("Revoked")
    assert ApiToken.objects.get().revoked_at is not None
    refused = page.request.get(page.url_for("/api/v1/contacts"), headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 401


def test_the_api_docs_load_and_try_a_call_under_the_security_policy(page, owner):
    from accounts.services import create_api_token

    make_contact(name="Ada Lovelace")
    _, token = create_api_token(user=owner, name="docs", scope="read")
    page.goto(page.url_for("/account/api-tokens/"))
    page.get_by_role("link", name="API documentation").click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Invoices & Automations API")
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/api/v1/invoices/{pk}/payments")).to_be_visible()
    # Authorize with the token, open "List contacts", try it out: the answer shows on the page.
    page.locator(".swagger-ui .auth-wrapper .authorize").click()
    page.locator(".swagger-ui .modal-ux input[type=text], .swagger-ui .modal-ux input[type=password]").first.fill(token)
    page.locator(".swagger-ui .modal-ux button.modal-btn.authorize").click()
    page.locator(".swagger-ui .modal-ux button.btn-done").click()
    operation = page.locator(".swagger-ui .opblock", has=page.locator(".opblock-summary-path[data-path='/api/v1/contacts']")).filter(
        has=page.locator(".opblock-summary-method", has_text="GET"))
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".responses-wrapper .live-responses-table")).to_contain_text("Ada Lovelace")
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_contain_text("200")
    # The page fixture fails the test on any Content-Security-Policy violation the browser reports.
