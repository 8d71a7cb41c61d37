"""The customer's invoice page: opens with its signed link only; every bad link is a plain 404 that
tells nothing about the invoice or why."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import signing
from django.test import override_settings
from django.urls import reverse

from invoices.public import SALT, make_token, revoke_public_links
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice():
    return make_invoice(status="sent", contact=make_contact(name="Grace Hopper", email="grace@example.com"))


def page(client, token):
    return client.get(reverse("invoice-public", args=[token]))


def assert_plain_404(response, invoice):
    assert response.status_code == 404
    text = response.content.decode()
    for secret in (invoice.number, "Grace Hopper", "grace@example.com", "Signature", "Traceback", "signing"):
        assert secret not in text, secret


def test_the_signed_link_opens_without_a_login(client, invoice):
    response = page(client, make_token(invoice))
    assert response.status_code == 200 and invoice.number in response.content.decode()


def test_a_link_older_than_the_maximum_age_is_404(client, invoice, settings):
    settings.PUBLIC_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC), tick=False):
        token = make_token(invoice)
    with time_machine.travel(dt.datetime(2026, 1, 31, 11, tzinfo=dt.UTC), tick=False):
        assert page(client, token).status_code == 200
    with time_machine.travel(dt.datetime(2026, 1, 31, 13, tzinfo=dt.UTC), tick=False):
        assert_plain_404(page(client, token), invoice)


def test_a_revoked_link_is_404_and_a_new_one_works(client, invoice):
    old = make_token(invoice)
    revoke_public_links(invoice=invoice)
    assert_plain_404(page(client, old), invoice)
    assert page(client, make_token(invoice)).status_code == 200


def forged_tokens(invoice, other):
    token = make_token(invoice)
    payload, rest = token.split(":", 1)
    yield "one character changed", token[:-1] + ("A" if token[-1] != "A" else "B")
    yield "payload of another invoice", signing.dumps({"i": other.pk, "v": 0}, salt=SALT, compress=True).split(":", 1)[0] + ":" + rest
    yield "signed with another key", signing.dumps({"i": invoice.pk, "v": 0}, key="not-our-key", salt=SALT)
    yield "signed for another purpose", signing.dumps({"i": invoice.pk, "v": 0}, salt="something-else")
    yield "no payload fields", signing.dumps({}, salt=SALT)
    yield "text instead of a number", signing.dumps({"i": "1 OR 1=1", "v": 0}, salt=SALT)
    yield "garbage", "not-a-token"
    yield "very long", "x" * 5000


def test_tampered_links_are_404_with_nothing_leaked(client, invoice):
    other = make_invoice(status="sent")
    for label, token in forged_tokens(invoice, other):
        assert_plain_404(page(client, token), invoice)


def test_a_draft_has_no_public_page_even_with_a_valid_signature(client):
    draft = make_invoice(status="draft", contact=make_contact(name="Grace Hopper", email="grace@example.com"))
    assert_plain_404(page(client, make_token(draft)), draft)


def test_a_new_secret_key_ends_every_link(client, invoice):
    token = make_token(invoice)
    with override_settings(SECRET_KEY="a-completely-different-secret-key-" + "y" * 30):
        assert_plain_404(page(client, token), invoice)
