"""What an invoice document says, taken from the invoice once for the PDF and the e-invoice alike.

A sent invoice (or credit note) is read from the seller and buyer snapshots taken when it was sent,
so a later change of the business profile or the contact does not change it; a draft reads the
live profile and contact. The amounts are the invoice's own: each line's net and VAT rounded to
cents, added up per VAT rate, exactly as the invoice's totals were computed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale
from django.conf import settings

from business import services as business
from invoices.models import Invoice, InvoiceKind, InvoiceStatus, TaxTreatment

# UNTDID 1001 document type codes.
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"

# UNCL 5305 VAT category codes.
STANDARD_RATE = "S"
ZERO_RATED = "Z"
EXEMPT = "E"
REVERSE_CHARGE = "AE"


@dataclass(frozen=True)
class Party:
    name: str  # the name the party trades under: the company, or the person
    person: str  # the contact person at a company ("" when the party is a person)
    street: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    email: str
    phone: str = ""
    website: str = ""
    vat_id: str = ""
    tax_number: str = ""

    @property
    def has_address(self) -> bool:
        return bool(self.street or self.postal_code or self.city)


@dataclass(frozen=True)
class Line:
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    category: str
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class TaxGroup:
    """One row of the VAT breakdown: the lines of one category and rate."""

    category: str
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Bank:
    name: str
    iban: str
    bic: str
    account_holder: str


@dataclass(frozen=True)
class Content:
    invoice_id: int
    number: str
    is_credit_note: bool
    is_draft: bool
    type_code: str
    language: str
    issue_date: dt.date
    due_date: dt.date
    service_date: dt.date | None
    service_end: dt.date | None
    currency: str
    tax_treatment: str
    seller: Party
    buyer: Party
    bank: Bank | None
    footer: str
    notes: str
    lines: tuple[Line, ...]
    tax_groups: tuple[TaxGroup, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    amount_paid: Decimal
    # A credit note's invoice.
    original_number: str = ""
    original_date: dt.date | None = None

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid

    @property
    def is_partly_paid(self) -> bool:
        return 0 < self.amount_paid < self.total


def language_of(invoice: Invoice) -> str:
    """The document's language: the contact's (en or de)."""
    language = invoice.contact.language
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def country_name(code: str, language: str) -> str:
    return Locale.parse(language).territories.get(code, code) if code else ""


def category_of(treatment: str, rate: Decimal) -> str:
    if treatment == TaxTreatment.SMALL_BUSINESS:
        return EXEMPT
    if treatment == TaxTreatment.REVERSE_CHARGE:
        return REVERSE_CHARGE
    return STANDARD_RATE if rate > 0 else ZERO_RATED


def _seller(snapshot: Mapping[str, Any]) -> tuple[Party, Bank | None, str]:
    party = Party(
        name=snapshot.get("name", ""), person="", street=snapshot.get("street", ""),
        postal_code=snapshot.get("postal_code", ""), city=snapshot.get("city", ""),
        country=snapshot.get("country", ""), email=snapshot.get("email", ""), phone=snapshot.get("phone", ""),
        website=snapshot.get("website", ""), vat_id=snapshot.get("vat_id", ""),
        tax_number=snapshot.get("tax_number", ""),
    )
    iban = snapshot.get("iban", "")
    bank = Bank(name=snapshot.get("bank_name", ""), iban=iban, bic=snapshot.get("bic", ""),
                account_holder=party.name) if iban else None
    return party, bank, snapshot.get("footer", "")


def _buyer(snapshot: Mapping[str, Any]) -> Party:
    name, company = snapshot.get("name", ""), snapshot.get("company", "")
    return Party(
        name=company or name, person=name if company and company != name else "",
        street=snapshot.get("street", ""), postal_code=snapshot.get("postal_code", ""),
        city=snapshot.get("city", ""), country=snapshot.get("country", ""), email=snapshot.get("email", ""),
        vat_id=snapshot.get("vat_id", ""),
    )


def content_of(invoice: Invoice) -> Content:
    """Everything the document shows, from the snapshots of a sent invoice or the live data of a draft."""
    is_draft = invoice.status == InvoiceStatus.DRAFT
    seller_snapshot = invoice.seller if invoice.seller and not is_draft else business.snapshot()
    buyer_snapshot = invoice.buyer if invoice.buyer and not is_draft else invoice.contact.snapshot()
    seller, bank, footer = _seller(seller_snapshot)
    lines = tuple(
        Line(position=number, description=item.description, quantity=item.quantity, unit_price=item.unit_price,
             tax_rate=item.tax_rate, category=category_of(invoice.tax_treatment, item.tax_rate),
             net=item.net_amount, tax=item.tax_amount)
        for number, item in enumerate(invoice.items.order_by("position", "pk"), start=1)
    )
    groups: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for line in lines:
        base, amount = groups.get((line.category, line.tax_rate), (Decimal("0"), Decimal("0")))
        groups[(line.category, line.tax_rate)] = (base + line.net, amount + line.tax)
    tax_groups = tuple(
        TaxGroup(category=category, rate=rate, base=base, amount=amount)
        for (category, rate), (base, amount) in sorted(groups.items(), key=lambda entry: (-entry[0][1], entry[0][0]))
    )
    original = invoice.credit_for if invoice.kind == InvoiceKind.CREDIT_NOTE else None
    return Content(
        invoice_id=invoice.pk, number=invoice.number, is_credit_note=original is not None, is_draft=is_draft,
        type_code=TYPE_CREDIT_NOTE if original is not None else TYPE_INVOICE, language=language_of(invoice),
        issue_date=invoice.issue_date, due_date=invoice.due_date, service_date=invoice.service_date,
        service_end=invoice.service_end, currency=invoice.currency, tax_treatment=invoice.tax_treatment,
        # A credit note's notes are the reference the service wrote, in whatever language was active
        # then; the document states the reference itself, in the customer's language.
        seller=seller, buyer=_buyer(buyer_snapshot), bank=bank, footer=footer,
        notes="" if original is not None else invoice.notes, lines=lines,
        tax_groups=tax_groups, subtotal=invoice.subtotal, tax_total=invoice.tax_total, total=invoice.total,
        amount_paid=invoice.amount_paid,
        original_number=original.number if original is not None else "",
        original_date=original.issue_date if original is not None else None,
    )
