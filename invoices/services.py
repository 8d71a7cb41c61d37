"""Every state change of contacts, invoices, payments and recurring plans.

Each function is keyword-only, runs in one transaction, guards its transition with a
compare-and-swap (`filter(pk=…, status=…).update(…)` and go on only if one row changed) and
announces what happened with a signal from `invoices.signals` inside that transaction. A change the
rules do not allow raises `DomainError` with a message for the person who tried.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast, overload

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, ProtectedError, Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from core.dates import business_today
from core.errors import DomainError, as_domain_error, validate, validate_value
from core.money import format_money
from business import services as business
from business.validators import EU_COUNTRIES, compact
from core.validators import reject_null_characters

from . import signals
from .interest import FLAT_FEE, interest_periods
from .validators import validate_business_date
from .models import (
    BaseRate,
    Contact,
    CreditNoteSequence,
    InvoiceKind,
    TaxTreatment,
    Interval,
    Invoice,
    InvoiceSequence,
    InvoiceStatus,
    LineItem,
    Payment,
    PaymentMethod,
    RecurringPayment,
    RecurringStatus,
    Tag,
    tag_ids_named,
)

OPEN_STATUSES = (InvoiceStatus.SENT, InvoiceStatus.OVERDUE)
log = logging.getLogger(__name__)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def to_money(value: Any, *, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimals, or DomainError (never NaN, never a float)."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("%(value)s is not an amount.") % {"value": value}, field=field) from None
    if not amount.is_finite():
        raise DomainError(_("%(value)s is not an amount.") % {"value": value}, field=field)
    if amount <= 0:
        raise DomainError(_("The amount must be greater than zero."), field=field)
    if amount >= Decimal("1e12"):
        raise DomainError(_("The amount is too large."), field=field)
    # A finite amount (checked above) has a numeric exponent, not "n", "N" or "F".
    if cast(int, amount.normalize().as_tuple().exponent) < -2:
        raise DomainError(_("Amounts can have at most two decimal places."), field=field)
    return amount


def to_rate(value: Any, *, field: str = "tax_rate") -> Decimal:
    """A tax rate in percent, 0 to 100."""
    try:
        rate = Decimal(str(value if value not in (None, "") else "0").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("The tax rate must be a number."), field=field) from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise DomainError(_("The tax rate must be between 0 and 100."), field=field)
    return rate


def check_date(value: dt.date | None, *, field: str) -> None:
    """A date of the books (issue, due, payment, plan) within the years the product accepts."""
    try:
        validate_business_date(value)
    except ValidationError as exc:
        raise DomainError(as_domain_error(exc).message, field=field) from None


def db_datetime(value: dt.datetime) -> Any:
    """A datetime as the database stores it, for raw SQL (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


# --- Contacts ---------------------------------------------------------------------------------


CONTACT_FIELDS = ("name", "email", "phone", "company", "language", "street", "postal_code", "city", "country",
                  "vat_id", "is_business")


def _clean_contact_fields(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
            if name == "vat_id":
                value = compact(value)
            elif name == "country":
                value = value.upper()
        cleaned[name] = value
    return cleaned


def create_contact(*, name: str, email: str = "", phone: str = "", company: str = "", language: str = "en",
                   street: str = "", postal_code: str = "", city: str = "", country: str = "DE", vat_id: str = "",
                   is_business: bool = False, tags: Iterable[str] = ()) -> Contact:
    """A new contact; `tags` are tag names (see clean_tag_names), existing tags reused."""
    contact = Contact(**_clean_contact_fields({
        "name": name, "email": email, "phone": phone, "company": company, "language": language, "street": street,
        "postal_code": postal_code, "city": city, "country": country, "vat_id": vat_id, "is_business": is_business,
    }))
    tag_names = clean_tag_names(tags)
    validate(contact)
    with transaction.atomic():
        contact.save()
        if tag_names:
            contact.tags.set(_tags_named(tag_names))
    return contact


def update_contact(*, contact: Contact, tags: Iterable[str] | None = None, **fields: Any) -> Contact:
    """Change a contact's details; `tags` (tag names) replace the contact's tags, None keeps them.
    Invoices already sent keep the buyer they were sent to."""
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise TypeError(f"update_contact() cannot change {', '.join(sorted(unknown))}")
    tag_names = None if tags is None else clean_tag_names(tags)
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        for name, value in _clean_contact_fields(fields).items():
            setattr(locked, name, value)
        validate(locked)
        locked.save()
        if tag_names is not None:
            locked.tags.set(_tags_named(tag_names))
    _refresh(contact, locked)
    if tag_names is not None:
        getattr(contact, "_prefetched_objects_cache", {}).pop("tags", None)
    return contact


MAX_TAGS_PER_CONTACT = 20


def clean_tag_names(names: Iterable[str]) -> list[str]:
    """The tag names a person typed, as they are kept: runs of spaces made one and trimmed, blank
    ones dropped, the same name in another case once (the first spelling). Each is checked by the
    Tag name field's own validators (length, line breaks) and has no comma (the form's separator); too
    many, or a bad one, is a DomainError at the field "tags"."""
    if isinstance(names, str):
        raise TypeError("clean_tag_names() takes a list of tag names, not one string")
    cleaned: dict[str, str] = {}
    for raw in names:
        # Runs of spaces and tabs only: a line break stays in, for the validator to refuse.
        name = re.sub(r"[ \t]+", " ", str(raw)).strip(" ")
        if not name.strip():
            continue
        try:
            name = validate_value(Tag, "name", name)
            if "," in name:  # the contact form separates tags with commas
                raise DomainError(_("A tag cannot contain a comma."))
        except DomainError as exc:
            raise DomainError(_("The tag “%(tag)s” cannot be saved: %(error)s") % {
                "tag": Truncator(" ".join(name.split())).chars(30), "error": exc.message}, field="tags") from None
        cleaned.setdefault(name.casefold(), name)
    if len(cleaned) > MAX_TAGS_PER_CONTACT:
        raise DomainError(_("A contact can have at most %(max)d tags, not %(count)d.") % {
            "max": MAX_TAGS_PER_CONTACT, "count": len(cleaned)}, field="tags")
    return list(cleaned.values())


def _tags_named(names: list[str]) -> list[Tag]:
    """The tags of these (cleaned) names: an existing tag whose name differs only in case is reused
    ("vip" is the tag "VIP"); a missing one is created (inside the caller's transaction).

    Two requests creating the same new tag at once both get the one row. The unique name makes the
    second insert wait for the first and then fail: get_or_create inserts in a savepoint and then
    reads the row the other committed. The same name in another case ("Messe" and "MESSE") is not
    caught by the unique key, so on PostgreSQL a lock on each new lower-case name (held until commit)
    makes the second request wait and find the first one's tag. New tags are locked and inserted in
    one order (by name), or two requests creating "A, B" and "B, A" would wait for each other."""
    if not names:
        return []
    found = _by_name(_tags_like(names))
    missing = sorted((name for name in names if name.casefold() not in found), key=str.casefold)
    if missing and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for name in missing:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('invoices.tag'), hashtext(lower(%s)))", [name])
        found |= _by_name(_tags_like(missing))
    for name in missing:
        if name.casefold() not in found:
            found[name.casefold()] = Tag.objects.get_or_create(name=name)[0]
    return [found[name.casefold()] for name in names]


def _tags_like(names: list[str]) -> list[Tag]:
    """The tags named so in any case, an exact spelling first (the admin may have made "VIP" and "vip")."""
    return sorted(Tag.objects.filter(pk__in=tag_ids_named(names)), key=lambda t: (t.name not in names, t.pk))


def _by_name(tags: list[Tag]) -> dict[str, Tag]:
    by_name: dict[str, Tag] = {}
    for tag in tags:
        by_name.setdefault(tag.name.casefold(), tag)
    return by_name


def delete_contact(*, contact: Contact) -> None:
    """Delete a contact that has no invoices and no recurring payments (those keep their contact for
    good: an invoice's buyer is part of the books)."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().filter(pk=contact.pk).first()
        if locked is None:
            raise DomainError(_("The contact %(name)s has already been deleted.") % {"name": contact.name})
        if locked.invoices.exists() or locked.recurring_payments.exists():
            raise DomainError(_("%(name)s has invoices or recurring payments and cannot be deleted.") % {
                "name": locked.name})
        try:
            with transaction.atomic():
                locked.delete()
        except ProtectedError:
            # Kept by something else of the books (an automation's run history).
            raise DomainError(_("%(name)s is used by the automations' run history and cannot be deleted.") % {
                "name": locked.name}) from None


# --- Numbering --------------------------------------------------------------------------------


def reserve_invoice_numbers(*, year: int, count: int = 1) -> list[str]:
    """Reserve `count` consecutive invoice numbers of `year` ("2026-0001", …) in one atomic statement.

    An upsert bumps the year's counter and returns the new value, so two invoices created at the
    same moment (two transactions, two workers) can never get the same or a skipped number: the
    second waits on the row lock of the first.
    """
    return _reserve(InvoiceSequence, year=year, count=count, prefix="")


# Credit notes have a series of their own (Stornorechnung): "ST-2026-0001".
CREDIT_NOTE_PREFIX = "ST-"


def reserve_credit_note_numbers(*, year: int, count: int = 1) -> list[str]:
    return _reserve(CreditNoteSequence, year=year, count=count, prefix=CREDIT_NOTE_PREFIX)


def _reserve(sequence: type[InvoiceSequence] | type[CreditNoteSequence], *, year: int, count: int,
             prefix: str) -> list[str]:
    table = sequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last_number) VALUES (%s, %s) "
            f"ON CONFLICT (year) DO UPDATE SET last_number = {table}.last_number + EXCLUDED.last_number "
            f"RETURNING last_number",
            [year, count],
        )
        last = cursor.fetchone()[0]
    return [f"{prefix}{year}-{n:04d}" for n in range(last - count + 1, last + 1)]


# --- Invoices ---------------------------------------------------------------------------------


def _build_items(invoice: Invoice, items: Iterable[Mapping[str, Any] | LineItem]) -> list[LineItem]:
    built = []
    for position, item in enumerate(items):
        if isinstance(item, LineItem):
            line = item
            line.invoice = invoice
        else:
            try:
                line = LineItem(
                    invoice=invoice,
                    description=str(item.get("description", "")).strip(),
                    quantity=Decimal(str(item.get("quantity", "1"))),
                    unit_price=Decimal(str(item.get("unit_price", ""))),
                    tax_rate=Decimal(str(item.get("tax_rate", "0") or "0")),
                )
            except (InvalidOperation, ValueError):
                raise DomainError(_("Line %(n)d: quantity, price and tax rate must be numbers.") % {"n": position + 1}) from None
        line.position = position
        try:
            reject_null_characters(line, exclude=["invoice"])
            line.full_clean(exclude=["invoice"], validate_constraints=False)
        except ValidationError as exc:
            raise DomainError(_("Line %(n)d: %(error)s") % {"n": position + 1, "error": as_domain_error(exc).message}) from None
        for name in ("quantity", "unit_price", "tax_rate"):
            if not getattr(line, name).is_finite():
                raise DomainError(_("Line %(n)d: quantity, price and tax rate must be numbers.") % {"n": position + 1})
        if line.tax_rate > 100:
            raise DomainError(_("Line %(n)d: the tax rate cannot be more than 100%%.") % {"n": position + 1})
        if line.tax_rate and invoice.tax_treatment != TaxTreatment.STANDARD:
            raise DomainError(_("Line %(n)d: an invoice with “%(treatment)s” has no VAT on its lines; set the "
                                "tax rate to 0.") % {"n": position + 1, "treatment": invoice.get_tax_treatment_display()},
                              field="tax_treatment")
        built.append(line)
    return built


def default_tax_treatment(contact: Contact) -> str:
    """How VAT works on a new invoice to `contact`, from the business profile: no VAT at all for a
    small business (§ 19 UStG); reverse charge for a business customer in another EU country when
    the profile says so; otherwise the lines' rates."""
    profile = business.get_profile()
    if profile.small_business:
        return TaxTreatment.SMALL_BUSINESS
    if (profile.reverse_charge and contact.is_business and contact.country in EU_COUNTRIES
            and contact.country != profile.country):
        return TaxTreatment.REVERSE_CHARGE
    return TaxTreatment.STANDARD


def _apply_totals(invoice: Invoice, items: list[LineItem]) -> None:
    invoice.subtotal, invoice.tax_total, invoice.total = invoice.compute_totals(items)
    if invoice.total >= Decimal("1e12"):
        raise DomainError(_("The invoice total is too large."))


def create_invoice(
    *,
    contact: Contact,
    items: Iterable[Mapping[str, Any] | LineItem] = (),
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    currency: str | None = None,
    notes: str = "",
    by=None,
    now: dt.datetime | None = None,
    recurring: RecurringPayment | None = None,
    period_start: dt.date | None = None,
    service_date: dt.date | None = None,
    service_end: dt.date | None = None,
    tax_treatment: str | None = None,
) -> Invoice:
    """A new draft invoice with its line items and the next number of its issue year. Payment
    terms and the VAT treatment default to the business profile's."""
    issue_date = issue_date or business_today(now)
    check_date(issue_date, field="issue_date")
    due_date = due_date or issue_date + dt.timedelta(days=business.payment_terms_days())
    check_date(due_date, field="due_date")
    for name, value in (("service_date", service_date), ("service_end", service_end)):
        check_date(value, field=name)
    currency = (currency or settings.DEFAULT_CURRENCY).strip().upper()
    invoice = Invoice(
        contact=contact, issue_date=issue_date, due_date=due_date, currency=currency, notes=notes,
        created_by=by, recurring=recurring, period_start=period_start, service_date=service_date,
        service_end=service_end, tax_treatment=tax_treatment or default_tax_treatment(contact), created_at=_now(now),
    )
    _check_invoice_fields(invoice)
    with transaction.atomic():
        lines = _build_items(invoice, items)
        _apply_totals(invoice, lines)
        invoice.number = reserve_invoice_numbers(year=issue_date.year)[0]
        invoice.save()
        for line in lines:
            line.invoice = invoice
        LineItem.objects.bulk_create(lines)
    return invoice


def _check_invoice_fields(invoice: Invoice) -> None:
    validate(invoice, exclude=["number", "contact", "recurring", "created_by"])


def update_draft_invoice(
    *,
    invoice: Invoice,
    items: Iterable[Mapping[str, Any] | LineItem] | None = None,
    **fields: Any,
) -> Invoice:
    """Change a draft's contact, dates, currency, notes, VAT treatment or line items (all replaced when given).
    A VAT treatment of None ("automatic"), or a new contact without one, is the contact's default, as
    for a new draft."""
    allowed = {"contact", "issue_date", "due_date", "currency", "notes", "service_date", "service_end", "tax_treatment"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"update_draft_invoice() cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if fields.get("tax_treatment") is None and ("tax_treatment" in fields or "contact" in fields):
            fields["tax_treatment"] = default_tax_treatment(fields.get("contact") or locked.contact)
        if locked.status != InvoiceStatus.DRAFT:
            raise DomainError(_("Only a draft can be edited; invoice %(number)s is %(status)s.") % {
                "number": locked.number, "status": locked.get_status_display()})
        for name in ("issue_date", "due_date", "service_date", "service_end"):
            if name in fields:
                check_date(fields[name], field=name)
        new_issue = fields.get("issue_date")
        if new_issue is not None and new_issue.year != locked.issue_date.year:
            # The number belongs to the issue year's unbroken sequence.
            raise DomainError(_("Invoice %(number)s is numbered in %(year)d; its issue date must stay in %(year)d. "
                                "Create a new invoice for %(new)d instead.") % {
                "number": locked.number, "year": locked.issue_date.year, "new": new_issue.year}, field="issue_date")
        for name, value in fields.items():
            setattr(locked, name, value)
        if "currency" in fields:
            locked.currency = (locked.currency or "").strip().upper()
        _check_invoice_fields(locked)
        if items is not None:
            lines = _build_items(locked, items)
            locked.items.all().delete()
            LineItem.objects.bulk_create(lines)
        else:
            lines = _build_items(locked, list(locked.items.all()))  # checked again: the VAT treatment may have changed
        _apply_totals(locked, lines)
        locked.save()
    _refresh(invoice, locked)
    return invoice


def recalculate_invoice(*, invoice: Invoice) -> Invoice:
    """Store the totals of a draft's current line items (after the admin edited them inline)."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status != InvoiceStatus.DRAFT:
            raise DomainError(_("The line items of a sent invoice cannot change."))
        _apply_totals(locked, list(locked.items.all()))
        locked.save(update_fields=["subtotal", "tax_total", "total"])
    _refresh(invoice, locked)
    return invoice


def _refresh(target: Invoice | RecurringPayment | Contact, source: Invoice | RecurringPayment | Contact) -> None:
    """Copy the fields of the locked, saved copy onto the caller's object."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _transition_refused(invoice: Invoice, action: str) -> DomainError:
    current = Invoice.objects.filter(pk=invoice.pk).values_list("status", flat=True).first()
    status = InvoiceStatus(current).label if current else _("deleted")
    return DomainError(
        _("Invoice %(number)s cannot be %(action)s: it is %(status)s.") % {
            "number": invoice.number, "action": action, "status": status}
    )


# A consumer's address may be left out of an invoice of at most this much (§ 33 UStDV).
SMALL_AMOUNT = Decimal("250.00")


def missing_for_sending(invoice: Invoice) -> list[str]:
    """What a legally complete invoice needs (§ 14 UStG) and this one lacks, as the person who
    sends it reads it: the business profile's empty fields, the customer's address, the VAT ID that
    reverse charge requires. Empty when it can be sent."""
    problems = []
    missing = business.missing_for_invoices()
    if missing:
        problems.append(_("Your business profile has no %(fields)s yet.") % {"fields": ", ".join(missing)})
    contact = invoice.contact
    needs_address = contact.is_business or invoice.total > SMALL_AMOUNT or invoice.tax_treatment == TaxTreatment.REVERSE_CHARGE
    if needs_address and not contact.has_address:
        problems.append(_("%(contact)s has no complete postal address (street, postal code, city).") % {
            "contact": contact.name})
    if invoice.tax_treatment == TaxTreatment.REVERSE_CHARGE and not contact.vat_id:
        problems.append(_("Reverse charge needs the VAT ID of %(contact)s.") % {"contact": contact.name})
    profile = business.get_profile()
    if invoice.tax_treatment == TaxTreatment.REVERSE_CHARGE and not profile.vat_id:
        problems.append(_("Reverse charge needs your own VAT ID in the business profile."))
    if contact.is_business:
        # The e-invoice (XRechnung) a business customer gets names the seller's phone (BR-DE-6; its
        # email falls back to the sending address).
        if not profile.phone:
            problems.append(_("An e-invoice to a business customer needs your phone number in the business profile."))
    return problems


def send_invoice(*, invoice: Invoice, by=None, now: dt.datetime | None = None, deliver: bool = False) -> Invoice:
    """draft → sent. Fires `invoice_sent`. Refused while the invoice lacks what the law asks for
    (missing_for_sending); the seller and buyer are kept on the invoice as they are now.

    `deliver=True` emails it to the contact (the signal carries it; the email is written to the
    outbox in this transaction and sent by a worker). False marks it as sent, for an invoice handed
    over another way."""
    now = _now(now)
    with transaction.atomic():
        # Lock first, so line items cannot be removed between the check and the send.
        locked = Invoice.objects.select_for_update().select_related("contact").filter(pk=invoice.pk).first()
        if locked is None or locked.status != InvoiceStatus.DRAFT or locked.kind != InvoiceKind.INVOICE:
            raise _transition_refused(invoice, _("sent"))
        if not locked.items.exists():
            raise DomainError(_("Invoice %(number)s has no line items; add at least one before sending it.") % {
                "number": invoice.number})
        problems = missing_for_sending(locked)
        if problems:
            raise DomainError(_("Invoice %(number)s cannot be sent yet: %(problems)s") % {
                "number": invoice.number, "problems": " ".join(problems)})
        changed = Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.DRAFT).update(
            status=InvoiceStatus.SENT, sent_at=now, seller=business.snapshot(), buyer=locked.contact.snapshot(),
        )
        if changed != 1:  # pragma: no cover - the row lock makes this impossible
            raise _transition_refused(invoice, _("sent"))
        invoice.refresh_from_db()
        signals.invoice_sent.send(sender=Invoice, invoice=invoice, by=by, now=now, deliver=deliver)
    return invoice


def record_payment(
    *,
    invoice: Invoice,
    amount: Decimal | str | int,
    date: dt.date | None = None,
    method: str = PaymentMethod.BANK_TRANSFER,
    reference: str = "",
    by=None,
    now: dt.datetime | None = None,
) -> Payment:
    """Record a (partial) payment of a sent or overdue invoice; the one that covers it makes it paid.

    The invoice row is locked first, so two payments recorded at the same moment are added up one
    after the other: together they can never exceed the balance, and only one of them fires `paid`.
    """
    now = _now(now)
    try:
        amount = to_money(amount)
    except DomainError:
        # A closed invoice is refused for what it is, whatever the amount: "pay the balance" of a
        # paid invoice (0) must say "it is paid", not "the amount must be greater than zero".
        if Invoice.objects.filter(pk=invoice.pk).exclude(status__in=OPEN_STATUSES).exists():
            raise _transition_refused(invoice, _("paid")) from None
        raise
    date = date or business_today(now)
    check_date(date, field="date")
    if method not in PaymentMethod.values:
        raise DomainError(_("%(method)s is not a payment method.") % {"method": method}, field="method")
    if "\n" in reference or "\r" in reference:
        raise DomainError(_("The reference cannot contain line breaks."), field="reference")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status not in OPEN_STATUSES:
            raise _transition_refused(locked, _("paid"))
        if amount > locked.balance:
            raise DomainError(
                _("%(amount)s is more than the %(balance)s still due on invoice %(number)s.") % {
                    "amount": format_money(amount, locked.currency), "balance": format_money(locked.balance, locked.currency),
                    "number": locked.number},
                field="amount",
            )
        payment = Payment.objects.create(
            invoice=locked, amount=amount, date=date, method=method, reference=reference.strip(), created_by=by,
            created_at=now,
        )
        fully_paid = amount == locked.balance
        # Added in Python under the row lock: exact, where SQLite would add binary floats.
        updates: dict[str, Any] = {"amount_paid": locked.amount_paid + amount}
        if fully_paid:
            updates.update(status=InvoiceStatus.PAID, paid_at=now)
        changed = Invoice.objects.filter(pk=locked.pk, status=locked.status).update(**updates)
        if changed != 1:  # pragma: no cover - the row lock makes this impossible
            raise _transition_refused(locked, _("paid"))
        locked.refresh_from_db()
        payment.invoice = locked
        signals.payment_recorded.send(sender=Invoice, invoice=locked, payment=payment, by=by, now=now)
        if fully_paid:
            signals.invoice_paid.send(sender=Invoice, invoice=locked, payment=payment, by=by, now=now)
    _refresh(invoice, locked)
    return payment


def void_invoice(*, invoice: Invoice, by=None, now: dt.datetime | None = None, deliver: bool = False) -> Invoice:
    """draft, sent or overdue → void, when nothing has been paid on it.

    A draft was never given to anyone: it is only marked void. A sent invoice stays as it was sent
    and gets a credit note (Stornorechnung) that cancels it: a document of its own, with a number
    of its own series, the same lines and amounts, and a reference to the invoice (it is on
    `invoice.credit_note` afterwards). Fires `invoice_voided`, then `credit_note_issued`, which
    carries `deliver`: True emails the credit note to the contact (as send_invoice does).
    """
    now = _now(now)
    with transaction.atomic():
        changed = Invoice.objects.filter(
            pk=invoice.pk, kind=InvoiceKind.INVOICE, status__in=[InvoiceStatus.DRAFT, *OPEN_STATUSES], amount_paid=0
        ).update(status=InvoiceStatus.VOID, voided_at=now)
        if changed != 1:
            current = Invoice.objects.filter(pk=invoice.pk).first()
            if current and current.status in OPEN_STATUSES and current.amount_paid > 0:
                raise DomainError(_("Invoice %(number)s cannot be voided: payments of %(paid)s are recorded on it.") % {
                    "number": current.number, "paid": format_money(current.amount_paid, current.currency)})
            raise _transition_refused(invoice, _("voided"))
        invoice.refresh_from_db()
        signals.invoice_voided.send(sender=Invoice, invoice=invoice, by=by, now=now)
        if invoice.sent_at is not None:
            credit_note = _issue_credit_note(invoice, by=by, now=now)
            signals.credit_note_issued.send(sender=Invoice, invoice=credit_note, original=invoice, by=by, now=now,
                                            deliver=deliver)
    return invoice


def _issue_credit_note(original: Invoice, *, by, now: dt.datetime) -> Invoice:
    today = business_today(now)
    credit_note = Invoice.objects.create(
        kind=InvoiceKind.CREDIT_NOTE, credit_for=original, number=reserve_credit_note_numbers(year=today.year)[0],
        contact_id=original.contact_id, status=InvoiceStatus.ISSUED, issue_date=today, due_date=today,
        currency=original.currency, service_date=original.service_date or original.issue_date,
        service_end=original.service_end, tax_treatment=original.tax_treatment,
        subtotal=original.subtotal, tax_total=original.tax_total, total=original.total,
        notes=_("Cancels invoice %(number)s of %(date)s.") % {
            "number": original.number, "date": formats.date_format(original.issue_date, "SHORT_DATE_FORMAT")},
        seller=business.snapshot(), buyer=original.buyer, created_by=by, created_at=now, sent_at=now,
    )
    LineItem.objects.bulk_create([
        LineItem(invoice=credit_note, position=item.position, description=item.description, quantity=item.quantity,
                 unit_price=item.unit_price, tax_rate=item.tax_rate)
        for item in original.items.order_by("position", "pk")
    ])
    return credit_note


def change_due_date(*, invoice: Invoice, due_date: dt.date, by=None, now: dt.datetime | None = None) -> Invoice:
    """Give a sent or overdue invoice a new due date (more time to pay, Zahlungsziel verlängert).
    An overdue invoice whose new date has not passed is open again ("sent"); the reminder schedules
    start again from the new date (their progress is per due date)."""
    check_date(due_date, field="due_date")
    today = business_today(now)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().filter(pk=invoice.pk, kind=InvoiceKind.INVOICE).first()
        if locked is None or locked.status not in OPEN_STATUSES:
            raise _transition_refused(invoice, _("given a new due date"))
        if due_date < locked.issue_date:
            raise DomainError(_("The due date cannot be before the issue date."), field="due_date")
        updates: dict[str, Any] = {"due_date": due_date}
        if locked.status == InvoiceStatus.OVERDUE and due_date >= today:
            updates.update(status=InvoiceStatus.SENT, overdue_at=None)
        Invoice.objects.filter(pk=locked.pk).update(**updates)
    invoice.refresh_from_db()
    return invoice


# --- Pausing reminders (Mahnstopp) --------------------------------------------------------------


def pause_reminders(*, target: Contact | Invoice, reason: str, until: dt.date | None = None, by=None,
                    now: dt.datetime | None = None) -> Contact | Invoice:
    """No payment reminders for this invoice (or any invoice of this contact) until `until` (that
    day included) or until resumed. The reason is shown wherever a reminder is skipped for it."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Say why the reminders are paused (e.g. “customer disputes the amount”)."), field="reason")
    if until is not None:
        check_date(until, field="until")
        if until < business_today(now):
            raise DomainError(_("The pause cannot end in the past."), field="until")
    model = type(target)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=target.pk)
        locked.reminders_paused, locked.reminders_paused_until, locked.reminders_pause_reason = True, until, reason
        validate(locked, exclude=[f.name for f in model._meta.concrete_fields
                                  if f.name not in ("reminders_pause_reason", "reminders_paused_until")])
        model.objects.filter(pk=target.pk).update(reminders_paused=True, reminders_paused_until=until,
                                                 reminders_pause_reason=reason)
    target.reminders_paused, target.reminders_paused_until, target.reminders_pause_reason = True, until, reason
    return target


def resume_reminders(*, target: Contact | Invoice, by=None) -> Contact | Invoice:
    type(target).objects.filter(pk=target.pk).update(reminders_paused=False, reminders_paused_until=None,
                                                     reminders_pause_reason="")
    target.reminders_paused, target.reminders_paused_until, target.reminders_pause_reason = False, None, ""
    return target


def reminder_pause_reason(invoice: Invoice, *, today: dt.date) -> str:
    """Why no reminder goes out for this invoice today ("" when none is paused)."""
    for paused, label in ((invoice, _("reminders for this invoice are paused")),
                          (invoice.contact, _("reminders for this contact are paused"))):
        if paused.reminders_paused and (paused.reminders_paused_until is None or paused.reminders_paused_until >= today):
            until = (_(" until %(date)s") % {"date": formats.date_format(paused.reminders_paused_until, "SHORT_DATE_FORMAT")}
                     if paused.reminders_paused_until else "")
            return f"{label}{until}: {paused.reminders_pause_reason}"
    return ""


# --- Reminder fees and default interest (dunning) ---------------------------------------------


def charge_reminder_fee(*, invoice: Invoice, amount: Decimal | str, key: str, by=None,
                        now: dt.datetime | None = None) -> Invoice:
    """A reminder fee for an overdue invoice, as an invoice of its own (sent at once; the overdue
    invoice is never changed). Once per `key` (e.g. the reminder level): charging the same key
    again returns the fee invoice made the first time."""
    amount = to_money(amount)
    with translation.override(invoice.contact.language):
        line = {"description": _("Reminder fee for invoice %(number)s") % {"number": invoice.number},
                "quantity": "1", "unit_price": amount, "tax_rate": "0"}
    return _fee_invoice(invoice, key=f"fee:{key}", items=[line], by=by, now=now)


def charge_default_interest(*, invoice: Invoice, key: str, until: dt.date | None = None, by=None,
                            now: dt.datetime | None = None) -> Invoice | None:
    """Default interest (§ 288 BGB, invoices.interest) on an overdue invoice up to `until` (today),
    from the day after the due date or after the last interest already charged; for a business
    customer the flat 40 EUR once per invoice (EUR invoices). An invoice of its own, sent at once;
    once per `key`. None when nothing is owed (paid meanwhile, no days yet)."""
    until = until or business_today(now)
    contact = invoice.contact
    charged = (Invoice.objects.filter(fee_for=invoice, fee_key__startswith="interest:")
               .exclude(fee_key=f"interest:{key}").order_by("-service_end").values_list("service_end", flat=True).first())
    start = max(invoice.due_date + dt.timedelta(days=1), (charged or dt.date.min) + dt.timedelta(days=1))
    periods = interest_periods(
        total=invoice.total, payments=list(invoice.payments.values_list("date", "amount")), start=start, end=until,
        base_rates=list(BaseRate.objects.values_list("valid_from", "rate")), business=contact.is_business,
    )
    flat_fee = (contact.is_business and invoice.currency == "EUR"
                and not Invoice.objects.filter(fee_for=invoice, fee_key__startswith="interest:")
                .exclude(fee_key=f"interest:{key}").filter(items__description__startswith=FLAT_FEE_MARK).exists())
    lines = []
    with translation.override(contact.language):
        for period in periods:
            if period.amount <= 0:
                continue
            lines.append({"description": _(
                "Default interest on invoice %(number)s: %(rate)s %% a year on %(balance)s from %(start)s to %(end)s "
                "(%(days)d days)") % {
                    "number": invoice.number, "rate": formats.number_format(period.rate, 2),
                    "balance": format_money(period.balance, invoice.currency),
                    "start": formats.date_format(period.start, "SHORT_DATE_FORMAT"),
                    "end": formats.date_format(period.end, "SHORT_DATE_FORMAT"), "days": period.days},
                "quantity": "1", "unit_price": period.amount, "tax_rate": "0"})
        if flat_fee and lines:
            lines.append({"description": f"{FLAT_FEE_MARK} " + _("Flat-rate default charge (§ 288 (5) BGB)"),
                          "quantity": "1", "unit_price": FLAT_FEE, "tax_rate": "0"})
    if not lines:
        return None
    return _fee_invoice(invoice, key=f"interest:{key}", items=lines, by=by, now=now,
                        period=(periods[0].start, periods[-1].end))


# Marks the flat-rate line, so it is charged once per invoice whatever its text in either language.
FLAT_FEE_MARK = "§ 288 (5)"


def _fee_invoice(invoice: Invoice, *, key: str, items: list[dict[str, Any]], by, now: dt.datetime | None,
                 period: tuple[dt.date, dt.date] | None = None) -> Invoice:
    existing = Invoice.objects.filter(fee_for=invoice, fee_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            fee = create_invoice(
                contact=invoice.contact, items=items, currency=invoice.currency, by=by, now=now,
                tax_treatment=TaxTreatment.STANDARD if invoice.tax_treatment == TaxTreatment.STANDARD else invoice.tax_treatment,
                service_date=period[0] if period else None, service_end=period[1] if period else None,
            )
            Invoice.objects.filter(pk=fee.pk).update(fee_for=invoice, fee_key=key)
            fee.fee_for, fee.fee_key = invoice, key
            send_invoice(invoice=fee, by=by, now=now)
    except IntegrityError:  # charged by another worker at this moment: theirs is the one
        return Invoice.objects.get(fee_for=invoice, fee_key=key)
    return fee


@dataclass(frozen=True)
class OverdueInvoice:
    id: int
    contact_id: int
    due_date: dt.date


class OverdueBatch(Sequence[OverdueInvoice]):
    """The invoices one batch of the overdue scan flipped, held by the database.

    `table` is a temporary table (id, contact_id, due_date) with exactly these rows. A receiver of
    `invoices_overdue` reads it set-based in the sender's transaction (`INSERT … SELECT … FROM
    batch.table`), so no row has to travel to Python and back. Iterating the batch reads the rows
    into Python; like the table, that works only inside the transaction that sent it.
    """

    table = "invoices_overdue_batch"

    def __init__(self, size: int) -> None:
        self.size = size  # not `count`: that is Sequence.count(value)
        self.open = True  # False once the transaction has ended and the table is gone or reused
        self._rows: list[OverdueInvoice] | None = None

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> OverdueInvoice: ...

    @overload
    def __getitem__(self, index: slice) -> list[OverdueInvoice]: ...

    def __getitem__(self, index: int | slice) -> OverdueInvoice | list[OverdueInvoice]:
        return self._load()[index]

    def __iter__(self) -> Iterator[OverdueInvoice]:
        return iter(self._load())

    def _load(self) -> list[OverdueInvoice]:
        if self._rows is None:
            if not self.open:
                raise RuntimeError("An OverdueBatch can be read only inside the transaction that sent it.")
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT id, contact_id, due_date FROM {self.table} ORDER BY id")
                self._rows = [OverdueInvoice(id=r[0], contact_id=r[1], due_date=_as_date(r[2])) for r in cursor.fetchall()]
        return self._rows

    def __repr__(self) -> str:
        return f"<OverdueBatch of {self.size} invoice(s)>"


def mark_overdue(*, now: dt.datetime | None = None, batch_size: int = 10_000) -> int:
    """Every sent invoice whose due date has passed (in the business time zone) becomes overdue.

    Set-based and in batches, each in its own transaction: one `UPDATE … RETURNING` flips the
    batch into the temporary table of an `OverdueBatch`, and `invoices_overdue` is sent with it,
    so receivers write what they need from it in the database. On PostgreSQL no row comes to
    Python, so memory stays flat however many invoices there are and whatever the batch size.

    The batch is found through the partial index of sent invoices by due date, in due-date order,
    starting at the last due date the previous batch flipped (the rows before it are flipped
    already: the index would walk over them again). Two scans at the same moment cannot flip a
    row twice: the outer `status = 'sent'` is checked again on the locked row, and the loser's
    UPDATE skips it. Returns how many invoices were marked.
    """
    now = _now(now)
    today = business_today(now)
    table = Invoice._meta.db_table
    batch = OverdueBatch.table
    due = (
        f"SELECT id FROM {table} WHERE status = %s AND due_date < %s AND due_date >= %s ORDER BY due_date LIMIT %s"
    )
    if connection.vendor == "postgresql":
        # ARRAY(…) makes the outer UPDATE a primary-key lookup per id instead of a join; the flipped
        # rows go straight into the batch table, in the server.
        create = f"CREATE TEMP TABLE IF NOT EXISTS {batch} (id bigint, contact_id bigint, due_date date) ON COMMIT DROP"
        flip = (
            f"WITH flipped AS ("
            f"  UPDATE {table} SET status = %s, overdue_at = %s WHERE status = %s AND id = ANY(ARRAY({due}))"
            f"  RETURNING id, contact_id, due_date"
            f"), kept AS (INSERT INTO {batch} (id, contact_id, due_date) SELECT id, contact_id, due_date FROM flipped) "
            f"SELECT count(*), max(due_date) FROM flipped"
        )
    else:
        # SQLite cannot feed RETURNING into an INSERT: the rows pass through Python here.
        create = f"CREATE TEMP TABLE IF NOT EXISTS {batch} (id integer, contact_id integer, due_date date)"
        flip = (
            f"UPDATE {table} SET status = %s, overdue_at = %s WHERE status = %s AND id IN ({due}) "
            f"RETURNING id, contact_id, due_date"
        )
    marked = 0
    since = dt.date.min
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(create)
            cursor.execute(f"DELETE FROM {batch}")  # a batch before this one in the same transaction
            params = [InvoiceStatus.OVERDUE, db_datetime(now), InvoiceStatus.SENT, InvoiceStatus.SENT, today, since, batch_size]
            cursor.execute(flip, params)
            if connection.vendor == "postgresql":
                count, last_due = cursor.fetchone()
            else:
                rows = cursor.fetchall()
                cursor.executemany(f"INSERT INTO {batch} (id, contact_id, due_date) VALUES (%s, %s, %s)", rows)
                count, last_due = len(rows), max((r[2] for r in rows), default=None)
            if count:
                since = _as_date(last_due)
                flipped = OverdueBatch(count)
                try:
                    signals.invoices_overdue.send(sender=Invoice, invoices=flipped, now=now)
                finally:
                    flipped.open = False
        marked += count
        if count < batch_size:
            return marked


def _as_date(value: Any) -> dt.date:
    # SQLite returns dates from a raw cursor as text.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


# --- Recurring payments -----------------------------------------------------------------------

STEP: dict[str, Callable[[int], relativedelta]] = {
    Interval.WEEKLY: lambda n: relativedelta(weeks=n),
    Interval.MONTHLY: lambda n: relativedelta(months=n),
    Interval.YEARLY: lambda n: relativedelta(years=n),
}


def period_start(plan: RecurringPayment, n: int) -> dt.date:
    """The start of the plan's n-th period (0-based), counted from the start date so that a plan
    starting on the 31st bills on the last day of shorter months and the 31st again after."""
    return plan.start_date + STEP[plan.interval](n)


def create_recurring(
    *,
    contact: Contact,
    description: str,
    amount: Decimal | str,
    start_date: dt.date,
    interval: str = Interval.MONTHLY,
    end_date: dt.date | None = None,
    currency: str | None = None,
    tax_rate: Decimal | str = "0",
    payment_terms_days: int | None = None,
    by=None,
) -> RecurringPayment:
    check_date(start_date, field="start_date")
    check_date(end_date, field="end_date")
    plan = RecurringPayment(
        contact=contact, description=description.strip(), amount=to_money(amount), start_date=start_date,
        interval=interval, end_date=end_date, currency=(currency or settings.DEFAULT_CURRENCY).strip().upper(),
        tax_rate=to_rate(tax_rate),
        payment_terms_days=settings.DEFAULT_PAYMENT_TERMS_DAYS if payment_terms_days is None else payment_terms_days,
        created_by=by,
    )
    validate(plan, exclude=["contact", "created_by"])
    plan.save()
    return plan


def _plan_refused(plan: RecurringPayment, action: str) -> DomainError:
    current = RecurringPayment.objects.filter(pk=plan.pk).values_list("status", flat=True).first()
    status = RecurringStatus(current).label if current else _("deleted")
    return DomainError(_("The recurring payment cannot be %(action)s: it is %(status)s.") % {
        "action": action, "status": status})


def start_recurring(*, plan: RecurringPayment, by=None, now: dt.datetime | None = None) -> RecurringPayment:
    """scheduled → active. Starting before the start date starts it today. Fires
    `recurring_started`, then issues the first period's invoice (which fires `invoice_sent`)."""
    _start(plan, by=by, now=_now(now))
    return plan


def _start(plan: RecurringPayment, *, by, now: dt.datetime) -> int:
    """Start the plan and issue its due invoices; returns how many were issued."""
    today = business_today(now)
    with transaction.atomic():
        locked = RecurringPayment.objects.select_for_update().get(pk=plan.pk)
        start = min(locked.start_date, today)
        changed = RecurringPayment.objects.filter(pk=plan.pk, status=RecurringStatus.SCHEDULED).update(
            status=RecurringStatus.ACTIVE, started_at=now, start_date=start, next_date=start
        )
        if changed != 1:
            raise _plan_refused(plan, _("started"))
        locked.refresh_from_db()
        signals.recurring_started.send(sender=RecurringPayment, plan=locked, by=by, now=now)
        issued = _issue_due_periods(locked, now=now)
    _refresh(plan, locked)
    return issued


def cancel_recurring(*, plan: RecurringPayment, by=None, now: dt.datetime | None = None) -> RecurringPayment:
    """scheduled or active → canceled; no further invoices. Fires `recurring_canceled`."""
    now = _now(now)
    with transaction.atomic():
        changed = RecurringPayment.objects.filter(
            pk=plan.pk, status__in=[RecurringStatus.SCHEDULED, RecurringStatus.ACTIVE]
        ).update(status=RecurringStatus.CANCELED, canceled_at=now)
        if changed != 1:
            raise _plan_refused(plan, _("canceled"))
        plan.refresh_from_db()
        signals.recurring_canceled.send(sender=RecurringPayment, plan=plan, by=by, now=now)
    return plan


def _issue_due_periods(plan: RecurringPayment, *, now: dt.datetime) -> int:
    """Issue and send the invoice of every period of an active plan that has begun by today.

    Each period advances `next_date` with a compare-and-swap on its old value, and the invoice is
    unique per (plan, period start): two schedulers running at once issue each period once.
    """
    today = business_today(now)
    issued = 0
    while True:
        with transaction.atomic():
            plan.refresh_from_db()
            if plan.status != RecurringStatus.ACTIVE or plan.next_date is None:
                return issued
            start = plan.next_date
            if plan.end_date and start > plan.end_date:
                # The last period has been invoiced: the plan is finished.
                if RecurringPayment.objects.filter(pk=plan.pk, status=RecurringStatus.ACTIVE, next_date=start).update(
                    status=RecurringStatus.ENDED, ended_at=now
                ):
                    plan.refresh_from_db()
                    signals.recurring_ended.send(sender=RecurringPayment, plan=plan, by=None, now=now)
                return issued
            if start > today:
                return issued
            following = period_start(plan, plan.periods_issued + 1)
            advanced = RecurringPayment.objects.filter(
                pk=plan.pk, status=RecurringStatus.ACTIVE, next_date=start
            ).update(next_date=following, periods_issued=F("periods_issued") + 1)
            if advanced != 1:
                continue  # another scheduler took this period; look again
            try:
                with transaction.atomic():
                    invoice = create_invoice(
                        contact=plan.contact,
                        items=[{"description": plan.description, "quantity": 1, "unit_price": plan.amount,
                                "tax_rate": plan.tax_rate}],
                        issue_date=today, due_date=today + dt.timedelta(days=plan.payment_terms_days),
                        currency=plan.currency, now=now, recurring=plan, period_start=start,
                    )
            except IntegrityError:
                continue  # already issued for this period
            # Emailed to a contact with an address; the others get theirs another way.
            send_invoice(invoice=invoice, now=now, deliver=bool(invoice.contact.email.strip()))
            issued += 1


def issue_recurring_invoices(*, now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """The recurring schedule's pass: start plans whose start date has come, issue every due
    period's invoice, end plans past their end date. Safe to run twice at once. Returns the
    number of invoices issued.

    The plans are read a batch of ids at a time, never through an open cursor: each plan's
    commit wakes the automations' dispatcher, and django-q2's database broker closes the
    connection before it enqueues (with CONN_MAX_AGE=0), which would close a cursor still being
    read ("Cannot operate on a closed database" on SQLite, the rest of the pass lost)."""
    now = _now(now)
    today = business_today(now)
    issued = 0
    scheduled = RecurringPayment.objects.filter(status=RecurringStatus.SCHEDULED, start_date__lte=today)
    for plan in _in_batches(scheduled, batch_size):
        try:
            issued += _start(plan, by=None, now=now)  # issues its first invoice too
        except DomainError as exc:
            # Started or canceled meanwhile by someone else, or its first invoice cannot be sent yet
            # (then it stays scheduled and the next pass tries again).
            log.info("Recurring payment %s not started: %s", plan.pk, exc.message)
    due = RecurringPayment.objects.filter(
        Q(next_date__lte=today) | Q(end_date__isnull=False, next_date__gt=F("end_date")),
        status=RecurringStatus.ACTIVE,
    )
    for plan in _in_batches(due, batch_size):
        try:
            issued += _issue_due_periods(plan, now=now)
        except DomainError as exc:
            # Its invoice cannot be sent yet (the profile or the customer's address is missing):
            # nothing of the period was kept, the next pass tries again.
            log.warning("Recurring payment %s: %s", plan.pk, exc.message)
    return issued


def _in_batches(plans: QuerySet[RecurringPayment], size: int) -> Iterator[RecurringPayment]:
    """The plans in id order, fetched `size` at a time (each batch read whole before it is used)."""
    after = 0
    while True:
        batch = list(plans.filter(pk__gt=after).order_by("pk")[:size])
        yield from batch
        if len(batch) < size:
            return
        after = batch[-1].pk
