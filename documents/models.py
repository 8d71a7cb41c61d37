"""The rendered documents of sent invoices and credit notes, kept in the database.

A sent invoice is a document that never changes: its PDF and e-invoice XML are rendered once (on
first use: in practice by the worker that emails it) and the stored bytes are served ever after,
whatever becomes of the business profile, the contact, the templates or the libraries. They live
in the database, not on a disk, so every web server and worker of a scaled-out site serves the
same bytes.

One thing on the document does change with time: what has been paid and what is still due (and
so the payment QR code). A document is therefore stored once per amount paid: the one emailed
(nothing paid yet) stays exactly as it was sent, and a partly paid invoice downloaded later shows
the payments and the balance, again the same bytes every time. Everything else on it (seller,
buyer, lines, dates, taxes) comes from the snapshots taken when the invoice was sent.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoices.models import MONEY, Invoice


class StoredDocument(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="documents", verbose_name=_("invoice"))
    # The invoice's amount paid when the document was rendered: the one thing on it that changes.
    amount_paid = models.DecimalField(_("amount paid"), **MONEY)
    language = models.CharField(_("language"), max_length=2)
    pdf = models.BinaryField(_("PDF"))
    xml_facturx = models.BinaryField(_("Factur-X XML"))
    xml_xrechnung = models.BinaryField(_("XRechnung XML"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("stored document")
        verbose_name_plural = _("stored documents")
        constraints = [
            # Two workers rendering the same invoice at once store one document.
            models.UniqueConstraint(fields=["invoice", "amount_paid"], name="document_one_per_invoice_and_payment"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number} ({self.amount_paid})"
