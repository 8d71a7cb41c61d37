"""The business profile's settings page: owners fill it in (grouped fields, checked at the field),
upload and remove the logo; team members are refused."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from business import services
from business.models import BusinessProfile
from tests.conftest import BUSINESS

pytestmark = pytest.mark.django_db

URL = "/settings/business/"


def form_data(**changes: str) -> dict[str, str]:
    data = {name: str(value) for name, value in BUSINESS.items()}
    data.update({"payment_terms_days": "14", "default_tax_rate": "19", "send_from": "08:00", "send_until": "18:00",
                 "business_days_only": "on", "attach_xml": "on", "holiday_region": ""})
    data.update(changes)
    return data


def png(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, "PNG")
    return out.getvalue()


def test_the_page_shows_the_profile_in_groups(client, owner):
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("Company and address", "Tax", "Bank account", "Invoice defaults", "Emails to customers"):
        assert heading in html
    assert 'value="DE89370400440532013000"' in html and 'value="Analytical Engines GmbH"' in html
    assert reverse("business:profile") in client.get("/").content.decode()  # in the user menu


def test_an_owner_saves_the_profile_through_the_service(client, owner):
    response = client.post(URL, form_data(legal_name=" Müller Design GmbH ", iban="DE89 3704 0044 0532 0130 00",
                                          default_tax_rate="7", payment_terms_days="30"), follow=True)
    assert "Business profile saved." in response.content.decode()
    profile = services.get_profile()
    assert profile.legal_name == "Müller Design GmbH"
    assert profile.iban == "DE89370400440532013000"  # compacted by the service
    assert profile.default_tax_rate == 7 and profile.payment_terms_days == 30


def test_the_tax_rate_is_read_the_german_way_in_german(client, owner):
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="de")
    assert 'name="default_tax_rate" value="19,00"' in page.content.decode()
    client.post(URL, form_data(default_tax_rate="7,5"), HTTP_ACCEPT_LANGUAGE="de")
    assert services.get_profile().default_tax_rate == pytest.approx(7.5)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("iban", "DE89370400440532013001", "is not a valid IBAN"),
    ("vat_id", "DE123456789", "is not a valid EU VAT ID"),
    ("bic", "XYZ", "is not a valid BIC"),
    ("tax_number", "12", "is not a valid German tax number"),
    ("payment_terms_days", "-1", "Ensure this value is greater than or equal to 0."),
    ("payment_terms_days", "366", "Ensure this value is less than or equal to 365."),
    ("default_tax_rate", "101", "Ensure this value is less than or equal to 100."),
    ("send_until", "07:00", "The end of the sending hours must be after their start."),
])
def test_bad_values_are_refused_at_their_field_and_nothing_is_saved(client, owner, field, value, message):
    before = services.get_profile().updated_at
    page = client.post(URL, form_data(**{field: value}))
    assert page.status_code == 200
    assert any(message in error for error in page.context["form"].errors[field]), page.context["form"].errors
    assert services.get_profile().updated_at == before


def test_a_profile_still_missing_fields_says_which_after_saving(client, owner):
    response = client.post(URL, form_data(street="", vat_id="", tax_number=""), follow=True)
    html = response.content.decode()
    assert "Before you can send invoices, fill in: street and number, tax number or VAT ID." in html


def test_a_team_member_is_refused(client, member):
    for url in (URL, reverse("business:logo-upload"), reverse("business:logo-remove")):
        assert client.get(url).status_code in (403, 405)
        assert client.post(url, form_data(legal_name="Hijacked")).status_code == 403
    assert services.get_profile().legal_name == BUSINESS["legal_name"]
    assert reverse("business:profile") not in client.get("/").content.decode()


def test_the_logo_is_uploaded_shown_and_removed_after_asking(client, owner):
    client.post(reverse("business:logo-upload"), {"logo": SimpleUploadedFile("logo.png", png(), "image/png")})
    profile = services.get_profile()
    assert profile.logo_type == "image/png" and bytes(profile.logo) == png()
    assert 'src="data:image/png;base64,' in client.get(URL).content.decode()

    question = client.get(reverse("business:logo-remove"))
    assert "Remove the logo?" in question.content.decode()
    assert services.get_profile().logo  # asking removes nothing
    client.post(reverse("business:logo-remove"))
    assert not services.get_profile().logo


@pytest.mark.parametrize(("name", "content", "message"), [
    ("big.png", b"\x89PNG" + b"0" * (1024 * 1024 + 1), "The logo is too large (1.0\xa0MB): at most 1 MB."),
    ("logo.gif", b"GIF89a" + b"\x00" * 100, "The logo must be a PNG or JPEG image."),
    ("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "The logo must be a PNG or JPEG image."),
])
def test_a_bad_logo_is_refused_at_the_field(client, owner, name, content, message):
    page = client.post(reverse("business:logo-upload"), {"logo": SimpleUploadedFile(name, content, "image/png")})
    assert page.status_code == 200
    assert message in page.context["logo_form"].errors["logo"][0]
    assert not BusinessProfile.objects.get().logo


def png_header(width: int, height: int) -> bytes:
    """A small PNG file whose header claims width × height pixels (the pixels are never there)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


def test_a_logo_claiming_a_huge_size_is_refused_at_the_field_not_a_server_error(client, owner):
    # 20000 × 20000 pixels in a few bytes: Pillow refuses to open it (a decompression bomb).
    page = client.post(reverse("business:logo-upload"),
                       {"logo": SimpleUploadedFile("logo.png", png_header(20000, 20000), "image/png")})
    assert page.status_code == 200
    assert page.context["logo_form"].errors["logo"] == ["The logo is too large: at most 4000 × 4000 pixels."]
    assert not BusinessProfile.objects.get().logo


@pytest.mark.parametrize(("field", "text", "message"), [
    ("email_subject_de", "Rechnung {{ invoice.numbr }}", "Unknown placeholder {{ invoice.numbr }}."),
    ("email_body_en", "Dear {{ contact.name,\n\nyour invoice", "Only placeholders like {{ contact.first_name }}"),
    ("email_body_de", "{% if invoice.total %}Hallo{% endif %}", "Only placeholders like {{ contact.first_name }}"),
])
def test_a_customer_email_text_with_a_broken_placeholder_is_refused_at_the_field(client, owner, field, text, message):
    # Saved, the first would leave the number out of every email, the others send the braces to the customer.
    page = client.post(URL, form_data(**{field: text}))
    assert page.status_code == 200
    assert page.context["form"].errors[field][0].startswith(message)
    assert getattr(services.get_profile(), field) == ""


def test_a_customer_email_text_with_valid_placeholders_is_saved(client, owner):
    client.post(URL, form_data(email_subject_de="Rechnung {{ invoice.number }} von {{ business.name }}"))
    assert services.get_profile().email_subject_de == "Rechnung {{ invoice.number }} von {{ business.name }}"
