"""The small-business pages: dashboard, invoices, contacts, recurring payments.

Views read with aggregates in SQL and change state only through `invoices.services`. A refusal
(DomainError) is shown at the field it names, or as a message; never as a server error. Every
POST redirects, so reloading a page never submits twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from automations.health import waiting_events
from automations.models import Event, Run
from automations.triggers import EVENT_LABELS
from tasks.models import Task, TaskStatus

from . import services
from .errors import DomainError
from .forms import (
    ContactForm,
    InvoiceFilterForm,
    InvoiceForm,
    PaymentForm,
    RecurringForm,
    SearchForm,
    add_domain_error,
    invoice_initial,
    line_item_formset,
)
from .models import (
    CENT,
    Contact,
    Invoice,
    InvoiceStatus,
    Payment,
    RecurringPayment,
    RecurringStatus,
)
from .public import invoice_for_token, public_url, revoke_public_links
from .templatetags.money import money as format_money

PAGE_SIZE = 25
CHART_DAYS = 90


def url_or(name: str, args: list | None = None, fallback: str = "") -> str:
    """The URL of a page another app provides, or `fallback` while that page does not exist yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def automation_url(pk: int) -> str:
    return url_or("automations:automation-detail", [pk], f"/automations/{pk}/")


def paginate(request: HttpRequest, queryset: QuerySet, *, count: int | None = None) -> Page:
    paginator = Paginator(queryset, PAGE_SIZE)
    if count is not None:
        paginator.count = count  # already counted with the filter pills: save a COUNT(*)
    return paginator.get_page(request.GET.get("page"))


# --- Public page (customer, no login) ---------------------------------------------------------


