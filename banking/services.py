"""Every state change of bank statements and their lines.

A statement is uploaded (`upload_statement`): a small file is read, matched and stored in the
request, all or nothing; a large one is stored as it is and read by a worker (`read_statement`,
from banking.jobs), which reports its progress. Each line's key is unique, so the same
transaction imported twice (the same file again, overlapping statements) is stored once.

A person then decides each line: `confirm_transaction` records the payment through
`invoices.services.record_payment` (so the automations fire exactly as for a payment typed in) and
marks the line recorded in the same transaction, with a compare-and-swap on the line's status; or
`ignore_transaction`. A refusal of record_payment (the invoice was paid meanwhile, an
overpayment) is a DomainError for the caller, and `note_refusal` keeps it on the line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.money import format_money
from invoices import services as invoices
from invoices.models import Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentMethod

from .matching import SUGGEST, Matcher, OpenInvoice, match_lines, number_keys
from .models import (
    OPEN_LINE_STATUSES,
    BankStatement,
    BankTransaction,
    CsvMapping,
    MatchKind,
    StatementFormat,
    StatementStatus,
    TransactionStatus,
)
from .parsing import ParsedLine, ParsedStatement, check_size, estimate_lines, parse, unique_lines

log = logging.getLogger(__name__)
T = TypeVar("T")

# Files of up to this many lines are read in the request; larger ones by a worker, with a progress bar.
INLINE_LINES = 500
BATCH = 1000
# SQLite allows 999 parameters per statement in old builds: look keys up in smaller groups.
LOOKUP = 500


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- Import -----------------------------------------------------------------------------------


def upload_statement(*, file_name: str, content: bytes, format: str, mapping: CsvMapping | None = None, by=None,
                     now: dt.datetime | None = None, inline_lines: int | None = None) -> BankStatement:
    """Store an uploaded statement and read it: here when it is small (a file that cannot be read
    is refused and nothing is kept), else in a worker (`statement.is_busy`; its page shows the
    progress, and a file that cannot be read ends as a failed statement with the reason)."""
    now = _now(now)
    check_size(content)
    if format not in StatementFormat.values:
        raise DomainError(_("Choose the file's format."), field="format")
    if format == StatementFormat.CSV and mapping is None:
        raise DomainError(_("Choose the bank's CSV mapping."), field="mapping")
    statement = BankStatement(
        file_name=(file_name or "statement")[:255], format=format,
        mapping=mapping if format == StatementFormat.CSV else None, sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=by, uploaded_at=now,
    )
    limit = INLINE_LINES if inline_lines is None else inline_lines
    if estimate_lines(content, format) <= limit:
        parsed = parse(content, format=format, layout=statement.mapping)
        with transaction.atomic():
            statement.status = StatementStatus.PROCESSING
            statement.save()
            _store(statement, parsed, now=now)
        statement.refresh_from_db()
        return statement
    statement.content = content
    statement.save()
    language = translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(lambda: enqueue("banking.jobs.import_statement", statement.pk, language))
    return statement


def enqueue(func: str, *args: Any) -> None:
    from django_q.tasks import async_task  # django-q2 reads its settings on import

    async_task(func, *args, group="banking")


def _set_progress(statement_id: int, percent: int) -> None:
    """0–99 while the worker reads; 100 is set with the result."""
    BankStatement.objects.filter(pk=statement_id).update(progress=max(1, min(99, percent)))


def read_statement(*, statement_id: int, now: dt.datetime | None = None) -> BankStatement | None:
    """The worker's part: read, match and store a queued statement, reporting the progress.
    Safe to run again after a crash (the lines stored so far are found by their keys)."""
    now = _now(now)
    claimed = BankStatement.objects.filter(
        pk=statement_id, status__in=[StatementStatus.QUEUED, StatementStatus.PROCESSING]
    ).update(status=StatementStatus.PROCESSING, progress=1)
    if not claimed:
        return None
    statement = BankStatement.objects.select_related("mapping").get(pk=statement_id)

    def reading(done: int, expected: int) -> None:
        # Reading is the first 40 %; a CSV does not know its length up front.
        share = done / expected if expected else min(0.9, done / max(1, estimate_lines(statement.content, statement.format)))
        _set_progress(statement_id, int(40 * share))

    try:
        parsed = parse(bytes(statement.content), format=statement.format, layout=statement.mapping, progress=reading)
    except DomainError as exc:
        BankStatement.objects.filter(pk=statement_id).update(
            status=StatementStatus.FAILED, error=exc.message, content=b"", progress=100, finished_at=now)
        statement.refresh_from_db()
        return statement
    _set_progress(statement_id, 40)
    _store(statement, parsed, now=now, progress=lambda share: _set_progress(statement_id, 40 + int(59 * share)))
    statement.refresh_from_db()
    return statement


def _store(statement: BankStatement, parsed: ParsedStatement, *, now: dt.datetime,
           progress: Callable[[float], None] | None = None) -> None:
    lines = unique_lines(parsed.lines)
    existing: dict[str, int] = {}
    for chunk in _chunks([line.key for line in lines], LOOKUP):
        existing.update(BankTransaction.objects.filter(key__in=chunk).values_list("key", "statement_id"))
    fresh = [line for line in lines if line.key not in existing]
    payments_in = [line for line in fresh if line.is_credit and not line.reversal]
    matches = iter(match_lines(payments_in, matcher_for(payments_in), texts=[_searched(line) for line in payments_in]))
    if progress:
        progress(0.2)
    rows = []
    for line in fresh:
        row = BankTransaction(
            statement=statement, key=line.key, bank_reference=line.bank_reference, line=line.line,
            booking_date=line.booking_date, value_date=line.value_date, is_credit=line.is_credit and not line.reversal,
            amount=line.amount, currency=line.currency, payer_name=line.payer_name, payer_iban=line.payer_iban,
            remittance=line.remittance,
        )
        if not row.is_credit:
            row.status = TransactionStatus.IGNORED
            row.reason = _("A reversal (a returned transfer): not a payment.") if line.reversal else _(
                "Money out: not a payment.")
        else:
            _apply(row, next(matches))
        rows.append(row)
    for index, batch in enumerate(_chunks(rows, BATCH)):
        # A key taken meanwhile (the same file imported at the same moment) is skipped, not an error.
        BankTransaction.objects.bulk_create(batch, ignore_conflicts=True)
        if progress:
            progress(0.2 + 0.8 * min(len(rows), (index + 1) * BATCH) / len(rows))
    stored = statement.transactions.count()
    BankStatement.objects.filter(pk=statement.pk).update(
        status=StatementStatus.DONE, progress=100, content=b"", finished_at=now, error="",
        account_iban=parsed.account_iban, period_start=parsed.period_start, period_end=parsed.period_end,
        lines_total=len(parsed.lines), lines_new=stored, lines_known=len(parsed.lines) - stored,
        lines_debit=statement.transactions.filter(is_credit=False).count(),
    )


def _searched(line: ParsedLine | BankTransaction) -> str:
    """Where invoice numbers are looked for: the remittance text and the payer's EndToEndId."""
    return f"{line.remittance} {getattr(line, 'end_to_end', '')} {line.bank_reference}"


