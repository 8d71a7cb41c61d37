"""Send, Record payment, Void, public links and the timeline on the invoice's detail page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from automations.models import Automation, Event, Run
from invoices.models import Invoice, Payment
from invoices.public import invoice_for_token
from tests.base import make_invoice, page_with_fragments
from tests.base import messages_of as texts

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


def detail(invoice: Invoice) -> str:
    return reverse("invoices:invoice-detail", args=[invoice.pk])


# --- Send -------------------------------------------------------------------------------------


def test_send_sends_the_draft_and_redirects_to_it(user_client):
    invoice = make_invoice()
    response = user_client.post(reverse("invoices:invoice-send", args=[invoice.pk]))
    assert response.status_code == 302 and response["Location"] == detail(invoice)
    invoice.refresh_from_db()
    assert invoice.status == "sent"
    assert Event.objects.filter(invoice=invoice, kind="invoice_sent").count() == 1
    assert texts(response) == [f"Invoice {invoice.number} is marked as sent; no email was sent."]


def test_double_submitted_send_shows_the_refusal_not_a_500(user_client):
    invoice = make_invoice()
    url = reverse("invoices:invoice-send", args=[invoice.pk])
    user_client.post(url)
    response = user_client.post(url, follow=True)
    assert response.status_code == 200
    assert f"Invoice {invoice.number} cannot be sent: it is Sent." in response.content.decode()
    assert Event.objects.filter(invoice=invoice, kind="invoice_sent").count() == 1


def test_send_without_line_items_shows_the_refusal(user_client):
    invoice = make_invoice(items=[])
    response = user_client.post(reverse("invoices:invoice-send", args=[invoice.pk]), follow=True)
    assert "has no line items" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "draft"


# --- Record payment ---------------------------------------------------------------------------


def test_payment_form_defaults_to_the_balance_and_today(user_client):
    invoice = make_invoice(status="sent")  # 119.00
    response = user_client.get(detail(invoice))
    form = response.context["payment_form"]
    assert form.initial["amount"] == Decimal("119.00")
    assert form.initial["date"] == TODAY
    assert "Record payment" in response.content.decode()


def payment_data(**overrides) -> dict:
    data = {"amount": "119.00", "date": TODAY.isoformat(), "method": "bank_transfer", "reference": "TX-1",
            "nonce": "n-1"}
    data.update(overrides)
    return data


def test_recording_the_full_balance_makes_the_invoice_paid(user_client):
    invoice = make_invoice(status="sent")
    response = user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]), payment_data())
    assert response.status_code == 302 and response["Location"] == detail(invoice)
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.reference, payment.method) == (Decimal("119.00"), "TX-1", "bank_transfer")


def test_a_partial_payment_leaves_the_rest_due(user_client):
    invoice = make_invoice(status="sent")
    user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]), payment_data(amount="19.00"))
    invoice.refresh_from_db()
    assert invoice.status == "sent" and invoice.balance == Decimal("100.00")


def test_overpayment_is_shown_at_the_amount_field_and_saves_nothing(user_client):
    invoice = make_invoice(status="sent")
    response = user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]), payment_data(amount="500.00"))
    assert response.status_code == 200
    errors = response.context["form"].errors["amount"]
    assert "more than the €119.00 still due" in errors[0]
    assert "is-invalid" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "0"}, "amount"), ({"amount": "abc"}, "amount"), ({"date": ""}, "date"),
    ({"method": "bitcoin"}, "method"), ({"reference": "a\r\nBcc: x"}, "reference"),
])
def test_invalid_payment_input_is_shown_at_its_field(user_client, change, field):
    invoice = make_invoice(status="sent")
    response = user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]), payment_data(**change))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Payment.objects.exists()


def test_double_submitted_payment_records_one_payment(user_client):
    invoice = make_invoice(status="sent")
    url = reverse("invoices:invoice-payment", args=[invoice.pk])
    user_client.post(url, payment_data(amount="19.00", nonce="same"))
    response = user_client.post(url, payment_data(amount="19.00", nonce="same"), follow=True)
    assert response.status_code == 200
    assert "This payment has already been recorded." in response.content.decode()
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_payment_on_an_invoice_paid_meanwhile_shows_the_refusal_not_a_500(user_client):
    invoice = make_invoice(status="sent")
    url = reverse("invoices:invoice-payment", args=[invoice.pk])
    user_client.post(url, payment_data(nonce="first"))
    response = user_client.post(url, payment_data(nonce="second"), follow=True)
    assert response.status_code == 200
    assert f"Invoice {invoice.number} cannot be paid: it is Paid." in response.content.decode()
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_payment_page_of_a_draft_redirects_with_a_message(user_client):
    invoice = make_invoice()
    response = user_client.get(reverse("invoices:invoice-payment", args=[invoice.pk]), follow=True)
    assert "cannot be paid" in response.content.decode()


# --- Void -------------------------------------------------------------------------------------


def test_void_asks_for_confirmation_first(user_client):
    invoice = make_invoice(status="sent")
    response = user_client.get(reverse("invoices:invoice-void", args=[invoice.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Void invoice {invoice.number}?" in html and 'method="post"' in html
    invoice.refresh_from_db()
    assert invoice.status == "sent"


def test_confirmed_void_voids_and_redirects(user_client):
    invoice = make_invoice(status="sent")
    response = user_client.post(reverse("invoices:invoice-void", args=[invoice.pk]))
    assert response.status_code == 302 and response["Location"] == detail(invoice)
    invoice.refresh_from_db()
    assert invoice.status == "void"


def test_double_submitted_void_shows_the_refusal(user_client):
    invoice = make_invoice()
    url = reverse("invoices:invoice-void", args=[invoice.pk])
    user_client.post(url)
    response = user_client.post(url, follow=True)
    assert response.status_code == 200
    assert "cannot be voided: it is Void." in response.content.decode()


def test_voiding_a_partly_paid_invoice_is_refused_with_the_reason(user_client):
    invoice = make_invoice(status="sent")
    user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]), payment_data(amount="10.00"))
    response = user_client.post(reverse("invoices:invoice-void", args=[invoice.pk]), follow=True)
    assert "payments of €10.00 are recorded on it" in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "sent"


def test_void_page_of_a_paid_invoice_redirects_with_a_message(user_client):
    invoice = make_invoice(status="paid")
    response = user_client.get(reverse("invoices:invoice-void", args=[invoice.pk]), follow=True)
    assert response.redirect_chain[-1][0] == detail(invoice)
    assert "cannot be voided" in response.content.decode()


# --- Public link ------------------------------------------------------------------------------


def test_detail_shows_the_public_link_of_a_sent_invoice_but_not_of_a_draft(user_client):
    sent = make_invoice(status="sent")
    response = user_client.get(detail(sent))
    url = response.context["public_url"]
    assert url and url in response.content.decode()
    assert invoice_for_token(url.rstrip("/").rsplit("/", 1)[1]) == sent
    draft = make_invoice()
    assert user_client.get(detail(draft)).context["public_url"] == ""


def test_revoke_links_changes_the_link_and_the_old_one_stops_working(user_client, client):
    invoice = make_invoice(status="sent")
    old = user_client.get(detail(invoice)).context["public_url"]
    response = user_client.post(reverse("invoices:invoice-revoke-links", args=[invoice.pk]), follow=True)
    new = response.context["public_url"]
    assert new != old
    assert "no longer work" in response.content.decode()
    token = lambda url: url.rstrip("/").rsplit("/", 1)[1]
    assert invoice_for_token(token(old)) is None
    assert invoice_for_token(token(new)) == invoice


def test_public_page_opens_without_login_until_the_links_are_revoked(user_client, client):
    from django.test import Client

    invoice = make_invoice(status="sent")
    path = user_client.get(detail(invoice)).context["public_url"].split("://", 1)[1].split("/", 1)[1]
    anonymous = Client()
    page = anonymous.get("/" + path, HTTP_ACCEPT_LANGUAGE="de")
    assert page.status_code == 200
    assert "119,00\xa0€" in page.content.decode()
    user_client.post(reverse("invoices:invoice-revoke-links", args=[invoice.pk]))
    assert anonymous.get("/" + path).status_code == 404


# --- Timeline ---------------------------------------------------------------------------------


def timeline_entries(client, invoice):
    """The timeline the invoice page loads (a fragment the automations app serves)."""
    return client.get(reverse("automations:invoice-timeline", args=[invoice.pk]), HTTP_HX_REQUEST="true").context["timeline"]



def test_timeline_shows_the_event_and_the_run_it_caused(user_client):
    invoice = make_invoice(status="sent")
    event = Event.objects.get(invoice=invoice, kind="invoice_sent")
    automation = Automation.objects.create(name="Say thanks", trigger="invoice_sent", frequency="once_per_contact")
    Run.objects.create(automation=automation, event=event, contact=invoice.contact, status="skipped",
                       reason="Frequency limit: already ran for this contact.")
    failing = Automation.objects.create(name="Mail it", trigger="invoice_sent")
    Run.objects.create(automation=failing, event=event, contact=invoice.contact, status="failed",
                       error="The contact has no email address.")
    html = page_with_fragments(user_client, detail(invoice))
    timeline = html[html.index('id="timeline"'):]
    assert "Invoice was sent" in timeline
    assert "Say thanks" in timeline and "badge-status-skipped" in timeline
    assert "Frequency limit: already ran for this contact." in timeline
    assert "Mail it" in timeline and "The contact has no email address." in timeline
    assert f'href="/automations/{automation.pk}/"' in timeline
    entry = next(e for e in timeline_entries(user_client, invoice) if e.get("event"))
    assert [r.automation.name for r in entry["runs"]] == ["Say thanks", "Mail it"]


def test_timeline_lists_creation_payment_and_void_in_order(user_client):
    invoice = make_invoice(status="sent")
    user_client.post(reverse("invoices:invoice-payment", args=[invoice.pk]), payment_data())
    labels = [str(e["label"]) for e in timeline_entries(user_client, invoice)]
    assert labels == ["Created", "Invoice was sent", "Payment recorded", "Invoice was paid"]
