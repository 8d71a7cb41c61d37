"""Reading bank statements: CAMT.053 XML (ISO 20022) and CSV exports, into `ParsedLine`s.

Both readers are pure functions of the file's bytes (and, for CSV, the bank's mapping): nothing is
saved here. A file that cannot be read is refused whole with a `DomainError` that names the lines
at fault (at most `MAX_ERRORS` of them), so a statement is imported entirely or not at all.

Every line gets a `key` that is the same whenever the same transaction is read again, from the
same file or from an overlapping statement of the same account (banking.models.BankTransaction.key
is unique):

* CAMT.053: the bank's reference of the transaction (AcctSvcrRef of the transaction, else of its
  entry plus the transaction's position in a batch entry); else the payer's EndToEndId (unless
  NOTPROVIDED) with the booking date and amount; else the fallback below.
* CSV: the mapping's reference column when it has one; else the fallback.
* Fallback: a hash of (account, booking date, value date, amount, payer IBAN, remittance text) and
  the line's occurrence among identical lines of the same file, so two identical transfers on one
  day stay two lines, and the same two in an overlapping statement are found again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from lxml import etree

from core.errors import DomainError

# Larger uploads are refused before they are read.
MAX_BYTES = 20 * 1024 * 1024
# How many bad lines a refusal lists.
MAX_ERRORS = 5
REMITTANCE_MAX = 2000
NOT_PROVIDED = "NOTPROVIDED"
CAMT_053 = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})$")

ProgressCallback = Callable[[int, int], None]  # (lines read, lines expected)


@dataclass
class ParsedLine:
    line: int  # where it is in the file (the CSV line, the XML line of the entry), for messages
    key: str
    bank_reference: str
    booking_date: dt.date
    value_date: dt.date | None
    amount: Decimal  # positive
    is_credit: bool
    currency: str
    payer_name: str = ""
    payer_iban: str = ""
    remittance: str = ""
    end_to_end: str = ""
    reversal: bool = False


@dataclass
class ParsedStatement:
    lines: list[ParsedLine] = field(default_factory=list)
    account_iban: str = ""
    period_start: dt.date | None = None
    period_end: dt.date | None = None


class LineErrors:
    """Bad lines collected while reading; `raise_if_any` refuses the file with the first few."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(_("Line %(line)d: %(problem)s") % {"line": line, "problem": message})

    def raise_if_any(self) -> None:
        if not self.count:
            return
        more = self.count - len(self.messages)
        text = " ".join(self.messages)
        if more:
            text += " " + _("… and %(count)d more.") % {"count": more}
        raise DomainError(_("The file was not imported: %(problems)s") % {"problems": text}, field="file")


