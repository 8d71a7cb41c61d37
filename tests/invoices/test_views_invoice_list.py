"""The invoice list: status pills with counts, search, pagination, localized dates and amounts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()
PAST = {"issue_date": TODAY - dt.timedelta(days=30), "due_date": TODAY - dt.timedelta(days=10)}


def numbers(response) -> set[str]:
    return {invoice.number for invoice in response.context["invoices"]}


def pill_counts(response) -> dict[str, int]:
    return {pill["value"] or "all": pill["count"] for pill in response.context["pills"]}


def test_status_pills_show_the_count_of_each_status(user_client):
    make_invoice()
    make_invoice(status="sent")
    make_invoice(status="sent")
    make_invoice(status="overdue", **PAST)
    make_invoice(status="paid")
    make_invoice(status="void")
    response = user_client.get(reverse("invoices:invoice-list"))
    assert pill_counts(response) == {"all": 6, "draft": 1, "sent": 2, "overdue": 1, "paid": 1, "void": 1}
    html = response.content.decode()
    for label in ("All", "Draft", "Sent", "Overdue", "Paid", "Void"):
        assert label in html


def test_status_filter_shows_only_that_status(user_client):
    draft = make_invoice()
    sent = make_invoice(status="sent")
    response = user_client.get(reverse("invoices:invoice-list"), {"status": "sent"})
    assert numbers(response) == {sent.number}
    assert draft.number not in response.content.decode()
    active = [p for p in response.context["pills"] if p["active"]]
    assert [p["value"] for p in active] == ["sent"]


def test_open_filter_from_the_dashboard_card_shows_sent_and_overdue(user_client):
    make_invoice()
    sent = make_invoice(status="sent")
    overdue = make_invoice(status="overdue", **PAST)
    make_invoice(status="paid")
    response = user_client.get(reverse("invoices:invoice-list"), {"status": "open"})
    assert numbers(response) == {sent.number, overdue.number}
    assert response.context["page_obj"].paginator.count == 2


def test_unknown_status_filter_shows_all(user_client):
    make_invoice()
    make_invoice(status="sent")
    response = user_client.get(reverse("invoices:invoice-list"), {"status": "bogus"})
    assert len(numbers(response)) == 2


def test_search_finds_by_number_contact_name_email_and_company(user_client):
    weber = make_invoice(contact=make_contact(name="Jonas Weber", email="j@weber-bau.example", company="Weber Bau"))
    other = make_invoice(contact=make_contact(name="Anna Schmidt", email="anna@schmidt.example", company="Architektur"))
    url = reverse("invoices:invoice-list")
    assert numbers(user_client.get(url, {"q": "jonas"})) == {weber.number}
    assert numbers(user_client.get(url, {"q": "weber-bau.example"})) == {weber.number}
    assert numbers(user_client.get(url, {"q": "architektur"})) == {other.number}
    assert numbers(user_client.get(url, {"q": other.number})) == {other.number}
    assert numbers(user_client.get(url, {"q": "nobody-at-all"})) == set()


def test_search_and_status_filter_combine_and_pill_counts_follow_the_search(user_client):
    contact = make_contact(name="Grace Taylor")
    sent = make_invoice(contact=contact, status="sent")
    make_invoice(contact=contact)
    make_invoice(status="sent")
    response = user_client.get(reverse("invoices:invoice-list"), {"q": "grace", "status": "sent"})
    assert numbers(response) == {sent.number}
    assert pill_counts(response)["all"] == 2
    assert pill_counts(response)["sent"] == 1


def test_contact_filter_lists_that_contacts_invoices(user_client):
    mine = make_invoice()
    make_invoice()
    response = user_client.get(reverse("invoices:invoice-list"), {"contact": mine.contact_id})
    assert numbers(response) == {mine.number}


def test_list_is_paginated_by_25_and_keeps_the_filter_in_page_links(user_client):
    contact = make_contact()
    for _ in range(27):
        make_invoice(contact=contact, status="sent")
    make_invoice(contact=contact)
    url = reverse("invoices:invoice-list")
    first = user_client.get(url, {"status": "sent"})
    assert len(first.context["invoices"]) == 25
    assert first.context["page_obj"].paginator.count == 27
    html = first.content.decode()
    assert re.search(r'href="\?status=sent&amp;page=2"', html)
    second = user_client.get(url, {"status": "sent", "page": 2})
    assert len(second.context["invoices"]) == 2
    assert not numbers(first) & numbers(second)
    assert user_client.get(url, {"page": "999"}).status_code == 200


def test_amounts_use_the_money_format_and_status_badges(user_client):
    make_invoice(items=[{"description": "Design", "quantity": "1", "unit_price": "1234.50", "tax_rate": "0"}],
                 status="sent")
    html = user_client.get(reverse("invoices:invoice-list")).content.decode()
    assert "€1,234.50" in html
    assert 'badge-status-sent' in html


def test_german_visitor_sees_german_amounts_and_dates(user_client):
    invoice = make_invoice(
        items=[{"description": "Design", "quantity": "1", "unit_price": "1234.50", "tax_rate": "0"}],
        issue_date=dt.date(2026, 1, 31), due_date=dt.date(2026, 2, 14),
    )
    response = user_client.get(reverse("invoices:invoice-list"), HTTP_ACCEPT_LANGUAGE="de")
    html = response.content.decode()
    assert "1.234,50\xa0€" in html
    assert "31.01.2026" in html and "14.02.2026" in html
    assert '<html lang="de">' in html
    detail = user_client.get(reverse("invoices:invoice-detail", args=[invoice.pk]), HTTP_ACCEPT_LANGUAGE="de")
    assert "1.234,50\xa0€" in detail.content.decode()


def test_german_language_cookie_gives_german_formats(user_client):
    make_invoice(items=[{"description": "Design", "quantity": "1", "unit_price": "1234.50", "tax_rate": "0"}],
                 issue_date=dt.date(2026, 3, 5), due_date=dt.date(2026, 3, 19))
    user_client.cookies["django_language"] = "de"
    html = user_client.get(reverse("invoices:invoice-list")).content.decode()
    assert "1.234,50\xa0€" in html
    assert "05.03.2026" in html


def test_english_visitor_sees_english_dates(user_client):
    make_invoice(issue_date=dt.date(2026, 1, 31), due_date=dt.date(2026, 2, 14))
    html = user_client.get(reverse("invoices:invoice-list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "01/31/2026" in html


def test_empty_list_invites_to_write_the_first_invoice(user_client):
    html = user_client.get(reverse("invoices:invoice-list")).content.decode()
    assert reverse("invoices:invoice-create") in html
    assert "No invoices yet." in html
