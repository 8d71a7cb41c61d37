"""The dashboard's figures, each from a few grouped queries whatever the number of invoices."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, DateField, F, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from business import services as business
from core.money import sum_to_cents
from invoices.models import Invoice, InvoiceKind, InvoiceStatus, Payment

CHART_DAYS = 90


def dashboard_amounts(*, today: dt.date) -> list[dict[str, Any]]:
    """Open, overdue and paid-this-month amounts per currency, from three grouped aggregates.

    Overdue means open (sent or overdue) with a due date before today, whether or not the overdue
    scan has flipped its status yet; paid this month is the payments dated in this month.
    """
    balance = F("total") - F("amount_paid")
    open_rows = (
        Invoice.objects.filter(status__in=[InvoiceStatus.SENT, InvoiceStatus.OVERDUE])
        .values("currency")
        .annotate(
            open_amount=Sum(balance), open_count=Count("pk"),
            overdue_amount=Sum(balance, filter=Q(due_date__lt=today)),
            overdue_count=Count("pk", filter=Q(due_date__lt=today)),
        )
        .order_by()
    )
    paid_rows = (
        Payment.objects.filter(date__gte=today.replace(day=1), date__lte=today)
        .values(currency=F("invoice__currency"))
        .annotate(paid_amount=Sum("amount"), paid_count=Count("invoice", distinct=True))
        .order_by()
    )
    by_currency: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "open_amount": Decimal("0.00"), "open_count": 0, "overdue_amount": Decimal("0.00"), "overdue_count": 0,
        "paid_amount": Decimal("0.00"), "paid_count": 0,
    })
    for row in open_rows:
        entry = by_currency[row["currency"]]
        entry.update(open_amount=sum_to_cents(row["open_amount"]), open_count=row["open_count"],
                     overdue_amount=sum_to_cents(row["overdue_amount"]), overdue_count=row["overdue_count"])
    for row in paid_rows:
        entry = by_currency[row["currency"]]
        entry.update(paid_amount=sum_to_cents(row["paid_amount"]), paid_count=row["paid_count"])
    return [{"currency": code, **values} for code, values in sorted(by_currency.items(), key=_currency_order)]


def _currency_order(item: tuple[str, Any]) -> tuple[int, str]:
    return (0 if item[0] == settings.DEFAULT_CURRENCY else 1, item[0])


def overdue_series(*, today: dt.date, days: int = CHART_DAYS) -> tuple[list[dt.date], dict[str, list[Decimal]]]:
    """The amount overdue at the end of each of the last `days` days, per currency.

    An invoice is overdue on day d when it was sent by d, its due date is before d, and it was
    neither paid nor voided by d; what counts is its balance on d (the total less the payments
    dated by d). That is a sum of intervals, so SQL adds up the amounts by the days each interval
    starts and ends, and Python adds the per-day changes up over the days:

    - an invoice adds its total from max(due date + 1, sent day) until its paid or void day;
    - a payment on it takes its amount off from max(that start, payment date) until the paid day.

    An invoice paid or voided on or before its due date was never overdue and is left out. Two
    grouped queries (one scan of the invoices, one of the payments) whatever the number of
    invoices; the days before the window are folded into its first day, so the rows stay few.
    """
    first = today - dt.timedelta(days=days - 1)
    before = first - dt.timedelta(days=1)
    window_start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    deltas: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))

    def add(currency: str, day: dt.date, amount: Any) -> None:
        deltas[currency][max(day, first)] += Decimal(amount or 0)

    def overdue_at_some_point(prefix: str = "") -> Q:
        f = lambda name: prefix + name
        return (
            # Credit notes are sent too, but nobody owes them.
            Q(**{f("sent_at__isnull"): False, f("due_date__lt"): today, f("kind"): InvoiceKind.INVOICE})
            # Ended before the window: its start and end would cancel out anyway.
            & ~Q(**{f("paid_at__lt"): window_start}) & ~Q(**{f("voided_at__lt"): window_start})
            & (Q(**{f("paid_at__isnull"): True}) | Q(paid_day__gt=F(f("due_date"))))
            & (Q(**{f("voided_at__isnull"): True}) | Q(void_day__gt=F(f("due_date"))))
        )

    def clamped_due(field: str) -> Case:
        return Case(When(**{f"{field}__lt": before}, then=Value(before)), default=F(field), output_field=DateField())

    def late(day: str, due: str) -> Case:
        """`day` when it is after the due date and inside the window (it then sets the start)."""
        return Case(When(Q(**{f"{day}__gt": F(due)}) & Q(**{f"{day}__gt": first}), then=F(day)), output_field=DateField())

    def start(row: dict[str, Any], *lates: str) -> dt.date:
        return max([row["due"] + dt.timedelta(days=1)] + [row[name] for name in lates if row[name]])

    # Invoices: + total where they become overdue, - total where they are paid or voided.
    invoices = (
        Invoice.objects.annotate(sent_day=TruncDate("sent_at"), paid_day=TruncDate("paid_at"), void_day=TruncDate("voided_at"))
        .filter(overdue_at_some_point())
        .values("currency", "paid_day", "void_day", due=clamped_due("due_date"), sent_late=late("sent_day", "due_date"))
        .annotate(amount=Sum("total"))
        .order_by()
    )
    for row in invoices:
        add(row["currency"], start(row, "sent_late"), row["amount"])
        if row["paid_day"] or row["void_day"]:
            add(row["currency"], row["paid_day"] or row["void_day"], -Decimal(row["amount"] or 0))

    # Payments on them: - amount from where they count, + amount back where the invoice is paid
    # (its whole total comes off there). A payment dated after the invoice was marked paid
    # changed nothing while it was overdue.
    payments = (
        Payment.objects.annotate(
            sent_day=TruncDate("invoice__sent_at"), paid_day=TruncDate("invoice__paid_at"),
            void_day=TruncDate("invoice__voided_at"),
        )
        .filter(overdue_at_some_point("invoice__"))
        .filter(Q(invoice__paid_at__isnull=True) | Q(date__lte=F("paid_day")))
        .values(
            "paid_day", currency=F("invoice__currency"), due=clamped_due("invoice__due_date"),
            sent_late=late("sent_day", "invoice__due_date"), paid_late=late("date", "invoice__due_date"),
        )
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for row in payments:
        add(row["currency"], start(row, "sent_late", "paid_late"), -Decimal(row["amount"] or 0))
        if row["paid_day"]:
            add(row["currency"], row["paid_day"], row["amount"])

    labels = [first + dt.timedelta(days=n) for n in range(days)]
    series: dict[str, list[Decimal]] = {}
    for currency, changes in sorted(deltas.items()):
        running, values = Decimal("0"), []
        for day in labels:
            running += changes.get(day, Decimal("0"))
            values.append(sum_to_cents(running))
        if any(values):
            series[currency] = values
    return labels, series


def setup_checklist() -> list[dict[str, Any]] | None:
    """The first-run checklist of the business profile: what an invoice needs (§ 14 UStG) and what
    makes it better, each done or not, with the place on the settings page to fill it in. None once
    invoices can be sent (business.services.missing_for_invoices has nothing left)."""
    profile = business.get_profile()
    if not business.missing_for_invoices(profile):
        return None
    url = reverse("business:profile")
    items = [
        (_("Your business's legal name and address"), "id_legal_name", True,
         all(getattr(profile, name) for name in ("legal_name", "street", "postal_code", "city", "country"))),
        (_("Your tax number or VAT ID"), "id_tax_number", True, bool(profile.tax_number or profile.vat_id)),
        (_("Your bank account (IBAN), for the payment details and the QR code on the invoice"), "id_iban", False,
         bool(profile.iban)),
        (_("Your phone number, which e-invoices to business customers need"), "id_phone", False, bool(profile.phone)),
        (_("Your logo"), "logo", False, bool(profile.logo)),
    ]
    return [{"label": label, "href": f"{url}#{anchor}", "required": required, "done": done}
            for label, anchor, required, done in items]
