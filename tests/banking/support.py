"""What the bank tests share: the fixture files, the two banks' CSV mappings, and the open invoices
the March statement pays (numbered 2026-0001 … 2026-0005 in a fresh test database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from banking import services
from banking.models import BankStatement, CsvMapping
from invoices.models import Invoice
from tests.base import make_contact, make_invoice

FILES = Path(__file__).parent / "files"
CAMT_MARCH = "camt053_2026-03.xml"
CAMT_OVERLAP = "camt053_2026-03-15_to_04-10.xml"
DB_MARCH = "deutsche_bank_2026-03.csv"
DB_OVERLAP = "deutsche_bank_2026-03-15_to_04-10.csv"
ING = "ing_2026-03-15_to_04-10.csv"


def read(name: str) -> bytes:
    return (FILES / name).read_bytes()


def deutsche_bank(**overrides: Any) -> CsvMapping:
    fields = {"name": "Deutsche Bank", "date_column": "Buchungstag", "value_date_column": "Wert",
              "amount_column": "Betrag", "currency_column": "Währung", "payer_column": "Begünstigter / Auftraggeber",
              "iban_column": "IBAN", "text_column": "Verwendungszweck", **overrides}
    return CsvMapping.objects.create(**fields)


def ing(**overrides: Any) -> CsvMapping:
    # ING's export names two columns "Währung": the amount's is the 9th.
    fields = {"name": "ING", "date_column": "Buchung", "value_date_column": "Valuta", "amount_column": "Betrag",
              "currency_column": "9", "payer_column": "Auftraggeber/Empfänger", "text_column": "Verwendungszweck",
              **overrides}
    return CsvMapping.objects.create(**fields)


ISSUED = dt.date(2026, 2, 20)
LINE = {"description": "Consulting", "quantity": "1", "unit_price": "100.00", "tax_rate": "19"}


def invoice_for(name: str, *, company: str = "", net: str = "100.00", quantity: str = "1") -> Invoice:
    contact = make_contact(name=name, company=company)
    return make_invoice(status="sent", contact=contact, issue_date=ISSUED, due_date=ISSUED + dt.timedelta(days=14),
                        items=[{**LINE, "unit_price": net, "quantity": quantity}])


def march_invoices() -> dict[str, Invoice]:
    """The open invoices the fixture statements pay, by their number."""
    invoices = [
        invoice_for("Hans Müller", company="Müller & Söhne GmbH"),  # 119.00, paid exactly by line 1
        invoice_for("Jörg Weiß"),  # 119.00, "Rechnung 2026/0002" in the batch
        invoice_for("Charles Babbage", company="Babbage Engines Ltd", quantity="2"),  # 238.00, 181.00 paid
        invoice_for("Ada Lovelace", net="50.00"),  # 59.50, paid without a number
        invoice_for("Grace Hopper", net="50.00"),  # 59.50, overpaid with 100.00 in April
    ]
    numbers = {inv.number: inv for inv in invoices}
    assert list(numbers) == ["2026-0001", "2026-0002", "2026-0003", "2026-0004", "2026-0005"], list(numbers)
    return numbers


def upload(name: str, *, mapping: CsvMapping | None = None, by=None, **kw: Any) -> BankStatement:
    return services.upload_statement(file_name=name, content=read(name), format="csv" if name.endswith(".csv") else "camt053",
                                     mapping=mapping, by=by, **kw)


def camt(entries: str, *, version: str = "02", account: str = "DE89370400440532013000") -> bytes:
    """A small CAMT.053 document around `entries` (<Ntry> elements)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"><BkToCstmrStmt>
<GrpHdr><MsgId>T</MsgId><CreDtTm>2026-04-01T06:00:00</CreDtTm></GrpHdr>
<Stmt><Id>T-1</Id><Acct><Id><IBAN>{account}</IBAN></Id></Acct>{entries}</Stmt></BkToCstmrStmt></Document>""".encode()


def credit(amount: str, text: str, *, ref: str = "", day: str = "2026-03-10", payer: str = "Someone",
           iban: str = "DE02120300000000202051") -> str:
    reference = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    return (f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>{reference}"
            f"<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr><DbtrAcct><Id><IBAN>{iban}</IBAN></Id>"
            f"</DbtrAcct></RltdPties><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>")