@require_safe
@never_cache
def public_invoice(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's read-only view of one invoice, reached only by its signed link."""
    invoice = invoice_for_token(token)
    if invoice is None:
        raise Http404("No invoice here.")
    response = render(request, "invoices/public_invoice.html", {
        "invoice": invoice, "items": invoice.items.all(), "payments": invoice.payments.all(),
    })
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- Dashboard --------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    # SQLite adds decimals as binary floats: round the sums back to cents.
    return Decimal(value or 0).quantize(CENT)


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
        entry.update(open_amount=_money(row["open_amount"]), open_count=row["open_count"],
                     overdue_amount=_money(row["overdue_amount"]), overdue_count=row["overdue_count"])
    for row in paid_rows:
        entry = by_currency[row["currency"]]
        entry.update(paid_amount=_money(row["paid_amount"]), paid_count=row["paid_count"])
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
            Q(**{f("sent_at__isnull"): False, f("due_date__lt"): today})
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
            values.append(_money(running))
        if any(values):
            series[currency] = values
    return labels, series


def dashboard(request: HttpRequest) -> HttpResponse:
    today = services.business_today()
    labels, series = overdue_series(today=today)
    chart = {
        "labels": [day.isoformat() for day in labels],
        "datasets": [{"currency": code, "values": [str(v) for v in values]} for code, values in series.items()],
    }
    runs = list(
        Run.objects.select_related("automation", "contact", "event", "event__invoice")
        .order_by("-created_at", "-pk")[:10]
    )
    for run in runs:
        run.automation_url = automation_url(run.automation_id)
    tasks = (
        Task.objects.filter(Q(assignee=request.user) | Q(assignee__isnull=True), status=TaskStatus.OPEN)
        .select_related("assignee", "contact", "invoice")
        .order_by(F("due_date").asc(nulls_last=True), "pk")[:10]
    )
    return render(request, "dashboard.html", {
        "today": today,
        "amounts": dashboard_amounts(today=today),
        "chart": chart,
        "chart_days": CHART_DAYS,
        "runs": runs,
        "tasks": tasks,
        "task_list_url": url_or("tasks:task-list"),
        "automations_url": url_or("automations:automation-list"),
        "default_currency": settings.DEFAULT_CURRENCY,
        # Owners are told when events wait for a worker that is down or stuck.
        "waiting_events": waiting_events() if request.user.has_perm("automations.change_automation") else None,
    })


# --- Invoices ---------------------------------------------------------------------------------

# Not a pill: the dashboard's "Open" card links here (sent and overdue together).
OPEN = "open"
STATUS_FILTERS = [
    ("", gettext_lazy("All")),
    (InvoiceStatus.DRAFT, gettext_lazy("Draft")),
    (InvoiceStatus.SENT, gettext_lazy("Sent")),
    (InvoiceStatus.OVERDUE, gettext_lazy("Overdue")),
    (InvoiceStatus.PAID, gettext_lazy("Paid")),
    (InvoiceStatus.VOID, gettext_lazy("Void")),
]


def search_contacts(contacts: QuerySet[Contact], word: str) -> QuerySet[Contact]:
    return contacts.filter(
        Q(name__icontains=word) | Q(email__icontains=word) | Q(company__icontains=word) | Q(phone__icontains=word)
    )


def search_invoices(invoices: QuerySet[Invoice], q: str) -> QuerySet[Invoice]:
    """Every word must match the number or the contact's name, email or company.

    The contacts are searched first (a small table) and the invoices picked by contact through
    their index, instead of joining every invoice to its contact; the number is only searched for
    words with a digit in them.
    """
    for word in q.split()[:5]:
        matches = Q(contact__in=search_contacts(Contact.objects.all(), word).values("pk"))
        if any(ch.isdigit() for ch in word):
            matches |= Q(number__icontains=word)
        invoices = invoices.filter(matches)
    return invoices


def invoice_list(request: HttpRequest) -> HttpResponse:
    filters = InvoiceFilterForm(request.GET)
    filters.is_valid()
    q = (filters.cleaned_data.get("q") or "").strip()
    status = filters.cleaned_data.get("status") or ""
    if status not in InvoiceStatus.values and status != OPEN:
        status = ""
    contact_id = filters.cleaned_data.get("contact")
    contact = Contact.objects.filter(pk=contact_id).first() if contact_id else None

    invoices = Invoice.objects.all()
    if contact is not None:
        invoices = invoices.filter(contact=contact)
    if q:
        invoices = search_invoices(invoices, q)
    counts = dict(invoices.order_by().values_list("status").annotate(n=Count("pk")))
    total = sum(counts.values())
    counts[OPEN] = counts.get(InvoiceStatus.SENT, 0) + counts.get(InvoiceStatus.OVERDUE, 0)
    if status == OPEN:
        invoices = invoices.filter(status__in=[InvoiceStatus.SENT, InvoiceStatus.OVERDUE])
    elif status:
        invoices = invoices.filter(status=status)
    page = paginate(request, invoices.select_related("contact"), count=counts.get(status, 0) if status else total)

    params = request.GET.copy()
    params.pop("page", None)
    pills = []
    for value, label in STATUS_FILTERS:
        params["status"] = value
        if not value:
            params.pop("status")
        pills.append({"value": value, "label": label, "count": counts.get(value, 0) if value else total,
                      "query": params.urlencode(), "active": value == status})
    return render(request, "invoices/invoice_list.html", {
        "page_obj": page, "invoices": page.object_list, "q": q, "status": status, "contact": contact,
        "pills": pills, "today": services.business_today(),
    })


def _invoice_form_context(form: InvoiceForm, formset, invoice: Invoice | None = None) -> dict[str, Any]:
    return {"form": form, "formset": formset, "invoice": invoice}


SAVED_INVOICE_FORMS = "invoices.saved_invoice_forms"


def invoice_create(request: HttpRequest) -> HttpResponse:
    """A form sent twice (a double click, the back button) saves one draft and shows it."""
    if request.method == "POST":
        nonce = request.POST.get("nonce", "")[:64]
        saved = request.session.get(SAVED_INVOICE_FORMS, {})
        if nonce and Invoice.objects.filter(pk=saved.get(nonce)).exists():
            messages.warning(request, _("This invoice has already been saved."))
            return redirect("invoices:invoice-detail", pk=saved[nonce])
        form = InvoiceForm(request.POST)
        formset = line_item_formset(data=request.POST)
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                invoice = services.create_invoice(
                    contact=data["contact"], items=formset.items(), issue_date=data["issue_date"],
                    due_date=data["due_date"], currency=data["currency"], notes=data["notes"], by=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                if nonce:
                    request.session[SAVED_INVOICE_FORMS] = dict([*saved.items(), (nonce, invoice.pk)][-20:])
                messages.success(request, _("Invoice %(number)s saved as a draft.") % {"number": invoice.number})
                return redirect("invoices:invoice-detail", pk=invoice.pk)
    else:
        initial = {**invoice_initial(today=services.business_today()), "nonce": uuid.uuid4().hex}
        contact_id = request.GET.get("contact", "")
        if contact_id.isdigit() and Contact.objects.filter(pk=contact_id).exists():
            initial["contact"] = int(contact_id)
        form = InvoiceForm(initial=initial)
        formset = line_item_formset()
    return render(request, "invoices/invoice_form.html", _invoice_form_context(form, formset))


def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    if invoice.status != InvoiceStatus.DRAFT:
        messages.warning(request, _("Only a draft can be edited; invoice %(number)s is %(status)s.") % {
            "number": invoice.number, "status": invoice.get_status_display()})
        return redirect("invoices:invoice-detail", pk=invoice.pk)
    if request.method == "POST":
        form = InvoiceForm(request.POST)
        formset = line_item_formset(data=request.POST, initial=_items_initial(invoice))
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                services.update_draft_invoice(
                    invoice=invoice, items=formset.items(), contact=data["contact"], issue_date=data["issue_date"],
                    due_date=data["due_date"], currency=data["currency"], notes=data["notes"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Invoice %(number)s saved.") % {"number": invoice.number})
                return redirect("invoices:invoice-detail", pk=invoice.pk)
    else:
        form = InvoiceForm(initial={
            "contact": invoice.contact_id, "issue_date": invoice.issue_date, "due_date": invoice.due_date,
            "currency": invoice.currency, "notes": invoice.notes,
        })
        formset = line_item_formset(initial=_items_initial(invoice))
    return render(request, "invoices/invoice_form.html", _invoice_form_context(form, formset, invoice))


def _items_initial(invoice: Invoice) -> list[dict[str, Any]]:
    return [
        {"description": item.description, "quantity": item.quantity.normalize(), "unit_price": item.unit_price,
         "tax_rate": item.tax_rate.normalize()}
        for item in invoice.items.all()
    ]


def invoice_timeline(invoice: Invoice) -> list[dict[str, Any]]:
    """What happened to the invoice, oldest first: its events (with the automation runs each one
    caused), and its creation, payments and voiding."""
    entries: list[dict[str, Any]] = [
        {"at": invoice.created_at, "label": _("Created"), "icon": "file-earmark-plus", "runs": []},
    ]
    events = (
        Event.objects.filter(invoice=invoice)
        .prefetch_related(Prefetch("runs", queryset=Run.objects.select_related("automation").order_by("created_at", "pk")))
        .order_by("occurred_at", "pk")
    )
    icons = {"invoice_sent": "send", "invoice_paid": "check-circle", "invoice_overdue": "exclamation-triangle"}
    for event in events:
        runs = list(event.runs.all())
        for run in runs:
            run.automation_url = automation_url(run.automation_id)
        entries.append({"at": event.occurred_at, "label": EVENT_LABELS.get(event.kind, event.get_kind_display()), "icon": icons.get(event.kind, "lightning"),
                        "runs": runs, "event": event})
    payments = list(invoice.payments.all())
    for payment in payments:
        entries.append({"at": payment.created_at, "label": _("Payment recorded"), "icon": "cash-coin", "runs": [],
                        "payment": payment})
    if invoice.voided_at:
        entries.append({"at": invoice.voided_at, "label": _("Voided"), "icon": "x-circle", "runs": []})
    # The service stamps "paid" with its clock before the payment row gets its own: the last
    # payment is what made the invoice paid, so "paid" goes after it.
    last_payment = max((p.created_at for p in payments), default=None)

    def order(entry: dict[str, Any]) -> tuple[dt.datetime, int]:
        event = entry.get("event")
        if event is not None and event.kind == "invoice_paid" and last_payment is not None:
            return max(entry["at"], last_payment), 1
        return entry["at"], 0

    # Creation comes first, even when the events were back-dated (imported or demo data).
    entries[1:] = sorted(entries[1:], key=order)
    return entries


def _payment_form(invoice: Invoice, data: Any = None) -> PaymentForm:
    return PaymentForm(data=data, initial={
        "amount": invoice.balance, "date": services.business_today(), "nonce": uuid.uuid4().hex,
    })


def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("contact", "recurring", "created_by"), pk=pk)
    today = services.business_today()
    context = {
        "invoice": invoice,
        "items": invoice.items.all(),
        "payments": invoice.payments.select_related("created_by"),
        "timeline": invoice_timeline(invoice),
        "public_url": public_url(invoice) if invoice.status != InvoiceStatus.DRAFT else "",
        "payment_form": _payment_form(invoice) if invoice.is_open else None,
        "today": today,
        "days_overdue": invoice.days_overdue(today) if invoice.is_open else 0,
        "task_create_url": url_or("tasks:task-create"),
    }
    return render(request, "invoices/invoice_detail.html", context)


@require_POST
def invoice_send(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    try:
        services.send_invoice(invoice=invoice, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invoice %(number)s is sent.") % {"number": invoice.number})
    return redirect("invoices:invoice-detail", pk=invoice.pk)


USED_NONCES = "invoices.used_payment_forms"


def invoice_payment(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a payment: the form on the detail page posts here; this page shows it again with
    its errors. A form sent twice (a double click, the back button) records one payment."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    if request.method != "POST":
        if not invoice.is_open:
            messages.error(request, _("Invoice %(number)s cannot be paid: it is %(status)s.") % {
                "number": invoice.number, "status": invoice.get_status_display()})
            return redirect("invoices:invoice-detail", pk=invoice.pk)
        return render(request, "invoices/payment_form.html", {"invoice": invoice, "form": _payment_form(invoice)})

    nonce = request.POST.get("nonce", "")[:64]
    used = request.session.get(USED_NONCES, [])
    if nonce and nonce in used:
        messages.warning(request, _("This payment has already been recorded."))
        return redirect("invoices:invoice-detail", pk=invoice.pk)
    form = PaymentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.record_payment(
                invoice=invoice, amount=data["amount"], date=data["date"], method=data["method"],
                reference=data["reference"], by=request.user,
            )
        except DomainError as exc:
            if exc.field not in form.fields:
                messages.error(request, exc.message)
                return redirect("invoices:invoice-detail", pk=invoice.pk)
            add_domain_error(form, exc)
        else:
            if nonce:
                request.session[USED_NONCES] = ([*used, nonce])[-20:]
            messages.success(request, _("Payment of %(amount)s recorded on invoice %(number)s.") % {
                "amount": format_money(payment.amount, invoice.currency), "number": invoice.number})
            return redirect("invoices:invoice-detail", pk=invoice.pk)
    return render(request, "invoices/payment_form.html", {"invoice": invoice, "form": form})


def invoice_void(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST voids."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    if request.method == "POST":
        try:
            services.void_invoice(invoice=invoice, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Invoice %(number)s is void.") % {"number": invoice.number})
        return redirect("invoices:invoice-detail", pk=invoice.pk)
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.SENT, InvoiceStatus.OVERDUE):
        messages.error(request, _("Invoice %(number)s cannot be voided: it is %(status)s.") % {
            "number": invoice.number, "status": invoice.get_status_display()})
        return redirect("invoices:invoice-detail", pk=invoice.pk)
    return render(request, "invoices/invoice_void.html", {"invoice": invoice})


@require_POST
def invoice_revoke_links(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    revoke_public_links(invoice=invoice)
    messages.success(request, _("The links given out so far no longer work. The new link is below."))
    return redirect("invoices:invoice-detail", pk=invoice.pk)


# --- Contacts ---------------------------------------------------------------------------------


def contact_list(request: HttpRequest) -> HttpResponse:
    search = SearchForm(request.GET)
    search.is_valid()
    q = (search.cleaned_data.get("q") or "").strip()
    contacts = Contact.objects.all()
    for word in q.split()[:5]:
        contacts = search_contacts(contacts, word)
    page = paginate(request, contacts)
    # The open balance of the contacts on this page only: one grouped query.
    ids = [c.pk for c in page.object_list]
    open_rows = (
        Invoice.objects.filter(contact__in=ids, status__in=[InvoiceStatus.SENT, InvoiceStatus.OVERDUE])
        .values("contact", "currency").annotate(amount=Sum(F("total") - F("amount_paid")),
                                                overdue=Count("pk", filter=Q(status=InvoiceStatus.OVERDUE)))
        .order_by("contact", "currency")
    )
    balances: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in open_rows:
        balances[row["contact"]].append({"currency": row["currency"], "amount": _money(row["amount"]),
                                         "overdue": row["overdue"]})
    for contact in page.object_list:
        contact.balances = balances.get(contact.pk, [])
    return render(request, "invoices/contact_list.html", {
        "page_obj": page, "contacts": page.object_list, "q": q,
    })


def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    invoices = contact.invoices.order_by("-issue_date", "-number")
    invoice_count = invoices.count()
    tasks = (
        contact.tasks.select_related("assignee", "invoice")
        .annotate(done_rank=Case(When(status=TaskStatus.OPEN, then=0), default=1))
        .order_by("done_rank", F("due_date").asc(nulls_last=True), "-pk")[:20]
    )
    cards = list(contact.cards.select_related("workflow", "step").order_by("workflow__name"))
    for card in cards:
        card.board_url = url_or("workflows:workflow-board", [card.workflow_id])
    open_rows = (
        invoices.filter(status__in=[InvoiceStatus.SENT, InvoiceStatus.OVERDUE]).values("currency")
        .annotate(amount=Sum(F("total") - F("amount_paid"))).order_by("currency")
    )
    return render(request, "invoices/contact_detail.html", {
        "contact": contact,
        "invoices": invoices[:20],
        "invoice_count": invoice_count,
        "balances": [{"currency": r["currency"], "amount": _money(r["amount"])} for r in open_rows],
        "tasks": tasks,
        "cards": cards,
        "plans": contact.recurring_payments.order_by("-created_at"),
        "task_list_url": url_or("tasks:task-list"),
        "task_create_url": url_or("tasks:task-create"),
    })


def contact_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                contact = services.create_contact(
                    name=data["name"], email=data["email"], phone=data["phone"], company=data["company"],
                    language=data["language"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Contact %(name)s created.") % {"name": contact.name})
                return redirect("invoices:contact-detail", pk=contact.pk)
    else:
        form = ContactForm()
    return render(request, "invoices/contact_form.html", {"form": form, "contact": None})


def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    # A contact's details are data, not a state change with a trigger: the model form validates
    # them (the model's own validators: no line breaks, a valid email address) and saves them.
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        form = ContactForm(request.POST, instance=contact)
        if form.is_valid():
            form.save()
            messages.success(request, _("Contact %(name)s saved.") % {"name": contact.name})
            return redirect("invoices:contact-detail", pk=contact.pk)
    else:
        form = ContactForm(instance=contact)
    return render(request, "invoices/contact_form.html", {"form": form, "contact": contact})


# --- Recurring payments -----------------------------------------------------------------------


def recurring_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in RecurringStatus.values:
        status = ""
    plans = RecurringPayment.objects.all()
    counts = dict(plans.order_by().values_list("status").annotate(n=Count("pk")))
    total = sum(counts.values())
    if status:
        plans = plans.filter(status=status)
    page = paginate(request, plans.select_related("contact"), count=counts.get(status, 0) if status else total)
    pills = [{"value": "", "label": _("All"), "count": total, "active": not status}] + [
        {"value": value, "label": label, "count": counts.get(value, 0), "active": value == status}
        for value, label in RecurringStatus.choices
    ]
    return render(request, "invoices/recurring_list.html", {
        "page_obj": page, "plans": page.object_list, "pills": pills, "status": status,
    })


def recurring_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = RecurringForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                plan = services.create_recurring(
                    contact=data["contact"], description=data["description"], amount=data["amount"],
                    tax_rate=data["tax_rate"], currency=data["currency"], interval=data["interval"],
                    start_date=data["start_date"], end_date=data["end_date"],
                    payment_terms_days=data["payment_terms_days"], by=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Recurring payment created. Start it to issue its first invoice."))
                return redirect("invoices:recurring-detail", pk=plan.pk)
    else:
        initial: dict[str, Any] = {
            "start_date": services.business_today(), "currency": settings.DEFAULT_CURRENCY,
            "payment_terms_days": settings.DEFAULT_PAYMENT_TERMS_DAYS,
        }
        contact_id = request.GET.get("contact", "")
        if contact_id.isdigit() and Contact.objects.filter(pk=contact_id).exists():
            initial["contact"] = int(contact_id)
        form = RecurringForm(initial=initial)
    return render(request, "invoices/recurring_form.html", {"form": form})


def recurring_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(RecurringPayment.objects.select_related("contact", "created_by"), pk=pk)
    invoices = plan.invoices.order_by("-period_start", "-pk")
    page = paginate(request, invoices)
    gross = (plan.amount * (1 + plan.tax_rate / 100)).quantize(CENT)
    return render(request, "invoices/recurring_detail.html", {
        "plan": plan, "page_obj": page, "invoices": page.object_list, "gross": gross,
        "can_start": plan.status == RecurringStatus.SCHEDULED,
        "can_cancel": plan.status in (RecurringStatus.SCHEDULED, RecurringStatus.ACTIVE),
    })


@require_POST
def recurring_start(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(RecurringPayment, pk=pk)
    try:
        services.start_recurring(plan=plan, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The recurring payment is active."))
    return redirect("invoices:recurring-detail", pk=plan.pk)


def recurring_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST cancels."""
    plan = get_object_or_404(RecurringPayment.objects.select_related("contact"), pk=pk)
    if request.method == "POST":
        try:
            services.cancel_recurring(plan=plan, by=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The recurring payment is canceled; it issues no more invoices."))
        return redirect("invoices:recurring-detail", pk=plan.pk)
    if plan.status not in (RecurringStatus.SCHEDULED, RecurringStatus.ACTIVE):
        messages.error(request, _("The recurring payment cannot be canceled: it is %(status)s.") % {
            "status": plan.get_status_display()})
        return redirect("invoices:recurring-detail", pk=plan.pk)
    return render(request, "invoices/recurring_cancel.html", {"plan": plan})
