"""The review screen: a person records, corrects or ignores each line; exact matches in one go
after a confirmation; refusals shown on the line, never a 500. And the pages around it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from banking import services
from banking.models import BankStatement, BankTransaction, CsvMapping
from invoices import services as invoice_services
from invoices.models import Payment
from tests.base import make_outsider, make_team_member, messages_of

from .support import CAMT_MARCH, CAMT_OVERLAP, DB_MARCH, deutsche_bank, march_invoices, read, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def march(owner):
    invoices = march_invoices()
    return invoices, upload(CAMT_MARCH, by=owner)


def line_paying(statement: BankStatement, number: str) -> BankTransaction:
    return statement.transactions.get(invoice__number=number)


def review(client, statement: BankStatement, **query) -> str:
    response = client.get(reverse("banking:statement-detail", args=[statement.pk]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_review_screen_shows_each_line_with_its_suggestion_confidence_and_reason(client, march):
    invoices, statement = march
    page = review(client, statement)
    assert "5 new transactions, 0 already imported. 1 line is money out and is not matched." in page
    assert "Invoice number 2026-0001 and the amount due (€119.00) match." in page
    assert "Partial payment: invoice 2026-0003 names it, €181.00 of the €238.00 due." in page
    assert "100 %" in page and "80 %" in page
    assert "Record all 2 exact matches" in page
    assert "Telekom" not in page  # money out is under "Ignored", not "To review"
    assert "Telekom" in review(client, statement, status="ignored")


def test_recording_a_line_records_the_payment_as_a_bank_transfer_on_the_booking_date(client, owner, march):
    invoices, statement = march
    line = line_paying(statement, "2026-0001")

    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]))

    assert messages_of(response) == ["Payment of €119.00 recorded on invoice 2026-0001."]
    payment = Payment.objects.get()
    assert (payment.invoice, payment.amount, payment.date, payment.method, payment.created_by) == (
        invoices["2026-0001"], Decimal("119.00"), dt.date(2026, 3, 2), "bank_transfer", owner)
    assert payment.reference == "2026030200001 · RE 2026-0001 Danke"
    line.refresh_from_db()
    assert (line.status, line.payment, line.decided_by) == ("confirmed", payment, owner)
    invoices["2026-0001"].refresh_from_db()
    assert invoices["2026-0001"].status == "paid"
    assert response["Location"].endswith(f"#line-{line.pk}")


def test_a_partial_payment_is_recorded_as_it_came_and_the_invoice_stays_open(client, march):
    invoices, statement = march
    client.post(reverse("banking:transaction-confirm", args=[line_paying(statement, "2026-0003").pk]))
    invoice = invoices["2026-0003"]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.balance) == ("sent", Decimal("181.00"), Decimal("57.00"))


def test_an_overpayment_records_only_the_balance_and_says_what_was_left(client, owner, march):
    invoices, _statement = march
    overlap = upload(CAMT_OVERLAP, by=owner)
    line = overlap.transactions.get()
    assert line.match_kind == "over"

    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]))

    assert messages_of(response) == ["Payment of €59.50 recorded on invoice 2026-0005. "
                                     "The remaining €40.50 of the line were not recorded."]
    invoices["2026-0005"].refresh_from_db()
    assert (invoices["2026-0005"].status, invoices["2026-0005"].amount_paid) == ("paid", Decimal("59.50"))


def test_another_invoice_and_amount_can_be_chosen_for_a_line(client, march):
    invoices, statement = march
    line = statement.transactions.get(payer_name="LOVELACE, ADA")
    page = client.get(reverse("banking:transaction-detail", args=[line.pk])).content.decode()
    assert 'value="2026-0004"' in page and 'value="59.50"' in page

    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]), {"invoice": "2026/5", "amount": "20.00"})

    assert messages_of(response) == ["Payment of €20.00 recorded on invoice 2026-0005. "
                                     "The remaining €39.50 of the line were not recorded."]
    line.refresh_from_db()
    assert (line.status, line.invoice, line.payment.amount) == ("confirmed", invoices["2026-0005"], Decimal("20.00"))


@pytest.mark.parametrize("amount", ["0", "-5"])
def test_an_amount_of_zero_or_less_is_refused_in_the_pages_language(client, march, amount):
    _invoices, statement = march
    line = line_paying(statement, "2026-0003")
    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]), {"amount": amount},
                           HTTP_ACCEPT_LANGUAGE="de")
    # Not "Dieser Wert muss größer oder gleich 0.01 sein.": a German page writes no "0.01".
    assert messages_of(response) == ["Der Betrag muss größer als null sein."]
    assert not Payment.objects.exists()


def test_more_than_the_line_brought_in_is_refused_and_kept_on_the_line(client, march):
    _invoices, statement = march
    line = line_paying(statement, "2026-0003")
    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]), {"amount": "200.00"}, follow=True)
    assert "The line brought in €181.00; no more than that can be recorded from it." in response.content.decode()
    line.refresh_from_db()
    assert (line.status, line.error) == ("suggested", "The line brought in €181.00; no more than that can be recorded from it.")
    assert not Payment.objects.exists()


def test_an_invoice_paid_meanwhile_is_refused_on_its_line_never_a_500(client, march):
    invoices, statement = march
    invoice_services.record_payment(invoice=invoices["2026-0002"], amount="119.00")  # typed in meanwhile
    line = line_paying(statement, "2026-0002")

    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]), follow=True)

    assert response.status_code == 200
    assert "Invoice 2026-0002 cannot be paid: it is Paid." in response.content.decode()
    line.refresh_from_db()
    assert (line.status, line.error) == ("suggested", "Invoice 2026-0002 cannot be paid: it is Paid.")
    assert Payment.objects.count() == 1
    assert '<div class="text-danger line-error">Invoice 2026-0002 cannot be paid: it is Paid.</div>' in review(client, statement)


def test_a_line_is_recorded_once_however_often_it_is_confirmed(client, march):
    _invoices, statement = march
    line = line_paying(statement, "2026-0001")
    client.post(reverse("banking:transaction-confirm", args=[line.pk]))
    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]))
    assert messages_of(response)[-1] == "This line is recorded already."
    assert Payment.objects.count() == 1


def test_ignoring_a_line_and_taking_it_back(client, march):
    _invoices, statement = march
    line = line_paying(statement, "2026-0003")
    client.post(reverse("banking:transaction-ignore", args=[line.pk]))
    line.refresh_from_db()
    assert line.status == "ignored"
    response = client.post(reverse("banking:transaction-confirm", args=[line.pk]))
    assert messages_of(response)[-1] == "This line is ignored; take it back first."

    client.post(reverse("banking:transaction-reopen", args=[line.pk]))
    line.refresh_from_db()
    assert (line.status, line.invoice.number) == ("suggested", "2026-0003")
    money_out = statement.transactions.get(is_credit=False)
    response = client.post(reverse("banking:transaction-reopen", args=[money_out.pk]))
    assert messages_of(response)[-1] == "Money out is not a payment of an invoice."


def test_all_exact_matches_are_recorded_with_one_button_after_a_confirmation(client, march):
    invoices, statement = march
    url = reverse("banking:statement-confirm-exact", args=[statement.pk])
    page = client.get(url).content.decode()
    assert "Record all 2 exact matches?" in page and "(€238.00 together)" in page
    assert not Payment.objects.exists()  # asking records nothing

    response = client.post(url)

    assert messages_of(response) == ["2 payments recorded."]
    assert sorted(Payment.objects.values_list("invoice__number", flat=True)) == ["2026-0001", "2026-0002"]
    # The partial payment and the probable match wait for a person.
    assert sorted(statement.transactions.filter(status="suggested").values_list("match_kind", flat=True)) == [
        "partial", "probable"]
    assert messages_of(client.post(url))[-1] == "There are no exact matches to record."


def test_a_bulk_confirmation_reports_the_lines_it_could_not_record(client, march):
    invoices, statement = march
    invoice_services.void_invoice(invoice=invoices["2026-0001"])
    response = client.post(reverse("banking:statement-confirm-exact", args=[statement.pk]))
    assert messages_of(response) == ["1 payment recorded.",
                                     "1 line could not be recorded; the reason is on the line."]
    assert line_paying(statement, "2026-0001").error == "Invoice 2026-0001 cannot be paid: it is Void."


def test_matching_again_finds_invoices_sent_since_the_import(client, owner):
    statement = upload(CAMT_MARCH, by=owner)
    assert not statement.transactions.filter(status="suggested").exists()
    march_invoices()
    response = client.post(reverse("banking:statement-rematch", args=[statement.pk]))
    assert messages_of(response) == ["Matched again: 4 lines have a suggestion."]


def test_a_statement_without_recorded_lines_can_be_deleted_and_imported_again(client, march):
    _invoices, statement = march
    client.post(reverse("banking:statement-delete", args=[statement.pk]))
    assert not BankStatement.objects.exists() and not BankTransaction.objects.exists()
    again = upload(CAMT_MARCH)
    client.post(reverse("banking:transaction-confirm", args=[line_paying(again, "2026-0001").pk]))
    page = client.get(reverse("banking:statement-delete", args=[again.pk])).content.decode()
    assert "The statement cannot be deleted: 1 of its lines are recorded as payments." in page
    response = client.post(reverse("banking:statement-delete", args=[again.pk]))
    assert messages_of(response)[-1] == "The statement cannot be deleted: 1 of its lines are recorded as payments."


def test_uploading_a_csv_with_the_banks_mapping(client, owner):
    march_invoices()
    mapping = deutsche_bank()
    page = client.get(reverse("banking:statement-upload")).content.decode()
    assert 'enctype="multipart/form-data"' in page and "Deutsche Bank" in page
    response = client.post(reverse("banking:statement-upload"), {
        "file": SimpleUploadedFile(DB_MARCH, read(DB_MARCH)), "format": "csv", "mapping": mapping.pk})
    statement = BankStatement.objects.get()
    assert response["Location"] == reverse("banking:statement-detail", args=[statement.pk])
    assert (statement.file_name, statement.mapping, statement.uploaded_by, statement.lines_new) == (
        DB_MARCH, mapping, owner, 6)


def test_the_owner_describes_a_banks_csv_once_and_a_team_member_uses_it(client, owner):
    response = client.post(reverse("banking:mapping-create"), {
        "name": "Deutsche Bank", "delimiter": ";", "decimal_comma": "on", "date_format": "%d.%m.%Y",
        "encoding": "auto", "header_row": "0", "date_column": "Buchungstag", "value_date_column": "Wert",
        "amount_column": "Betrag", "currency_column": "Währung", "payer_column": "Begünstigter / Auftraggeber",
        "iban_column": "IBAN", "text_column": "Verwendungszweck", "reference_column": ""})
    assert response.status_code == 302
    mapping = CsvMapping.objects.get()
    client.force_login(make_team_member("sam"))
    assert client.get(reverse("banking:mapping-create")).status_code == 403
    assert client.get(reverse("banking:mapping-edit", args=[mapping.pk])).status_code == 403
    client.post(reverse("banking:statement-upload"), {
        "file": SimpleUploadedFile(DB_MARCH, read(DB_MARCH)), "format": "csv", "mapping": mapping.pk})
    assert BankStatement.objects.get().lines_new == 6


MAPPING_FORM = {
    "name": "Deutsche Bank", "delimiter": ";", "decimal_comma": "on", "date_format": "%d.%m.%Y", "encoding": "auto",
    "header_row": "0", "date_column": "Buchungstag", "value_date_column": "", "amount_column": "Betrag",
    "currency_column": "", "payer_column": "", "iban_column": "", "text_column": "Verwendungszweck",
    "reference_column": ""}


@pytest.mark.parametrize("column", ["0", "1001", "99999999999999999999"])
def test_a_column_number_that_no_file_has_is_refused_at_the_field(client, owner, column):
    response = client.post(reverse("banking:mapping-create"), {**MAPPING_FORM, "text_column": column})
    assert response.status_code == 200
    assert response.context["form"].errors["text_column"] == ["Columns are counted from 1 (at most 1000)."]
    assert not CsvMapping.objects.exists()


@pytest.mark.parametrize(("column", "shown"), [("²", "²"), ("9", "9")])
def test_a_mapped_column_the_file_lacks_is_named_on_upload_not_a_server_error(client, owner, column, shown):
    # "²" passes str.isdigit() but is no number; the file's heading line has 8 columns, not 9.
    mapping = deutsche_bank(text_column=column)
    response = client.post(reverse("banking:statement-upload"), {
        "file": SimpleUploadedFile(DB_MARCH, read(DB_MARCH)), "format": "csv", "mapping": mapping.pk})
    assert response.status_code == 200
    assert response.context["form"].errors["file"][0].startswith(f"Line 5 has no column “{shown}”. Its columns: ")
    assert not BankStatement.objects.exists()


def test_the_bank_is_in_the_menu_for_whoever_may_record_payments(client, owner):
    assert 'href="/bank/"' in client.get(reverse("dashboard")).content.decode()
    client.force_login(make_team_member("sam"))
    assert 'href="/bank/"' in client.get(reverse("dashboard")).content.decode()
    client.force_login(make_outsider())
    assert client.get(reverse("banking:statement-list")).status_code == 403


def test_the_statement_list_pages_and_shows_what_is_left_to_review(client, owner):
    march_invoices()
    for n in range(26):
        services.upload_statement(file_name=f"s{n}.csv", content=b"Buchungstag;Betrag;Text\n", format="csv",
                                  mapping=deutsche_bank(name=f"B{n}", text_column="Text", iban_column="",
                                                        value_date_column="", currency_column="", payer_column=""))
    upload(CAMT_MARCH, by=owner)
    page = client.get(reverse("banking:statement-list")).content.decode()
    assert "camt053_2026-03.xml" in page and "Page 1 of 2" in page
    assert client.get(reverse("banking:statement-list"), {"page": 2}).status_code == 200


def test_the_admin_shows_statements_and_lines_read_only(client, march):
    _invoices, statement = march
    line = statement.transactions.first()
    for url in (reverse("admin:banking_bankstatement_changelist"), reverse("admin:banking_banktransaction_changelist"),
                reverse("admin:banking_bankstatement_change", args=[statement.pk]),
                reverse("admin:banking_banktransaction_change", args=[line.pk])):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'name="_save"' not in response.content.decode()
    assert client.get(reverse("admin:banking_bankstatement_add")).status_code == 403


def test_the_bank_pages_speak_german(client, owner):
    from django.utils import translation

    march_invoices()
    with translation.override("de"):
        statement = upload(CAMT_MARCH, by=owner)
    client.cookies["django_language"] = "de"
    page = client.get(reverse("banking:statement-detail", args=[statement.pk]), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "5 neue Umsätze, 0 schon importiert." in page
    assert "Rechnungsnummer 2026-0001 und offener Betrag (119,00\xa0€) stimmen überein." in page
    assert "Alle 2 exakten Treffer erfassen" in page
