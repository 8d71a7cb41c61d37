"""The small-business pages: invoices, contacts, recurring payments.

Views read with aggregates in SQL and change state only through `invoices.services`. A refusal
(DomainError) is shown at the field it names, or as a message; never as a server error. Every
POST redirects, so reloading a page never submits twice.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.submissions import save_form_once, save_once
from business import services as business
from business.validators import country_choices
from core.dates import business_today
from core.errors import DomainError
from core.forms import add_domain_error
from core.money import format_money, sum_to_cents
from core.views import flash_service, paginate

from . import services
from .forms import (
    ContactForm,
    KNOWN_TAGS_ID,
    InvoiceFilterForm,
    InvoiceForm,
    PaymentForm,
    RecurringForm,
    SearchForm,
    invoice_initial,
    line_item_formset,
)
from .models import Contact, Invoice, InvoiceStatus, LineItem, RecurringPayment, RecurringStatus, Tag, TaxTreatment, tagged
from .public import invoice_for_token, public_url, revoke_public_links


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

    pills = [
        {"value": value, "label": label, "count": counts.get(value, 0) if value else total, "active": value == status}
        for value, label in STATUS_FILTERS
    ]
    # "Reset" forgets the search and the contact, not the status.
    reset_url = reverse("invoices:invoice-list") + (f"?status={status}" if status else "") if q or contact else ""
    return render(request, "invoices/invoice_list.html", {
        "page_obj": page, "invoices": page.object_list, "q": q, "status": status, "contact": contact,
        "pills": pills, "today": business_today(), "reset_url": reset_url,
    })


def _invoice_form_context(form: InvoiceForm, formset, invoice: Invoice | None = None) -> dict[str, Any]:
    return {"form": form, "formset": formset, "invoice": invoice}


def invoice_create(request: HttpRequest) -> HttpResponse:
    """A form sent twice (a double click, Back and submit, two tabs) saves one draft and shows it."""
    if request.method == "POST":
        form = InvoiceForm(request.POST)
        formset = line_item_formset(data=request.POST)
        if form.is_valid() and formset.is_valid():
            def save() -> str:
                invoice = services.create_invoice(items=formset.items(), by=request.user, **form.invoice_fields())
                messages.success(request, _("Invoice %(number)s saved as a draft.") % {"number": invoice.number})
                return reverse("invoices:invoice-detail", args=[invoice.pk])

            saved = save_form_once(request, form, save, already=_("This invoice has already been saved."))
            if saved is not None:
                return saved
    else:
        initial = invoice_initial(today=business_today())
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
            fields = form.invoice_fields()  # a tax treatment of None: "automatic", chosen by the service
            try:
                services.update_draft_invoice(invoice=invoice, items=formset.items(), **fields)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Invoice %(number)s saved.") % {"number": invoice.number})
                return redirect("invoices:invoice-detail", pk=invoice.pk)
    else:
        form = InvoiceForm(initial={
            "contact": invoice.contact_id, "issue_date": invoice.issue_date, "due_date": invoice.due_date,
            "currency": invoice.currency, "notes": invoice.notes, "service_date": invoice.service_date,
            "service_end": invoice.service_end, "tax_treatment": invoice.tax_treatment,
        })
        formset = line_item_formset(initial=_items_initial(invoice))
    return render(request, "invoices/invoice_form.html", _invoice_form_context(form, formset, invoice))


def _items_initial(invoice: Invoice) -> list[dict[str, Any]]:
    return [
        {"description": item.description, "quantity": item.quantity.normalize(), "unit_price": item.unit_price,
         "tax_rate": item.tax_rate.normalize()}
        for item in invoice.items.all()
    ]


def _payment_form(invoice: Invoice, data: Any = None) -> PaymentForm:
    return PaymentForm(data=data, initial={"amount": invoice.balance, "date": business_today()})


def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("contact", "recurring", "created_by", "credit_for"),
                                pk=pk)
    today = business_today()
    context = {
        "invoice": invoice,
        # A voided sent invoice's credit note (Stornorechnung), linked both ways.
        "credit_note": Invoice.objects.filter(credit_for=invoice).first(),
        "items": invoice.items.all(),
        "payments": invoice.payments.select_related("created_by"),
        "public_url": public_url(invoice) if invoice.status != InvoiceStatus.DRAFT else "",
        "payment_form": _payment_form(invoice) if invoice.is_open else None,
        "today": today,
        "days_overdue": invoice.days_overdue(today) if invoice.is_open else 0,
    }
    return render(request, "invoices/invoice_detail.html", context)


@require_http_methods(["GET", "POST"])
def invoice_send(request: HttpRequest, pk: int) -> HttpResponse:
    """GET shows what will happen (the email: recipient, subject, attachments; or that the contact
    has no address); POST sends: by email (`deliver=email`, written to the outbox with the send
    and sent by a worker) or only marked as sent, for an invoice handed over another way."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    has_email = bool((invoice.contact.email or "").strip())
    if request.method == "POST":
        deliver = request.POST.get("deliver") == "email"
        if not deliver:
            done = _("Invoice %(number)s is marked as sent; no email was sent.")
        elif has_email:
            done = _("Invoice %(number)s is sent; the email to %(to)s is on its way.")
        else:
            done = _("Invoice %(number)s is sent, but %(contact)s has no email address: it was not emailed.")
        flash_service(request, lambda: services.send_invoice(invoice=invoice, by=request.user, deliver=deliver),
                      done % {"number": invoice.number, "to": invoice.contact.email, "contact": invoice.contact.name})
        return redirect("invoices:invoice-detail", pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT or invoice.is_credit_note:
        messages.error(request, _("Invoice %(number)s cannot be sent: it is %(status)s.") % {
            "number": invoice.number, "status": invoice.get_status_display()})
        return redirect("invoices:invoice-detail", pk=invoice.pk)
    return render(request, "invoices/invoice_send.html", {
        "invoice": invoice, "has_email": has_email, "problems": services.missing_for_sending(invoice),
    })


def invoice_payment(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a payment: the form on the detail page posts here; this page shows it again with
    its errors. A form sent twice (a double click, Back and submit, two tabs) records one payment."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    if request.method != "POST":
        if not invoice.is_open:
            messages.error(request, _("Invoice %(number)s cannot be paid: it is %(status)s.") % {
                "number": invoice.number, "status": invoice.get_status_display()})
            return redirect("invoices:invoice-detail", pk=invoice.pk)
        return render(request, "invoices/payment_form.html", {"invoice": invoice, "form": _payment_form(invoice)})

    form = PaymentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data

        def save() -> str:
            payment = services.record_payment(
                invoice=invoice, amount=data["amount"], date=data["date"], method=data["method"],
                reference=data["reference"], by=request.user,
            )
            messages.success(request, _("Payment of %(amount)s recorded on invoice %(number)s.") % {
                "amount": format_money(payment.amount, invoice.currency), "number": invoice.number})
            return reverse("invoices:invoice-detail", args=[invoice.pk])

        try:
            url, first = save_once(request, save)
        except DomainError as exc:
            if exc.field not in form.fields:
                messages.error(request, exc.message)
                return redirect("invoices:invoice-detail", pk=invoice.pk)
            add_domain_error(form, exc)
        else:
            if not first:
                messages.warning(request, _("This payment has already been recorded."))
            return redirect(url)
    return render(request, "invoices/payment_form.html", {"invoice": invoice, "form": form})


def invoice_void(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST voids."""
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    if request.method == "POST":
        # A sent invoice's credit note is emailed when the page's box is ticked.
        deliver = request.POST.get("email_credit_note") == "on"
        flash_service(request, lambda: services.void_invoice(invoice=invoice, by=request.user, deliver=deliver),
                      _("Invoice %(number)s is void.") % {"number": invoice.number})
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
    tag = " ".join(request.GET.get("tag", "").split())[:200]
    contacts = Contact.objects.prefetch_related("tags")
    for word in q.split()[:5]:
        contacts = search_contacts(contacts, word)
    if tag:
        contacts = tagged(contacts, tag)
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
        balances[row["contact"]].append({"currency": row["currency"], "amount": sum_to_cents(row["amount"]),
                                         "overdue": row["overdue"]})
    for contact in page.object_list:
        contact.balances = balances.get(contact.pk, [])
    return render(request, "invoices/contact_list.html", {
        "page_obj": page, "contacts": page.object_list, "q": q, "tag": tag,
    })


def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    invoices = contact.invoices.order_by("-issue_date", "-number")
    invoice_count = invoices.count()
    open_rows = (
        invoices.filter(status__in=[InvoiceStatus.SENT, InvoiceStatus.OVERDUE]).values("currency")
        .annotate(amount=Sum(F("total") - F("amount_paid"))).order_by("currency")
    )
    return render(request, "invoices/contact_detail.html", {
        "contact": contact,
        "tags": list(contact.tags.all()),
        "invoices": invoices[:20],
        "invoice_count": invoice_count,
        "balances": [{"currency": r["currency"], "amount": sum_to_cents(r["amount"])} for r in open_rows],
        "plans": contact.recurring_payments.order_by("-created_at"),
        "country_name": dict(country_choices((translation.get_language() or "en").split("-")[0])).get(
            contact.country, contact.country),
        "reverse_charge_without_vat_id": not contact.vat_id
        and services.default_tax_treatment(contact) == TaxTreatment.REVERSE_CHARGE,
    })


def contact_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            def save() -> str:
                contact = services.create_contact(**form.details())
                messages.success(request, _("Contact %(name)s created.") % {"name": contact.name})
                return reverse("invoices:contact-detail", args=[contact.pk])

            saved = save_form_once(request, form, save, already=_("This contact has already been saved."))
            if saved is not None:
                return saved
    else:
        form = ContactForm()
    return render(request, "invoices/contact_form.html", {"form": form, "contact": None, **_known_tags()})


def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    # The model form checks the details (the model's own validators: no line breaks, a valid email
    # address and VAT ID); the service saves them. Invoices already sent keep their buyer.
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        form = ContactForm(request.POST, instance=Contact.objects.get(pk=contact.pk))
        if form.is_valid():
            try:
                services.update_contact(contact=contact, **form.details())
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Contact %(name)s saved.") % {"name": contact.name})
                return redirect("invoices:contact-detail", pk=contact.pk)
    else:
        form = ContactForm(instance=contact)
    return render(request, "invoices/contact_form.html", {"form": form, "contact": contact, **_known_tags()})


def _known_tags() -> dict[str, Any]:
    """The tags the contact form's tag field suggests (a <datalist>)."""
    return {"known_tags": list(Tag.objects.values_list("name", flat=True)[:200]), "known_tags_id": KNOWN_TAGS_ID}


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

            def save() -> str:
                plan = services.create_recurring(
                    contact=data["contact"], description=data["description"], amount=data["amount"],
                    tax_rate=data["tax_rate"], currency=data["currency"], interval=data["interval"],
                    start_date=data["start_date"], end_date=data["end_date"],
                    payment_terms_days=data["payment_terms_days"], by=request.user,
                )
                messages.success(request, _("Recurring payment created. Start it to issue its first invoice."))
                return reverse("invoices:recurring-detail", args=[plan.pk])

            saved = save_form_once(request, form, save, already=_("This recurring payment has already been saved."))
            if saved is not None:
                return saved
    else:
        initial: dict[str, Any] = {
            "start_date": business_today(), "currency": settings.DEFAULT_CURRENCY,
            "payment_terms_days": business.payment_terms_days(), "tax_rate": business.default_tax_rate(),
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
    # As its invoices add it up (net and tax each rounded half up), not rounded once half-even.
    line = LineItem(quantity=1, unit_price=plan.amount, tax_rate=plan.tax_rate)
    gross = line.net_amount + line.tax_amount
    return render(request, "invoices/recurring_detail.html", {
        "plan": plan, "page_obj": page, "invoices": page.object_list, "gross": gross,
        "can_start": plan.status == RecurringStatus.SCHEDULED,
        "can_cancel": plan.status in (RecurringStatus.SCHEDULED, RecurringStatus.ACTIVE),
    })


@require_POST
def recurring_start(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(RecurringPayment, pk=pk)
    flash_service(request, lambda: services.start_recurring(plan=plan, by=request.user),
                  _("The recurring payment is active."))
    return redirect("invoices:recurring-detail", pk=plan.pk)


def recurring_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST cancels."""
    plan = get_object_or_404(RecurringPayment.objects.select_related("contact"), pk=pk)
    if request.method == "POST":
        flash_service(request, lambda: services.cancel_recurring(plan=plan, by=request.user),
                      _("The recurring payment is canceled; it issues no more invoices."))
        return redirect("invoices:recurring-detail", pk=plan.pk)
    if plan.status not in (RecurringStatus.SCHEDULED, RecurringStatus.ACTIVE):
        messages.error(request, _("The recurring payment cannot be canceled: it is %(status)s.") % {
            "status": plan.get_status_display()})
        return redirect("invoices:recurring-detail", pk=plan.pk)
    return render(request, "invoices/recurring_cancel.html", {"plan": plan})
