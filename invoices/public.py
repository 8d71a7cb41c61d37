"""Signed, expiring, revocable links to an invoice's read-only public page.

The token signs the invoice id and its `public_link_version` with SECRET_KEY (and a timestamp):
tampering or expiry makes it invalid, and `revoke_public_links` raises the version so every link
handed out before stops working. Drafts have no public page.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db.models import F
from django.urls import reverse

from .models import Invoice, InvoiceStatus

SALT = "invoices.public-link"


def make_token(invoice: Invoice) -> str:
    return signing.dumps({"i": invoice.pk, "v": invoice.public_link_version}, salt=SALT, compress=True)


def public_url(invoice: Invoice) -> str:
    return settings.SITE_URL + reverse("invoice-public", args=[make_token(invoice)])


def invoice_for_token(token: str) -> Invoice | None:
    """The invoice a valid, unexpired, unrevoked token points to, or None (never an error)."""
    try:
        data = signing.loads(token, salt=SALT, max_age=dt.timedelta(days=settings.PUBLIC_LINK_MAX_AGE_DAYS))
        invoice_id, version = int(data["i"]), int(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (
        Invoice.objects.select_related("contact", "credit_for").exclude(status=InvoiceStatus.DRAFT)
        .filter(pk=invoice_id, public_link_version=version).first()
    )


def revoke_public_links(*, invoice: Invoice) -> None:
    Invoice.objects.filter(pk=invoice.pk).update(public_link_version=F("public_link_version") + 1)
    invoice.refresh_from_db(fields=["public_link_version"])
