"""API clients: pytest-django's Client with a personal token of the owner or a team member."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client

from accounts.services import create_api_token
from tests.base import make_outsider, make_owner, make_team_member


class ApiClient(Client):
    """A Client that sends a Bearer token and JSON bodies."""

    def __init__(self, token: str, **kwargs):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs)
        self.token = token

    def post(self, path, data=None, content_type="application/json", **extra):
        return super().post(path, data if data is not None else {}, content_type=content_type, **extra)

    def patch(self, path, data=None, content_type="application/json", **extra):
        return super().patch(path, data if data is not None else {}, content_type=content_type, **extra)


def token_client(user, scope: str = "read_write", name: str = "test") -> ApiClient:
    _, raw = create_api_token(user=user, name=name, scope=scope)
    return ApiClient(raw)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    caches["api"].clear()
    yield


@pytest.fixture
def owner_api(db) -> ApiClient:
    return token_client(make_owner("api-owner"))


@pytest.fixture
def member_api(db) -> ApiClient:
    return token_client(make_team_member("api-member"))


@pytest.fixture
def reader_api(db) -> ApiClient:
    return token_client(make_owner("api-reader"), scope="read")


@pytest.fixture
def outsider_api(db) -> ApiClient:
    return token_client(make_outsider("api-outsider"))
