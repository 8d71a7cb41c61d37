"""A new German business's first invoice, all in a German Chromium: the dashboard's checklist leads to
the business profile, which refuses a wrong IBAN at the field and then takes the right one (and a
logo); an invoice with a line of `1.234,56` is written, sent by email, its PDF downloaded (the text
read back with pypdf: seller, amounts, IBAN) and the customer's page opened from its link."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from django.core import mail
from PIL import Image
from playwright.sync_api import expect

from business.services import get_profile, update_profile
from invoices.models import Invoice
from tests.base import make_contact
from tests.documents.support import pdf_text


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), "darkgreen").save(out, "PNG")
    return out.getvalue()


def test_profile_then_first_invoice_in_german_sent_downloaded_and_seen_by_the_customer(page_de, anonymous_page,
                                                                                        tmp_path, settings, live_server):
    settings.SITE_URL = live_server.url  # the links in the email and on the page
    page = page_de
    update_profile(legal_name="", street="", postal_code="", city="", vat_id="", tax_number="", iban="", bic="",
                   bank_name="", phone="", email="")
    customer = make_contact(name="Greta Müller", email="greta@mueller.test", company="Müller Bau GmbH",
                            street="Lindenallee 4", postal_code="50667", city="Köln", country="DE", language="de")

    # The checklist leads to the profile.
    page.goto(page.url_for("/"))
    checklist = page.locator("#setup-checklist")
    expect(checklist).to_contain_text("Bevor du deine erste Rechnung sendest")
    checklist.get_by_role("link", name="Unternehmensprofil öffnen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unternehmensprofil")

    fields = {"legal_name": "Schmidt Webdesign GmbH", "street": "Gartenweg 7", "postal_code": "80331",
              "city": "München", "email": "rechnung@schmidt-web.test", "phone": "+49 89 123456",
              "vat_id": "DE136695976", "tax_number": "143/123/45678", "bank_name": "Stadtsparkasse",
              "iban": "DE89 3704 0044 0532 0130 01", "bic": "COBADEFFXXX"}
    for name, value in fields.items():
        page.locator(f"#id_{name}").fill(value)
    page.locator("#id_country").select_option("DE")
    expect(page.locator("#id_default_tax_rate")).to_have_value("19,00")
    page.locator("#profile-form").get_by_role("button", name="Speichern").click()
    # A typo in the IBAN: refused at the field, nothing saved.
    expect(page.locator("#id_iban")).to_have_class("textinput form-control is-invalid")
    expect(page.locator("#profile-form")).to_contain_text("ist keine gültige IBAN")
    assert get_profile().legal_name == ""
    page.locator("#id_iban").fill("DE89 3704 0044 0532 0130 00")
    page.locator("#profile-form").get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("alert")).to_contain_text("Unternehmensprofil gespeichert.")
    profile = get_profile()
    assert (profile.legal_name, profile.iban) == ("Schmidt Webdesign GmbH", "DE89370400440532013000")

    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    page.locator("#id_logo").set_input_files(str(logo))
    page.locator("#logo").get_by_role("button", name="Hochladen").click()
    expect(page.locator("#logo img")).to_be_visible()

    page.goto(page.url_for("/"))
    expect(page.locator("#setup-checklist")).to_have_count(0)

    # The first invoice, typed the German way.
    page.goto(page.url_for("/invoices/new/"))
    page.locator("#id_contact").select_option(str(customer.pk))
    page.locator("#id_items-0-description").fill("Webdesign Startseite")
    page.locator("#id_items-0-unit_price").fill("1.234,56")
    page.get_by_role("button", name="Entwurf speichern").click()
    invoice = Invoice.objects.get()
    assert invoice.items.get().unit_price == Decimal("1234.56")
    assert invoice.total == Decimal("1469.13")  # 1234.56 + 19 % (234.57)

    mail.outbox.clear()
    page.get_by_role("link", name="Per E-Mail senden").click()
    page.get_by_role("button", name="Per E-Mail senden").click()
    expect(page.get_by_role("alert")).to_contain_text("greta@mueller.test")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gesendet")
    assert [m.to for m in mail.outbox] == [["greta@mueller.test"]]
    # The email's link leads to this site (SITE_URL), where the customer opens it below.
    public_url = re.search(r"https?://\S+/i/\S+/", mail.outbox[0].body).group(0)
    assert public_url.startswith(live_server.url + "/i/")

    with page.expect_download() as download:
        page.locator("#documents").get_by_role("link", name="PDF herunterladen").click()
    text = pdf_text(download.value.path().read_bytes())
    for expected in ("Schmidt Webdesign GmbH", "Gartenweg 7", "80331 München", "DE136695976", "Müller Bau GmbH",
                     invoice.number, "1.234,56", "234,57", "1.469,13", "DE89 3704 0044 0532 0130 00"):
        assert expected in text, (expected, text)

    # The customer's page, from the link in the email.
    customer_page = anonymous_page
    customer_page.goto(public_url)
    expect(customer_page.get_by_role("heading", level=1)).to_have_text("Schmidt Webdesign GmbH")
    expect(customer_page.get_by_role("heading", level=2)).to_contain_text(invoice.number)
    expect(customer_page.locator("main")).to_contain_text("€1,469.13")  # an English browser: English
    with customer_page.expect_download() as public_download:
        customer_page.locator(".download a").click()
    assert "1.469,13" in pdf_text(public_download.value.path().read_bytes())  # the contact's language
