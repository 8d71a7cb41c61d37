"""Tagging contacts in the app (not only in the admin): the contact form's "Tags" field, the tags on
the contact page and in the list, the list filtered by a tag, and a reminder schedule's tag
condition meeting a contact tagged through the form."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from automations import conditions
from core.errors import DomainError
from invoices import services
from invoices.models import Contact, Tag
from tests.base import make_contact, make_invoice, make_team_member

pytestmark = pytest.mark.django_db


def contact_data(**overrides) -> dict:
    data = {"name": "Emily Carter", "email": "emily@carter-studio.example", "language": "en"}
    data.update(overrides)
    return data


def tag_names(contact: Contact) -> list[str]:
    return sorted(contact.tags.values_list("name", flat=True))


@pytest.fixture(params=["owner", "member"])
def user(request, owner, client):
    """An owner and a team member tag contacts alike."""
    if request.param == "owner":
        return owner
    member = make_team_member("tagger")
    client.force_login(member)
    return member


def test_a_new_contact_gets_its_tags_and_existing_ones_are_reused_whatever_the_case(user_client):
    vip = Tag.objects.create(name="VIP")
    response = user_client.post(reverse("invoices:contact-create"),
                                contact_data(tags=" vip ,  Kulanz   Kunde, , KULANZ kunde,"))
    contact = Contact.objects.get()
    assert response.status_code == 302
    assert tag_names(contact) == ["Kulanz Kunde", "VIP"]
    assert contact.tags.get(name="VIP") == vip
    assert Tag.objects.count() == 2  # "vip" is the tag VIP, not a new one
    page = user_client.get(response["Location"]).content.decode()
    assert f'href="{reverse("invoices:contact-list")}?tag=Kulanz%20Kunde"' in page
    assert ">VIP</a>" in page


def test_editing_shows_the_tags_changes_them_and_clearing_removes_them(user_client):
    contact = make_contact(tags=["VIP", "Kulanz"])
    url = reverse("invoices:contact-edit", args=[contact.pk])
    form = user_client.get(url).content.decode()
    assert 'value="Kulanz, VIP"' in form
    assert "Separate tags with commas; schedules can be limited to tagged contacts." in form
    assert '<option value="Kulanz">' in form  # the known tags are suggested

    assert user_client.post(url, contact_data(name=contact.name, tags="Kulanz, Stammkunde")).status_code == 302
    assert tag_names(contact) == ["Kulanz", "Stammkunde"]
    assert Tag.objects.filter(name="VIP").exists()  # a schedule may still name it

    assert user_client.post(url, contact_data(name=contact.name, tags="")).status_code == 302
    assert tag_names(contact) == []
    assert "Tags</dt>" in user_client.get(reverse("invoices:contact-detail", args=[contact.pk])).content.decode()


@pytest.mark.parametrize(("tags", "message"), [
    ("VIP, " + "x" * 51, "The tag “xxxxxxxxxxxxxxxxxxxxxxxxxxxxx…” cannot be saved: "
                         "Ensure this value has at most 50 characters (it has 51)."),
    (", ".join(f"T{i}" for i in range(21)), "A contact can have at most 20 tags, not 21."),
    ("VIP\r\nBcc: x", "This field cannot contain line breaks."),
])
def test_bad_tags_are_refused_at_the_field_and_nothing_is_saved(user_client, tags, message):
    response = user_client.post(reverse("invoices:contact-create"), contact_data(tags=tags))
    assert response.status_code == 200
    assert response.context["form"].errors["tags"] == [message]
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Contact.objects.exists() and not Tag.objects.exists()

    contact = make_contact(tags=["Old"])
    response = user_client.post(reverse("invoices:contact-edit", args=[contact.pk]),
                                contact_data(name="Renamed", tags=tags))
    assert response.status_code == 200
    assert response.context["form"].errors["tags"] == [message]
    contact.refresh_from_db()
    assert contact.name != "Renamed" and tag_names(contact) == ["Old"]
    assert list(Tag.objects.values_list("name", flat=True)) == ["Old"]


def test_twenty_tags_are_fine_and_the_same_name_twice_counts_once():
    names = [f"T{i}" for i in range(20)]
    contact = services.create_contact(name="Many", tags=[*names, "t0", " T1 "])
    assert len(tag_names(contact)) == 20


def test_the_refusal_is_in_german(owner):
    with translation.override("de"), pytest.raises(DomainError) as refused:
        services.create_contact(name="Viele", tags=[f"T{i}" for i in range(21)])
    assert refused.value.message == "Ein Kontakt kann höchstens 20 Schlagwörter haben, nicht 21."
    assert refused.value.field == "tags"


def test_updating_without_tags_keeps_them():
    contact = make_contact(tags=["VIP"])
    services.update_contact(contact=contact, company="Navy")
    assert tag_names(contact) == ["VIP"]


def test_the_list_shows_tags_and_is_filtered_by_a_tag_with_search_and_pages(user_client):
    for i in range(52):
        make_contact(name=f"Gold {i:02d}", tags=["VIP"] if i % 2 else [])
    make_contact(name="Alpha Silver", tags=["VIP", "Kulanz"])
    url = reverse("invoices:contact-list")
    everyone = user_client.get(url).content.decode()
    assert f'href="{url}?tag=VIP"' in everyone and ">Kulanz</a>" in everyone

    tagged = user_client.get(url, {"tag": "vip"})
    assert [c.name for c in tagged.context["contacts"]][:3] == ["Alpha Silver", "Gold 01", "Gold 03"]
    assert tagged.context["page_obj"].paginator.count == 27
    page = tagged.content.decode()
    assert "Contacts tagged “vip”" in page
    assert 'href="?tag=vip&amp;page=2"' in page  # the next page keeps the filter
    assert '<input type="hidden" name="tag" value="vip">' in page  # and so does a search
    second = user_client.get(url, {"tag": "vip", "page": 2})
    assert [c.name for c in second.context["contacts"]] == ["Gold 49", "Gold 51"]

    make_contact(name="Alpha Bronze")
    assert len(user_client.get(url, {"q": "alpha"}).context["contacts"]) == 2
    searched = user_client.get(url, {"tag": "VIP", "q": "alpha"})
    assert [c.name for c in searched.context["contacts"]] == ["Alpha Silver"]
    assert "No contacts match." in user_client.get(url, {"tag": "Nobody"}).content.decode()


def test_the_list_costs_the_same_queries_for_few_and_many_tagged_contacts(user_client):
    url = reverse("invoices:contact-list")
    for i in range(3):
        make_contact(tags=["VIP", f"T{i}"])
    user_client.get(url)
    with CaptureQueriesContext(connection) as few:
        user_client.get(url)
    for i in range(20):
        make_invoice(contact=make_contact(tags=["VIP", f"U{i}", "Kulanz"]), status="sent")
    with CaptureQueriesContext(connection) as many:
        response = user_client.get(url)
    assert len(response.context["contacts"]) == 23
    assert len(many) == len(few)


def test_a_tag_condition_of_a_reminder_schedule_holds_for_a_contact_tagged_in_the_form(user_client):
    Tag.objects.create(name="VIP")
    user_client.post(reverse("invoices:contact-create"), contact_data(name="Tagged", tags="vip"))
    tagged = Contact.objects.get(name="Tagged")
    other = make_contact()
    today = dt.date.today()
    first = make_invoice(contact=tagged, status="sent")
    second = make_invoice(contact=other, status="sent")
    rule = conditions.clean([{"field": "tag", "value": ["VIP"]}])
    assert conditions.failing(first, rule, today=today) == []
    assert conditions.failing(second, rule, today=today) == ["the contact is tagged “VIP”"]
    assert list(conditions.apply(services.Invoice.objects.all(), rule, today=today)) == [first]


def test_a_tag_condition_matches_the_tag_in_any_case():
    contact = make_contact(tags=["VIP"])
    today = dt.date.today()
    invoice = make_invoice(contact=contact, status="sent")
    for typed in (["vip"], ["Vip", "Other"]):
        rule = conditions.clean([{"field": "tag", "value": typed}])
        assert conditions.failing(invoice, rule, today=today) == [], typed
        assert list(conditions.apply(services.Invoice.objects.all(), rule, today=today)) == [invoice], typed
        left_out = conditions.clean([{"field": "not_tag", "value": typed}])
        assert list(conditions.apply(services.Invoice.objects.all(), left_out, today=today)) == [], typed
