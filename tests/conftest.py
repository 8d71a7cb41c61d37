from __future__ import annotations

import pytest
from django.db import connection


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