def _apply(row: BankTransaction, match: Any) -> None:
    row.invoice_id = match.invoice_id
    row.match_kind = match.kind
    row.confidence = match.confidence
    row.reason = match.reason[:500]
    row.candidates = match.candidates
    row.status = TransactionStatus.SUGGESTED if match.invoice_id else TransactionStatus.NEW


def matcher_for(lines: Sequence[ParsedLine | BankTransaction]) -> Matcher:
    """The open invoices (one query), the IBANs that paid each contact before, and the invoices the
    lines name that are not open (so the reason can say "already paid")."""
    rows = Invoice.objects.filter(kind=InvoiceKind.INVOICE, status__in=invoices.OPEN_STATUSES).values_list(
        "id", "number", "contact_id", "contact__name", "contact__company", "total", "amount_paid", "currency",
        "due_date")
    open_invoices = [
        OpenInvoice(id=pk, number=number, contact_id=contact_id, contact_name=name, company=company or "",
                    balance=total - paid, currency=currency, due_date=due)
        for pk, number, contact_id, name, company, total, paid, currency, due in rows.iterator(chunk_size=2000)
    ]
    known: dict[str, set[int]] = {}
    confirmed = BankTransaction.objects.filter(status=TransactionStatus.CONFIRMED).exclude(payer_iban="")
    for iban, contact_id in confirmed.values_list("payer_iban", "invoice__contact_id").distinct():
        if contact_id:
            known.setdefault(iban, set()).add(contact_id)
    open_keys = {key for inv in open_invoices for key in number_keys(inv.number)}
    named = {key for line in lines for key in number_keys(_searched(line))} - open_keys
    closed: dict[tuple[int, int], tuple[str, str]] = {}
    numbers = sorted({f"{year}-{seq:04d}" for year, seq in named})
    for chunk in _chunks(numbers, LOOKUP):
        for number, status in Invoice.objects.filter(number__in=chunk, kind=InvoiceKind.INVOICE).values_list("number", "status"):
            for key in number_keys(number):
                closed[key] = (number, str(InvoiceStatus(status).label).lower())
    return Matcher(open_invoices, known_ibans=known, closed=closed)


