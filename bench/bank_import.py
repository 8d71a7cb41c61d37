"""Bank statement import: 10,000 lines parsed and matched, CAMT.053 and CSV (target ≤ 10 s).

    .venv/bin/python bench/bank_import.py [--lines 10000] [--invoices 2000] [--database URL]

Builds a database (SQLite in bench/results/ unless --database names another, e.g.
postgres://postgres@127.0.0.1:5432/inv_bench_bank, which must exist and is migrated), creates
`--invoices` open invoices, writes a CAMT.053 file and a German-bank CSV of `--lines` lines each
(40 % naming an invoice with its exact balance, 15 % a partial payment, 20 % amount and payer's name
without a number, 15 % nothing to match, 10 % money out), then times:

- parse:   reading the file into lines (banking.parsing);
- match:   loading the open invoices once and matching every line (banking.matching);
- import:  what the worker does for a large upload (banking.services.read_statement): parse, match,
           look up the keys already imported, store the lines, report progress;
- again:   importing the same file a second time (every key found, nothing stored).

Prints a table and writes bench/results/bank_import-latest.json. Timings, not assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_SECONDS = 10.0


def setup(database: str | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if database is None:
        path = RESULTS / "bank_import.sqlite3"
        path.unlink(missing_ok=True)
        database = f"sqlite:///{path}"
    os.environ.update(DATABASE_URL=database, SECRET_KEY="bench-not-secret-" + "x" * 40, DEBUG="false",
                      LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL="")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


FIRST = ["Ada", "Grace", "Hans", "Jörg", "Charles", "Emmy", "Lise", "Konrad", "Hedy", "Alan"]
LAST = ["Lovelace", "Hopper", "Müller", "Weiß", "Babbage", "Noether", "Meitner", "Zuse", "Lamarr", "Turing"]


def make_invoices(count: int) -> list[tuple[str, Decimal, str]]:
    """`count` sent invoices in bulk: (number, balance, contact name)."""
    from invoices.models import Contact, Invoice, InvoiceSequence

    rng = random.Random(7)
    contacts = Contact.objects.bulk_create([
        Contact(name=f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {i}", company=f"{LAST[i % 10]} GmbH" if i % 3 else "",
                country="DE") for i in range(count // 2 + 1)])
    issued = dt.date(2026, 2, 1)
    rows = []
    for n in range(1, count + 1):
        net = Decimal(rng.randrange(5_000, 500_000)) / 100
        tax = (net * Decimal("0.19")).quantize(Decimal("0.01"))
        rows.append(Invoice(number=f"2026-{n:04d}", contact=contacts[n % len(contacts)], status="sent",
                            issue_date=issued, due_date=issued + dt.timedelta(days=14), currency="EUR",
                            subtotal=net, tax_total=tax, total=net + tax))
    Invoice.objects.bulk_create(rows, batch_size=2000)
    InvoiceSequence.objects.update_or_create(year=2026, defaults={"last_number": count})
    return [(inv.number, inv.total, inv.contact.name) for inv in rows]


def make_lines(invoices: list[tuple[str, Decimal, str]], count: int) -> list[dict]:
    rng = random.Random(11)
    lines = []
    for i in range(count):
        number, balance, name = rng.choice(invoices)
        day = dt.date(2026, 3, 1) + dt.timedelta(days=i % 28)
        kind = rng.random()
        line = {"day": day, "ref": f"BNK{i:08d}", "iban": f"DE{10 + i % 89:02d}1203000000{i:010d}"[:22], "credit": True}
        if kind < 0.40:
            forms = [f"RE {number}", f"Rechnung {number.replace('-', '/')}", number.replace("-", ""), f"Invoice {number}"]
            line.update(amount=balance, text=f"{rng.choice(forms)} Danke", name=name)
        elif kind < 0.55:
            line.update(amount=(balance / 2).quantize(Decimal("0.01")), text=f"Anzahlung {number}", name=name)
        elif kind < 0.75:
            line.update(amount=balance, text="Beratung laut Angebot", name=name.upper())
        elif kind < 0.90:
            line.update(amount=Decimal(rng.randrange(100, 99_999)) / 100, text=f"Gutschrift {i}", name="Unbekannt")
        else:
            line.update(amount=Decimal(rng.randrange(100, 99_999)) / 100, text=f"Lastschrift {i}", name="Stadtwerke",
                        credit=False)
        lines.append(line)
    return lines


def camt_file(lines: list[dict]) -> bytes:
    from xml.sax.saxutils import escape

    entries = []
    for line in lines:
        entries.append(
            f'<Ntry><Amt Ccy="EUR">{line["amount"]:.2f}</Amt><CdtDbtInd>{"CRDT" if line["credit"] else "DBIT"}'
            f'</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{line["day"]}</Dt></BookgDt><ValDt><Dt>{line["day"]}</Dt></ValDt>'
            f'<AcctSvcrRef>{line["ref"]}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId>'
            f'</Refs><RltdPties><{"Dbtr" if line["credit"] else "Cdtr"}><Nm>{escape(line["name"])}</Nm>'
            f'</{"Dbtr" if line["credit"] else "Cdtr"}><{"DbtrAcct" if line["credit"] else "CdtrAcct"}><Id><IBAN>'
            f'{line["iban"]}</IBAN></Id></{"DbtrAcct" if line["credit"] else "CdtrAcct"}></RltdPties>'
            f'<RmtInf><Ustrd>{escape(line["text"])}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
            '<BkToCstmrStmt><GrpHdr><MsgId>B</MsgId><CreDtTm>2026-04-01T06:00:00</CreDtTm></GrpHdr><Stmt><Id>B-1</Id>'
            '<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>\n' + "".join(entries)
            + "</Stmt></BkToCstmrStmt></Document>\n").encode()


def csv_file(lines: list[dict]) -> bytes:
    rows = ["Umsätze Girokonto;Zeitraum: 01.03.2026 - 31.03.2026;;;;;;", "IBAN: DE89 3704 0044 0532 0130 00;;;;;;;",
            ";;;;;;;", "Buchungstag;Wert;Umsatzart;Begünstigter / Auftraggeber;Verwendungszweck;IBAN;Betrag;Währung"]
    for line in lines:
        amount = f"{line['amount']:.2f}".replace(".", ",")
        rows.append(";".join([line["day"].strftime("%d.%m.%Y"), line["day"].strftime("%d.%m.%Y"), "SEPA-Überweisung",
                              line["name"], line["text"], line["iban"], amount if line["credit"] else "-" + amount,
                              "EUR"]))
    rows.append("Kontostand;31.03.2026;;;1.000,00;EUR")
    return "\r\n".join(rows).encode("cp1252")


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=2_000)
    parser.add_argument("--database", default=None, help="a DATABASE_URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    setup(args.database)

    from django.db import connection

    from banking import services
    from banking.matching import match_lines
    from banking.models import BankStatement, CsvMapping
    from banking.parsing import parse_camt, parse_csv

    invoices = make_invoices(args.invoices)
    lines = make_lines(invoices, args.lines)
    mapping = CsvMapping.objects.create(
        name="Deutsche Bank", date_column="Buchungstag", value_date_column="Wert", amount_column="Betrag",
        currency_column="Währung", payer_column="Begünstigter / Auftraggeber", iban_column="IBAN",
        text_column="Verwendungszweck")
    services.enqueue = lambda *a: None  # the worker's part is called below, in this process
    files = {"CAMT.053": ("camt053", camt_file(lines)), "CSV": ("csv", csv_file(lines))}
    results = []
    for label, (format, content) in files.items():
        parse = (lambda: parse_camt(content)) if format == "camt053" else (lambda: parse_csv(content, mapping))
        t_parse, parsed = timed(parse)
        credits = [line for line in parsed.lines if line.is_credit]
        t_match, matches = timed(lambda: match_lines(credits, services.matcher_for(credits)))
        statement = services.upload_statement(file_name=f"bench.{format}", content=content, format=format,
                                              mapping=mapping if format == "csv" else None, inline_lines=0)
        t_import, _ = timed(lambda: services.read_statement(statement_id=statement.pk))
        statement.refresh_from_db()
        again = services.upload_statement(file_name=f"again.{format}", content=content, format=format,
                                          mapping=mapping if format == "csv" else None, inline_lines=0)
        t_again, _ = timed(lambda: services.read_statement(statement_id=again.pk))
        again.refresh_from_db()
        kinds: dict[str, int] = {}
        for match in matches:
            kinds[match.kind or "none"] = kinds.get(match.kind or "none", 0) + 1
        results.append({
            "format": label, "bytes": len(content), "lines": len(parsed.lines), "parse_s": round(t_parse, 2),
            "match_s": round(t_match, 2), "import_s": round(t_import, 2), "again_s": round(t_again, 2),
            "stored": statement.lines_new, "again_new": again.lines_new, "again_known": again.lines_known,
            "matches": kinds, "within_target": t_import <= TARGET_SECONDS,
        })
        assert again.lines_new == 0 and statement.status == "done", (statement.status, again.lines_new)
        BankStatement.objects.filter(pk=again.pk).delete()

    print(f"\nBank import: {args.lines} lines against {args.invoices} open invoices on {connection.vendor} "
          f"(target ≤ {TARGET_SECONDS:.0f} s for parse + match + store)\n")
    print(f"{'format':9} {'MB':>5} {'parse s':>8} {'match s':>8} {'import s':>9} {'again s':>8}  matches")
    for r in results:
        print(f"{r['format']:9} {r['bytes'] / 1e6:5.1f} {r['parse_s']:8.2f} {r['match_s']:8.2f} {r['import_s']:9.2f} "
              f"{r['again_s']:8.2f}  {r['matches']}")
    out = {"when": dt.datetime.now(dt.timezone.utc).isoformat(), "machine": platform.platform(),
           "load": os.getloadavg(), "cpus": os.cpu_count(), "database": connection.vendor, "lines": args.lines,
           "invoices": args.invoices, "results": results}
    (RESULTS / "bank_import-latest.json").write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
