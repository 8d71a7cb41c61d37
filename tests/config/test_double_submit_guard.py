"""One double-submit guard for the whole site (static/js/app.js, loaded by base.html), and every
form that creates something uses it. How it behaves in a browser: tests/e2e/test_double_submit.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.base import make_contact, make_invoice, make_owner
from workflows.services import create_workflow

STATIC_JS = Path(settings.BASE_DIR) / "static" / "js"


def form_posting_to(html: str, action: str | None) -> str:
    """The opening tag of the form that posts to `action` (None: to the page itself)."""
    for tag in re.findall(r"<form\b[^>]*>", html):
        target = re.search(r'action="([^"]*)"', tag)
        if 'method="post"' in tag and (target.group(1) if target else None) == action:
            return tag
    raise AssertionError(f"no form posting to {action}")


@pytest.fixture
def owner_client(client, db):
    client.force_login(make_owner())
    return client


def test_every_form_that_creates_something_is_sent_once(owner_client):
    invoice = make_invoice(status="sent")
    contact = make_contact()
    board = create_workflow(name="Collections", steps=["New"])
    pages = {
        # page: the form's action (None: the page itself)
        reverse("invoices:invoice-create"): None,
        reverse("invoices:contact-create"): None,
        reverse("invoices:recurring-create") + f"?contact={contact.pk}": None,
        reverse("invoices:invoice-payment", args=[invoice.pk]): reverse("invoices:invoice-payment", args=[invoice.pk]),
        reverse("invoices:invoice-detail", args=[invoice.pk]): reverse("invoices:invoice-payment", args=[invoice.pk]),
        reverse("tasks:task-create"): None,
        reverse("workflows:workflow-create"): None,
        reverse("workflows:workflow-board", args=[board.pk]): reverse("workflows:step-add", args=[board.pk]),
        reverse("automations:automation-import"): None,
        reverse("banking:statement-upload"): None,
        reverse("banking:mapping-create"): None,
    }
    for page, action in pages.items():
        response = owner_client.get(page)
        assert response.status_code == 200, page
        assert "data-once" in form_posting_to(response.content.decode(), action), page


def test_every_page_loads_the_guard(owner_client):
    for page in (reverse("dashboard"), reverse("invoices:contact-list"), reverse("automations:automation-list")):
        assert '<script src="/static/js/app.js"></script>' in owner_client.get(page).content.decode()


def test_there_is_one_guard():
    copies = [path.name for path in sorted(STATIC_JS.glob("*.js"))
              if re.search(r"[\"'\[]data-once|dataset\.submitted", path.read_text())]
    assert copies == ["app.js"]
