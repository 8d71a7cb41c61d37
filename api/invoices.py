"""Invoices with their line items, their actions (send, mark as sent, void, record a payment) and
their PDF; payments."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Status, Field, Query, Router

from documents import views as documents
from invoices import services
from invoices.models import Contact, Invoice, InvoiceStatus, LineItem, Payment, PaymentMethod

from .auth import TokenAuth
from .errors import ApiError
from .listing import Page, Paging, date_range, get_or_404, page
from .schemas import (
    ErrorOut,
    InvoiceIn,
    InvoiceOut,
    InvoicePatch,
    PaymentIn,
    PaymentOut,
    SendIn,
    VoidIn,
    invoice_out,
    payment_out,
)

router = Router(tags=["Invoices"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
OPEN = "open"


class InvoiceFilters(Paging):
    status: str | None = Field(None, max_length=20, description="draft, sent, overdue, paid, void, issued, or open (sent and overdue).")
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1)
    number: str | None = Field(None, max_length=40)
    issue_date_from: dt.date | None = None
    issue_date_to: dt.date | None = None
    due_date_from: dt.date | None = None
    due_date_to: dt.date | None = None


def invoices_with_items():
    return Invoice.objects.select_related("contact").prefetch_related(
        # A plain list (to_attr): reading a prefetched manager clones its query for every invoice.
        Prefetch("items", queryset=LineItem.objects.order_by("position", "pk"), to_attr="lines"))


def _invoice(pk: int) -> Invoice:
    return get_or_404(invoices_with_items(), pk, _("There is no invoice %(id)s.") % {"id": pk})


def _fresh(invoice: Invoice) -> dict:
    return invoice_out(_invoice(invoice.pk))


@router.get("/invoices", response={200: Page[InvoiceOut], **ERRORS}, url_name="invoice_list", auth=TokenAuth("invoices.view_invoice"))
def list_invoices(request: HttpRequest, filters: Query[InvoiceFilters]):
    invoices = invoices_with_items()
    if filters.status:
        if filters.status == OPEN:
            invoices = invoices.filter(status__in=[InvoiceStatus.SENT, InvoiceStatus.OVERDUE])
        elif filters.status in InvoiceStatus.values:
            invoices = invoices.filter(status=filters.status)
        else:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"status": [
                _("Choose one of: %(values)s.") % {"values": ", ".join([*InvoiceStatus.values, OPEN])}]})
    if filters.contact_id:
        invoices = invoices.filter(contact_id=filters.contact_id)
    if filters.number:
        invoices = invoices.filter(number=filters.number.strip())
    invoices = date_range(invoices, "issue_date", filters.issue_date_from, filters.issue_date_to)
    invoices = date_range(invoices, "due_date", filters.due_date_from, filters.due_date_to)
    return page(invoices, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("issue_date", "due_date", "number"), tiebreak="number",
                default=("-issue_date", "-number"), serialize=lambda rows: [invoice_out(i) for i in rows])


@router.get("/invoices/{int:pk}", response={200: InvoiceOut, **ERRORS}, url_name="invoice_detail", auth=TokenAuth("invoices.view_invoice"))
def get_invoice(request: HttpRequest, pk: int):
    return invoice_out(_invoice(pk))


@router.get("/invoices/{int:pk}/pdf", response={200: None, **ERRORS}, url_name="invoice_pdf",
            openapi_extra={"responses": {200: {"description": "The PDF (PDF/A-3 with the e-invoice inside).",
                                                 "content": {"application/pdf": {}}}}}, auth=TokenAuth("invoices.view_invoice"))
def invoice_pdf(request: HttpRequest, pk: int):
    _invoice(pk)
    return documents.invoice_pdf(request, pk=pk)


@router.post("/invoices", response={201: InvoiceOut, **ERRORS}, url_name="invoice_create", auth=TokenAuth("invoices.add_invoice"))
def create_invoice(request: HttpRequest, payload: InvoiceIn):
    """A new draft with its line items and the next number of its issue year."""
    contact = get_or_404(Contact.objects.all(), payload.contact_id,
                         _("There is no contact %(id)s.") % {"id": payload.contact_id})
    data = payload.dict(exclude={"contact_id", "items"})
    invoice = services.create_invoice(contact=contact, items=[item.dict() for item in payload.items],
                                      by=request.user, **data)
    return Status(201, _fresh(invoice))


# Fields a draft may have without a value (the others cannot be set to null).
NULLABLE = {"service_date", "service_end"}


@router.patch("/invoices/{int:pk}", response={200: InvoiceOut, **ERRORS}, url_name="invoice_update", auth=TokenAuth("invoices.change_invoice"))
def update_invoice(request: HttpRequest, pk: int, payload: InvoicePatch):
    """Change a draft (sent invoices are part of the books: void them and write a new one). A new
    `contact_id` without `tax_treatment` takes that contact's default treatment, as a new draft does."""
    invoice = _invoice(pk)
    changes = payload.dict(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None and name not in NULLABLE]
    if nulls:
        raise ApiError(422, _("The request is not valid; nothing was changed."),
                       errors={name: [_("This field cannot be null.")] for name in nulls})
    if "contact_id" in changes:
        contact_id = changes.pop("contact_id")
        changes["contact"] = get_or_404(Contact.objects.all(), contact_id,
                                        _("There is no contact %(id)s.") % {"id": contact_id})
    items = changes.pop("items", None)
    services.update_draft_invoice(invoice=invoice, items=items, **changes)
    return _fresh(invoice)


