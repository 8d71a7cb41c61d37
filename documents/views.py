"""Downloads of an invoice's documents: for the team on the invoice page, for the customer by the
signed link of the public page.

Every download is an attachment with the document's file name and `Cache-Control: private` (a
shared cache must never keep an invoice). A draft is downloadable by the team only, marked
"Draft" and rendered each time (`no-store`); the public link of a draft does not exist (404).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from invoices.models import Invoice, InvoiceStatus
from invoices.public import invoice_for_token

from . import services
from .einvoice import Flavour


def _download(invoice: Invoice, content: bytes, *, kind: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=services.document_filename(invoice, kind))
    if invoice.status == InvoiceStatus.DRAFT:
        patch_cache_control(response, private=True, no_store=True)
    else:
        patch_cache_control(response, private=True)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    return _download(invoice, services.invoice_pdf(invoice), kind="pdf", content_type=services.PDF_TYPE)


def _xml(request: HttpRequest, pk: int, flavour: Flavour) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("contact"), pk=pk)
    return _download(invoice, services.invoice_xml(invoice, flavour=flavour), kind=flavour,
                     content_type=services.XML_TYPE)


@require_safe
def invoice_xrechnung(request: HttpRequest, pk: int) -> HttpResponse:
    return _xml(request, pk, "xrechnung")


@require_safe
def invoice_facturx(request: HttpRequest, pk: int) -> HttpResponse:
    return _xml(request, pk, "factur-x")


@require_safe
def public_invoice_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's PDF, by the signed link of the public invoice page (never a draft's)."""
    invoice = invoice_for_token(token)
    if invoice is None:
        raise Http404("No invoice here.")
    response = _download(invoice, services.invoice_pdf(invoice), kind="pdf", content_type=services.PDF_TYPE)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
