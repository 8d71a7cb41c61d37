"""A person's language choice follows them to every browser they log in from."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Preference
from tests.base import PASSWORD, make_owner

pytestmark = pytest.mark.django_db


def test_switching_to_german_is_kept_for_the_account_and_applies_on_another_browser():
    owner = make_owner()
    first = Client(HTTP_ACCEPT_LANGUAGE="en")
    first.force_login(owner)
    response = first.post(reverse("set_language"), {"language": "de", "next": "/invoices/"})
    assert response.status_code == 302
    assert Preference.objects.get(user=owner).language == "de"
    assert "Rechnungen" in first.get("/invoices/").content.decode()

    # A second browser that asks for English, logging in with the password.
    second = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert second.post(reverse("login"), {"username": owner.username, "password": PASSWORD}).status_code == 302
    page = second.get("/invoices/").content.decode()
    assert "Rechnungen" in page and 'lang="de"' in page


def test_without_a_choice_the_browser_language_decides():
    owner = make_owner()
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(owner)
    assert 'lang="de"' in client.get("/invoices/").content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(owner)
    assert 'lang="en"' in english.get("/invoices/").content.decode()


def test_an_unknown_language_is_ignored_and_nothing_is_stored():
    owner = make_owner()
    client = Client()
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert not Preference.objects.exists()


def test_the_login_page_can_switch_language_without_an_account():
    client = Client()
    response = client.post(reverse("set_language"), {"language": "de", "next": "/login/"})
    assert response.status_code == 302
    assert "Anmelden" in client.get("/login/").content.decode()
