"""The Content-Security-Policy in a real browser: it blocks what it should, and the pages that are
not ours (the admin) still work under it.

Every browser test fails on a CSP violation the browser reports (conftest.is_policy_message), so
the product's own pages are covered by all of them; the first test here shows that such a
violation is indeed seen.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from automations.services import create_automation
from tests.base import make_invoice

from .conftest import _new_page


def test_the_browser_refuses_inline_script_and_style_and_the_tests_notice(browser, live_server):
    context, page, problems = _new_page(browser, live_server, locale="en-US")
    try:
        page.goto(live_server.url + "/accounts/login/")
        page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true;";
            document.body.appendChild(script);
            document.body.setAttribute("style", "background: red");
            document.body.insertAdjacentHTML("beforeend", '<img src="x" onerror="window.injected = true">');
        }""")
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.injected") is None  # nothing injected ran
        refused = " ".join(problems)
        assert "script-src" in refused and "style-src" in refused, problems
    finally:
        context.close()


@pytest.fixture
def admin_data(db):
    automation = create_automation(
        name="Follow up", trigger="invoice_sent", frequency="unlimited", is_active=True,
        actions=[{"kind": "create_task", "title": "Call {{ contact.name }}"}])
    return {"automation": automation, "invoice": make_invoice(status="draft")}


def test_the_admin_works_under_the_policy(page, admin_data):
    """The admin's lists, its change forms (with their inlines, date and time widgets) and the
    "Add automation" link to the builder: no violation (the page fixture checks), and its scripts
    run (the calendar opens, the action bar counts)."""
    invoice = admin_data["invoice"]
    page.goto(page.url_for("/admin/"))
    expect(page.locator("#site-name")).to_be_visible()

    page.goto(page.url_for("/admin/invoices/invoice/"))
    page.locator("input.action-select").first.check()
    expect(page.locator(".action-counter")).to_contain_text("1 of")

    page.goto(page.url_for(f"/admin/invoices/invoice/{invoice.pk}/change/"))
    page.locator(".datetimeshortcuts a").filter(has_text="Today").first.click()
    page.goto(page.url_for("/admin/invoices/payment/add/"))
    page.locator("#calendarlink0").click()
    expect(page.locator(".calendarbox").first).to_be_visible()

    page.goto(page.url_for(f"/admin/automations/automation/{admin_data['automation'].pk}/change/"))
    expect(page.get_by_role("link", name="Edit in the builder")).to_be_visible()

    page.goto(page.url_for("/admin/automations/automation/"))
    page.get_by_role("link", name="Add automation").click()
    expect(page).to_have_url(re.compile(r"/automations/builder/[\w-]+/$"))
    expect(page.locator("#wizard-form")).to_be_visible()
