from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    """The invoice as a document: PDF (PDF/A-3 with the e-invoice inside) and the e-invoice XML
    (Factur-X / ZUGFeRD EN 16931, XRechnung). Reads invoices and the business profile."""

    name = "documents"
    verbose_name = _("Documents")
