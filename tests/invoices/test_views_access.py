"""Every invoice page: a logged-in user sees it, an anonymous visitor is sent to the login page."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.base import make_invoice, make_owner, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects():
    draft = make_invoice()
    overdue = make_invoice(status="overdue", issue_date=dt.date.today() - dt.timedelta(days=30),
                           due_date=dt.date.today() - dt.timedelta(days=10))
    plan = make_plan(contact=draft.contact)
    return {"draft": draft, "open": overdue, "plan": plan, "contact": draft.contact}


def page_urls(o) -> list[str]:
    return [
        reverse("dashboard"),
        reverse("invoices:invoice-list"),
        reverse("invoices:invoice-create"),
        reverse("invoices:invoice-detail", args=[o["draft"].pk]),
        reverse("invoices:invoice-detail", args=[o["open"].pk]),
        reverse("invoices:invoice-edit", args=[o["draft"].pk]),
        reverse("invoices:invoice-payment", args=[o["open"].pk]),
        reverse("invoices:invoice-void", args=[o["draft"].pk]),
        reverse("invoices:contact-list"),
        reverse("invoices:contact-create"),
        reverse("invoices:contact-detail", args=[o["contact"].pk]),
        reverse("invoices:contact-edit", args=[o["contact"].pk]),
        reverse("invoices:recurring-list"),
        reverse("invoices:recurring-create"),
        reverse("invoices:recurring-detail", args=[o["plan"].pk]),
        reverse("invoices:recurring-cancel", args=[o["plan"].pk]),
    ]


def test_every_page_returns_200_for_a_logged_in_user(client, objects):
    client.force_login(make_owner())
    for url in page_urls(objects):
        response = client.get(url)
        assert response.status_code == 200, url


def test_every_page_redirects_an_anonymous_visitor_to_the_login_page(client, objects):
    for url in page_urls(objects):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/login/?next={quote(url)}", url


def test_actions_redirect_an_anonymous_visitor_and_change_nothing(client, objects):
    draft = objects["draft"]
    for name in ("invoice-send", "invoice-void", "invoice-revoke-links"):
        response = client.post(reverse(f"invoices:{name}", args=[draft.pk]))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert draft.public_link_version == 0


def test_pages_use_local_assets_only(client, objects):
    client.force_login(make_owner())
    html = client.get(reverse("dashboard")).content.decode()
    assert "/static/vendor/bootstrap/" in html
    assert "cdn." not in html and "//unpkg" not in html and "jsdelivr" not in html


def test_actions_refuse_get(client, objects):
    client.force_login(make_owner())
    for name in ("invoice-revoke-links",):
        assert client.get(reverse(f"invoices:{name}", args=[objects["draft"].pk])).status_code == 405
    assert client.get(reverse("invoices:recurring-start", args=[objects["plan"].pk])).status_code == 405


def test_posts_need_the_csrf_token(objects):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_owner())
    response = client.post(reverse("invoices:invoice-send", args=[objects["draft"].pk]))
    assert response.status_code == 403
    objects["draft"].refresh_from_db()
    assert objects["draft"].status == "draft"


def test_unknown_objects_are_404(client, objects):
    client.force_login(make_owner())
    for name in ("invoice-detail", "invoice-edit", "contact-detail", "recurring-detail"):
        assert client.get(reverse(f"invoices:{name}", args=[999999])).status_code == 404
