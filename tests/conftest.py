"""Fixtures every test folder shares. Plain helpers and builders are in tests/base.py.

The people of the page tests, each signed in on pytest-django's `client`: `owner` (may do
everything) and `member` (a team member). `user` is whoever a module's pages are tested as: the
owner, unless the module overrides it (`def user(member): return member`); `user_client` is
`client` signed in as `user`, `owner_client` signed in as the owner."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from tests.base import make_board, make_owner, make_team_member
from workflows.models import Workflow


@pytest.fixture
def postgres_only():
    """For tests of real concurrency: SQLite serialises every writer, so they prove nothing there."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real concurrent transactions); run with DATABASE_URL=postgres://…")


@pytest.fixture(autouse=True)
def _reset_language():
    """A German request in one test must not leave German active for the next test's messages."""
    yield
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


# The business every test works for: a complete profile, so invoices can be sent (a test of an
# incomplete profile empties it: tests/business). Filled in for every test that uses the database.
BUSINESS = {
    "legal_name": "Analytical Engines GmbH", "street": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin",
    "country": "DE", "email": "billing@engines.example", "phone": "+49 30 1234567", "vat_id": "DE136695976",
    "tax_number": "181/815/08155", "bank_name": "Commerzbank", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX",
}


@pytest.fixture(autouse=True)
def business_profile(request):
    if not {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames) and not request.node.get_closest_marker("django_db"):
        yield None
        return
    request.getfixturevalue("transactional_db" if _wants_transactions(request) else "db")
    from business.services import update_profile

    yield update_profile(**BUSINESS)


def _wants_transactions(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def owner(client: Client) -> User:
    """An owner, signed in on `client`."""
    user = make_owner()
    client.force_login(user)
    return user


@pytest.fixture
def member(client: Client) -> User:
    """A team member, alice (first name Alice), signed in on `client`."""
    user = make_team_member("alice", first_name="Alice")
    client.force_login(user)
    return user


@pytest.fixture
def user(owner: User) -> User:
    """The person a module's page tests act as: the owner unless the module overrides it."""
    return owner


@pytest.fixture
def user_client(client: Client, user: User) -> Client:
    """`client`, signed in as `user`."""
    return client


@pytest.fixture
def owner_client(client: Client, owner: User) -> Client:
    """`client`, signed in as an owner."""
    return client


@pytest.fixture
def board(db: None) -> Workflow:
    """The Collections workflow with the steps New, Reminded and Paid."""
    return make_board()
