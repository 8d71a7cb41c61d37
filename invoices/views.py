from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .public import invoice_for_token


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
