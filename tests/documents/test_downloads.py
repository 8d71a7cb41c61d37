"""Downloading the documents: the team from the invoice page, the customer from the public page.
Who may, what they get (an attachment with the document's name, never kept by a shared cache),
and what a draft, a revoked or a tampered link give."""

from __future__ import annotations

import pytest
from django.urls import reverse

from invoices.public import make_token, revoke_public_links
from tests.base import make_invoice, make_outsider, make_team_member

from .support import credit_note_of, pdf_text, sent

pytestmark = pytest.mark.django_db


def pdf_url(invoice) -> str:
    return reverse("documents:invoice-pdf", args=[invoice.pk])


def public_pdf_url(invoice) -> str:
    return reverse("invoice-public-pdf", args=[make_token(invoice)])


def test_a_team_member_downloads_the_pdf_and_both_xml_files(client):
    client.force_login(make_team_member())
    invoice = sent(language="de")
    response = client.get(pdf_url(invoice))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="Rechnung-{invoice.number}.pdf"'
    assert response["Cache-Control"] == "private"
    assert f"Rechnung {invoice.number}" in pdf_text(response.content)
    for name, flavour in (("invoice-xrechnung", "xrechnung"), ("invoice-facturx", "factur-x")):
        response = client.get(reverse(f"documents:{name}", args=[invoice.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/xml"
        assert response["Content-Disposition"] == f'attachment; filename="Rechnung-{invoice.number}-{flavour}.xml"'
        assert invoice.number.encode() in response.content


def test_a_signed_in_person_without_a_role_gets_403_and_a_visitor_the_login_page(client):
    invoice = sent()
    assert client.get(pdf_url(invoice)).status_code == 302
    client.force_login(make_outsider())
    for name in ("invoice-pdf", "invoice-xrechnung", "invoice-facturx"):
        assert client.get(reverse(f"documents:{name}", args=[invoice.pk])).status_code == 403


def test_the_team_may_preview_a_draft_marked_as_a_draft_and_never_cached(client):
    client.force_login(make_team_member())
    draft = make_invoice(status="draft")
    response = client.get(pdf_url(draft))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="Invoice-{draft.number}-draft.pdf"'
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    assert "DRAFT" in pdf_text(response.content)


def test_the_customer_downloads_the_pdf_by_the_public_link(client):
    invoice = sent(language="en")
    page = client.get(reverse("invoice-public", args=[make_token(invoice)]))
    assert public_pdf_url(invoice) in page.content.decode()
    response = client.get(public_pdf_url(invoice))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="Invoice-{invoice.number}.pdf"'
    assert response["Cache-Control"] == "private"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert f"Invoice {invoice.number}" in pdf_text(response.content)


def test_the_customers_page_of_a_credit_note_calls_it_a_credit_note(client):
    # The credit note's email links here ("You can also view the credit note online").
    invoice = sent(language="de")
    credit_note = credit_note_of(invoice)
    page = client.get(reverse("invoice-public", args=[make_token(credit_note)]), HTTP_ACCEPT_LANGUAGE="de")
    html = page.content.decode()
    assert f"<title>Stornorechnung {credit_note.number} · " in html
    assert f"Rechnung {credit_note.number}" not in html
    assert f"Diese Stornorechnung storniert die Rechnung {invoice.number} vom " in html


def test_a_revoked_or_tampered_link_and_a_drafts_link_find_nothing(client):
    invoice = sent()
    old = public_pdf_url(invoice)
    revoke_public_links(invoice=invoice)
    assert client.get(old).status_code == 404
    assert client.get(old.replace("/pdf/", "x/pdf/")).status_code == 404
    draft = make_invoice(status="draft")
    assert client.get(public_pdf_url(draft)).status_code == 404


def test_the_invoice_page_offers_the_downloads(client):
    client.force_login(make_team_member())
    invoice = sent()
    credit_note = credit_note_of(invoice)
    page = client.get(reverse("invoices:invoice-detail", args=[invoice.pk])).content.decode()
    for url in (pdf_url(invoice), reverse("documents:invoice-xrechnung", args=[invoice.pk]),
                reverse("documents:invoice-facturx", args=[invoice.pk]), pdf_url(credit_note)):
        assert f'href="{url}"' in page
    response = client.get(pdf_url(credit_note))
    assert response["Content-Disposition"] == f'attachment; filename="Stornorechnung-{credit_note.number}.pdf"'