def make_key(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def compact_iban(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())[:34]


def one_line(value: str) -> str:
    """Whitespace (line breaks of 35-character SEPA chunks included) as single spaces."""
    return " ".join(value.split())


class FallbackKeys:
    """Keys from what identifies a line, with its occurrence among identical lines of the file."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: Counter[tuple] = Counter()

    def key(self, account: str, line: ParsedLine) -> str:
        signed = line.amount if line.is_credit else -line.amount
        parts = (account, line.booking_date.isoformat(), line.value_date.isoformat() if line.value_date else "",
                 f"{signed:.2f}", line.currency, line.payer_iban, one_line(line.remittance).casefold())
        occurrence = self.seen[parts]
        self.seen[parts] += 1
        return make_key(self.kind, *parts, occurrence)


def check_size(content: bytes) -> None:
    if not content:
        raise DomainError(_("The file is empty."), field="file")
    if len(content) > MAX_BYTES:
        raise DomainError(_("The file is %(size)s MB; statements of at most %(limit)d MB can be imported. Export a "
                            "shorter period.") % {"size": f"{len(content) / 1024 / 1024:.1f}",
                                                  "limit": MAX_BYTES // 1024 // 1024}, field="file")


def estimate_lines(content: bytes, format: str) -> int:
    """Roughly how many lines a file has, without reading it (inline or in the worker?)."""
    if format == "camt053":
        return max(content.count(b"Ntry>"), content.count(b"TxDtls>")) // 2
    return content.count(b"\n")


# --- CAMT.053 ---------------------------------------------------------------------------------


def xml_parser() -> etree.XMLParser:
    """No DTD, no entities, nothing from the network, libxml2's limits on depth and text size."""
    return etree.XMLParser(resolve_entities=False, no_network=True, dtd_validation=False, load_dtd=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


class _Camt:
    def __init__(self, ns: str) -> None:
        self.ns = ns

    def path(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))

    def find(self, el: Any, path: str) -> Any:
        return el.find(self.path(path))

    def findall(self, el: Any, path: str) -> list[Any]:
        return el.findall(self.path(path))

    def text(self, el: Any, *paths: str) -> str:
        """The text of the first path that has one."""
        for path in paths:
            found = el.find(self.path(path))
            if found is not None and found.text and found.text.strip():
                return found.text.strip()
        return ""


def parse_camt(content: bytes, *, progress: ProgressCallback | None = None) -> ParsedStatement:
    check_size(content)
    not_camt = _("This is not a CAMT.053 bank statement.")
    try:
        root = etree.fromstring(content, xml_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        raise DomainError(not_camt + " " + _("The XML cannot be read at line %(line)d.") % {"line": line},
                          field="file") from None
    if root.getroottree().docinfo.doctype:
        raise DomainError(not_camt + " " + _("It declares a document type (DTD), which bank statements never do."),
                          field="file")
    ns = etree.QName(root).namespace or ""
    version = CAMT_053.match(ns)
    if etree.QName(root).localname != "Document" or not version:
        found = ns.rsplit(":", 1)[-1] if ns else etree.QName(root).localname
        raise DomainError(not_camt + " " + _("It is “%(found)s”. Export the statement as CAMT.053 or CSV.") % {
            "found": found[:60]}, field="file")
    camt = _Camt(ns)
    statements = camt.findall(root, "BkToCstmrStmt/Stmt")
    if not statements:
        raise DomainError(not_camt + " " + _("It holds no statement (Stmt)."), field="file")

    parsed = ParsedStatement()
    errors = LineErrors()
    fallback = FallbackKeys("camt")
    expected = sum(len(camt.findall(stmt, "Ntry")) for stmt in statements)
    done = 0
    for stmt in statements:
        account = compact_iban(camt.text(stmt, "Acct/Id/IBAN", "Acct/Id/Othr/Id"))
        parsed.account_iban = parsed.account_iban or account
        start = _camt_date(camt.text(stmt, "FrToDt/FrDtTm"))
        end = _camt_date(camt.text(stmt, "FrToDt/ToDtTm"))
        if start and (parsed.period_start is None or start < parsed.period_start):
            parsed.period_start = start
        if end and (parsed.period_end is None or end > parsed.period_end):
            parsed.period_end = end
        for entry in camt.findall(stmt, "Ntry"):
            parsed.lines.extend(_camt_entry(camt, entry, account, fallback, errors))
            done += 1
            if progress and done % 500 == 0:
                progress(done, expected)
    errors.raise_if_any()
    return parsed


def _camt_date(value: str) -> dt.date | None:
    """The date of an ISODate or ISODateTime ("2026-03-02", "2026-03-02T10:00:00+01:00")."""
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _camt_amount(el: Any) -> tuple[Decimal, str] | None:
    if el is None or not (el.text or "").strip():
        return None
    try:
        amount = Decimal(el.text.strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12") or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount, (el.get("Ccy") or "").strip().upper()


def _camt_entry(camt: _Camt, entry: Any, account: str, fallback: FallbackKeys, errors: LineErrors) -> list[ParsedLine]:
    line_no = entry.sourceline or 0
    status = camt.text(entry, "Sts/Cd", "Sts")
    if status and status != "BOOK":
        return []  # pending or information only: it comes again, booked, in a later statement
    amount = _camt_amount(camt.find(entry, "Amt"))
    if amount is None:
        errors.add(line_no, _("the entry has no readable amount."))
        return []
    indicator = camt.text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        errors.add(line_no, _("the entry is neither a credit nor a debit (CdtDbtInd)."))
        return []
    booking = _camt_date(camt.text(entry, "BookgDt/Dt", "BookgDt/DtTm"))
    if booking is None:
        errors.add(line_no, _("the entry has no readable booking date."))
        return []
    value_date = _camt_date(camt.text(entry, "ValDt/Dt", "ValDt/DtTm"))
    reversal = camt.text(entry, "RvslInd").lower() == "true"
    entry_ref = camt.text(entry, "AcctSvcrRef")
    details = camt.findall(entry, "NtryDtls/TxDtls")
    # A batch entry is split into its transactions when each says its amount.
    tx_amounts = [_camt_amount(camt.find(tx, "Amt")) or _camt_amount(camt.find(tx, "AmtDtls/TxAmt/Amt")) for tx in details]
    split = len(details) > 1 and all(tx_amounts)
    parts: list[tuple[Any, tuple[Decimal, str]]] = (
        [(tx, found) for tx, found in zip(details, tx_amounts) if found is not None] if split
        else [(details[0] if details else None, amount)])
    lines = []
    for index, (tx, tx_amount) in enumerate(parts):
        credit = indicator == "CRDT"
        if tx is not None and camt.text(tx, "CdtDbtInd") in ("CRDT", "DBIT"):
            credit = camt.text(tx, "CdtDbtInd") == "CRDT"
        party = "Dbtr" if credit else "Cdtr"
        if tx is not None:
            name = camt.text(tx, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm",
                             f"RltdPties/Ultmt{party}/Nm", f"RltdPties/Ultmt{party}/Pty/Nm")
            iban = compact_iban(camt.text(tx, f"RltdPties/{party}Acct/Id/IBAN"))
            texts = [el.text.strip() for el in camt.findall(tx, "RmtInf/Ustrd") if el.text and el.text.strip()]
            texts += [el.text.strip() for el in camt.findall(tx, "RmtInf/Strd/CdtrRefInf/Ref") if el.text and el.text.strip()]
            end_to_end = camt.text(tx, "Refs/EndToEndId")
            tx_ref = camt.text(tx, "Refs/AcctSvcrRef")
            if not texts and not split:
                texts = [camt.text(tx, "AddtlTxInf")] if camt.text(tx, "AddtlTxInf") else []
        else:
            name = iban = end_to_end = tx_ref = ""
            texts = []
        if not texts and not split:
            extra = camt.text(entry, "AddtlNtryInf")
            texts = [extra] if extra else []
        if end_to_end.upper() == NOT_PROVIDED:
            end_to_end = ""
        remittance = one_line(" ".join(texts))[:REMITTANCE_MAX]
        if split and tx_amount[1] and tx_amount[1] != amount[1]:
            currency = tx_amount[1]
        else:
            currency = amount[1]
        if not re.fullmatch(r"[A-Z]{3}", currency or ""):
            errors.add(tx.sourceline if tx is not None else line_no, _("the amount has no currency (Ccy)."))
            continue
        parsed = ParsedLine(
            line=(tx.sourceline if split and tx is not None else line_no) or 0,
            key="", bank_reference=(tx_ref or entry_ref or end_to_end or camt.text(entry, "NtryRef"))[:140],
            booking_date=booking, value_date=value_date, amount=tx_amount[0], is_credit=credit, currency=currency,
            payer_name=one_line(name)[:200], payer_iban=iban, remittance=remittance, end_to_end=end_to_end[:140],
            reversal=reversal,
        )
        if parsed.amount == 0:
            continue
        if tx_ref:
            parsed.key = make_key("camt-ref", account, tx_ref)
        elif entry_ref:
            parsed.key = make_key("camt-ref", account, entry_ref, index if split else "")
        elif end_to_end:
            parsed.key = make_key("camt-e2e", account, end_to_end, booking.isoformat(), f"{parsed.amount:.2f}",
                                  index if split else "")
        else:
            parsed.key = fallback.key(account, parsed)
        lines.append(parsed)
    return lines


# --- CSV --------------------------------------------------------------------------------------


class CsvLayout(Protocol):
    """What the CSV reader needs of a mapping (banking.models.CsvMapping)."""

    pk: Any
    delimiter: str
    decimal_comma: bool
    date_format: str
    encoding: str
    header_row: int
    date_column: str
    value_date_column: str
    amount_column: str
    currency_column: str
    payer_column: str
    iban_column: str
    text_column: str
    reference_column: str


IBAN_IN_TEXT = re.compile(r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?)\b")
ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "iso-8859-1": "ISO-8859-1", "iso-8859-15": "ISO-8859-15"}


def decode(content: bytes, encoding: str) -> str:
    """The file as text: UTF-8 (with or without BOM) or a Latin-1 family encoding, chosen or detected."""
    if b"\x00" in content[:65536]:
        raise DomainError(_("This is not a CSV file: it holds binary data (zero bytes). Export the statement as "
                            "CSV text."), field="file")
    tries = ["utf-8", "cp1252"] if encoding == "auto" else [encoding]
    failure: UnicodeDecodeError | None = None
    for name in tries:
        try:
            return content.decode("utf-8-sig" if name == "utf-8" else name)
        except UnicodeDecodeError as exc:
            failure = exc  # the last encoding's complaint is the one reported
    assert failure is not None
    line = content[:failure.start].count(b"\n") + 1
    byte = content[failure.start]
    if encoding == "auto":
        message = _("Line %(line)d: the byte 0x%(byte)02X is neither UTF-8 nor Windows-1252 text. Choose the file's "
                    "encoding in the bank's mapping.")
    else:
        message = _("Line %(line)d: the byte 0x%(byte)02X is not %(encoding)s text. Choose the file's encoding in "
                    "the bank's mapping.")
    raise DomainError(message % {"line": line, "byte": byte, "encoding": ENCODING_NAMES.get(encoding, encoding)},
                      field="file")


def parse_amount(value: str, *, decimal_comma: bool) -> Decimal | None:
    """A signed amount as banks write it ("1.234,56", "-12,50", "12,50-", "+5,00 €"), or None."""
    text = value.strip().replace("\u00a0", "").replace(" ", "").replace("€", "").replace("EUR", "")
    if not text:
        return None
    negative = False
    if text.endswith("-"):
        negative, text = True, text[:-1]
    if text[:1] in "+-":
        negative, text = text[0] == "-", text[1:]
    mark, group = (",", ".") if decimal_comma else (".", ",")
    # Group separators only between groups of three digits: "12.50" in a decimal-comma file (or
    # "12,50" in a decimal-point one) is not 1250, it is a wrong mapping.
    found = re.fullmatch(rf"(\d{{1,3}}(?:{re.escape(group)}\d{{3}})+|\d+)(?:{re.escape(mark)}(\d{{1,2}}))?", text)
    if found is None:
        return None
    text = found.group(1).replace(group, "") + (f".{found.group(2)}" if found.group(2) else "")
    amount = Decimal(text)
    if amount >= Decimal("1e12"):
        return None
    return -amount if negative else amount


def column_number(spec: str) -> int | None:
    """The number of a column given by its number ("3"), or None for a heading. Only ASCII digits
    make a number ("²" is a heading, as int() could not read it)."""
    spec = spec.strip()
    return int(spec) if spec.isascii() and spec.isdigit() else None


def _column(spec: str, header: list[str]) -> int | None:
    """The index of a mapped column: a heading (case and surrounding spaces ignored) or a number from 1."""
    spec = spec.strip()
    if not spec:
        return None
    number = column_number(spec)
    if number is not None:
        return number - 1 if number >= 1 else -1
    wanted = spec.casefold()
    for index, name in enumerate(header):
        if name.strip().strip("\ufeff").strip().casefold() == wanted:
            return index
    return -1


MAPPED = ("date_column", "value_date_column", "amount_column", "currency_column", "payer_column", "iban_column",
          "text_column", "reference_column")


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DomainError(_("Line %(line)d cannot be read as CSV (%(error)s).") % {
                "line": reader.line_num, "error": exc}, field="file") from None
        # A row's line is where it starts (a quoted field may span lines).
        yield line + 1, row
        line = reader.line_num


def parse_csv(content: bytes, layout: CsvLayout, *, progress: ProgressCallback | None = None) -> ParsedStatement:
    check_size(content)
    text = decode(content, layout.encoding)
    rows = _rows(text, layout.delimiter)
    preamble: list[str] = []
    header: list[str] | None = None
    header_line = 0
    named = [getattr(layout, name) for name in ("date_column", "amount_column")
             if column_number(getattr(layout, name)) is None]
    for line, row in rows:
        if layout.header_row:
            if line == layout.header_row:
                header, header_line = row, line
                break
        elif not named or all(_column(spec, row) not in (None, -1) for spec in named):
            header, header_line = row, line
            break
        preamble.append(layout.delimiter.join(row))
        if line >= 1000:
            break
    delimiter_name = {";": ";", ",": ",", "\t": _("Tab")}.get(layout.delimiter, layout.delimiter)
    if header is None:
        if layout.header_row:
            raise DomainError(_("The file has no line %(line)d with the column headings.") % {"line": layout.header_row},
                              field="file")
        raise DomainError(_("No line with the columns “%(columns)s” was found. Are the delimiter (“%(delimiter)s”) "
                            "and the column names of the mapping right?") % {
            "columns": "”, “".join(named), "delimiter": delimiter_name}, field="file")
    columns: dict[str, int | None] = {}
    for name in MAPPED:
        index = _column(getattr(layout, name), header)
        # A column number beyond the headings' line (when there is one: the line was named, or
        # found by its headings) is no column of the file either.
        if index is not None and index >= len(header) and (named or layout.header_row):
            index = -1
        if index == -1:
            raise DomainError(_("Line %(line)d has no column “%(column)s”. Its columns: %(found)s. Is the delimiter "
                                "(“%(delimiter)s”) right?") % {
                "line": header_line, "column": getattr(layout, name).strip(),
                "found": ", ".join(f"“{c.strip()}”" for c in header[:20]) or "—", "delimiter": delimiter_name},
                field="file")
        columns[name] = index
    date_at, amount_at = columns["date_column"], columns["amount_column"]
    assert date_at is not None and amount_at is not None
    needed = max(i for i in columns.values() if i is not None) + 1

    account = ""
    for text_line in preamble:
        found = IBAN_IN_TEXT.search(text_line.upper())
        if found:
            account = compact_iban(found.group(1))
            break
    parsed = ParsedStatement(account_iban=account)
    account_key = account or f"mapping:{layout.pk}"
    errors = LineErrors()
    fallback = FallbackKeys("csv")
    example = dt.date(2026, 12, 31).strftime(layout.date_format)
    default_currency = settings.DEFAULT_CURRENCY

    def cell(row: list[str], name: str) -> str:
        index = columns[name]
        return row[index].strip() if index is not None and index < len(row) else ""

    def date_of(value: str) -> dt.date | None:
        try:
            return dt.datetime.strptime(value, layout.date_format).date()
        except ValueError:
            return None

    count = 0
    for line, row in rows:
        if not any(c.strip() for c in row):
            continue
        date_text = row[date_at].strip() if date_at < len(row) else ""
        amount_text = row[amount_at].strip() if amount_at < len(row) else ""
        if len(row) < needed:
            # Balances and sums under the table ("Kontostand;31.03.2026;;;1.234,56;EUR") are shorter.
            if date_of(date_text) is None:
                continue
            errors.add(line, _("it has %(found)d columns; the headings have %(expected)d.") % {
                "found": len(row), "expected": len(header)})
            continue
        if not date_text and not amount_text:
            continue
        booking = date_of(date_text)
        if booking is None:
            errors.add(line, _("“%(value)s” is not a date like %(example)s.") % {"value": date_text[:40], "example": example})
            continue
        value_text = cell(row, "value_date_column")
        value_date = date_of(value_text) if value_text else None
        if value_text and value_date is None:
            errors.add(line, _("“%(value)s” is not a date like %(example)s.") % {"value": value_text[:40], "example": example})
            continue
        amount = parse_amount(amount_text, decimal_comma=layout.decimal_comma)
        if amount is None:
            errors.add(line, _("“%(value)s” is not an amount.") % {"value": amount_text[:40]})
            continue
        if amount == 0:
            continue
        currency = (cell(row, "currency_column") or default_currency).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            errors.add(line, _("“%(value)s” is not a currency code.") % {"value": currency[:20]})
            continue
        item = ParsedLine(
            line=line, key="", bank_reference=cell(row, "reference_column")[:140], booking_date=booking,
            value_date=value_date, amount=abs(amount), is_credit=amount > 0, currency=currency,
            payer_name=one_line(cell(row, "payer_column"))[:200], payer_iban=compact_iban(cell(row, "iban_column")),
            remittance=one_line(cell(row, "text_column"))[:REMITTANCE_MAX],
        )
        if item.bank_reference:
            item.key = make_key("csv-ref", account_key, item.bank_reference)
        else:
            item.key = fallback.key(account_key, item)
        parsed.lines.append(item)
        count += 1
        if progress and count % 500 == 0:
            progress(count, 0)
    errors.raise_if_any()
    if parsed.lines:
        parsed.period_start = min(item.booking_date for item in parsed.lines)
        parsed.period_end = max(item.booking_date for item in parsed.lines)
    return parsed


def parse(content: bytes, *, format: str, layout: CsvLayout | None = None,
          progress: ProgressCallback | None = None) -> ParsedStatement:
    if format == "camt053":
        return parse_camt(content, progress=progress)
    if layout is None:
        raise DomainError(_("Choose the bank's CSV mapping."), field="mapping")
    return parse_csv(content, layout, progress=progress)


def unique_lines(lines: list[ParsedLine]) -> list[ParsedLine]:
    """The lines with distinct keys: the first of each (a file that repeats a bank reference)."""
    seen: set[str] = set()
    kept = []
    for item in lines:
        if item.key not in seen:
            seen.add(item.key)
            kept.append(item)
    return kept
