"""Personal API tokens: made on the page (shown once, stored hashed), revoked after a confirmation,
and what the API does with a token that is revoked, read-only, of a person without a role or of a
person who left."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import create_api_token, revoke_api_token
from core.errors import DomainError
from tests.api.conftest import ApiClient, token_client
from tests.base import make_contact, make_outsider, make_owner, make_team_member, messages_of

pytestmark = pytest.mark.django_db


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(client, member):
    response = client.post(reverse("api-tokens"), {"name": "Zapier", "scope": "read_write", "nonce": "n1"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    token = ApiToken.objects.get(user=member)
    raw = page.split('id="new-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert raw.startswith("inv_") and len(raw) > 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.prefix == raw[:12] and token.scope == "read_write" and token.name == "Zapier"
    # Shown once: the next visit lists it by its prefix only.
    again = client.get(reverse("api-tokens")).content.decode()
    assert raw not in again and f"{token.prefix}…" in again
    # And it works.
    assert ApiClient(raw).get("/api/v1/contacts").status_code == 200


def test_the_same_form_posted_twice_makes_one_token(client, member):
    for _ in range(2):
        client.post(reverse("api-tokens"), {"name": "Zapier", "scope": "read", "nonce": "same"})
    assert ApiToken.objects.filter(user=member).count() == 1


def test_a_token_needs_a_name_and_a_scope(client, member):
    response = client.post(reverse("api-tokens"), {"name": "  ", "scope": "admin"})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    with pytest.raises(DomainError, match="Give the token a name"):
        create_api_token(user=member, name=" ", scope="read")


def test_revoking_asks_first_and_then_the_token_is_refused(client, member):
    token, raw = create_api_token(user=member, name="n8n", scope="read")
    api = ApiClient(raw)
    assert api.get("/api/v1/contacts").status_code == 200
    url = reverse("api-token-revoke", args=[token.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Revoke the token “n8n”?" in confirm.content.decode()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    response = client.post(url)
    assert "The token “n8n” is revoked; it no longer works." in messages_of(response)
    refused = api.get("/api/v1/contacts")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert "API token is needed" in refused.json()["detail"]
    # Twice: a clear message, nothing else.
    assert "has already been revoked" in " ".join(messages_of(client.post(url, follow=True)))


def test_nobody_sees_or_revokes_another_persons_token(client, member):
    other, _ = create_api_token(user=make_owner("boss"), name="Boss's", scope="read")
    assert client.get(reverse("api-token-revoke", args=[other.pk])).status_code == 404
    assert client.post(reverse("api-token-revoke", args=[other.pk])).status_code == 404
    assert "Boss" not in client.get(reverse("api-tokens")).content.decode()
    assert ApiToken.objects.get(pk=other.pk).revoked_at is None


def test_a_person_without_a_role_gets_no_token_page(client):
    client.force_login(make_outsider())
    assert client.get(reverse("api-tokens")).status_code == 403
    assert client.post(reverse("api-tokens"), {"name": "x", "scope": "read"}).status_code == 403
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer inv_" + "x" * 43,
                                    "Bearer " + "inv_" + "y" * 500])
def test_requests_without_a_valid_token_are_refused_with_401(client, header):
    response = client.get("/api/v1/invoices", HTTP_AUTHORIZATION=header) if header else client.get("/api/v1/invoices")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("An API token is needed")


def test_a_session_alone_does_not_open_the_api(client, owner):
    assert client.get("/api/v1/invoices").status_code == 401
    assert client.post("/api/v1/contacts", {"name": "X"}, content_type="application/json").status_code == 401


def test_a_read_only_token_reads_but_changes_nothing(reader_api):
    contact = make_contact()
    assert reader_api.get(f"/api/v1/contacts/{contact.pk}").status_code == 200
    response = reader_api.post("/api/v1/contacts", {"name": "New"})
    assert response.status_code == 403
    assert "may only read" in response.json()["detail"]
    assert reader_api.patch(f"/api/v1/contacts/{contact.pk}", {"name": "Renamed"}).status_code == 403
    assert reader_api.delete(f"/api/v1/contacts/{contact.pk}").status_code == 403
    contact.refresh_from_db()
    assert contact.name != "Renamed"


def test_a_token_of_a_person_without_a_role_or_who_left(db):
    outsider = token_client(make_outsider())
    response = outsider.get("/api/v1/invoices")
    assert response.status_code == 403 and "no role yet" in response.json()["detail"]
    member = make_team_member("leaver")
    api = token_client(member)
    assert api.get("/api/v1/invoices").status_code == 200
    member.is_active = False
    member.save()
    assert api.get("/api/v1/invoices").status_code == 401


def test_last_use_is_noted_at_most_once_a_minute(member_api, time_machine):
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    member_api.get("/api/v1/contacts")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    member_api.get("/api/v1/contacts")
    assert ApiToken.objects.get().last_used_at == first
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=2))
    member_api.get("/api/v1/contacts")
    assert ApiToken.objects.get().last_used_at > first


def test_revoking_twice_is_refused(member):
    token, _ = create_api_token(user=member, name="x", scope="read")
    revoke_api_token(token=token)
    with pytest.raises(DomainError, match="already been revoked"):
        revoke_api_token(token=token)
