"""Which open invoice a bank line pays: a pure function of the lines and the open invoices.

The caller loads the open invoices once (banking.services), and the matcher works from dicts, so
10,000 lines against thousands of invoices take well under a second. What it looks at, in order:

1. **The invoice number in the remittance text** (and the EndToEndId), found tolerantly: the
   numbers are "YYYY-NNNN", and `RE 2026-0012`, `Rechnung 2026/0012`, `2026.0012`, `20260012`,
   `2026 0012` and `2026-12` (short for 2026-0012) all name invoice 2026-0012. A date such as
   `2026-12-01` names nothing. Only numbers of real invoices count, so a stray "2026-12" matters
   only when invoice 2026-0012 is open.
2. **The amount against the open balance**: equal is an exact match (confidence 100, the only
   kind "Confirm all exact matches" records); less is a partial payment; more is an overpayment,
   which is shown and, when confirmed, records only the balance (never more than is due).
3. **The payer**: an IBAN that paid this contact before (a confirmed line), or a name close to the
   contact's name or company (difflib, case and legal forms ignored). Without a number, amount
   and payer together give a probable match; the amount alone a weak one.

Several candidates: the best is suggested, the others are listed; a tie lowers the confidence.
Two lines of one statement that both pay the same invoice in full: only the first stays exact.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Protocol

from django.utils.translation import gettext as _

from core.money import format_money

# Confidence of each kind of match (0–100); a suggestion needs at least SUGGEST.
EXACT = 100
NUMBER_PARTIAL = 80
NUMBER_OVER = 70
AMOUNT_AND_IBAN = 85
AMOUNT_AND_NAME = 75
AMOUNT_AND_SIMILAR_NAME = 60
NUMBER_OTHER_CURRENCY = 40
AMOUNT_ONLY = 35
PAYER_ONLY = 20
SUGGEST = 50
TIE_PENALTY = 15
# Names are compared with difflib only among this many invoices of the same amount.
SIMILARITY_LIMIT = 50

NUMBER = re.compile(
    r"(?<![0-9])(20[0-9]{2})"
    r"(?:\s*[-/._]\s*([0-9]{1,6})|\s+([0-9]{4})|([0-9]{4,6}))"
    r"(?![0-9]|[-/.][0-9])"
)
LEGAL_FORMS = {"gmbh", "ag", "kg", "ohg", "gbr", "ug", "ek", "e.k", "ev", "e.v", "mbh", "co", "ltd", "inc", "llc",
               "plc", "sarl", "sa", "bv", "haftungsbeschrankt", "und", "and", "&", "herr", "frau", "mr", "mrs", "dr"}


def number_keys(text: str) -> list[tuple[int, int]]:
    """The invoice numbers a text names, as (year, sequence), in order and without repeats."""
    keys: list[tuple[int, int]] = []
    for match in NUMBER.finditer(text):
        digits = match.group(2) or match.group(3) or match.group(4)
        key = (int(match.group(1)), int(digits))
        if key[1] and key not in keys:
            keys.append(key)
    return keys


def number_key(number: str) -> tuple[int, int] | None:
    keys = number_keys(number)
    return keys[0] if keys else None


def normalise_name(name: str) -> str:
    words = re.sub(r"[^\w&]+", " ", name.casefold().replace("ä", "a").replace("ö", "o").replace("ü", "u")
                   .replace("ß", "ss")).split()
    return " ".join(sorted(w for w in words if w not in LEGAL_FORMS))


def similarity(a: str, b: str) -> float:
    """0–1: how alike two normalised names are (word order ignored: "Lovelace, Ada" = "Ada Lovelace")."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    matcher = SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
        return 0.0
    return matcher.ratio()


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    number: str
    contact_id: int
    contact_name: str
    company: str
    balance: Decimal
    currency: str
    due_date: dt.date


class LineLike(Protocol):
    amount: Decimal
    currency: str
    payer_name: str
    payer_iban: str
    remittance: str