def rematch_statement(*, statement: BankStatement) -> int:
    """Match the statement's undecided lines again (invoices sent, paid or voided since the
    import). Returns how many lines have a suggestion now."""
    with transaction.atomic():
        lines = list(statement.transactions.select_for_update().filter(status__in=OPEN_LINE_STATUSES, is_credit=True)
                     .order_by("line", "pk"))
        for line, match in zip(lines, match_lines(lines, matcher_for(lines), texts=[_searched(line) for line in lines])):
            _apply(line, match)
            line.error = ""
        BankTransaction.objects.bulk_update(
            lines, ["status", "invoice", "match_kind", "confidence", "reason", "candidates", "error"], batch_size=BATCH)
    return sum(1 for line in lines if line.status == TransactionStatus.SUGGESTED)


def delete_statement(*, statement: BankStatement) -> None:
    """Remove a statement and its lines, as long as none of them is recorded as a payment (say,
    one read with the wrong mapping). Its lines can be imported again afterwards."""
    with transaction.atomic():
        locked = BankStatement.objects.select_for_update().filter(pk=statement.pk).first()
        if locked is None:
            return
        if locked.is_busy:
            raise DomainError(_("The statement is still being read; wait until it is done."))
        recorded = locked.transactions.filter(status=TransactionStatus.CONFIRMED).count()
        if recorded:
            raise DomainError(_("The statement cannot be deleted: %(count)d of its lines are recorded as payments.") % {
                "count": recorded})
        locked.delete()


# --- Deciding lines ---------------------------------------------------------------------------


def _line_refused(line: BankTransaction) -> DomainError:
    current = BankTransaction.objects.filter(pk=line.pk).values_list("status", flat=True).first()
    if current == TransactionStatus.CONFIRMED:
        return DomainError(_("This line is recorded already."))
    if current == TransactionStatus.IGNORED:
        return DomainError(_("This line is ignored; take it back first."))
    return DomainError(_("This line no longer exists."))


def payment_reference(line: BankTransaction) -> str:
    """What the payment keeps of the line: the bank's reference and the remittance text, on one line."""
    text = " · ".join(part for part in (line.bank_reference, " ".join(line.remittance.split())) if part)
    return text[:200]


