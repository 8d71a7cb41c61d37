"""The invoice as a document: its PDF (PDF/A-3b with the Factur-X e-invoice inside), its e-invoice
XML (XRechnung or Factur-X) and the files that go with the invoice email.

These functions are the interface the rest of the product uses (the invoice email's delivery
calls `invoice_files`); keep their names and signatures:

* `invoice_pdf(invoice) -> bytes`
* `invoice_xml(invoice, *, flavour="xrechnung" | "factur-x") -> bytes`
* `invoice_files(invoice) -> list[(filename, content, mimetype)]`

A sent invoice or a credit note is an immutable document: rendered on first use (in practice by
the worker that emails it), stored in the database (`StoredDocument`) and served as the same bytes
ever after. Two workers rendering the same invoice at once both render, but one row is stored and
both return it. A new document is stored only when the amount paid changes (documents.models says
why). A draft is rendered each time, marked "Draft", and never stored.
"""

from __future__ import annotations

import logging
import time

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import pgettext

from business import services as business
from invoices.models import Invoice, InvoiceStatus

from .content import Content, content_of, language_of
from .einvoice import FLAVOURS, Flavour, cii_xml
from .models import StoredDocument
from .pdf import render_pdf

log = logging.getLogger(__name__)

PDF_TYPE = "application/pdf"
XML_TYPE = "application/xml"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF/A-3b, the Factur-X XML inside. A draft's carries a "Draft" mark."""
    current = _fresh(invoice)
    if current.status == InvoiceStatus.DRAFT:
        content = content_of(current)
        return render_pdf(content, facturx_xml=cii_xml(content, flavour="factur-x"))
    return bytes(_stored(current).pdf)


def invoice_xml(invoice: Invoice, *, flavour: Flavour = "xrechnung") -> bytes:
    """The e-invoice: CII XML as XRechnung 3.0 (the default) or Factur-X EN 16931."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown e-invoice flavour {flavour!r}: use one of {', '.join(FLAVOURS)}")
    current = _fresh(invoice)
    if current.status == InvoiceStatus.DRAFT:
        return cii_xml(content_of(current), flavour=flavour)
    stored = _stored(current)
    return bytes(stored.xml_xrechnung if flavour == "xrechnung" else stored.xml_facturx)


def invoice_files(invoice: Invoice) -> list[tuple[str, bytes, str]]:
    """What goes with the invoice email, as (filename, content, mimetype): always the PDF; the
    XRechnung XML too for a business customer when the business profile says so (attach_xml)."""
    files = [(document_filename(invoice, "pdf"), invoice_pdf(invoice), PDF_TYPE)]
    if _is_business_customer(invoice) and business.get_profile().attach_xml:
        files.append((document_filename(invoice, "xrechnung"), invoice_xml(invoice, flavour="xrechnung"), XML_TYPE))
    return files


def document_filename(invoice: Invoice, kind: str) -> str:
    """"Rechnung-2026-0012.pdf", "Invoice-2026-0012-xrechnung.xml", "Stornorechnung-ST-2026-0001.pdf",
    in the contact's language; kind is "pdf", "xrechnung" or "factur-x"."""
    with translation.override(language_of(invoice)):
        if invoice.is_credit_note:
            stem = pgettext("file name", "Credit-note")
        else:
            stem = pgettext("file name", "Invoice")
        draft = pgettext("file name", "draft") if invoice.status == InvoiceStatus.DRAFT else ""
    base = f"{stem}-{invoice.number}-{draft}" if draft else f"{stem}-{invoice.number}"
    return f"{base}.pdf" if kind == "pdf" else f"{base}-{kind}.xml"


def stored_document(invoice: Invoice) -> StoredDocument:
    """The stored document of a sent invoice or credit note at its current amount paid, rendered
    and stored the first time it is asked for."""
    return _stored(_fresh(invoice))


def _stored(current: Invoice) -> StoredDocument:
    if current.status == InvoiceStatus.DRAFT:
        raise ValueError(f"invoice {current.number} is a draft: drafts are never stored")
    stored = StoredDocument.objects.filter(invoice=current, amount_paid=current.amount_paid).first()
    if stored is not None:
        return stored
    started = time.perf_counter()
    content = content_of(current)
    pdf, facturx, xrechnung = _render(content)
    try:
        with transaction.atomic():
            stored = StoredDocument.objects.create(
                invoice=current, amount_paid=current.amount_paid, language=content.language, pdf=pdf,
                xml_facturx=facturx, xml_xrechnung=xrechnung,
            )
    except IntegrityError:
        # Rendered by someone else at the same moment: theirs is the document.
        return StoredDocument.objects.get(invoice=current, amount_paid=current.amount_paid)
    log.info("Stored the documents of %s (paid %s) in %.0f ms", current.number, current.amount_paid,
             (time.perf_counter() - started) * 1000)
    return stored


def _render(content: Content) -> tuple[bytes, bytes, bytes]:
    facturx = cii_xml(content, flavour="factur-x")
    xrechnung = cii_xml(content, flavour="xrechnung")
    return render_pdf(content, facturx_xml=facturx), facturx, xrechnung


def _fresh(invoice: Invoice) -> Invoice:
    """The invoice as the database has it now (status, amounts, snapshots), with what the
    document reads beside it."""
    return Invoice.objects.select_related("contact", "credit_for").get(pk=invoice.pk)


def _is_business_customer(invoice: Invoice) -> bool:
    buyer = invoice.buyer if invoice.buyer else None
    return bool(buyer["is_business"]) if buyer and "is_business" in buyer else invoice.contact.is_business