@router.post("/invoices/{int:pk}/send", response={200: InvoiceOut, **ERRORS}, url_name="invoice_send", auth=TokenAuth("invoices.change_invoice"))
def send_invoice(request: HttpRequest, pk: int, payload: SendIn | None = None):
    """Send a draft: emailed to the contact with its PDF (`email`: true, the default; the email is
    written to the outbox with the send and delivered by a worker), or only marked as sent."""
    invoice = _invoice(pk)
    services.send_invoice(invoice=invoice, by=request.user, deliver=payload.email if payload else True)
    return _fresh(invoice)


@router.post("/invoices/{int:pk}/mark-sent", response={200: InvoiceOut, **ERRORS}, url_name="invoice_mark_sent", auth=TokenAuth("invoices.change_invoice"))
def mark_invoice_sent(request: HttpRequest, pk: int):
    """Mark a draft as sent without emailing it (handed over another way)."""
    invoice = _invoice(pk)
    services.send_invoice(invoice=invoice, by=request.user, deliver=False)
    return _fresh(invoice)


@router.post("/invoices/{int:pk}/void", response={200: InvoiceOut, **ERRORS}, url_name="invoice_void", auth=TokenAuth("invoices.change_invoice"))
def void_invoice(request: HttpRequest, pk: int, payload: VoidIn | None = None):
    """Void a draft, or a sent invoice with nothing paid (it gets a credit note)."""
    invoice = _invoice(pk)
    services.void_invoice(invoice=invoice, by=request.user, deliver=payload.email_credit_note if payload else False)
    return _fresh(invoice)


@router.post("/invoices/{int:pk}/payments", response={201: PaymentOut, **ERRORS}, url_name="invoice_payment", auth=TokenAuth("invoices.add_payment"))
def record_payment(request: HttpRequest, pk: int, payload: PaymentIn):
    """Record a (partial) payment of a sent or overdue invoice; the one that covers it makes it paid."""
    invoice = _invoice(pk)
    payment = services.record_payment(invoice=invoice, amount=str(payload.amount), date=payload.date,
                                      method=payload.method, reference=payload.reference, by=request.user)
    return Status(201, payment_out(payment))


class PaymentFilters(Paging):
    invoice_id: int | None = Field(None, ge=1, le=2**63 - 1)
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1)
    method: str | None = Field(None, max_length=20)
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@router.get("/payments", response={200: Page[PaymentOut], **ERRORS}, url_name="payment_list", tags=["Payments"], auth=TokenAuth("invoices.view_payment"))
def list_payments(request: HttpRequest, filters: Query[PaymentFilters]):
    payments = Payment.objects.select_related("invoice")
    if filters.invoice_id:
        payments = payments.filter(invoice_id=filters.invoice_id)
    if filters.contact_id:
        payments = payments.filter(invoice__contact_id=filters.contact_id)
    if filters.method:
        if filters.method not in PaymentMethod.values:
            raise ApiError(422, _("The request is not valid; nothing was changed."), errors={"method": [
                _("Choose one of: %(values)s.") % {"values": ", ".join(PaymentMethod.values)}]})
        payments = payments.filter(method=filters.method)
    payments = date_range(payments, "date", filters.date_from, filters.date_to)
    return page(payments, limit=filters.limit, offset=filters.offset, ordering=filters.ordering,
                orderings=("date",), default=("-date", "-pk"),
                serialize=lambda rows: [payment_out(p) for p in rows])


@router.get("/payments/{int:pk}", response={200: PaymentOut, **ERRORS}, url_name="payment_detail", tags=["Payments"], auth=TokenAuth("invoices.view_payment"))
def get_payment(request: HttpRequest, pk: int):
    return payment_out(get_or_404(Payment.objects.select_related("invoice"), pk,
                                  _("There is no payment %(id)s.") % {"id": pk}))
