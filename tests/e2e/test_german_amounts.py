"""Amounts typed the German way in a German Chromium: `1.234,56` is 1234.56 € — on an invoice line and
as a payment — never 123456 €; the fields are text fields with the decimal keyboard, prefilled in
German."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import expect

from invoices import services
from invoices.models import Invoice, Payment
from tests.base import make_contact


def test_1_234_56_typed_in_german_is_1234_56(page_de):
    page = page_de
    contact = make_contact(name="Greta Müller", email="greta@mueller.test", country="DE", street="Hauptstr. 1",
                           postal_code="10115", city="Berlin")

    page.goto(page.url_for("/invoices/new/"))
    page.locator("#id_contact").select_option(str(contact.pk))
    page.locator("#id_items-0-description").fill("Beratung")
    price = page.locator("#id_items-0-unit_price")
    expect(price).to_have_attribute("inputmode", "decimal")
    expect(price).to_have_attribute("type", "text")
    expect(page.locator("#id_items-0-tax_rate")).to_have_value("19")  # the profile's rate, prefilled
    price.fill("1.234,56")
    page.locator("#id_items-0-quantity").fill("2,5")
    page.get_by_role("button", name="Entwurf speichern").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rechnung")

    invoice = Invoice.objects.get()
    line = invoice.items.get()
    assert (line.unit_price, line.quantity) == (Decimal("1234.56"), Decimal("2.5"))
    assert invoice.total == Decimal("3672.82")  # 3086.40 + 19 % (586.42)
    expect(page.locator(".invoice-summary")).to_contain_text("3.672,82\u00a0€")

    services.send_invoice(invoice=invoice)
    page.reload()
    amount = page.locator("#id_amount")
    expect(amount).to_have_value("3.672,82")  # the balance, the German way
    amount.fill("1.234,56")
    page.locator("#record-payment").get_by_role("button").click()
    expect(page.get_by_role("alert")).to_contain_text("1.234,56\u00a0€")
    assert Payment.objects.get().amount == Decimal("1234.56")