@dataclass
class Match:
    invoice_id: int | None = None
    kind: str = ""  # banking.models.MatchKind
    confidence: int = 0
    reason: str = ""
    candidates: list[int] = field(default_factory=list)

    @property
    def suggested(self) -> bool:
        return self.invoice_id is not None


@dataclass
class _Candidate:
    invoice: OpenInvoice
    confidence: int
    kind: str
    reason: str


class Matcher:
    """The open invoices indexed once; `match` is then cheap per line."""

    def __init__(self, invoices: Iterable[OpenInvoice], *, known_ibans: dict[str, set[int]] | None = None,
                 closed: dict[tuple[int, int], tuple[str, str]] | None = None) -> None:
        """`known_ibans`: IBAN → the contacts it paid before. `closed`: number key → (number, status
        label) of invoices that are named but not open (paid, void, draft)."""
        self.by_number: dict[tuple[int, int], OpenInvoice] = {}
        self.by_amount: dict[tuple[str, Decimal], list[OpenInvoice]] = defaultdict(list)
        self.by_contact: dict[int, list[OpenInvoice]] = defaultdict(list)
        self.names: dict[int, tuple[str, str]] = {}
        for invoice in invoices:
            key = number_key(invoice.number)
            if key:
                self.by_number[key] = invoice
            self.by_amount[(invoice.currency, invoice.balance)].append(invoice)
            self.by_contact[invoice.contact_id].append(invoice)
            self.names.setdefault(invoice.contact_id, (normalise_name(invoice.contact_name), normalise_name(invoice.company)))
        for same in (*self.by_amount.values(), *self.by_contact.values()):
            same.sort(key=lambda inv: (inv.due_date, inv.number))
        self.known_ibans = known_ibans or {}
        self.closed = closed or {}

    def payer_score(self, line: LineLike, invoice: OpenInvoice, *, fuzzy: bool = True) -> tuple[str, float]:
        """("iban" | "name" | "", name similarity)."""
        if line.payer_iban and invoice.contact_id in self.known_ibans.get(line.payer_iban, ()):
            return "iban", 1.0
        payer = normalise_name(line.payer_name)
        name, company = self.names[invoice.contact_id]
        if payer and payer in (name, company):
            return "name", 1.0
        if not fuzzy:
            return "", 0.0
        return "name", max(similarity(payer, name), similarity(payer, company))

    def match(self, line: LineLike, text: str) -> Match:
        money = lambda value: format_money(value, line.currency)  # noqa: E731
        candidates: list[_Candidate] = []
        closed_named: list[str] = []
        for key in number_keys(text):
            invoice = self.by_number.get(key)
            if invoice is None:
                if key in self.closed:
                    number, status = self.closed[key]
                    closed_named.append(_("It names invoice %(number)s, which is %(status)s.") % {
                        "number": number, "status": status})
                continue
            due = money(invoice.balance)
            if invoice.currency != line.currency:
                candidates.append(_Candidate(invoice, NUMBER_OTHER_CURRENCY, "weak", _(
                    "It names invoice %(number)s, which is in %(currency)s.") % {
                    "number": invoice.number, "currency": invoice.currency}))
            elif line.amount == invoice.balance:
                candidates.append(_Candidate(invoice, EXACT, "exact", _(
                    "Invoice number %(number)s and the amount due (%(due)s) match.") % {
                    "number": invoice.number, "due": due}))
            elif line.amount < invoice.balance:
                candidates.append(_Candidate(invoice, NUMBER_PARTIAL, "partial", _(
                    "Partial payment: invoice %(number)s names it, %(amount)s of the %(due)s due.") % {
                    "number": invoice.number, "amount": money(line.amount), "due": due}))
            else:
                candidates.append(_Candidate(invoice, NUMBER_OVER, "over", _(
                    "Overpayment: invoice %(number)s names it, %(amount)s is %(extra)s more than the %(due)s due; "
                    "confirming records the %(due)s due.") % {
                    "number": invoice.number, "amount": money(line.amount), "due": due,
                    "extra": money(line.amount - invoice.balance)}))
        if not candidates:
            same = self.by_amount.get((line.currency, line.amount), [])
            fuzzy = len(same) <= SIMILARITY_LIMIT
            for invoice in same:
                how, score = self.payer_score(line, invoice, fuzzy=fuzzy)
                values = {"number": invoice.number, "amount": money(line.amount), "contact": invoice.contact_name}
                if how == "iban":
                    candidates.append(_Candidate(invoice, AMOUNT_AND_IBAN, "probable", _(
                        "No invoice number; the amount (%(amount)s) matches %(number)s, and this IBAN paid "
                        "%(contact)s before.") % values))
                elif score >= 0.99:
                    candidates.append(_Candidate(invoice, AMOUNT_AND_NAME, "probable", _(
                        "No invoice number; the amount (%(amount)s) and the payer's name match %(number)s of "
                        "%(contact)s.") % values))
                elif score >= 0.75:
                    candidates.append(_Candidate(invoice, AMOUNT_AND_SIMILAR_NAME, "probable", _(
                        "No invoice number; the amount (%(amount)s) matches %(number)s, and the payer's name is "
                        "like %(contact)s.") % values))
                else:
                    candidates.append(_Candidate(invoice, AMOUNT_ONLY, "weak", _(
                        "Only the amount (%(amount)s) matches %(number)s of %(contact)s.") % values))
        if not candidates and line.payer_iban:
            for contact_id in self.known_ibans.get(line.payer_iban, ()):
                for invoice in self.by_contact.get(contact_id, [])[:5]:
                    candidates.append(_Candidate(invoice, PAYER_ONLY, "weak", _(
                        "Only the payer matches: this IBAN paid %(contact)s before; %(number)s is open with %(due)s "
                        "due.") % {"contact": invoice.contact_name, "number": invoice.number,
                                   "due": money(invoice.balance)}))
        if not candidates:
            reason = " ".join(closed_named) or _("No open invoice matches the number, amount or payer.")
            return Match(reason=reason)

        candidates.sort(key=lambda c: (-c.confidence, c.invoice.due_date, c.invoice.number))
        best, others = candidates[0], candidates[1:]
        confidence, reason = best.confidence, best.reason
        if others and others[0].confidence == best.confidence:
            confidence -= TIE_PENALTY
            reason += " " + _("%(count)d other open invoices match as well.") % {
                "count": sum(1 for c in others if c.confidence == best.confidence)}
        if closed_named:
            reason += " " + " ".join(closed_named)
        rest = [c.invoice.id for c in others[:10]]
        if confidence < SUGGEST:
            return Match(kind="", confidence=confidence, reason=reason, candidates=[best.invoice.id, *rest])
        kind = "probable" if best.kind == "exact" and confidence < EXACT else best.kind
        return Match(invoice_id=best.invoice.id, kind=kind, confidence=confidence, reason=reason, candidates=rest)


def match_lines(lines: Sequence[LineLike], matcher: Matcher, *, texts: Sequence[str] | None = None) -> list[Match]:
    """A Match per line (money in only: the caller leaves money out aside). `texts[i]` is what is
    searched for numbers (the remittance text and the EndToEndId); the remittance text by default."""
    results = [matcher.match(line, texts[i] if texts is not None else line.remittance) for i, line in enumerate(lines)]
    exact_seen: set[int] = set()
    for result in results:
        if result.kind != "exact" or result.invoice_id is None:
            continue
        if result.invoice_id in exact_seen:
            result.kind, result.confidence = "probable", AMOUNT_AND_SIMILAR_NAME
            result.reason += " " + _("An earlier line of this statement pays the same invoice in full.")
        exact_seen.add(result.invoice_id)
    return results
