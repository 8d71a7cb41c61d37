"""Importing statements: lines stored with their suggestions, nothing stored twice (the same file
again, overlapping statements, CAMT and CSV), large files read by a worker behind a progress bar."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from banking import jobs, services
from banking.models import BankStatement, BankTransaction
from invoices.models import Payment
from tests.base import messages_of

from .support import CAMT_MARCH, CAMT_OVERLAP, DB_MARCH, DB_OVERLAP, deutsche_bank, march_invoices, read, upload

pytestmark = pytest.mark.django_db


def lines_of(statement: BankStatement) -> list[tuple]:
    return [(str(t.amount), t.is_credit, t.status, t.invoice.number if t.invoice else None, t.match_kind, t.confidence)
            for t in statement.transactions.select_related("invoice").order_by("line", "pk")]


def post_upload(client, name: str, *, mapping=None):
    data = {"file": SimpleUploadedFile(name, read(name)), "format": "csv" if name.endswith(".csv") else "camt053"}
    if mapping is not None:
        data["mapping"] = mapping.pk
    return client.post(reverse("banking:statement-upload"), data)


def test_a_camt_statement_is_stored_with_a_suggestion_per_payment_in(owner):
    march_invoices()
    statement = upload(CAMT_MARCH, by=owner)

    assert (statement.status, statement.lines_total, statement.lines_new, statement.lines_known,
            statement.lines_debit) == ("done", 5, 5, 0, 1)
    assert statement.account_iban == "DE89370400440532013000"
    assert lines_of(statement) == [
        ("119.00", True, "suggested", "2026-0001", "exact", 100),
        ("45.90", False, "ignored", None, "", 0),
        ("119.00", True, "suggested", "2026-0002", "exact", 100),
        ("181.00", True, "suggested", "2026-0003", "partial", 80),
        ("59.50", True, "suggested", "2026-0004", "probable", 75),  # "LOVELACE, ADA", no number
    ]
    assert statement.transactions.get(is_credit=False).reason == "Money out: not a payment."
    assert not Payment.objects.exists()  # nothing is recorded before a person confirms


@pytest.mark.parametrize("name, mapping", [(CAMT_MARCH, False), (DB_MARCH, True)])
def test_the_same_file_twice_adds_nothing_and_says_so(owner_client, name, mapping):
    march_invoices()
    bank = deutsche_bank() if mapping else None
    post_upload(owner_client, name, mapping=bank)
    first = BankStatement.objects.get()
    services.confirm_transaction(line=first.transactions.filter(status="suggested").first())
    count = BankTransaction.objects.count()

    response = post_upload(owner_client, name, mapping=bank)

    second = BankStatement.objects.latest("pk")
    assert messages_of(response)[-1] == f"0 new transactions, {count} already imported."
    assert (second.lines_new, second.lines_known) == (0, count)
    assert BankTransaction.objects.count() == count
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("first, later, mapping", [(CAMT_MARCH, CAMT_OVERLAP, False), (DB_MARCH, DB_OVERLAP, True)])
def test_an_overlapping_statement_adds_only_its_new_lines(owner_client, first, later, mapping):
    invoices = march_invoices()
    bank = deutsche_bank() if mapping else None
    post_upload(owner_client, first, mapping=bank)
    before = set(BankTransaction.objects.values_list("key", flat=True))

    response = post_upload(owner_client, later, mapping=bank)

    statement = BankStatement.objects.latest("pk")
    known = 2  # CAMT: line 1 and the Lovelace line; CSV: the two identical Lovelace lines
    assert messages_of(response)[-1] == f"1 new transaction, {known} already imported."
    assert [(t.remittance, t.invoice, t.match_kind) for t in statement.transactions.all()] == [
        ("Invoice 2026-5, thanks", invoices["2026-0005"], "over")]
    assert set(BankTransaction.objects.values_list("key", flat=True)) - before == {statement.transactions.get().key}


def test_a_line_recorded_from_one_statement_is_never_recorded_from_an_overlapping_one(owner):
    invoices = march_invoices()
    march = upload(CAMT_MARCH)
    services.confirm_transaction(line=march.transactions.get(invoice=invoices["2026-0001"]), by=owner)

    overlap = upload(CAMT_OVERLAP)

    assert not overlap.transactions.filter(remittance__startswith="RE 2026-0001").exists()
    assert Payment.objects.filter(invoice=invoices["2026-0001"]).count() == 1


def test_a_csv_import_needs_its_mapping_and_matches_like_camt(owner):
    march_invoices()
    statement = upload(DB_MARCH, mapping=deutsche_bank())
    assert [row[2:] for row in lines_of(statement)] == [
        ("suggested", "2026-0001", "exact", 100),
        ("ignored", None, "", 0),
        ("suggested", "2026-0002", "exact", 100),
        ("suggested", "2026-0003", "partial", 80),
        ("suggested", "2026-0004", "probable", 75),
        # The second identical transfer of 59.50: the same invoice, so not the same confidence twice.
        ("suggested", "2026-0004", "probable", 75),
    ]


# --- Large files: a worker and a progress bar ---------------------------------------------------


@pytest.fixture
def queued(owner, monkeypatch, django_capture_on_commit_callbacks):
    """A statement larger than the inline limit, uploaded but not yet read by the worker."""
    march_invoices()
    enqueued = []
    monkeypatch.setattr(services, "INLINE_LINES", 2)
    monkeypatch.setattr(services, "enqueue", lambda *args: enqueued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        statement = upload(CAMT_MARCH, by=owner)
    assert enqueued == [("banking.jobs.import_statement", statement.pk, "en")]
    return statement


def test_a_large_file_is_read_by_a_worker_while_the_page_shows_a_progress_bar(client, queued):
    assert (queued.status, queued.transactions.count()) == ("queued", 0)
    page = client.get(reverse("banking:statement-detail", args=[queued.pk])).content.decode()
    progress_url = reverse("banking:statement-progress", args=[queued.pk])
    assert f'hx-get="{progress_url}" hx-trigger="every 1s"' in page
    assert re.search(r'<progress id="statement-progress-bar" class="statement-progress" max="100" value="0">', page)
    busy = client.get(progress_url, HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in busy and "Waiting for the worker" in busy.content.decode()

    jobs.import_statement(queued.pk, "en")

    done = client.get(progress_url, HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    queued.refresh_from_db()
    assert (queued.status, queued.progress, queued.lines_new, bytes(queued.content)) == ("done", 100, 5, b"")
    page = client.get(reverse("banking:statement-detail", args=[queued.pk])).content.decode()
    assert "<progress" not in page and "5 new transactions, 0 already imported." in page


def test_the_worker_reports_its_progress_as_it_goes(queued, monkeypatch):
    seen: list[int] = []
    original = services._set_progress
    monkeypatch.setattr(services, "_set_progress", lambda pk, percent: (seen.append(percent), original(pk, percent)))
    monkeypatch.setattr(services, "BATCH", 2)  # several batches of lines, each reported

    services.read_statement(statement_id=queued.pk)

    assert seen == sorted(seen) and len(seen) >= 4 and seen[-1] < 100
    queued.refresh_from_db()
    assert queued.progress == 100


def test_the_worker_runs_once_per_statement_and_again_safely_after_a_crash(queued):
    jobs.import_statement(queued.pk)
    jobs.import_statement(queued.pk)  # delivered twice: nothing happens
    assert BankTransaction.objects.count() == 5
    # A worker that died half way leaves the statement "processing": the next delivery finishes it.
    BankStatement.objects.filter(pk=queued.pk).update(status="processing", content=read(CAMT_MARCH))
    services.read_statement(statement_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.lines_new, queued.lines_known, BankTransaction.objects.count()) == ("done", 5, 0, 5)


def test_a_large_file_that_cannot_be_read_ends_as_a_failed_statement_with_the_reason(owner, client, monkeypatch,
                                                                                   django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "INLINE_LINES", 0)
    with django_capture_on_commit_callbacks(execute=True):  # the queue runs tasks inline in the tests
        statement = services.upload_statement(file_name="x.xml", content=b"<Document>\n<Ntry>\n</Ntry>\n<Ntry>",
                                              format="camt053", by=owner)
    statement.refresh_from_db()
    assert statement.status == "failed"
    page = client.get(reverse("banking:statement-detail", args=[statement.pk])).content.decode()
    assert "This is not a CAMT.053 bank statement. The XML cannot be read at line 4." in page
    assert BankTransaction.objects.count() == 0


def test_files_of_up_to_500_lines_are_read_in_the_request_larger_ones_by_the_worker(owner):
    assert services.INLINE_LINES == 500
    assert upload(CAMT_MARCH, inline_lines=6).status == "done"  # 5 entries, 6 transactions
    # 13 lines with the preamble: queued, read once the upload is committed (not in this test).
    statement = upload(DB_MARCH, mapping=deutsche_bank(), inline_lines=6)
    assert (statement.status, statement.transactions.count(), len(bytes(statement.content))) == (
        "queued", 0, len(read(DB_MARCH)))


def test_amounts_are_decimal_never_float(owner):
    march_invoices()
    statement = upload(DB_MARCH, mapping=deutsche_bank())
    assert all(isinstance(t.amount, Decimal) for t in statement.transactions.all())
