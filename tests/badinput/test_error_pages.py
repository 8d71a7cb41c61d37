"""The error pages: a refused request (400), a forbidden one (403), a missing page (404) and a
server error (500) each get a page of our layout that says what happened in plain words — in
English and German — never Django's bare one-line page or a traceback."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.utils import translation
from django.views import defaults

from invoices.models import Contact
from tests.base import make_owner

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024


def text(response) -> str:
    return response.content.decode()


def test_ten_megabytes_in_a_field_get_the_friendly_400_page_and_save_nothing(client, owner):
    response = client.post("/invoices/contacts/new/", {"name": "x" * TEN_MB, "language": "en"})
    assert response.status_code == 400
    page = text(response)
    assert "Request not accepted" in page
    assert "The request was too large or not understood, so nothing was saved." in page
    assert "Texts and files have size limits" in page
    assert 'href="/static/vendor/bootstrap/css/bootstrap.min.css"' in page  # our layout, not a bare page
    assert "Traceback" not in page and "<h1>Bad Request (400)</h1>" not in page
    assert not Contact.objects.exists()


def test_the_400_page_speaks_german_to_a_german_browser(client, owner):
    response = client.post("/invoices/contacts/new/", {"name": "x" * TEN_MB}, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    page = text(response)
    assert "Anfrage nicht angenommen" in page
    assert "Die Anfrage war zu groß oder nicht verständlich, daher wurde nichts gespeichert." in page
    assert '<html lang="de">' in page


def test_a_missing_page_gets_the_friendly_404_page_with_the_navigation(client, owner):
    response = client.get("/invoices/999999/")
    assert response.status_code == 404
    page = text(response)
    assert "Page not found" in page and "There is nothing at this address." in page
    assert "Go to the dashboard" in page
    assert 'href="/invoices/"' in page  # the signed-in navigation of the layout


@pytest.mark.parametrize("language,heading,words", [
    ("en", "Something went wrong", "What it was changing was not saved."),
    ("de", "Etwas ist schiefgegangen", "Was sie ändern sollte, wurde nicht gespeichert."),
])
def test_the_500_page_renders_without_a_request_context_in_both_languages(language, heading, words):
    """Django renders 500.html with no context at all (nothing that could fail again)."""
    request = RequestFactory().get("/")
    with translation.override(language):
        response = defaults.server_error(request)
    page = text(response)
    assert response.status_code == 500
    assert heading in page and words in page and "Traceback" not in page


@pytest.mark.parametrize("language,heading", [("en", "Not allowed"), ("de", "Nicht erlaubt")])
def test_the_403_page_says_nothing_was_changed(language, heading):
    request = RequestFactory().get("/")
    with translation.override(language):
        response = defaults.permission_denied(request, PermissionDenied())
    page = text(response)
    assert response.status_code == 403
    assert heading in page and "Traceback" not in page


def test_a_form_sent_without_its_security_token_gets_the_expired_form_page_and_saves_nothing():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_owner())
    response = client.post("/invoices/contacts/new/", {"name": "Ada", "language": "en"})
    assert response.status_code == 403
    page = text(response)
    assert "The form has expired" in page and "so nothing was saved." in page
    assert "CSRF verification failed" not in page
    assert not Contact.objects.exists()
