"""The Content-Security-Policy and the Permissions-Policy: every page sends them, and no template
has what the policy would block (inline script, on…= handlers, inline style). That the pages
really work under it is what the browser tests show: they fail on any violation the browser
reports (tests/e2e/conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.urls import reverse

from invoices.public import make_token
from tests.accounts.test_url_walk import admin_urls, product_urls, world  # noqa: F401 (world: a fixture)

TEMPLATES = Path(settings.BASE_DIR) / "templates"
CSP = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'",
       "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'")
DENIED = ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()")


def assert_headers(response, where: str) -> None:
    policy = response.get("Content-Security-Policy", "")
    directives = {d.strip() for d in policy.split(";")}
    assert set(CSP) == directives, (where, policy)
    assert "unsafe" not in policy, (where, policy)
    permissions = response.get("Permissions-Policy", "")
    assert all(feature in permissions for feature in DENIED), (where, permissions)


def test_every_page_sends_the_security_headers(client, world):  # noqa: F811
    # Anonymous: the login page, the customer's invoice page, a redirect to the login, a 404.
    assert_headers(client.get(reverse("login")), "login")
    assert_headers(client.get(reverse("invoice-public", args=[make_token(world["invoice"])])), "public invoice")
    assert_headers(client.get(reverse("dashboard")), "redirect to the login")
    assert_headers(client.get("/no/such/page/"), "404")
    # The owner: every page of the product and of the admin.
    client.force_login(world["owner"])
    pages = [url for _, url in product_urls(world)] + admin_urls(world)
    for url in pages:
        assert_headers(client.get(url), url)
    assert len(pages) > 100


def test_the_webhooks_send_the_headers_too():
    response = Client().post("/anymail/postmark/tracking/", data="{}", content_type="application/json")
    assert response.status_code in (400, 403)
    assert_headers(response, "webhook")


def _markup(path: Path) -> str:
    """The template's HTML, without Django comments and with every {{ }} / {% %} made neutral."""
    text = path.read_text()
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
    text = re.sub(r"{#.*?#}", "", text, flags=re.S)
    return re.sub(r"{[{%].*?[%}]}", "X", text, flags=re.S)


def inline_code(root: Path) -> list[str]:
    """What the Content-Security-Policy would block in the templates below `root`."""
    found = []
    for path in sorted(root.rglob("*.html")):
        markup = _markup(path)
        name = path.relative_to(root)
        for tag in re.findall(r"<script\b[^>]*>", markup, flags=re.I):
            if not re.search(r"\ssrc=", tag):
                found.append(f"{name}: inline script {tag}")
        for tag in re.findall(r"<[a-z][^>]*>", markup, flags=re.I):
            for attribute in re.findall(r"\s(on[a-z]+|style)\s*=", tag, flags=re.I):
                found.append(f"{name}: {attribute}= in {tag}")
        if re.search(r"<style\b", markup, flags=re.I):
            found.append(f"{name}: <style> element")
        if re.search(r"javascript:", markup, flags=re.I):
            found.append(f"{name}: javascript: URL")
    return found


def test_no_template_has_inline_script_handlers_or_styles():
    assert inline_code(TEMPLATES) == []


def test_the_template_scan_finds_each_kind_of_inline_code(tmp_path):
    (tmp_path / "page.html").write_text(
        '{# <script>a comment</script> #}{% comment %}<div style="x">{% endcomment %}'
        '<script src="{% static \'js/app.js\' %}"></script><script>alert(1)</script>\n'
        '<select name="x" onchange="this.form.submit()"><div class="{% if a %}b{% endif %}" style="color: red">\n'
        '{% if a %}<style>p {}</style>{% endif %}<a href="javascript:void(0)">')
    found = inline_code(tmp_path)
    assert [line.split(": ", 1)[1].split(" ", 1)[0] for line in found] == [
        "inline", "onchange=", "style=", "<style>", "javascript:"], found
