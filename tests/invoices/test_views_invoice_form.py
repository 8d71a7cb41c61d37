"""Writing and editing invoices in the browser: line items as a formset, errors at their fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from invoices.models import Invoice, LineItem
from tests.base import make_contact, make_invoice

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


def invoice_data(contact, lines: list[dict], *, initial_forms: int = 0, **fields) -> dict:
    data = {
        "contact": contact.pk if contact else "",
        "issue_date": TODAY.isoformat(),
        "due_date": (TODAY + dt.timedelta(days=14)).isoformat(),
        "currency": "EUR",
        "notes": "",
        "items-TOTAL_FORMS": str(len(lines)),
        "items-INITIAL_FORMS": str(initial_forms),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    data.update({k: v for k, v in fields.items()})
    for i, line in enumerate(lines):
        for key, value in {"quantity": "1", "tax_rate": "0", **line}.items():
            data[f"items-{i}-{key}"] = value
    return data


def test_new_invoice_page_offers_common_currencies_first_and_date_inputs(user_client):
    response = user_client.get(reverse("invoices:invoice-create"))
    html = response.content.decode()
    assert [code for code, _ in response.context["form"].fields["currency"].choices][:4] == ["EUR", "USD", "GBP", "CHF"]
    assert 'type="date"' in html
    assert 'id="line-item-template"' in html and "items-__prefix__-description" in html
    assert 'id="add-line"' in html


def test_new_invoice_preselects_the_contact_from_the_query(user_client):
    contact = make_contact()
    response = user_client.get(reverse("invoices:invoice-create"), {"contact": contact.pk})
    assert response.context["form"].initial["contact"] == contact.pk


def test_create_invoice_with_lines_saves_a_draft_and_redirects_to_it(user_client, user):
    contact = make_contact()
    data = invoice_data(contact, [
        {"description": "Website design", "quantity": "1", "unit_price": "1200.00", "tax_rate": "19"},
        {"description": "Hosting", "quantity": "3", "unit_price": "19.90", "tax_rate": "19"},
    ], notes="Thank you!")
    response = user_client.post(reverse("invoices:invoice-create"), data)
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:invoice-detail", args=[invoice.pk])
    assert invoice.status == "draft"
    assert invoice.contact == contact
    assert invoice.created_by == user
    assert invoice.notes == "Thank you!"
    assert [(i.description, i.quantity, i.unit_price) for i in invoice.items.all()] == [
        ("Website design", Decimal("1.000"), Decimal("1200.00")), ("Hosting", Decimal("3.000"), Decimal("19.90"))]
    assert invoice.total == Decimal("1499.04")  # 1259.70 net + 239.34 tax
    follow = user_client.get(response["Location"])
    assert invoice.number in follow.content.decode()


def test_blank_extra_rows_and_removed_rows_are_not_saved(user_client):
    contact = make_contact()
    data = invoice_data(contact, [
        {"description": "Kept", "unit_price": "10.00"},
        {"description": "Removed", "unit_price": "20.00", "DELETE": "on"},
        {"description": "", "unit_price": "", "quantity": "1", "tax_rate": "0"},
    ])
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert response.status_code == 302
    assert list(LineItem.objects.values_list("description", flat=True)) == ["Kept"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"due_date": (TODAY - dt.timedelta(days=1)).isoformat()}, "due_date", "The due date cannot be before the issue date."),
        ({"currency": "XXY"}, "currency", "Select a valid choice."),
        ({"contact": ""}, "contact", "This field is required."),
    ],
    ids=["due-before-issue", "unknown-currency", "no-contact"],
)
def test_invoice_field_errors_are_shown_at_the_field_and_nothing_is_saved(user_client, change, field, message):
    contact = make_contact()
    data = invoice_data(contact, [{"description": "Work", "unit_price": "100.00"}])
    data.update(change)
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Invoice.objects.count() == 0 and LineItem.objects.count() == 0


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"description": "Work", "quantity": "-1", "unit_price": "100.00"}, "quantity", "The quantity must be greater than zero."),
        ({"description": "Work", "quantity": "1", "unit_price": "0"}, "unit_price", "The price must be greater than zero."),
        ({"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate": "101"}, "tax_rate", "100"),
        ({"description": "", "quantity": "2", "unit_price": "10"}, "description", "This field is required."),
    ],
    ids=["negative-quantity", "zero-price", "tax-over-100", "no-description"],
)
def test_line_item_errors_are_shown_at_the_line_field_and_nothing_is_saved(user_client, line, field, message):
    data = invoice_data(make_contact(), [{"description": "Fine", "unit_price": "5.00"}, line])
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert response.status_code == 200
    errors = response.context["formset"].forms[1].errors
    assert message in errors[field][0]
    assert "is-invalid" in response.content.decode()
    assert Invoice.objects.count() == 0


def test_an_invoice_without_line_items_is_refused(user_client):
    data = invoice_data(make_contact(), [{"description": "", "unit_price": "", "quantity": "1", "tax_rate": "0"}])
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert response.status_code == 200
    assert "Add at least one line item." in response.content.decode()
    assert Invoice.objects.count() == 0


def test_a_service_refusal_without_field_is_shown_at_the_top(user_client, monkeypatch):
    from invoices import services
    from core.errors import DomainError

    def refuse(**kwargs):
        raise DomainError("The invoice total is too large.")

    monkeypatch.setattr(services, "create_invoice", refuse)
    data = invoice_data(make_contact(), [{"description": "Work", "unit_price": "100.00"}])
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The invoice total is too large."]
    assert "alert-danger" in response.content.decode()


def test_edit_page_shows_the_drafts_lines(user_client):
    invoice = make_invoice(items=[{"description": "Logo", "quantity": "2", "unit_price": "450.00", "tax_rate": "19"}])
    response = user_client.get(reverse("invoices:invoice-edit", args=[invoice.pk]))
    html = response.content.decode()
    assert 'value="Logo"' in html
    assert 'value="450.00"' in html and 'value="2"' in html
    assert response.context["formset"].initial_form_count() == 1


def test_edit_draft_replaces_lines_and_fields(user_client):
    invoice = make_invoice(items=[{"description": "Old", "quantity": "1", "unit_price": "10.00", "tax_rate": "0"}])
    other = make_contact()
    data = invoice_data(other, [
        {"description": "Old", "unit_price": "10.00", "DELETE": "on"},
        {"description": "New", "quantity": "2", "unit_price": "25.00"},
    ], initial_forms=1, currency="USD", notes="Changed")
    response = user_client.post(reverse("invoices:invoice-edit", args=[invoice.pk]), data)
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.contact == other and invoice.currency == "USD" and invoice.notes == "Changed"
    assert [i.description for i in invoice.items.all()] == ["New"]
    assert invoice.total == Decimal("50.00")


def test_edit_keeps_unchanged_existing_lines(user_client):
    invoice = make_invoice(items=[{"description": "Stay", "quantity": "1", "unit_price": "10.00", "tax_rate": "0"}])
    data = invoice_data(invoice.contact, [{"description": "Stay", "quantity": "1", "unit_price": "10.00"}],
                        initial_forms=1)
    response = user_client.post(reverse("invoices:invoice-edit", args=[invoice.pk]), data)
    assert response.status_code == 302
    assert [i.description for i in invoice.items.all()] == ["Stay"]


def test_edit_moving_the_issue_date_to_another_year_is_refused_at_the_field(user_client):
    invoice = make_invoice()
    next_year = dt.date(invoice.issue_date.year + 1, 1, 15)
    data = invoice_data(invoice.contact, [{"description": "Work", "unit_price": "100.00"}], initial_forms=1,
                        issue_date=next_year.isoformat(), due_date=(next_year + dt.timedelta(days=14)).isoformat())
    response = user_client.post(reverse("invoices:invoice-edit", args=[invoice.pk]), data)
    assert response.status_code == 200
    assert "issue_date" in response.context["form"].errors
    invoice.refresh_from_db()
    assert invoice.issue_date != next_year


def test_a_sent_invoice_cannot_be_edited_its_edit_url_redirects_with_a_message(user_client):
    invoice = make_invoice(status="sent")
    before = list(invoice.items.values_list("description", "unit_price"))
    url = reverse("invoices:invoice-edit", args=[invoice.pk])
    response = user_client.get(url, follow=True)
    assert response.redirect_chain == [(reverse("invoices:invoice-detail", args=[invoice.pk]), 302)]
    assert "Only a draft can be edited" in response.content.decode()
    data = invoice_data(invoice.contact, [{"description": "Sneaky", "unit_price": "1.00"}], initial_forms=1)
    response = user_client.post(url, data)
    assert response.status_code == 302
    assert list(invoice.items.values_list("description", "unit_price")) == before


def test_detail_of_a_sent_invoice_offers_no_edit_button(user_client):
    invoice = make_invoice(status="sent")
    html = user_client.get(reverse("invoices:invoice-detail", args=[invoice.pk])).content.decode()
    assert reverse("invoices:invoice-edit", args=[invoice.pk]) not in html


# --- Service date, VAT treatment, the profile's defaults -------------------------------------


def test_a_new_line_starts_with_the_profiles_tax_rate_and_the_due_date_with_its_terms(user_client):
    from business.services import update_profile

    update_profile(default_tax_rate=Decimal("7"), payment_terms_days=30)
    response = user_client.get(reverse("invoices:invoice-create"))
    formset = response.context["formset"]
    assert formset.forms[0]["tax_rate"].value() == Decimal("7")
    assert formset.empty_form["tax_rate"].value() == Decimal("7")  # "Add line" too
    assert response.context["form"].initial["due_date"] == response.context["form"].initial["issue_date"] + dt.timedelta(days=30)


def test_a_small_business_starts_lines_at_zero(user_client):
    from business.services import update_profile

    update_profile(small_business=True)
    formset = user_client.get(reverse("invoices:invoice-create")).context["formset"]
    assert formset.forms[0]["tax_rate"].value() == 0


def test_the_service_period_and_the_vat_treatment_are_saved(user_client):
    contact = make_contact(country="AT", is_business=True, vat_id="ATU13585627")
    data = invoice_data(contact, [{"description": "Support", "unit_price": "100.00", "tax_rate": "0"}],
                        service_date="2026-03-01", service_end="2026-03-31", tax_treatment="reverse_charge")
    assert user_client.post(reverse("invoices:invoice-create"), data).status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.service_date, invoice.service_end) == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert invoice.tax_treatment == "reverse_charge"
    page = user_client.get(reverse("invoices:invoice-detail", args=[invoice.pk])).content.decode()
    assert "Reverse charge: the customer accounts for the VAT" in page


def test_a_service_period_ending_before_it_starts_is_refused_at_its_field(user_client):
    data = invoice_data(make_contact(), [{"description": "Support", "unit_price": "100.00"}],
                        service_date="2026-03-31", service_end="2026-03-01")
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert response.context["form"].errors["service_end"] == ["The service period cannot end before it starts."]
    assert not Invoice.objects.exists()


def test_vat_on_a_line_of_a_reverse_charge_invoice_is_refused_at_the_vat_field(user_client):
    data = invoice_data(make_contact(), [{"description": "Support", "unit_price": "100.00", "tax_rate": "19"}],
                        tax_treatment="reverse_charge")
    response = user_client.post(reverse("invoices:invoice-create"), data)
    assert "has no VAT on its lines; set the tax rate to 0." in response.context["form"].errors["tax_treatment"][0]
    assert not Invoice.objects.exists()


def test_editing_a_draft_keeps_its_vat_treatment_and_sets_the_service_date(user_client):
    invoice = make_invoice()
    data = invoice_data(invoice.contact, [{"description": "Consulting", "unit_price": "100.00", "tax_rate": "19"}],
                        initial_forms=1, service_date="2026-02-10", tax_treatment="standard")
    assert user_client.post(reverse("invoices:invoice-edit", args=[invoice.pk]), data).status_code == 302
    invoice.refresh_from_db()
    assert invoice.service_date == dt.date(2026, 2, 10) and invoice.tax_treatment == "standard"


def test_the_currency_list_has_no_historic_test_or_metal_codes(user_client):
    codes = [code for code, _ in user_client.get(reverse("invoices:invoice-create")).context["form"].fields["currency"].choices]
    assert codes[:6] == ["EUR", "USD", "GBP", "CHF", "PLN", "CZK"]
    assert {"JPY", "INR", "BRL", "ZAR"} <= set(codes)
    assert not {"DEM", "FRF", "ATS", "XEU", "XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "CLF", "BOV"} & set(codes)
    assert len(codes) == len(set(codes)) and 140 < len(codes) < 170
    assert codes[13:] == sorted(codes[13:])