def confirm_transaction(*, line: BankTransaction, invoice: Invoice | None = None, amount: Decimal | str | None = None,
                        by=None, now: dt.datetime | None = None) -> Payment:
    """Record the line as a payment of `invoice` (the suggestion unless another is chosen), of
    `amount` (by default the line's amount; for a line suggested as an overpayment of that invoice,
    the balance due: an overpayment is never recorded as more than is due), on the booking date.
    A line that has become more than the balance since it was reviewed (someone recorded another
    payment meanwhile) is refused by record_payment, not cut down unasked. The payment and the line's new status are
    kept together or not at all; a line is recorded once, however many people confirm it at once."""
    now = _now(now)
    with transaction.atomic():
        locked = BankTransaction.objects.select_for_update().filter(pk=line.pk).first()
        if locked is not None and not locked.is_credit:
            raise DomainError(_("Money out is not a payment of an invoice."))
        if locked is None or locked.status not in OPEN_LINE_STATUSES:
            raise _line_refused(line)
        invoice = invoice if invoice is not None else locked.invoice
        if invoice is None:
            raise DomainError(_("Choose the invoice this payment is for."), field="invoice")
        if invoice.kind != InvoiceKind.INVOICE:
            raise DomainError(_("%(number)s is a credit note; choose an invoice.") % {"number": invoice.number}, field="invoice")
        if invoice.currency != locked.currency:
            raise DomainError(_("Invoice %(number)s is in %(invoice)s; this line is in %(line)s.") % {
                "number": invoice.number, "invoice": invoice.currency, "line": locked.currency}, field="invoice")
        if amount in (None, ""):
            value = locked.amount
            if locked.match_kind == MatchKind.OVER and invoice.pk == locked.invoice_id:
                # The suggestion said so: an overpayment records the balance due (as it is now).
                current = Invoice.objects.filter(pk=invoice.pk).values_list("total", "amount_paid").first()
                if current and 0 < current[0] - current[1] < value:
                    value = current[0] - current[1]
        else:
            value = invoices.to_money(amount)
            if value > locked.amount:
                raise DomainError(_("The line brought in %(amount)s; no more than that can be recorded from it.") % {
                    "amount": format_money(locked.amount, locked.currency)}, field="amount")
        payment = invoices.record_payment(
            invoice=invoice, amount=value, date=locked.booking_date, method=PaymentMethod.BANK_TRANSFER,
            reference=payment_reference(locked), by=by, now=now,
        )
        changed = BankTransaction.objects.filter(pk=locked.pk, status__in=OPEN_LINE_STATUSES).update(
            status=TransactionStatus.CONFIRMED, payment=payment, invoice=invoice, decided_by=by, decided_at=now,
            error="",
        )
        if changed != 1:  # pragma: no cover - the row lock makes this impossible
            raise _line_refused(line)
    line.refresh_from_db()
    return payment


def note_refusal(*, line: BankTransaction, message: str) -> None:
    """Keep why the line could not be recorded, to show it on the line (after the refused
    attempt was rolled back)."""
    BankTransaction.objects.filter(pk=line.pk, status__in=OPEN_LINE_STATUSES).update(error=message[:500])


def exact_lines(statement: BankStatement):
    return statement.transactions.filter(
        status=TransactionStatus.SUGGESTED, match_kind=MatchKind.EXACT, confidence=100, error="").order_by("line", "pk")


def confirm_exact_matches(*, statement: BankStatement, by=None, now: dt.datetime | None = None) -> tuple[int, int]:
    """Record every exact match of the statement (number and amount due agree), one by one, each in
    its own transaction. Returns (recorded, refused); each refusal is kept on its line."""
    recorded = refused = 0
    for line in list(exact_lines(statement).select_related("invoice")):
        try:
            confirm_transaction(line=line, by=by, now=now)
        except DomainError as exc:
            note_refusal(line=line, message=exc.message)
            refused += 1
        else:
            recorded += 1
    return recorded, refused


def ignore_transaction(*, line: BankTransaction, by=None, now: dt.datetime | None = None) -> BankTransaction:
    """An undecided line is not an invoice's payment (a refund, a private transfer, …)."""
    changed = BankTransaction.objects.filter(pk=line.pk, status__in=OPEN_LINE_STATUSES).update(
        status=TransactionStatus.IGNORED, decided_by=by, decided_at=_now(now), error="")
    if changed != 1:
        raise _line_refused(line)
    line.refresh_from_db()
    return line


def reopen_transaction(*, line: BankTransaction) -> BankTransaction:
    """Take back "ignore" on a payment in: it waits for a decision again."""
    changed = BankTransaction.objects.filter(pk=line.pk, status=TransactionStatus.IGNORED, is_credit=True).update(
        status=TransactionStatus.NEW, decided_by=None, decided_at=None)
    if changed != 1:
        current = BankTransaction.objects.filter(pk=line.pk).first()
        if current is not None and not current.is_credit:
            raise DomainError(_("Money out is not a payment of an invoice."))
        raise DomainError(_("Only an ignored line can be taken back."))
    BankTransaction.objects.filter(pk=line.pk, status=TransactionStatus.NEW, invoice__isnull=False,
                                   confidence__gte=SUGGEST).update(status=TransactionStatus.SUGGESTED)
    line.refresh_from_db()
    return line
