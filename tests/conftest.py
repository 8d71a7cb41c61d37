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
